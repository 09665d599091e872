"""The network as a plan leaves it: a year's chosen sites, radios and fibre written into a bundle.

:func:`grow_bundle` is what the plan's year loop does between years (each year's candidates are
generated from the grown network) and what ``phusong plan apply`` writes, so every other
command (coverage, gaps, map, export) runs on the future network.

* **New sites** become sites standing on the candidate's ground (``ground_m``, sampled as the
  coverage engine samples sites) with power and backhaul. A shared tower (operator ``"shared"``)
  becomes one site per operator at the same point (``{site}-{operator}``): every operator gets
  the 4G radio, and each operator with a 5G licence (``bands_5g``) the 5G radios, all in the
  bands the plan modelled (the shared band, so the applied network reproduces the plan's
  coverage; an operator's own band may reach further).
* **Upgrades** add omni cells on the existing site (as the plan modelled them) and give it
  backhaul when it had none.
* **Fibre routes** become ``fibre`` spans (``kind = "planned {year}"``); each site the plan
  brought backhaul to gets a ``fibre_nodes`` access node.
* Provenance of the changed layers names the plan; ``meta["applied_plans"]`` lists the plan,
  its year and the fingerprint of the bundle it was made from.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from phusong import settings
from phusong.bundle import Bundle, Provenance
from phusong.config import DEFAULT_SETTINGS, Settings
from phusong.planning.radios import parse_bands

__all__ = ["grow_bundle", "site_ids"]


def site_ids(action: pd.Series, bands_5g: dict) -> list[tuple[str, str]]:
    """``(site_id, operator)`` of every site an action builds or upgrades."""
    if action["kind"] == "upgrade":
        return [(str(action["site_id"]), str(action["operator"]))]
    base = f"P{action['candidate_id']}"
    if action["operator"] == "shared":
        return [(f"{base}-{op}", op) for op in settings.OPERATORS]
    return [(base, str(action["operator"]))]


def _cells(action, sites: list[tuple[str, str]], bands_5g: dict, year: int,
           config: Settings) -> list[dict]:
    rows = []
    shared = action["operator"] == "shared"
    for sid, op in sites:
        for tech, band in parse_bands(action["bands"]):
            if tech == "5G" and shared and op not in bands_5g:
                continue  # an operator without a 5G licence gets no 5G radio on a shared tower
            suffix = f"-P{year}" if action["kind"] == "upgrade" else ""
            rows.append({"cell_id": f"{sid}-{tech}-{band}{suffix}", "site_id": sid, "tech": tech,
                         "band": band, "freq_mhz": config.bands_mhz[tech][band],
                         "eirp_dbm": config.radio.eirp_dbm, "azimuth_deg": np.nan,
                         "tilt_deg": 0.0})
    return rows


def _provenance(old: Provenance | None, plan_name: str, year: int, what: str) -> Provenance:
    base = old or Provenance(source="", licence="unknown")
    return Provenance(source=f"{base.source} + phusong plan {plan_name!r} to {year}".lstrip(" +"),
                      licence=base.licence, synthetic=base.synthetic,
                      note=f"{base.note} {what} planned by phusong ({plan_name}, {year})".strip())


def grow_bundle(bundle: Bundle, actions: pd.DataFrame, routes: gpd.GeoDataFrame, *, year: int,
                plan_name: str, source_fingerprint: str, bands_5g: dict | None = None,
                config: Settings = DEFAULT_SETTINGS) -> Bundle:
    """``bundle`` with one plan year's actions built (module doc); the input is not modified.

    Parameters
    ----------
    bundle : Bundle
        The network before the year.
    actions : DataFrame
        Chosen candidates (:data:`phusong.planning.candidates.CANDIDATE_COLUMNS` with ``bands``,
        ``ground_m``, ``needs_backhaul``; geometry or ``x_m``/``y_m`` in WORK_CRS).
    routes : GeoDataFrame
        The year's new fibre (``fibre_routes`` layout, EPSG:4326).
    year : int
        The plan year.
    plan_name : str
        Scenario name, for provenance.
    source_fingerprint : str
        Fingerprint of the bundle the plan was made from.
    bands_5g : dict, optional
        5G band per operator (default ``settings.BANDS_5G_BY_OPERATOR``).
    config : phusong.config.Settings
        The plan's settings: band frequencies and EIRP of the new radios.

    Returns
    -------
    Bundle
    """
    bands_5g = dict(settings.BANDS_5G_BY_OPERATOR if bands_5g is None else bands_5g)
    layers = dict(bundle.layers)
    prov = dict(bundle.provenance)
    new_sites, new_cells, backhauled = [], [], []
    for _, a in actions.iterrows():
        sites = site_ids(a, bands_5g)
        new_cells += _cells(a, sites, bands_5g, year, config)
        if a["kind"] == "new":
            new_sites += [{"site_id": sid, "operator": op, "height_m": float(a["height_m"]),
                           "ground_m": float(a["ground_m"]), "has_power": True,
                           "has_backhaul": True, "commune_code": a.get("commune_code"),
                           "geometry": a["geometry"]} for sid, op in sites]
        if bool(a.get("needs_backhaul", True)):
            backhauled.append((sites[0][0], a["geometry"]))
    if len(actions):
        sites = bundle.sites.copy() if bundle.sites is not None else None
        if sites is not None and "has_backhaul" in sites:
            up = set(actions.loc[actions["kind"] == "upgrade", "site_id"].astype(str))
            sites.loc[sites["site_id"].isin(up), "has_backhaul"] = True
        if new_sites:
            add = gpd.GeoDataFrame(new_sites, geometry="geometry", crs=settings.STORE_CRS)
            sites = add if sites is None else gpd.GeoDataFrame(
                pd.concat([sites, add], ignore_index=True), crs=settings.STORE_CRS)
        layers["sites"] = sites
        cells = pd.DataFrame(new_cells)
        layers["cells"] = cells if bundle.cells is None else pd.concat(
            [bundle.cells, cells], ignore_index=True)
        for k, what in (("sites", "new sites"), ("cells", "new radios")):
            prov[k] = _provenance(bundle.provenance.get(k), plan_name, year, what)
    if len(routes):
        spans = gpd.GeoDataFrame({"span_id": routes["route_id"].astype(str).to_numpy(),
                                  "kind": f"planned {year}",
                                  "length_m": routes["length_m"].to_numpy(float)},
                                 geometry=routes.geometry.to_numpy(), crs=settings.STORE_CRS)
        layers["fibre"] = spans if bundle.fibre is None else gpd.GeoDataFrame(
            pd.concat([bundle.fibre, spans], ignore_index=True), crs=settings.STORE_CRS)
        prov["fibre"] = _provenance(bundle.provenance.get("fibre"), plan_name, year, "fibre spans")
    if backhauled and len(routes):
        nodes = gpd.GeoDataFrame({"node_id": [f"{sid}-BH" for sid, _ in backhauled],
                                  "kind": "access_node"},
                                 geometry=[g for _, g in backhauled], crs=settings.STORE_CRS)
        old = bundle.fibre_nodes
        layers["fibre_nodes"] = nodes if old is None else gpd.GeoDataFrame(
            pd.concat([old, nodes], ignore_index=True), crs=settings.STORE_CRS)
        prov["fibre_nodes"] = _provenance(bundle.provenance.get("fibre_nodes"), plan_name, year,
                                          "backhaul nodes")
    meta = dict(bundle.meta)
    meta["applied_plans"] = [*meta.get("applied_plans", []),
                             {"plan": plan_name, "year": int(year),
                              "source_fingerprint": source_fingerprint}]
    return Bundle(bundle.name, layers, dict(bundle.rasters), prov, bundle.boundaries, meta,
                  bundle.path)
