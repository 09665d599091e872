"""The 2025 administrative units from a user's file (``phusong data import --communes-2025``).

A planner holding the official 2025 boundaries (46 units of Phú Thọ covering former Hòa Bình)
imports them as the bundle's ``communes_2025`` layer; the maps and the workbook then draw and
count on them instead of units dissolved from the 2020 communes. Units are joined to the 2025
facts (:func:`phusong.communes.units_2025`) by a 5-digit code column or by name.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from phusong.communes import normalize_name, units_2025
from phusong.errors import DataError, FormatError, SchemaError
from phusong.io._files import Imported
from phusong.io.vector import _find, _pad_code, read_vector, repair_polygons

__all__ = ["read_communes_2025"]

_CODE_COLUMNS = ("unit_code", "ma_xa", "maxa", "ma_dvhc", "madvhc", "commune_code", "code", "ma")
_NAME_COLUMNS = ("name", "ten_xa", "tenxa", "ten", "ten_dvhc", "name_vi", "unit", "xa")


def read_communes_2025(path, *, crs: str | None = None, layer: str | None = None,
                       code_column: str | None = None, name_column: str | None = None,
                       communes: gpd.GeoDataFrame | None = None) -> Imported:
    """Read 2025 unit boundaries and join them to the 2025 unit facts.

    Parameters
    ----------
    path : str or Path
        Vector file (:func:`phusong.io.vector.read_vector`): polygons, one per unit.
    crs : str, optional
        CRS when the file has none (Shapefile without ``.prj``).
    layer, code_column, name_column : str, optional
        GeoPackage layer and join columns instead of the automatic choice (``unit_code``,
        ``MA_XA``…; ``name``, ``TEN_XA``…).
    communes : GeoDataFrame, optional
        The bundle's 2020 communes: when given, the units' households and population are their
        2019 census figures apportioned by the crosswalk
        (:func:`phusong.twin.units_2025.shared_counts`).

    Returns
    -------
    Imported
        ``data``: GeoDataFrame (EPSG:4326) with ``unit_code``, ``name``, ``type`` (from the
        facts), ``households`` and ``population`` (with ``communes``), polygon.

    Raises
    ------
    PhusongError
        One line naming the file and the row, code or column at fault.
    """
    p = Path(path)
    gdf, notes = read_vector(p, crs=crs, layer=layer, what="communes_2025")
    kinds = set(gdf.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise FormatError(f"{p}: 2025 units must be polygons, found {sorted(kinds)}")
    if gdf.geometry.isna().any():
        row = int(gdf.geometry.isna().to_numpy().argmax()) + 1
        raise DataError(f"{p}: row {row} has no geometry; every 2025 unit needs its polygon")
    facts = units_2025()
    known = dict(zip(facts["unit_code"], facts.index, strict=True))
    code_col = _find(gdf, code_column, _CODE_COLUMNS, "2025 unit code", p)
    rows: list[int] = []
    if code_col is not None:
        codes = [_pad_code(v) for v in gdf[code_col]]
        bad = [(i + 1, c) for i, c in enumerate(codes) if c not in known]
        if bad:
            raise DataError(f"{p}: {len(bad)} code(s) in column {code_col!r} are not 2025 units "
                            f"of former Hòa Bình (rows/codes {bad[:5]}); fix them or join by "
                            "name with --communes-2025-name-col")
        rows = [known[c] for c in codes]
        notes.append(f"joined to the 2025 unit facts by code column {code_col!r}")
    else:
        name_col = _find(gdf, name_column, _NAME_COLUMNS, "2025 unit name", p)
        if name_col is None:
            raise SchemaError(f"{p}: no code or name column for the 2025 units (looked for "
                              f"{list(_CODE_COLUMNS[:3])} and {list(_NAME_COLUMNS[:3])}); name "
                              "one with --communes-2025-code-col")
        by_key = {normalize_name(n): i for i, n in zip(facts.index, facts["name"], strict=True)}
        for r, raw in enumerate(gdf[name_col]):
            hit = by_key.get(normalize_name(str(raw or "")))
            if hit is None:
                raise DataError(f"{p}: row {r + 1}: {raw!r} in column {name_col!r} is not a 2025 "
                                "unit of former Hòa Bình; correct the name or add a unit_code "
                                "column")
            rows.append(hit)
        notes.append(f"joined to the 2025 unit facts by name column {name_col!r}")
    picked = facts.loc[rows].reset_index(drop=True)
    dup = picked["unit_code"].duplicated(keep=False)
    if dup.any():
        raise DataError(f"{p}: unit(s) {sorted(set(picked.loc[dup, 'unit_code']))[:5]} appear "
                        "more than once; one polygon per 2025 unit (dissolve them in a GIS)")
    out = gpd.GeoDataFrame(picked[["unit_code", "name", "type"]],
                           geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    out, fixed = repair_polygons(out, out["unit_code"], source=p.name)
    notes += fixed
    if communes is not None:
        from phusong.communes import crosswalk_2025
        from phusong.twin.units_2025 import shared_counts

        xw = crosswalk_2025()
        xw = xw[xw["commune_code"].isin(set(communes["commune_code"].astype(str)))]
        counts = shared_counts(pd.DataFrame(communes), xw)
        out = out.merge(counts, on="unit_code", how="left")
        out[["households", "population"]] = out[["households", "population"]].fillna(0).astype(
            "int64")
        notes.append("households and population: 2019 census of the 2020 communes apportioned "
                     "by the 2020→2025 crosswalk's shares")
    missing = sorted(set(facts["unit_code"]) - set(out["unit_code"]))
    if missing:
        notes.append(f"{len(missing)} of the {len(facts)} 2025 units absent (e.g. {missing[0]})")
    out = out.sort_values("unit_code").reset_index(drop=True)
    return Imported(gpd.GeoDataFrame(out, geometry="geometry", crs=gdf.crs), p.name, notes)
