"""The 2025 administrative units as polygons, dissolved from the 2020 communes.

From 1 July 2025 former Hòa Bình's 151 commune-level units are 46 units of Phú Thọ. The
crosswalk (:func:`phusong.communes.crosswalk_2025`) says which 2020 commune went to which unit,
whole (148 communes) or split between two (3 communes, half each). The official split lines are
not published (FACTS), so a split commune is cut into parts whose areas follow the crosswalk's
shares, each part toward its own unit's centre (:func:`split_communes`); the units are the
dissolved parts, and their households and population are the communes' 2019 census figures
apportioned by the same shares (:func:`dissolve_2025`).

:func:`dissolve_2025` is what :func:`phusong.twin.build_twin` writes as the ``communes_2025``
layer and what the maps draw when a bundle has no such layer.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from phusong import settings
from phusong.errors import DataError

__all__ = ["split_communes", "dissolve_2025", "shared_counts"]


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
    apportionment for display and is said so wherever it is drawn.

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


def shared_counts(communes: pd.DataFrame, xw: pd.DataFrame) -> pd.DataFrame:
    """Households and population per 2025 unit: each 2020 commune's 2019 census figures times
    its crosswalk ``share``, summed per unit and rounded to whole households/persons.

    Returns
    -------
    DataFrame
        ``unit_code``, ``households``, ``population`` (int64).
    """
    x = xw.merge(communes[["commune_code", "households", "population"]], on="commune_code")
    x["households"] = x["households"] * x["share"]
    x["population"] = x["population"] * x["share"]
    out = x.groupby("unit_code", as_index=False)[["households", "population"]].sum()
    out[["households", "population"]] = out[["households", "population"]].round().astype("int64")
    return out


def dissolve_2025(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The 2025 units covering ``communes``: their parts (:func:`split_communes`) dissolved.

    Parameters
    ----------
    communes : GeoDataFrame
        2020 communes: ``commune_code`` (GSO), ``households``, ``population``, polygons.

    Returns
    -------
    GeoDataFrame
        One row per 2025 unit, ordered by ``unit_code``: ``unit_code``, ``name``, ``type``,
        ``households`` and ``population`` (2019 census apportioned by the crosswalk's shares),
        ``communes_2020`` (the member communes' codes, ``;``-separated, split ones marked
        ``×share``), ``complete`` (all its 2020 communes are in ``communes``), polygons in the
        CRS of ``communes``.

    Raises
    ------
    DataError
        A commune is not in the crosswalk (not a 2020 commune of Hòa Bình).
    """
    from phusong.communes import crosswalk_2025, units_2025

    xw = crosswalk_2025().copy()
    xw["commune_code"] = xw["commune_code"].astype(str)
    codes = communes["commune_code"].astype(str)
    missing = sorted(set(codes) - set(xw["commune_code"]))
    if missing:
        raise DataError(f"2025 units: {len(missing)} commune(s) are not in the 2020→2025 "
                        f"crosswalk (e.g. {missing[0]}); only Hòa Bình's 151 communes dissolve")
    mine = xw[xw["commune_code"].isin(set(codes))]
    parts = split_communes(communes, mine)
    out = parts.dissolve(by="unit_code", as_index=False, aggfunc={"unit_name": "first"},
                         sort=True)
    out = out.rename(columns={"unit_name": "name"})[["unit_code", "name", "geometry"]]
    facts = units_2025().set_index("unit_code")
    out["type"] = [facts["type"].get(u, "") for u in out["unit_code"]]
    out = out.merge(shared_counts(communes, mine), on="unit_code", how="left")
    members = mine.sort_values(["unit_code", "commune_code"]).groupby("unit_code").apply(
        lambda g: ";".join(c if s >= 1.0 else f"{c}×{s:g}"
                           for c, s in zip(g["commune_code"], g["share"], strict=True)),
        include_groups=False)
    out["communes_2020"] = out["unit_code"].map(members)
    all_members = xw.groupby("unit_code")["commune_code"].apply(set)
    have = set(codes)
    out["complete"] = [all_members[u] <= have for u in out["unit_code"]]
    out = out[["unit_code", "name", "type", "households", "population", "communes_2020",
               "complete", "geometry"]].sort_values("unit_code").reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=communes.crs)
