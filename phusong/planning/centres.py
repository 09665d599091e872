"""Commune centres, and the points of presence assumed there when a bundle has no fibre layer.

A commune's **centre** (the seat of its People's Committee, UBND) is, in this order:

1. its village flagged ``is_centre`` (the twin and some village lists set it);
2. else a fibre point of presence (node kind ``POP``) inside the commune polygon — the one
   nearest the administrative centre: operators put the commune POP at the UBND;
3. else its village nearest the administrative centre of the commune facts (``lon``/``lat``
   of ``data/communes/communes_151.csv``);
4. else (a commune without villages) the administrative centre point itself, or the polygon's
   representative point for a commune the facts do not know.

``fibre_commune`` counts a commune whose centre is within reach of fibre: a village centre by
its village's fibre reach, a POP centre always, a point centre by its own distance to the
network (:func:`phusong.network.reach.fibre_distance_m`).

**Assumed POPs.** Plan 785 §2.1 says fibre reaches all 151 commune centres, but operators do not
publish their networks. A bundle with neither ``fibre`` nor ``fibre_nodes`` is planned on one
assumed POP per commune centre (:func:`assume_pops`): the bundle's ``meta`` then carries
:data:`POP_ASSUMPTION` under ``"fibre_assumption"``, which every output repeats.

Examples
--------
>>> from tests._synthetic import synthetic_bundle  # the repository's test double
>>> b = synthetic_bundle(2, 3, seed=0)
>>> c = commune_centres(b)
>>> c["source"].tolist()
['flagged village', 'flagged village']
>>> assumed = assume_pops(b.__class__(b.name, {k: v for k, v in b.layers.items()
...                                            if k not in ("fibre", "fibre_nodes")}))
>>> len(assumed.fibre_nodes), assumed.meta["fibre_assumption"] == POP_ASSUMPTION
(2, True)
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from phusong import settings
from phusong.bundle import Bundle, Provenance
from phusong.communes import commune_facts
from phusong.crs import to_work

__all__ = ["CENTRE_SOURCES", "POP_ASSUMPTION", "assume_pops", "centre_fibre",
           "commune_centres", "fibre_assumption", "has_fibre"]

#: The ``source`` of a centre, by rule of the module doc.
CENTRE_SOURCES = ("flagged village", "POP inside the commune",
                  "village nearest the administrative centre", "administrative centre (no village)")
#: The label every output carries when the POPs are assumed.
POP_ASSUMPTION = ("ASSUMED: no fibre layer — a point of presence is assumed at every commune "
                  "centre (Plan 785 §2.1: fibre reaches 151/151 commune centres); fibre figures "
                  "count distance to these assumed POPs, not to an operator's network")


def has_fibre(bundle) -> bool:
    """True when the bundle holds fibre spans or fibre nodes."""
    return any(f is not None and len(f) for f in (bundle.fibre, bundle.fibre_nodes))


def fibre_assumption(bundle) -> str | None:
    """The assumption label of a bundle planned on assumed POPs (None for real fibre)."""
    return (bundle.meta or {}).get("fibre_assumption")


def _admin_points(communes: gpd.GeoDataFrame) -> np.ndarray:
    """Administrative centre per commune (EPSG:4326 points): facts lon/lat when the point lies in
    the polygon, else the polygon's representative point."""
    facts = commune_facts().set_index("commune_code")
    rep = communes.geometry.representative_point().to_numpy()
    out = rep.copy()
    known = communes["commune_code"].isin(facts.index).to_numpy()
    if known.any():
        f = facts.loc[communes["commune_code"][known]]
        pts = shapely.points(f["lon"].to_numpy(float), f["lat"].to_numpy(float))
        inside = shapely.contains(communes.geometry.to_numpy()[known], pts)
        out[np.flatnonzero(known)[inside]] = pts[inside]
    return out


def commune_centres(bundle, *, nodes: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """The centre of every commune of ``bundle`` by the rules of the module doc.

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        Needs ``communes``; uses ``villages`` and ``fibre_nodes``.
    nodes : GeoDataFrame, optional
        Fibre nodes to use instead of ``bundle.fibre_nodes``.

    Returns
    -------
    GeoDataFrame
        One row per commune (the communes' order), EPSG:4326: ``commune_code``, ``village_id``
        (None for a point centre), ``node_id`` (the POP, rule 2), ``source``
        (:data:`CENTRE_SOURCES`).
    """
    com = bundle.communes.reset_index(drop=True)
    admin = _admin_points(com)
    n = len(com)
    vid = np.full(n, None, dtype=object)
    nid = np.full(n, None, dtype=object)
    src = np.full(n, CENTRE_SOURCES[3], dtype=object)
    geom = admin.copy()
    pos = pd.Series(np.arange(n), index=com["commune_code"].to_numpy())
    v = bundle.villages
    if v is not None and len(v):
        v = v.reset_index(drop=True)
        flag = (v["is_centre"].fillna(False).astype(bool).to_numpy() if "is_centre" in v
                else np.zeros(len(v), bool))
        at = pos.reindex(v["commune_code"].to_numpy()).to_numpy()
        ok = np.isfinite(at)
        for i in np.flatnonzero(flag & ok)[::-1]:  # the first flagged village wins
            c = int(at[i])
            vid[c], src[c], geom[c] = str(v["village_id"].iloc[i]), CENTRE_SOURCES[0], \
                v.geometry.iloc[i]
    nodes = bundle.fibre_nodes if nodes is None else nodes
    if nodes is not None and len(nodes):
        pops = nodes[nodes["kind"].astype(str) == "POP"].reset_index(drop=True)
        if len(pops):
            joined = gpd.sjoin(pops[["node_id", "geometry"]], com[["commune_code", "geometry"]],
                               how="inner", predicate="within")
            for code, g in joined.groupby("commune_code", sort=False):
                c = int(pos[code])
                if src[c] != CENTRE_SOURCES[3]:
                    continue
                d = shapely.distance(g.geometry.to_numpy(), admin[c])
                k = int(np.argmin(d))
                nid[c], src[c], geom[c] = str(g["node_id"].iloc[k]), CENTRE_SOURCES[1], \
                    g.geometry.iloc[k]
    if v is not None and len(v):
        vw = to_work(v, "villages")
        aw = to_work(gpd.GeoSeries(admin, crs=settings.STORE_CRS), "communes").to_numpy()
        d = shapely.distance(vw.geometry.to_numpy(), aw[np.where(ok, at, 0).astype(int)])
        frame = pd.DataFrame({"c": np.where(ok, at, -1).astype(int), "d": d})[ok]
        nearest = frame.sort_values(["c", "d"], kind="stable").drop_duplicates("c")
        for c, i in zip(nearest["c"], nearest.index, strict=True):
            if src[c] == CENTRE_SOURCES[3]:
                vid[c], src[c], geom[c] = str(v["village_id"].iloc[i]), CENTRE_SOURCES[2], \
                    v.geometry.iloc[i]
    return gpd.GeoDataFrame({"commune_code": com["commune_code"].to_numpy(), "village_id": vid,
                             "node_id": nid, "source": src}, geometry=list(geom),
                            crs=settings.STORE_CRS)


def centre_fibre(bundle, centres: gpd.GeoDataFrame, village_fibre: pd.Series, *,
                 reach_m: float = settings.FIBRE_REACH_M, graph=None) -> np.ndarray:
    """True per centre (``centres``' order) within reach of fibre (module doc).

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        For the point centres' distance to the network.
    centres : GeoDataFrame
        :func:`commune_centres` output.
    village_fibre : Series of bool
        Fibre within reach per ``village_id``.
    reach_m : float
        Reach along roads, m.
    graph : networkx.Graph, optional
        Prebuilt road graph.
    """
    out = np.zeros(len(centres), bool)
    src = centres["source"].to_numpy()
    is_v = np.isin(src, (CENTRE_SOURCES[0], CENTRE_SOURCES[2]))
    if is_v.any():
        vf = pd.Series(village_fibre).set_axis(pd.Index(village_fibre.index).astype(str))
        out[is_v] = vf.reindex(centres["village_id"][is_v].astype(str)).fillna(False) \
            .astype(bool).to_numpy()
    out[src == CENTRE_SOURCES[1]] = True
    pt = src == CENTRE_SOURCES[3]
    if pt.any() and has_fibre(bundle):
        from phusong.network.reach import fibre_distance_m

        pts = centres[pt].rename(columns={"commune_code": "_code"}).assign(
            village_id=lambda d: d["_code"])
        d = fibre_distance_m(pts, bundle.fibre, bundle.roads, fibre_nodes=bundle.fibre_nodes,
                             graph=graph)
        out[pt] = d.to_numpy() <= reach_m
    return out


def assume_pops(bundle) -> Bundle:
    """``bundle`` with one assumed POP at every commune centre (module doc), unchanged when it
    already holds fibre.

    The nodes (``node_id`` ``assumed-POP-{commune_code}``, ``kind`` ``POP``, ``assumed``
    True) go into ``fibre_nodes`` with a provenance saying so; ``meta["fibre_assumption"]``
    is :data:`POP_ASSUMPTION`.
    """
    if has_fibre(bundle):
        return bundle
    c = commune_centres(bundle)
    nodes = gpd.GeoDataFrame({"node_id": [f"assumed-POP-{k}" for k in c["commune_code"]],
                              "kind": "POP", "assumed": True,
                              "commune_code": c["commune_code"].to_numpy()},
                             geometry=c.geometry.to_numpy(), crs=settings.STORE_CRS)
    layers = {**bundle.layers, "fibre_nodes": nodes}
    prov = {**bundle.provenance, "fibre_nodes": Provenance(
        "phusong: assumed at the commune centres", "n/a", False, POP_ASSUMPTION)}
    meta = {**(bundle.meta or {}), "fibre_assumption": POP_ASSUMPTION}
    return Bundle(bundle.name, layers, dict(bundle.rasters), prov, bundle.boundaries, meta,
                  bundle.path)
