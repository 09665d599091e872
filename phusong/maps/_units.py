"""Administrative units drawn on maps (2020 communes or 2025 units) and gap-table lookup."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from phusong.bundle import Bundle
from phusong.errors import DataError

__all__ = ["units", "units_source", "SOURCE_LABELS", "split_communes", "gaps_tables",
           "BOUNDARIES"]

BOUNDARIES = ("2020", "2025")


def split_communes(communes: gpd.GeoDataFrame, xw: pd.DataFrame) -> gpd.GeoDataFrame:
    """:func:`phusong.twin.units_2025.split_communes` (imported when called: the twin package is
    not loaded with the maps)."""
    from phusong.twin.units_2025 import split_communes as split

    return split(communes, xw)


def units_source(bundle: Bundle) -> str:
    """Where the 2025 units come from: ``"layer"`` (the bundle's ``communes_2025`` polygons,
    written by the twin or imported with ``--communes-2025``) or ``"derived"`` (the 2020
    communes dissolved by the crosswalk, :func:`phusong.twin.units_2025.dissolve_2025`)."""
    u25 = bundle.communes_2025
    if u25 is not None and len(u25) and set(u25.geom_type) <= {"Polygon", "MultiPolygon"}:
        return "layer"
    return "derived"


#: What each source is called on the map and in the workbook (vi, en).
SOURCE_LABELS = {
    "layer": ("lớp communes_2025 của bộ dữ liệu", "the communes_2025 layer of the bundle"),
    "derived": ("dẫn xuất từ xã 2020 theo bảng chuyển đổi (xã bị chia: chia theo tỷ lệ)",
                "derived from the 2020 communes by the crosswalk (split communes apportioned)"),
}


def units(bundle: Bundle, boundaries: str = "2020") -> gpd.GeoDataFrame:
    """Polygons of the map's units: ``unit_code``, ``name``, ``district_name``, ``households``,
    ``population``, geometry (EPSG:4326).

    ``"2020"``: the bundle's communes. ``"2025"``: the bundle's ``communes_2025`` polygons when
    present (:func:`units_source` says which), their households and population taken from the
    layer when it has them, else from the communes apportioned by the crosswalk's shares;
    without the layer, the communes dissolved by
    :func:`phusong.twin.units_2025.dissolve_2025` (a split commune cut into parts of its
    units' shares, its households and population split by share).
    """
    if boundaries not in BOUNDARIES:
        raise DataError(f"unknown boundaries {boundaries!r}; use --boundaries 2020 or 2025")
    c = bundle.communes
    if boundaries == "2020":
        return gpd.GeoDataFrame(
            c[["commune_code", "name", "district_name", "households", "population", "geometry"]]
            .rename(columns={"commune_code": "unit_code"}), crs=c.crs)
    from phusong.communes import crosswalk_2025
    from phusong.twin.units_2025 import dissolve_2025, shared_counts

    if units_source(bundle) == "layer":
        u25 = bundle.communes_2025
        out = u25[["unit_code", "name", "geometry"]].copy()
        out["unit_code"] = out["unit_code"].astype(str)
        out["district_name"] = ""
        if {"households", "population"} <= set(u25.columns):
            out["households"] = pd.to_numeric(u25["households"]).round().astype("int64")
            out["population"] = pd.to_numeric(u25["population"]).round().astype("int64")
        else:
            xw = crosswalk_2025()
            xw = xw[xw["commune_code"].isin(set(c["commune_code"]))]
            out = out.merge(shared_counts(c, xw), on="unit_code", how="left")
        return gpd.GeoDataFrame(out, geometry="geometry", crs=u25.crs)
    try:
        d = dissolve_2025(c)
    except DataError as exc:
        raise DataError(f"{exc}; add a communes_2025 layer (phusong data import "
                        "--communes-2025 FILE) or use --boundaries 2020") from None
    out = d[["unit_code", "name", "households", "population", "geometry"]].copy()
    out.insert(2, "district_name", "")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=c.crs)


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
