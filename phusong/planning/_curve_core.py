"""Algorithms behind :mod:`phusong.planning.cost_curves` (private): curve assembly and the
reverse greedy pruning of a fibre Steiner tree."""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np

from phusong.planning.fibre_router import route_fibre

__all__ = ["assemble", "prune_steps"]

_KEYS = ("cost_vnd", "lower_bound_vnd", "gap", "covered_pct", "households_covered",
         "persons_covered", "marginal_vnd_per_household", "marginal_vnd_per_person", "method")


def assemble(lv, total: float, base: float, best: float, solve: Callable) -> list[dict]:
    """A curve's points from a per-level solver; adds the max point, repairs, marginals.

    Parameters
    ----------
    lv : list of float
        Sorted levels, %.
    total, base, best : float
        Total weight; weight covered before; weight covered with everything built.
    solve : callable
        ``solve(pct)`` → dict of solution fields (``cost_vnd``, ``covered_pct``, …) of the
        cheapest build found reaching ``pct`` %, or of building nothing for ``pct=None``.

    Returns
    -------
    list of dict
        Points with the keys of :mod:`phusong.planning.cost_curves`, in level order; a cheaper
        solution of a higher level replaces a dearer one below; lower bounds are made
        non-decreasing (the least cost is), gaps recomputed, marginals filled in.

    Examples
    --------
    >>> pts = assemble([50.0, 100.0], 10.0, 0.0, 8.0, lambda pct: {
    ...     "cost_vnd": 0.0 if pct is None else pct, "covered_pct": pct or 0.0})
    >>> [(p["pct"], p["reachable"], p["max"], p["cost_vnd"]) for p in pts]
    [(50.0, True, False, 50.0), (80.0, True, True, 80.0), (100.0, False, False, None)]
    """
    tol = 1e-9 * max(1.0, total)
    top = 100.0 * best / total
    pts = []
    for level in lv:
        need = level / 100 * total
        sol = solve(None) if need <= base + tol else solve(min(level, top)) \
            if need <= best + tol else None
        pts.append({"pct": level, **(sol or {})})
    if any(len(p) == 1 for p in pts) and not any(len(p) > 1 and p["pct"] >= top - 1e-9
                                                    for p in pts):
        sol = solve(None) if best <= base + tol else solve(top)
        pts.append({"pct": top, **sol})
        pts.sort(key=lambda p: p["pct"])
    extra = [k for k in max(pts, key=len) if k != "pct" and k not in _KEYS]
    out = []
    for p in pts:
        ok = len(p) > 1
        q = {"pct": p["pct"], "reachable": ok, "max": ok and p["pct"] >= top - 1e-9}
        out.append(q | {k: p.get(k) for k in (*_KEYS, *extra)})
    ok = [p for p in out if p["reachable"]]
    for lo, hi in zip(ok[-2::-1], ok[:0:-1], strict=True):  # top down: cheaper above wins
        if hi["cost_vnd"] < lo["cost_vnd"]:
            lo.update({k: v for k, v in hi.items() if k not in ("pct", "max", "lower_bound_vnd")})
    lb = 0.0  # the least cost is non-decreasing in the level: so is its best bound
    for p in ok:
        if p["lower_bound_vnd"] is not None:
            lb = p["lower_bound_vnd"] = min(max(lb, p["lower_bound_vnd"]), p["cost_vnd"])
            c = p["cost_vnd"]
            p["gap"] = 0.0 if c <= 0 else max(0.0, (c - lb) / c)
    for prev, p in zip(ok, ok[1:], strict=False):
        dc = p["cost_vnd"] - prev["cost_vnd"]
        for key, what in (("marginal_vnd_per_household", "households_covered"),
                          ("marginal_vnd_per_person", "persons_covered")):
            if p[what] is not None and p[what] - prev[what] > tol:
                p[key] = dc / (p[what] - prev[what])
    return out


def _edge(graph, u, v) -> tuple[float, float]:
    """(cost_vnd, length in m) of the cheapest edge between u and v."""
    data = graph.get_edge_data(u, v)
    if graph.is_multigraph():
        data = min(data.values(), key=lambda d: float(d["cost_vnd"]))
    return float(data["cost_vnd"]), float(data.get("length", 0.0))


def _spanning_tree(adj: dict, root) -> dict:
    """The tree reached from ``root`` by breadth-first search over ``adj``.

    Contracting every existing-fibre node into one root can close cycles (two routes leaving the
    fibre at different nodes and meeting, or an edge between two fibre nodes); the pruning
    needs a tree, so each node keeps the first link that reached it.
    """
    if root not in adj:
        return {}
    out: dict = {root: {}}
    todo = [root]
    while todo:
        nxt = []
        for a in todo:
            for b, e in adj[a].items():
                if b is a or b in out:
                    continue
                out[b] = {a: e}
                out[a][b] = e
                nxt.append(b)
        todo = nxt
    return out


def prune_steps(graph, src: set, hh: dict, ftth: float,
                time_limit_s: float | None) -> tuple[list[tuple], dict]:
    """Steiner tree to every node of ``hh``, then reverse greedy pruning; the states it passes.

    Parameters
    ----------
    graph : networkx graph
        Road graph, edges with ``cost_vnd`` (VND) and ``length`` (m, as osmnx names it).
    src : set
        Nodes on the existing fibre (contracted into one zero-cost root).
    hh : dict
        Node → households (> 0), all reachable from ``src``.
    ftth : float
        VND per household added to a branch's cost when scoring it.
    time_limit_s : float or None
        Wall-clock guard of :func:`~phusong.planning.fibre_router.route_fibre`, s (None: none).

    Returns
    -------
    steps : list of tuple
        ``(households, route VND, route m, nodes with households)`` of the full tree, then after
        each removal of the leaf branch (leaf up to the nearest node that branches, holds
        households or is the root) with the worst (route VND + ``ftth`` × households) per
        household; households on ``src`` count at no route cost and go last.
    exits : dict
        Each edge ``(u, v)`` of the tree (graph nodes) → the index of the first step without it
        (the edge is in ``steps[0 … exit - 1]``).

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.Graph()
    >>> g.add_edge("F", "a", cost_vnd=1.0, length=10.0)
    >>> g.add_edge("a", "b", cost_vnd=9.0, length=90.0)
    >>> steps, exits = prune_steps(g, {"F"}, {"a": 2.0, "b": 1.0}, 0.0, 1.0)
    >>> steps
    [(3.0, 10.0, 100.0, 2), (2.0, 1.0, 10.0, 1), (0.0, 0.0, 0.0, 0)]
    >>> sorted(exits.values())  # a–b leaves first, F–a next
    [1, 2]
    """
    root = object()  # the existing fibre, contracted
    adj: dict = {}
    orig: dict = {}  # contracted pair → the graph edge it stands for
    terms = [n for n in hh if n not in src]
    if terms:
        route = route_fibre(graph, terms, weight="cost_vnd", existing=sorted(src, key=str),
                            time_limit_s=time_limit_s)
        for u, v in route.edges:
            a, b = (root if u in src else u), (root if v in src else v)
            adj.setdefault(a, {})[b] = adj.setdefault(b, {})[a] = _edge(graph, u, v)
            orig[frozenset((a, b))] = (u, v)
    adj = _spanning_tree(adj, root)
    pairs = {frozenset((a, b)) for a in adj for b in adj[a]}
    gone: dict = {}  # node → index of the first step without it
    h_tree = sum(hh[n] for n in terms)
    c_tree = sum(c for a in adj for c, _ in adj[a].values()) / 2
    m_tree = sum(m for a in adj for _, m in adj[a].values()) / 2
    steps = [(h_tree, c_tree, m_tree, len(terms))]
    heap, version, stop_of, seq = [], {}, {}, [0]

    def push(leaf):
        path, cost, metres, prev, cur = [leaf], 0.0, 0.0, leaf, next(iter(adj[leaf]))
        while True:
            c, m = adj[prev][cur]
            cost, metres = cost + c, metres + m
            if cur is root or len(adj[cur]) != 2 or hh.get(cur, 0.0) > 0:
                break
            path.append(cur)
            prev, cur = cur, next(x for x in adj[cur] if x is not prev)
        h = hh.get(leaf, 0.0)
        score = (cost + ftth * h) / h if h > 0 else np.inf
        version[leaf] = seq[0] = seq[0] + 1
        stop_of[leaf] = (cur, path, cost, metres, h)
        heapq.heappush(heap, (-score, -cost, seq[0], leaf))

    for n in list(adj):
        if n is not root and len(adj[n]) == 1:
            push(n)
    n_nodes = len(terms)
    while heap:
        _, _, ver, leaf = heapq.heappop(heap)
        if version.get(leaf) != ver:
            continue
        stop, path, cost, metres, h = stop_of.pop(leaf)
        del version[leaf]
        del adj[stop][path[-1]]
        for x in path:
            del adj[x]
        h_tree, c_tree, m_tree = h_tree - h, c_tree - cost, m_tree - metres
        n_nodes -= h > 0
        empty = stop is root and not adj[root]
        steps.append((h_tree, 0.0 if empty else c_tree, 0.0 if empty else m_tree, n_nodes))
        gone.update(dict.fromkeys(path, len(steps) - 1))
        if stop is root:
            continue
        if len(adj[stop]) == 1:
            push(stop)
        elif len(adj[stop]) == 2 and hh.get(stop, 0.0) <= 0:
            for other, info in list(stop_of.items()):  # branches ending here now run on
                if info[0] is stop:
                    push(other)
    at_src = sum(h for n, h in hh.items() if n in src)
    steps = [(h + at_src, c, m, k + sum(1 for n in hh if n in src)) for h, c, m, k in steps]
    if at_src > 0:
        steps.append((0.0, 0.0, 0.0, 0))
    exits = {orig[p]: min(gone.get(x, len(steps)) for x in p) for p in pairs}
    return steps, exits
