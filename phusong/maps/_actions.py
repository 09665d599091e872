"""What a plan does in each unit of the map: sites built or upgraded, fibre laid, and the cost.

A selected candidate belongs to the unit its point lies in (its ``commune_code`` when that is a
unit of the map, as on the 2020 boundaries); a fibre route belongs to the unit of the point
halfway along it. Used by the map's popups and the workbook's communes sheet.

Examples
--------
>>> from phusong.maps._example import example_bundle
>>> from phusong.maps._units import units
>>> from phusong.maps._actions import unit_actions
>>> unit_actions(units(example_bundle()), None).columns.tolist()[:3]
['unit_code', 'sites_new', 'sites_upgrade']
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from phusong import settings

__all__ = ["unit_actions", "ACTION_COLUMNS"]

#: Columns of :func:`unit_actions` besides ``unit_code``.
ACTION_COLUMNS = ("sites_new", "sites_upgrade", "sites_cost_vnd", "fibre_routes", "fibre_km",
                  "fibre_cost_vnd", "plan_cost_vnd")


def _unit_of(points: gpd.GeoSeries, u: gpd.GeoDataFrame) -> np.ndarray:
    """Unit code of each point: the polygon containing it, else the nearest (within 0 m … any)."""
    if not len(points):
        return np.array([], dtype=object)
    work = settings.WORK_CRS
    pts = gpd.GeoDataFrame(geometry=points.to_crs(work).reset_index(drop=True))
    polys = u[["unit_code", "geometry"]].to_crs(work)
    j = gpd.sjoin_nearest(pts, polys, how="left")  # distance 0 inside a polygon
    j = j[~j.index.duplicated(keep="first")]
    return j["unit_code"].reindex(pts.index).to_numpy(dtype=object)


def unit_actions(u: gpd.GeoDataFrame, plan) -> pd.DataFrame:
    """Planned actions per unit.

    Parameters
    ----------
    u : GeoDataFrame
        The map's units (``unit_code``, polygons), from :func:`phusong.maps._units.units`.
    plan : Plan or None
        A read plan folder; None gives zeros.

    Returns
    -------
    DataFrame
        ``unit_code`` and :data:`ACTION_COLUMNS`: new sites and upgrades selected (count), their
        cost (VND), fibre routes (count, km, VND) and the sum of both costs (VND).
    """
    out = pd.DataFrame({"unit_code": u["unit_code"].astype(str).to_numpy()})
    for c in ACTION_COLUMNS:
        out[c] = 0.0
    if plan is None:
        return out
    sel = plan.selected_sites
    if len(sel):
        codes = set(out["unit_code"])
        own = sel["commune_code"].astype(str) if "commune_code" in sel.columns else None
        if own is not None and own.isin(codes).all():
            unit = own.to_numpy(dtype=object)
        else:
            unit = _unit_of(sel.geometry, u)
        s = pd.DataFrame({"unit_code": unit, "new": (sel["kind"] == "new").to_numpy(),
                          "cost": sel["cost_vnd"].to_numpy(float)})
        g = s.groupby("unit_code").agg(sites_new=("new", "sum"), n=("new", "size"),
                                       sites_cost_vnd=("cost", "sum"))
        g["sites_upgrade"] = g["n"] - g["sites_new"]
        out = out.set_index("unit_code")
        out.update(g[["sites_new", "sites_upgrade", "sites_cost_vnd"]])
        out = out.reset_index()
    routes = plan.routes
    if len(routes):
        mid = routes.to_crs(settings.WORK_CRS).geometry.interpolate(0.5, normalized=True)
        unit = _unit_of(gpd.GeoSeries(mid, crs=settings.WORK_CRS), u)
        r = pd.DataFrame({"unit_code": unit, "km": routes["length_m"].to_numpy(float) / 1000.0,
                          "cost": routes["cost_vnd"].to_numpy(float)})
        g = r.groupby("unit_code").agg(fibre_routes=("km", "size"), fibre_km=("km", "sum"),
                                       fibre_cost_vnd=("cost", "sum"))
        out = out.set_index("unit_code")
        out.update(g)
        out = out.reset_index()
    out["plan_cost_vnd"] = out["sites_cost_vnd"] + out["fibre_cost_vnd"]
    for c in ("sites_new", "sites_upgrade", "fibre_routes"):
        out[c] = out[c].astype("int64")
    return out
