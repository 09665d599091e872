"""Administrative units drawn on maps (2020 communes or 2025 units) and gap-table lookup."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from phusong import settings
from phusong.bundle import Bundle
from phusong.errors import DataError

__all__ = ["units", "split_communes", "gaps_tables", "BOUNDARIES"]

BOUNDARIES = ("2020", "2025")


def units(bundle: Bundle, boundaries: str = "2020") -> gpd.GeoDataFrame:
    """Polygons of the map's units: ``unit_code``, ``name``, ``district_name``, ``households``,
    ``population``, geometry (EPSG:4326).

    ``"2020"``: the bundle's communes. ``"2025"``: the bundle's ``communes_2025`` polygons when
    present, else the communes dissolved by :func:`phusong.communes.crosswalk_2025`; a commune
    split between 2025 units is cut into parts of its units' shares (:func:`split_communes`),
    and its households and population are split by share.
    """
    if boundaries not in BOUNDARIES:
        raise DataError(f"unknown boundaries {boundaries!r}; use --boundaries 2020 or 2025")
    c = bundle.communes
    if boundaries == "2020":
        return gpd.GeoDataFrame(
            c[["commune_code", "name", "district_name", "households", "population", "geometry"]]
            .rename(columns={"commune_code": "unit_code"}), crs=c.crs)
    try:
        from phusong.communes import crosswalk_2025
    except ImportError:
        crosswalk_2025 = None
    xw = crosswalk_2025() if crosswalk_2025 is not None else None
    u25 = bundle.communes_2025
    if u25 is not None and set(u25.geom_type) <= {"Polygon", "MultiPolygon"}:
        out = u25[["unit_code", "name", "geometry"]].copy()
        out["district_name"] = ""
        if xw is not None:
            hh = _shared_counts(c, xw)
            out = out.merge(hh, on="unit_code", how="left")
        else:
            out["households"] = pd.NA
            out["population"] = pd.NA
        return gpd.GeoDataFrame(out, geometry="geometry", crs=u25.crs)
    if xw is None:
        raise DataError("2025 boundaries: the bundle has no communes_2025 polygons and the "
                        "2020→2025 crosswalk (phusong.communes) is not available; use "
                        "--boundaries 2020")
    xw = xw.copy()
    xw["commune_code"] = xw["commune_code"].astype(str)
    missing = set(c["commune_code"]) - set(xw["commune_code"])
    if missing:
        raise DataError(f"2025 boundaries: {len(missing)} commune(s) of the bundle are not in the "
                        f"crosswalk (e.g. {sorted(missing)[0]}); use --boundaries 2020")
    parts = split_communes(c, xw[xw["commune_code"].isin(set(c["commune_code"]))])
    out = parts.dissolve(by="unit_code", as_index=False, aggfunc={"unit_name": "first"})
    out = out.rename(columns={"unit_name": "name"})[["unit_code", "name", "geometry"]]
    out["district_name"] = ""
    out = out.merge(_shared_counts(c, xw), on="unit_code", how="left")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=c.crs)


def _cut(poly, axis: np.ndarray, shares: list[float]) -> list:
    """Cut ``poly`` across ``axis`` (unit vector) into pieces whose areas follow ``shares``, in
    order along the axis (bisection on the cut position, to 1e-6 of the area)."""
    from shapely import affinity
    from shapely.geometry import box

    angle = float(np.degrees(np.arctan2(axis[1], axis[0])))
    rot = affinity.rotate(poly, -angle, origin=(0, 0))  # the axis becomes +x
    x0, y0, x1, y1 = rot.bounds
    total = rot.area
    pieces, left, acc = [], x0 - 1, 0.0
    for share in shares[:-1]:
        acc += share
        lo, hi = left, x1
        for _ in range(60):
            mid = (lo + hi) / 2.0
            if rot.intersection(box(x0 - 1, y0 - 1, mid, y1 + 1)).area < acc * total:
                lo = mid
            else:
                hi = mid
        pieces.append(rot.intersection(box(left, y0 - 1, hi, y1 + 1)))
        left = hi
    pieces.append(rot.intersection(box(left, y0 - 1, x1 + 1, y1 + 1)))
    return [affinity.rotate(p, angle, origin=(0, 0)) for p in pieces]


def split_communes(communes: gpd.GeoDataFrame, xw: pd.DataFrame) -> gpd.GeoDataFrame:
    """Each 2020 commune's polygon assigned to its 2025 unit(s): whole when it went whole, and a
    commune split between units cut into parts, one per unit, with areas in proportion to the
    crosswalk's ``share``, ordered along the line between the units' centres (each part lies
    toward its own unit). The official split lines are not published (FACTS); the cut is an
    apportionment for display and is said so in the map's layer name.

    Parameters
    ----------
    communes : GeoDataFrame
        ``commune_code`` and polygons (any CRS; cut in ``settings.WORK_CRS``).
    xw : DataFrame
        :func:`phusong.communes.crosswalk_2025` rows: ``commune_code``, ``unit_code``,
        ``unit_name``, ``share``.

    Returns
    -------
    GeoDataFrame
        ``commune_code``, ``unit_code``, ``unit_name``, ``share``, geometry (CRS of
        ``communes``), one row per (commune, unit).
    """
    from phusong.communes import units_2025

    work = communes.to_crs(settings.WORK_CRS).set_index("commune_code").geometry
    centres = units_2025().set_index("unit_code")
    pts = gpd.GeoSeries(gpd.points_from_xy(centres["lon"], centres["lat"]), index=centres.index,
                        crs="EPSG:4326").to_crs(settings.WORK_CRS)
    rows = []
    for code, g in xw.groupby("commune_code", sort=False):
        poly = work.loc[code]
        if len(g) == 1:
            rows.append((code, g.iloc[0], poly))
            continue
        xy = np.array([[pts[u].x, pts[u].y] if u in pts.index else
                       [poly.centroid.x, poly.centroid.y] for u in g["unit_code"]])
        d = xy[-1] - xy[0]
        axis = d / np.hypot(*d) if np.hypot(*d) > 0 else np.array([1.0, 0.0])
        order = np.argsort(xy @ axis, kind="stable")
        g = g.iloc[order]
        shares = (g["share"] / g["share"].sum()).tolist()
        for (_, r), piece in zip(g.iterrows(), _cut(poly, axis, shares), strict=True):
            rows.append((code, r, piece))
    out = gpd.GeoDataFrame(
        {"commune_code": [r[0] for r in rows],
         "unit_code": [r[1]["unit_code"] for r in rows],
         "unit_name": [r[1]["unit_name"] for r in rows],
         "share": [float(r[1]["share"]) for r in rows]},
        geometry=[r[2] for r in rows], crs=settings.WORK_CRS)
    return out.to_crs(communes.crs)


def _shared_counts(communes: pd.DataFrame, xw: pd.DataFrame) -> pd.DataFrame:
    x = xw.merge(communes[["commune_code", "households", "population"]], on="commune_code")
    x["households"] = x["households"] * x["share"]
    x["population"] = x["population"] * x["share"]
    out = x.groupby("unit_code", as_index=False)[["households", "population"]].sum()
    out[["households", "population"]] = out[["households", "population"]].round().astype("int64")
    return out


def gaps_tables(gaps, plan=None) -> dict[str, pd.DataFrame]:
    """Normalise ``gaps`` (GapTables-like object, dict, communes DataFrame or None) into a dict
    with keys among ``communes``, ``districts``, ``province``, ``villages``; None falls back to
    the plan folder's ``gaps_*.csv``."""
    if gaps is None:
        return dict(plan.gaps) if plan is not None else {}
    if isinstance(gaps, pd.DataFrame):
        return {"communes": gaps}
    if isinstance(gaps, dict):
        return {k: v for k, v in gaps.items() if v is not None}
    out = {}
    for key in ("communes", "districts", "province", "villages"):
        v = getattr(gaps, key, None)
        if v is not None:
            out[key] = v
    if not out:
        raise DataError(f"gaps: a {type(gaps).__name__} has no communes/villages tables; pass "
                        "the result of compute_gaps or a communes DataFrame")
    return out
