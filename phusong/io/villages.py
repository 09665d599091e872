"""Villages (thôn, bản) as points: a CSV/XLSX table with coordinates, or a point vector file.

Fields (found by common names or mapped with ``columns``): ``village_id``, ``name``,
``commune_code``, ``households``, ``population``, ``is_centre`` and the position (``lat``/``lon``
or VN-2000 ``x``/``y`` with a CRS, X = northing). A village without a commune code is placed in
the commune polygon that contains it. When only one of households and population is given, the
other follows from the commune's 2019 census persons per household (noted in provenance).
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd

from phusong import settings
from phusong.communes import commune_facts
from phusong.errors import DataError, RepairWarning, SchemaError
from phusong.io._coords import check_extent, parse_numbers, points_from_table
from phusong.io._files import TABLE_SUFFIXES, Imported, read_table, require_file
from phusong.io.sites import _column_key
from phusong.io.vector import _pad_code, read_vector

__all__ = ["VILLAGE_FIELDS", "read_villages"]

#: Logical fields of a village list and the column names recognised without a mapping.
VILLAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "village_id": ("village_id", "id", "ma_thon", "ma_ban", "code"),
    "name": ("name", "ten_thon", "ten", "thon", "ban"),
    "commune_code": ("commune_code", "ma_xa", "gso_code", "maxa"),
    "households": ("households", "ho", "so_ho", "hh"),
    "population": ("population", "dan_so", "nhan_khau", "pop", "so_dan"),
    "is_centre": ("is_centre", "is_center", "trung_tam", "ubnd"),
    "lat": ("lat", "latitude", "vi_do"),
    "lon": ("lon", "lng", "longitude", "kinh_do"),
    "x": ("x",),
    "y": ("y",),
}


def _columns(df, mapping, source) -> dict[str, str]:
    mapping = dict(mapping or {})
    for f, col in mapping.items():
        if f not in VILLAGE_FIELDS:
            raise DataError(f"--col {f}=…: unknown village field; use one of {list(VILLAGE_FIELDS)}")
        if col not in df.columns:
            raise SchemaError(f"{source}: no column {col!r} (mapped to {f}); present: "
                              f"{[c for c in df.columns if c != 'geometry'][:15]}")
    by_key = {_column_key(c): c for c in df.columns if c != "geometry"}
    for f, aliases in VILLAGE_FIELDS.items():
        if f not in mapping:
            hit = next((by_key[a] for a in aliases if a in by_key), None)
            if hit is not None and hit not in mapping.values():
                mapping[f] = hit
    return mapping


def read_villages(path, *, columns: dict[str, str] | None = None, crs: str | None = None,
                  communes: gpd.GeoDataFrame | None = None, extent=settings.PROVINCE_BBOX,
                  drop_outside: bool = False) -> Imported:
    """Read villages as points (EPSG:4326) in the bundle's villages schema.

    Parameters
    ----------
    path : str or Path
        CSV/XLSX with coordinates, or a point vector file.
    columns : dict, optional
        Field → column (fields of :data:`VILLAGE_FIELDS`).
    crs : str, optional
        CRS of x/y columns or of a vector file without one.
    communes : GeoDataFrame, optional
        Commune polygons (EPSG:4326) used to place villages without a commune code.
    extent, drop_outside
        As for :func:`phusong.io.sites.read_sites`.
    """
    p = require_file(path, "villages")
    notes: list[str] = []
    if p.suffix.lower() in TABLE_SUFFIXES:
        df, encoding = read_table(p, "villages")
        if encoding not in ("utf-8", "xlsx"):
            notes.append(f"decoded from {encoding}")
        cols = _columns(df, columns, p.name)
        ids = ([str(v) for v in df[cols["village_id"]]] if "village_id" in cols
               else [str(i + 1) for i in range(len(df))])
        use_xy = "x" in cols and "y" in cols and "lat" not in cols
        lon, lat, cn = points_from_table(
            df, lat=cols.get("lat"), lon=cols.get("lon"), x=cols.get("x") if use_xy else None,
            y=cols.get("y") if use_xy else None, crs=crs, ids=ids, source=p.name)
        notes += cn
    else:
        gdf, vn = read_vector(p, crs=crs, what="villages")
        notes += vn
        if not set(gdf.geom_type.dropna()) <= {"Point"}:
            raise DataError(f"{p}: villages must be points, found {sorted(set(gdf.geom_type))}")
        df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        cols = _columns(df, columns, p.name)
        ids = ([str(v) for v in df[cols["village_id"]]] if "village_id" in cols
               else [str(i + 1) for i in range(len(df))])
        lon, lat = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
    if "village_id" not in cols:
        notes.append("village ids generated (row numbers)")
    keep, en = check_extent(lon, lat, ids, extent=extent, drop_outside=drop_outside,
                            source=p.name, what="villages")
    notes += en
    df = df[keep].reset_index(drop=True)
    ids = [i for i, k in zip(ids, keep, strict=True) if k]
    pts = gpd.GeoDataFrame({"village_id": ids}, geometry=gpd.points_from_xy(lon[keep], lat[keep]),
                           crs="EPSG:4326")
    if "name" in cols:
        pts["name"] = [None if v is None else str(v) for v in df[cols["name"]]]
    if "commune_code" in cols:
        pts["commune_code"] = [_pad_code(v) for v in df[cols["commune_code"]]]
    elif communes is not None:
        joined = gpd.sjoin(pts, communes[["commune_code", "geometry"]], how="left",
                           predicate="within")
        joined = joined[~joined.index.duplicated()]
        lost = joined["commune_code"].isna().to_numpy()
        if lost.any():
            listed = [ids[i] for i in np.flatnonzero(lost)[:8]]
            if not drop_outside:
                raise DataError(f"{p.name}: {int(lost.sum())} village(s) lie in no commune "
                                f"polygon: {listed}; add a commune_code column, fix their "
                                "positions, or drop them with --drop-outside")
            msg = (f"{p.name}: dropped {int(lost.sum())} village(s) lying in no commune polygon: "
                   f"{listed}")
            warnings.warn(msg, RepairWarning, stacklevel=2)
            notes.append(msg)
            keep2 = ~lost
            pts, df = pts[keep2].reset_index(drop=True), df[keep2].reset_index(drop=True)
            ids = [i for i, k in zip(ids, keep2, strict=True) if k]
            joined = joined[keep2]
        pts["commune_code"] = joined["commune_code"].to_numpy()
        notes.append("commune_code from the commune polygon containing each village")
    else:
        raise SchemaError(f"{p.name}: no commune_code column; map one with --col "
                          "commune_code=… or import communes to place villages by position")
    facts = commune_facts().set_index("commune_code")
    unknown = ~pts["commune_code"].isin(facts.index)
    if unknown.any():
        raise DataError(f"{p.name}: {int(unknown.sum())} village(s) with unknown commune_code "
                        f"{sorted(set(pts.loc[unknown, 'commune_code'].astype(str)))[:5]}")
    pph = (facts["population"] / facts["households"]).loc[pts["commune_code"]].to_numpy()
    hh = (parse_numbers(df[cols["households"]], cols["households"], p.name)
          if "households" in cols else np.full(len(df), np.nan))
    pop = (parse_numbers(df[cols["population"]], cols["population"], p.name)
           if "population" in cols else np.full(len(df), np.nan))
    if np.isnan(hh).all() and np.isnan(pop).all():
        raise SchemaError(f"{p.name}: missing required column households or population; map one "
                          "with --col households=… or --col population=…")
    if (hh < 0).any() or (pop < 0).any():
        raise DataError(f"{p.name}: negative households or population; fix the values")
    est_hh, est_pop = np.isnan(hh) & ~np.isnan(pop), np.isnan(pop) & ~np.isnan(hh)
    hh = np.where(est_hh, np.round(pop / pph), hh)
    pop = np.where(est_pop, np.round(hh * pph), pop)
    if est_hh.any() or est_pop.any():
        notes.append(f"estimated {int(est_hh.sum())} households and {int(est_pop.sum())} "
                     "population values from the commune's 2019 persons per household")
    both = np.isnan(hh) | np.isnan(pop)
    if both.any():
        raise DataError(f"{p.name}: village(s) {[ids[i] for i in np.flatnonzero(both)[:5]]} have "
                        "neither households nor population; fill one")
    pts["households"] = hh.astype(np.int64)
    pts["population"] = pop.astype(np.int64)
    if "is_centre" in cols:
        pts["is_centre"] = df[cols["is_centre"]].to_numpy()
    else:
        pts["is_centre"] = False
    return Imported(pts, p.name, notes)
