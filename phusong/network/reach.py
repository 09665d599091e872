"""Fibre reach: which villages have fibre available within a distance along roads.

A village has fibre *available* when its distance to the existing fibre network is at most
``reach_m`` (default ``settings.FIBRE_REACH_M`` = 500 m), the distance being the shorter of

- along roads: straight line from the village to the nearest point of the nearest road, then
  the shortest road path to a node that the fibre passes (within ``touch_m`` of a span/node);
- straight to the fibre itself, when that is at most ``drop_m`` (a drop cable from a span
  passing beside the village). Without roads only this straight distance counts.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import LineString, Point
>>> from phusong.network.reach import fibre_distance_m
>>> roads = gpd.GeoDataFrame({"road_id": ["r"], "road_class": ["commune"], "cost_factor": [1.0]},
...     geometry=[LineString([(0, 0), (2000, 0)])], crs="EPSG:32648")
>>> fibre = gpd.GeoDataFrame({"span_id": ["f"]}, geometry=[LineString([(0, 0), (0, 10)])],
...     crs="EPSG:32648")
>>> villages = gpd.GeoDataFrame({"village_id": ["v1", "v2"]},
...     geometry=[Point(300, 0), Point(1500, 400)], crs="EPSG:32648")
>>> fibre_distance_m(villages, fibre, roads).round().tolist()  # 400 m off the road, 1,500 along
[300.0, 1900.0]
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import shapely

from phusong import settings
from phusong.crs import to_work
from phusong.network.roads import road_graph, snap_to_edges

__all__ = ["fibre_distance_m", "fibre_available"]


def fibre_distance_m(villages, fibre, roads, *, fibre_nodes=None, touch_m: float = 30.0,
                     drop_m: float = 100.0, graph: nx.MultiDiGraph | None = None) -> pd.Series:
    """Distance from each village to the fibre network, m (inf when unreachable).

    Parameters
    ----------
    villages : GeoDataFrame
        Points with ``village_id``.
    fibre : GeoDataFrame or None
        Fibre spans (lines).
    roads : GeoDataFrame or None
        Road lines; without roads only the straight distance counts.
    fibre_nodes : GeoDataFrame, optional
        Fibre nodes (points), counted as part of the network.
    touch_m : float
        A road node within this distance of the fibre is on the network, m.
    drop_m : float
        Longest straight drop from a span that counts without following roads, m.
    graph : networkx.MultiDiGraph, optional
        A prebuilt :func:`road_graph` of ``roads`` (saves rebuilding it).

    Returns
    -------
    pandas.Series
        Indexed by ``village_id``, metres.
    """
    v = to_work(villages, "villages")
    index = pd.Index(v["village_id"], name="village_id")
    parts = [to_work(f, name).geometry.to_numpy() for f, name in
             ((fibre, "fibre"), (fibre_nodes, "fibre_nodes")) if f is not None and len(f)]
    if not parts:
        return pd.Series(np.inf, index=index, name="fibre_distance_m")
    net = shapely.union_all(np.concatenate(parts))
    vx, vy = v.geometry.x.to_numpy(), v.geometry.y.to_numpy()
    direct = np.asarray(shapely.distance(shapely.points(vx, vy), net), dtype=float)
    best = np.where(direct <= drop_m, direct, np.inf)
    if roads is None or not len(roads):
        best = direct
    elif graph is None and len(roads):
        graph = road_graph(roads)
    if graph is not None and graph.number_of_nodes():
        nodes = list(graph.nodes)
        pts = shapely.points([graph.nodes[n]["x"] for n in nodes], [graph.nodes[n]["y"] for n in nodes])
        on_net = [n for n, d in zip(nodes, shapely.distance(pts, net), strict=True) if d <= touch_m]
        if on_net:
            dist = nx.multi_source_dijkstra_path_length(graph, on_net, weight="length")
            u, w, offset, to_u, to_w = snap_to_edges(graph, vx, vy)
            du = np.array([dist.get(int(n), np.inf) for n in u])
            dw = np.array([dist.get(int(n), np.inf) for n in w])
            along = offset + np.minimum(du + to_u, dw + to_w)
            along = np.maximum(along, direct)  # guard rounding: never shorter than straight
            best = np.minimum(best, along)
    return pd.Series(best, index=index, name="fibre_distance_m")


def fibre_available(bundle, *, reach_m: float = settings.FIBRE_REACH_M,
                    graph: nx.MultiDiGraph | None = None) -> pd.Series:
    """True for villages with fibre within ``reach_m`` along roads (see module doc).

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        Needs ``villages``; uses ``fibre``, ``fibre_nodes``, ``roads`` when present.
    reach_m : float
        Reach, m.
    graph : networkx.MultiDiGraph, optional
        Prebuilt road graph of ``bundle.roads``.

    Returns
    -------
    pandas.Series of bool
        Indexed by ``village_id``, named ``fibre_available``.
    """
    d = fibre_distance_m(bundle.villages, bundle.fibre, bundle.roads,
                         fibre_nodes=bundle.fibre_nodes, graph=graph)
    return (d <= reach_m).rename("fibre_available")
