"""The twin's existing fibre network, along its roads, calibrated to Plan 785.

Built on the road graph (:func:`phusong.network.roads.road_graph`, shortest paths by length):

1. **Backbone and rings** — from the POP in the province city to every district town: the
   shortest road path (``backbone``) and, where the roads allow, a second path sharing no road
   piece with the first except bridges (pieces every path must use) and at most
   :data:`RING_DETOUR` times longer (``ring``): the town sits on a loop through the city, the
   ring topology Plan 785 describes.
2. **Feeders** — every commune centre (UBND) is joined to the nearest fibre along roads
   (``feeder``): 151/151 communes have fibre (Plan 785).
3. **Access extensions** — villages are reached in order of households per metre of new cable
   (a seeded ±15 % jitter) until fibre is *available* (within ``reach_m`` along roads, as
   :func:`phusong.network.reach.fibre_available` measures it) to
   :data:`AVAILABLE_HOUSEHOLDS_PCT` of households (``access``).

**Why 68 % available.** Plan 785 reports 54 % of households *subscribing*; households can only
subscribe where fibre passes. FTTH take-up where it is available is high in Việt Nam (cheap
bundles, few alternatives): assuming ~80 % take-up gives 54 / 0.8 ≈ 68 % availability, leaving a
gap of ≈ 12 points to the 2025 target of 80 % of households (Plan 785 §II.2.d).

**Route-km and cable-km.** Route-km is the length of road carrying fibre. Plan 785's
"8,231 km of fibre cable" counts cable, not routes: every network (VNPT, Viettel, FPT,
MobiFone, CMC, the cable-TV operator…) strings its own cable, often on the same poles. Each span
therefore carries :data:`CABLES_PER_SPAN` cables by kind (backbone and rings along the main
roads: six networks; feeders to commune centres: four; village access: the two FTTH incumbents),
and cable-km = Σ route-km × ``cable_count``. The twin has no lanes inside villages, so the
distribution and drop cable to subscribing homes (≈ 20 m for each of the ≈ 119,000 subscribing
households, ≈ 2,400 km) is in Plan 785's total but not in the twin's spans: expect the twin's
cable-km to be ≈ 70 % of 8,231 km (:func:`fibre_figures` reports both).
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from phusong import settings
from phusong.crs import to_work, transform_points
from phusong.errors import DataError
from phusong.network.reach import fibre_distance_m
from phusong.network.roads import road_graph, simple_graph, snap_points
from phusong.twin.roads import centre_villages, hubs

__all__ = ["make_fibre", "fibre_figures", "AVAILABLE_HOUSEHOLDS_PCT", "CABLES_PER_SPAN",
           "RING_DETOUR", "PLAN785_CABLE_KM", "SPAN_KINDS"]

#: Share of households with fibre available the twin is fitted to, % (see module doc).
AVAILABLE_HOUSEHOLDS_PCT = 68.0
#: Cables strung along a span of each kind (operators sharing the route).
CABLES_PER_SPAN = {"backbone": 6, "ring": 6, "feeder": 4, "access": 2}
#: A ring's second path may be at most this many times longer than the first.
RING_DETOUR = 3.0
#: Plan 785: fibre cable in the province, km.
PLAN785_CABLE_KM = 8231.0
#: Span kinds, most important first.
SPAN_KINDS = ("backbone", "ring", "feeder", "access")
_RANK = {k: i for i, k in enumerate(SPAN_KINDS)}


def make_fibre(communes, villages, roads, *, seed: int = 0,
               reach_m: float = settings.FIBRE_REACH_M,
               available_pct: float = AVAILABLE_HOUSEHOLDS_PCT,
               ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Generate the existing fibre network (see the module documentation).

    Parameters
    ----------
    communes, villages, roads : GeoDataFrame
        Schemas ``communes``, ``villages`` (with ``households``, ``is_centre``), ``roads``.
    seed : int
        Seed of the jitter in the access roll-out order.
    reach_m : float
        Fibre is available to a village within this distance along roads, m.
    available_pct : float
        Households to give fibre availability, %.

    Returns
    -------
    (GeoDataFrame, GeoDataFrame)
        ``fibre`` spans (EPSG:4326): ``span_id``, ``kind``, ``cable_count``, ``length_m``,
        ``road_id``; ``fibre_nodes`` (EPSG:4326): ``node_id``, ``kind`` (POP / access_node /
        splitter), ``village_id``.
    """
    rng = np.random.default_rng([seed, 3])
    vw = to_work(villages, "villages")
    road = road_graph(roads)  # the osmnx graph; rings and bridges need its simple undirected view
    g = simple_graph(road, "length")
    if nx.number_connected_components(g) != 1:
        raise DataError("roads: the network is not connected; fibre needs one road network")
    vx, vy = vw.geometry.x.to_numpy(), vw.geometry.y.to_numpy()
    vnode, _ = snap_points(g, vx, vy)
    pos = {v: i for i, v in enumerate(vw["village_id"])}
    hub = hubs(communes, vw)
    city = int(vnode[pos[hub.village_id.iloc[0]]])
    kind_of: dict[tuple[int, int], int] = {}
    # a bridge (a road piece whose loss splits the network) is shared by both paths of a ring
    bridges = {(min(a, b), max(a, b)) for a, b in nx.bridges(g)}

    def lay(path, kind: str) -> None:
        for a, b in zip(path[:-1], path[1:], strict=True):
            k = (a, b) if a < b else (b, a)
            if kind_of.get(k, 99) > _RANK[kind]:
                kind_of[k] = _RANK[kind]

    for vid in hub.village_id.iloc[1:]:
        town = int(vnode[pos[vid]])
        if town == city:
            continue
        first = nx.shortest_path(g, city, town, weight="length")
        lay(first, "backbone")
        h = g.copy()
        h.remove_edges_from([(a, b) for a, b in zip(first[:-1], first[1:], strict=True)
                             if (min(a, b), max(a, b)) not in bridges])
        try:
            second = nx.shortest_path(h, city, town, weight="length")
        except nx.NetworkXNoPath:
            continue
        if second != first and _length(g, second) <= RING_DETOUR * _length(g, first):
            lay(second, "ring")
    on = {city} | {n for k in kind_of for n in k}
    centres = centre_villages(vw)
    _, paths = nx.multi_source_dijkstra(g, on, weight="length")
    for vid in centres.village_id:
        lay(paths[int(vnode[pos[vid]])], "feeder")
    hh = vw["households"].to_numpy(float)
    total = hh.sum()
    want = available_pct / 100.0 * total
    access_villages: list[str] = []
    fibre_w = _spans(g, kind_of)
    for _ in range(200):
        d = fibre_distance_m(vw, fibre_w, roads, graph=road).to_numpy()
        avail = d <= reach_m
        have = hh[avail].sum()
        if have >= want:
            break
        on = {n for k in kind_of for n in k} | {city}
        dist, paths = nx.multi_source_dijkstra(g, on, weight="length")
        todo = np.flatnonzero(~avail)
        need_m = np.array([max(dist.get(int(vnode[i]), np.inf), 1.0) for i in todo])
        score = hh[todo] / need_m * rng.lognormal(0.0, 0.15, len(todo))
        order = todo[np.argsort(-score, kind="stable")]
        deficit = want - have
        take = order[: max(1, int(np.searchsorted(np.cumsum(hh[order]), 0.5 * deficit)) + 1)]
        for i in take:
            lay(paths[int(vnode[i])], "access")
            access_villages.append(str(vw["village_id"].iloc[i]))
        fibre_w = _spans(g, kind_of)
    else:  # pragma: no cover - 200 rounds always suffice on a connected network
        raise DataError("fibre: could not reach the availability target")
    fibre = fibre_w.to_crs(settings.STORE_CRS)
    nodes = _nodes(g, vw, vnode, pos, hub, centres, access_villages)
    return fibre, nodes


def _length(g, path) -> float:
    return float(sum(g[a][b]["length"] for a, b in zip(path[:-1], path[1:], strict=True)))


def _spans(g, kind_of) -> gpd.GeoDataFrame:
    keys = sorted(kind_of)
    kinds = [SPAN_KINDS[kind_of[k]] for k in keys]
    geoms = [g[a][b]["geometry"] for a, b in keys]
    order = sorted(range(len(keys)), key=lambda i: (kind_of[keys[i]], keys[i]))
    return gpd.GeoDataFrame({
        "span_id": [f"F{n + 1:05d}" for n in range(len(keys))],
        "kind": [kinds[i] for i in order],
        "cable_count": [CABLES_PER_SPAN[kinds[i]] for i in order],
        "length_m": [round(float(g[keys[i][0]][keys[i][1]]["length"]), 1) for i in order],
        "road_id": [g[keys[i][0]][keys[i][1]]["road_id"] for i in order],
    }, geometry=[geoms[i] for i in order], crs=settings.WORK_CRS)


def _nodes(g, vw, vnode, pos, hub, centres, access_villages) -> gpd.GeoDataFrame:
    rows = []
    seen = set()
    for vid, kind in ([(hub.village_id.iloc[0], "POP")]
                      + [(v, "access_node") for v in centres.village_id]
                      + [(v, "splitter") for v in access_villages]):
        if vid in seen:
            continue
        seen.add(vid)
        n = int(vnode[pos[vid]])
        rows.append((vid, kind, g.nodes[n]["x"], g.nodes[n]["y"]))
    x = np.array([r[2] for r in rows])
    y = np.array([r[3] for r in rows])
    lon, lat = transform_points(x, y, settings.WORK_CRS, settings.STORE_CRS)
    prefix = {"POP": "POP", "access_node": "AN", "splitter": "SP"}
    count = {k: 0 for k in prefix}
    ids = []
    for r in rows:
        count[r[1]] += 1
        ids.append(f"{prefix[r[1]]}{count[r[1]]:04d}")
    return gpd.GeoDataFrame({"node_id": ids, "kind": [r[1] for r in rows],
                             "village_id": [r[0] for r in rows]},
                            geometry=shapely.points(lon, lat), crs=settings.STORE_CRS)


def fibre_figures(fibre) -> dict:
    """Route-km and cable-km of a fibre layer, total and by kind.

    Parameters
    ----------
    fibre : GeoDataFrame
        Spans with ``kind`` and ``cable_count`` (missing: 1 cable).

    Returns
    -------
    dict
        ``route_km``, ``cable_km``, ``route_km_by_kind``, ``cable_km_by_kind``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> spans = gpd.GeoDataFrame({"span_id": ["a", "b"], "kind": ["backbone", "access"],
    ...     "cable_count": [6, 2]}, geometry=[LineString([(500000, 2300000), (501000, 2300000)]),
    ...     LineString([(501000, 2300000), (503000, 2300000)])], crs="EPSG:32648")
    >>> f = fibre_figures(spans)
    >>> f["route_km"], f["cable_km"]
    (3.0, 10.0)
    """
    f = to_work(fibre, "fibre")
    km = f.geometry.length.to_numpy() / 1000.0
    cables = (pd.to_numeric(f["cable_count"], errors="coerce").fillna(1).to_numpy()
              if "cable_count" in f else np.ones(len(f)))
    kind = f["kind"].astype(str).to_numpy() if "kind" in f else np.full(len(f), "unknown")
    by_route = pd.Series(km).groupby(kind).sum()
    by_cable = pd.Series(km * cables).groupby(kind).sum()
    return {
        "route_km": float(km.sum()),
        "cable_km": float((km * cables).sum()),
        "route_km_by_kind": {k: float(v) for k, v in by_route.items()},
        "cable_km_by_kind": {k: float(v) for k, v in by_cable.items()},
    }
