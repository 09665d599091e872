"""Administrative units drawn on maps (2020 communes or 2025 units) and gap-table lookup."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from phusong.bundle import Bundle
from phusong.errors import DataError

__all__ = ["units", "gaps_tables", "BOUNDARIES"]

BOUNDARIES = ("2020", "2025")


def units(bundle: Bundle, boundaries: str = "2020") -> gpd.GeoDataFrame:
    """Polygons of the map's units: ``unit_code``, ``name``, ``district_name``, ``households``,
    ``population``, geometry (EPSG:4326).

    ``"2020"``: the bundle's communes. ``"2025"``: the bundle's ``communes_2025`` polygons when
    present, else the communes dissolved by :func:`phusong.communes.crosswalk_2025` (a commune
    split between 2025 units goes whole to the unit with the largest share; households and
    population are split by share).
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
    main = xw.sort_values(["commune_code", "share"], ascending=[True, False]) \
             .drop_duplicates("commune_code")[["commune_code", "unit_code", "unit_name"]]
    g = c.merge(main, on="commune_code")
    out = g.dissolve(by="unit_code", as_index=False, aggfunc={"unit_name": "first"})
    out = out.rename(columns={"unit_name": "name"})[["unit_code", "name", "geometry"]]
    out["district_name"] = ""
    out = out.merge(_shared_counts(c, xw), on="unit_code", how="left")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=c.crs)


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
