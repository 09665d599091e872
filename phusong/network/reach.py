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

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
import shapely

from phusong import settings
from phusong.crs import to_work
from phusong.network.roads import shared_road_graph, snap_to_edges, urban_areas

__all__ = ["fibre_distance_m", "fibre_available", "RoadSnap", "snap_villages"]


@dataclass(frozen=True)
class RoadSnap:
    """The villages projected onto a road graph, computed once and reused by every reach
    measurement on that graph (:func:`snap_villages`; a plan measures reach once at the start
    and after each year's routes, on the same graph and villages).

    Attributes
    ----------
    graph : networkx.MultiDiGraph
        The graph snapped to (compared by identity).
    x_m, y_m : ndarray
        The villages' WORK_CRS coordinates, m (compared exactly when reused).
    edges : tuple of ndarray
        :func:`~phusong.network.roads.snap_to_edges` of the villages: ``u``, ``v``, offset,
        distance to ``u`` and to ``v`` (m).
    nodes : list
        The graph's nodes, in graph order.
    node_points : ndarray of shapely.Point
        Their points (WORK_CRS).
    """

    graph: object
    x_m: np.ndarray
    y_m: np.ndarray
    edges: tuple
    nodes: list
    node_points: np.ndarray


def snap_villages(graph: nx.MultiDiGraph, villages) -> RoadSnap:
    """Project ``villages`` onto ``graph`` once, for :func:`fibre_distance_m` (``snap=``).

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        A :func:`~phusong.network.roads.road_graph` with at least one edge; it must not be
        modified while the snap is in use.
    villages : GeoDataFrame
        Points with ``village_id`` (any CRS).

    Returns
    -------
    RoadSnap
    """
    v = to_work(villages, "villages")
    vx, vy = v.geometry.x.to_numpy(), v.geometry.y.to_numpy()
    nodes = list(graph.nodes)
    pts = shapely.points([graph.nodes[n]["x"] for n in nodes],
                         [graph.nodes[n]["y"] for n in nodes])
    return RoadSnap(graph, vx, vy, snap_to_edges(graph, vx, vy), nodes, pts)


def fibre_distance_m(villages, fibre, roads, *, fibre_nodes=None, touch_m: float = 30.0,
                     drop_m: float = 100.0, graph: nx.MultiDiGraph | None = None,
                     snap: RoadSnap | None = None) -> pd.Series:
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
        A prebuilt :func:`~phusong.network.roads.road_graph` of ``roads`` (default: the
        process's shared one, :func:`~phusong.network.roads.shared_road_graph`).
    snap : RoadSnap, optional
        :func:`snap_villages` of these villages on ``graph`` (saves projecting them again;
        the same numbers). A snap of other villages or another graph is refused.

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
        graph = shared_road_graph(roads)
    if snap is not None and (snap.graph is not graph or not np.array_equal(snap.x_m, vx)
                             or not np.array_equal(snap.y_m, vy)):
        raise ValueError("fibre_distance_m: snap= was made for another graph or other villages")
    if graph is not None and graph.number_of_nodes():
        if snap is not None:
            nodes, pts = snap.nodes, snap.node_points
        else:
            nodes = list(graph.nodes)
            pts = shapely.points([graph.nodes[n]["x"] for n in nodes],
                                 [graph.nodes[n]["y"] for n in nodes])
        on_net = [n for n, d in zip(nodes, shapely.distance(pts, net), strict=True) if d <= touch_m]
        if on_net:
            dist = nx.multi_source_dijkstra_path_length(graph, on_net, weight="length")
            u, w, offset, to_u, to_w = snap.edges if snap is not None else \
                snap_to_edges(graph, vx, vy)
            du = np.array([dist.get(int(n), np.inf) for n in u])
            dw = np.array([dist.get(int(n), np.inf) for n in w])
            along = offset + np.minimum(du + to_u, dw + to_w)
            along = np.maximum(along, direct)  # guard rounding: never shorter than straight
            best = np.minimum(best, along)
    return pd.Series(best, index=index, name="fibre_distance_m")


def fibre_available(bundle, *, reach_m: float = settings.FIBRE_REACH_M,
                    graph: nx.MultiDiGraph | None = None,
                    snap: RoadSnap | None = None) -> pd.Series:
    """True for villages with fibre within ``reach_m`` along roads (see module doc).

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        Needs ``villages``; uses ``fibre``, ``fibre_nodes``, ``roads`` when present.
    reach_m : float
        Reach, m.
    graph : networkx.MultiDiGraph, optional
        Prebuilt road graph of ``bundle.roads`` (default: the process's shared one, built as
        a plan builds it, with the urban communes).
    snap : RoadSnap, optional
        :func:`snap_villages` of ``bundle.villages`` on ``graph``.

    Returns
    -------
    pandas.Series of bool
        Indexed by ``village_id``, named ``fibre_available``.
    """
    if graph is None and bundle.roads is not None and len(bundle.roads):
        # the graph a plan of this bundle builds (urban communes priced underground), shared in
        # the process: reach reads only lengths and geometries, which pricing leaves alone
        communes = bundle.communes
        urban = urban_areas(communes) if communes is not None and "type" in communes else None
        graph = shared_road_graph(bundle.roads, urban=urban)
    d = fibre_distance_m(bundle.villages, bundle.fibre, bundle.roads,
                         fibre_nodes=bundle.fibre_nodes, graph=graph, snap=snap)
    return (d <= reach_m).rename("fibre_available")
