"""Which villages a pruned fibre tree reaches, state by state (private, for the cost curves).

The plan measures fibre reach on the grown network (:func:`phusong.network.reach.fibre_available`):
a village is within reach when a road node within ``touch_m`` of a span lies at most
``reach_m`` from it along roads (straight to its nearest road, then along the road), or when a
span passes within ``drop_m`` of it. That rule is a union over spans: a set of spans reaches a
village exactly when one of its spans does. So when the spans of a tree leave one by one (the
reverse greedy pruning of :func:`phusong.planning._curve_core.prune_steps`), a village stays
reached until the last span reaching it leaves: :func:`last_reached` gives that step for every
village, and the households reached by each pruning state follow without measuring the network
again. This counts the households a route passes on its way (incidental reach), not only those
of the villages it was routed to.
"""

from __future__ import annotations

import inspect

import networkx as nx
import numpy as np
import shapely

from phusong.network.roads import cheapest_edge, snap_to_edges

__all__ = ["last_reached", "REACH_RULE"]


def _reach_rule() -> dict:
    """``touch_m`` and ``drop_m`` as :func:`~phusong.network.reach.fibre_available` uses them."""
    from phusong.network.reach import fibre_distance_m

    par = inspect.signature(fibre_distance_m).parameters
    return {"touch_m": float(par["touch_m"].default), "drop_m": float(par["drop_m"].default)}


#: The reach rule's distances (m), read from :func:`phusong.network.reach.fibre_distance_m`.
REACH_RULE = _reach_rule()


def last_reached(graph, exits: dict, x_m, y_m, *, reach_m: float,
                 touch_m: float = REACH_RULE["touch_m"],
                 drop_m: float = REACH_RULE["drop_m"]) -> np.ndarray:
    """For each village, the last pruning state in which a span of the tree still reaches it.

    Parameters
    ----------
    graph : networkx.Graph
        Road graph (:func:`phusong.network.roads.road_graph`): nodes with ``x``/``y``, edges
        with ``geometry`` and ``length`` (WORK_CRS, m; osmnx's name).
    exits : dict
        Tree edge ``(u, v)`` → index of the first state without it (``prune_steps``).
    x_m, y_m : array_like
        Villages in WORK_CRS, m (those not yet within reach).
    reach_m, touch_m, drop_m : float
        The reach rule (module doc), m.

    Returns
    -------
    ndarray of int
        ``exit - 1`` of the longest-lasting span reaching each village (the village is reached
        in states ``0 … that``), −1 where no span of the tree reaches it.

    Examples
    --------
    A road F–a–b (1 km each) with a span on each edge; a village 300 m off the road beside
    ``b`` is reached along the road only while the span a–b stands (it leaves at state 1):

    >>> import networkx as nx
    >>> from shapely.geometry import LineString
    >>> g = nx.MultiDiGraph(crs="EPSG:32648")  # osmnx-shaped, as road_graph builds it
    >>> F, a, b = 0, 1, 2  # integer node ids, as road_graph numbers them
    >>> for u, v, x0 in ((F, a, 0.0), (a, b, 1000.0)):
    ...     line = LineString([(x0, 0), (x0 + 1000, 0)])
    ...     _ = g.add_edge(u, v, length=1000.0, geometry=line)
    ...     _ = g.add_edge(v, u, length=1000.0, geometry=line.reverse())
    >>> for n, x in ((F, 0.0), (a, 1000.0), (b, 2000.0)):
    ...     g.nodes[n].update(x=x, y=0.0)
    >>> last_reached(g, {(F, a): 2, (a, b): 1}, [2000.0, 1000.0, 5000.0],
    ...              [300.0, 50.0, 0.0], reach_m=500.0).tolist()
    [0, 1, -1]
    """
    x = np.asarray(x_m, dtype=float)
    y = np.asarray(y_m, dtype=float)
    out = np.full(len(x), -1, dtype=np.int64)
    if not len(x) or not exits:
        return out
    spans = list(exits)
    last = np.array([exits[e] - 1 for e in spans], dtype=np.int64)
    geoms = np.array([cheapest_edge(graph, u, v)["geometry"] for u, v in spans], dtype=object)
    tree = shapely.STRtree(geoms)
    # a drop cable from a span passing beside the village
    ip, ie = tree.query(shapely.points(x, y), predicate="dwithin",
                        distance=min(drop_m, reach_m))
    np.maximum.at(out, ip, last[ie])
    # road nodes on a span (within touch_m), and the last state each stays on
    nodes = list(graph.nodes)
    npts = shapely.points([graph.nodes[n]["x"] for n in nodes], [graph.nodes[n]["y"] for n in nodes])
    jn, je = tree.query(npts, predicate="dwithin", distance=touch_m)
    on: dict = {}
    for j, e in zip(jn.tolist(), je.tolist(), strict=True):
        on[nodes[j]] = max(on.get(nodes[j], -1), int(last[e]))
    u, w, offset, to_u, to_w = snap_to_edges(graph, x, y)
    # along roads: the road nodes within reach of each village, by bounded Dijkstra from the
    # ends of its nearest edge (one search per end node, to the largest budget it serves)
    need: dict = {}
    for i in np.flatnonzero(offset <= reach_m):
        for n, d in ((u[i], to_u[i]), (w[i], to_w[i])):
            left = reach_m - offset[i] - d
            if left >= 0:
                need.setdefault(n, []).append((i, left))
    for n, rows in need.items():
        dist = nx.single_source_dijkstra_path_length(graph, n, cutoff=max(r[1] for r in rows),
                                                     weight="length")
        hits = [(d, on[m]) for m, d in dist.items() if m in on]
        for i, left in rows:
            best = max((k for d, k in hits if d <= left), default=-1)
            out[i] = max(out[i], best)
    return out
