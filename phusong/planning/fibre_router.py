"""Fibre extension routing on the road graph: Steiner and prize-collecting Steiner trees.

:func:`route_fibre` joins terminals (uncovered villages, commune centres, chosen BTS sites,
snapped to road nodes) to the existing fibre, which acts as one zero-cost root: all its nodes are
contracted into a single node, so a route may start anywhere on it. Without ``existing`` the
terminals are joined to each other.

* **Steiner mode** (``prizes=None``): every reachable terminal is connected. Shortest-path
  heuristic (repeatedly the nearest terminal joins the tree, incremental multi-source Dijkstra),
  then improvement: MST of the subgraph induced by the tree's nodes, pruning of non-terminal
  leaves, key-path exchange (a key path is replaced by a cheaper shortest path between the two
  halves of the tree). networkx's Mehlhorn tree is computed too and improved the same way; the
  cheapest tree wins, so the cost never exceeds Mehlhorn's.
* **Prize-collecting mode** (``prizes`` = node → households newly within reach): ``terminals``
  are mandatory; other nodes join when worth it, greedily by prize per added cost along shortest
  paths from the tree, followed by the same improvement, pruning of subtrees that do not pay
  for themselves (``prize_value_vnd`` × prize < cost, exact tree DP), and regrowth with the
  budget freed. Objective: ``prize_value_vnd × prize − cost`` and/or max prize within
  ``budget_vnd``. Prizes on existing fibre nodes are already within reach and do not count.

A disconnected graph is not an error: terminals the root cannot reach are listed in
``terminals_unreachable`` (without ``existing``, the component holding most terminals is used).

Examples
--------
>>> import networkx as nx
>>> g = nx.Graph()
>>> g.add_weighted_edges_from([(0, 1, 2.0), (1, 2, 2.0), (1, 3, 2.0), (0, 2, 3.5)],
...                           weight="cost")
>>> r = route_fibre(g, [2, 3], existing=[0])
>>> r.cost, sorted(r.edges), r.terminals_reached
(6.0, [(0, 1), (1, 2), (1, 3)], [2, 3])
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp
from networkx.algorithms.approximation import steiner_tree
from scipy.sparse.csgraph import connected_components

from phusong.errors import DataError, InfeasibleError, ModelError
from phusong.planning import _router_core as core
from phusong.planning._router_prize import prize_collect

__all__ = ["route_fibre", "FibreRoute"]


@dataclass
class FibreRoute:
    """Answer of :func:`route_fibre`.

    Attributes
    ----------
    cost : float
        Total ``weight`` of the new edges (VND with the default ``weight="cost"``).
    edges : list of tuple
        New edges ``(u, v)`` of the input graph (existing fibre edges are not repeated).
    nodes : list
        Graph nodes on the new edges.
    terminals_reached, terminals_unreachable : list
        Terminals connected (incl. those on the existing fibre), and those in other components.
    prize_collected : float
        Sum of prizes on the reached nodes (0 in Steiner mode).
    mehlhorn_cost : float or None
        Cost of networkx's Mehlhorn tree on the same instance (Steiner part), for comparison.
    components : int
        Connected components of the graph after contracting the existing fibre.
    method : str
        Which construction won: ``sph`` or ``mehlhorn`` (+ ``+improve`` when improved).
    seconds : float
        Wall time, s.
    stopped_by_time_limit : bool
        The wall-clock ``time_limit_s`` had passed when the improvement ended (it may have cut
        it short: the route then depends on the machine's speed).
    """

    cost: float
    edges: list
    nodes: list
    terminals_reached: list
    terminals_unreachable: list
    prize_collected: float
    mehlhorn_cost: float | None
    components: int
    method: str
    seconds: float
    stopped_by_time_limit: bool = False


class _Net:
    """The graph contracted around the existing fibre, as CSR over integer indices."""

    def __init__(self, graph, weight: str, existing_nodes: set):
        self.graph = graph
        self.nodes = list(graph.nodes)
        self.root = 0 if existing_nodes else None
        cidx, k = {}, 1 if existing_nodes else 0
        for v in self.nodes:
            if v in existing_nodes:
                cidx[v] = 0
            else:
                cidx[v] = k
                k += 1
        self.cidx, self.n = cidx, k
        self.back = [None] * k  # contracted index → an original node (root: None)
        for v, i in cidx.items():
            if i != 0 or self.root is None:
                self.back[i] = v
        a, b, w, ou, ov = [], [], [], [], []
        for u, v, d in graph.edges(data=True):
            val = d.get(weight)
            if val is None:
                raise DataError(f"edge ({u!r}, {v!r}) has no {weight!r} attribute; give every "
                                "edge a cost ≥ 0 (VND)")
            val = float(val)
            if not np.isfinite(val) or val < 0:
                raise DataError(f"edge ({u!r}, {v!r}): {weight} = {val:g}; edge costs must be "
                                "finite and ≥ 0")
            i, j = cidx[u], cidx[v]
            if i != j:
                a.append(min(i, j))
                b.append(max(i, j))
                w.append(val)
                ou.append(u)
                ov.append(v)
        a, b, w = np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), np.array(w)
        order = np.lexsort((w, b, a))
        a, b, w = a[order], b[order], w[order]
        first = np.ones(len(a), dtype=bool)
        first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        keep = order[first]
        a, b, w = a[first], b[first], w[first]
        self.orig = {(int(x), int(y)): (ou[o], ov[o]) for x, y, o in zip(a, b, keep, strict=True)}
        self.wtrue = {(int(x), int(y)): float(c) for x, y, c in zip(a, b, w, strict=True)}
        pos = w[w > 0]
        walg = np.where(w > 0, w, 1e-9 * (pos.min() if len(pos) else 1.0))
        G = sp.coo_matrix((np.concatenate([walg, walg]), (np.concatenate([a, b]),
                                                          np.concatenate([b, a]))),
                          shape=(k, k)).tocsr()
        self.G = G
        self.W = core.edge_weights(G)
        self.ncomp, self.comp = connected_components(G, directed=False)

    def true_cost(self, edges) -> float:
        return float(sum(self.wtrue[e] for e in edges))


def _parse_existing(graph, existing) -> set:
    out: set = set()
    if existing is None:
        return out
    for item in existing:
        if item in graph:
            out.add(item)
        elif isinstance(item, tuple) and len(item) in (2, 3) and item[0] in graph \
                and item[1] in graph:
            out.update(item[:2])
        else:
            raise DataError(f"existing: {item!r} is neither a node nor an edge of the graph")
    return out


def _mehlhorn(net: _Net, weight: str, terminals: list[int]) -> set:
    """networkx's Mehlhorn tree on the same (contracted, simple) instance, as contracted edges."""
    g = net.graph
    home = net.comp == net.comp[terminals[0]]  # Mehlhorn needs a connected graph
    if net.root is None and type(g) is nx.Graph:
        H = g if home.all() else g.subgraph([net.back[i] for i in np.flatnonzero(home)])
        names, wkey = [net.back[t] for t in terminals], weight
    else:
        H = nx.Graph()
        H.add_nodes_from(np.flatnonzero(home).tolist())
        H.add_weighted_edges_from(((a, b, c) for (a, b), c in net.wtrue.items() if home[a]),
                                  weight="w")
        names, wkey = terminals, "w"
    T = steiner_tree(H, names, weight=wkey, method="mehlhorn")
    if wkey == weight and net.root is None and type(g) is nx.Graph:
        return {core.edge_key(net.cidx[u], net.cidx[v]) for u, v in T.edges}
    return {core.edge_key(u, v) for u, v in T.edges}


def _steiner(net: _Net, weight: str, terms: list[int], deadline: float):
    """Best of improved SPH (a few starts) and improved/raw Mehlhorn; (edges, method, mehlhorn)."""
    keep = set(terms)
    if len(terms) < 2:
        return set(), "sph", 0.0
    mel = _mehlhorn(net, weight, terms)
    mel_cost = net.true_cost(mel)
    best, best_cost, method = mel, mel_cost, "mehlhorn"
    if time.perf_counter() > deadline:  # the first tree is the answer: no other start
        return best, method, mel_cost
    starts = [[net.root]] if net.root is not None else [[terms[0]], [terms[len(terms) // 2]]]
    cands = [(core.shortest_path_heuristic(net.G, terms, s), "sph") for s in starts]
    cands.append((mel, "mehlhorn"))
    for edges, name in cands:
        if time.perf_counter() > deadline:  # no improvement started past the deadline
            improved = edges
        else:
            improved = core.improve(net.G, net.W, edges, keep, deadline)
        for label, tree in ((name, edges), (name + "+improve", improved)):
            c = net.true_cost(tree)
            if c < best_cost * (1 - 1e-12):
                best, best_cost, method = tree, c, label
    return best, method, mel_cost


def route_fibre(graph, terminals, *, weight: str = "cost", existing=None, prizes=None,
                budget_vnd: float | None = None, prize_value_vnd: float | None = None,
                time_limit_s: float | None = None) -> FibreRoute:
    """Cheapest fibre extension joining ``terminals`` (and worthwhile prize nodes) to the network.

    Parameters
    ----------
    graph : networkx graph
        Road graph; Graph, DiGraph, MultiGraph or an osmnx MultiDiGraph (treated as undirected,
        parallel edges keep the cheapest).
    terminals : iterable of nodes
        Nodes that must be connected (may be empty in prize-collecting mode).
    weight : str
        Edge attribute holding the cost (VND by convention), finite, ≥ 0.
    existing : iterable of nodes or of (u, v) edges, optional
        The existing fibre network: one zero-cost root.
    prizes : dict, optional
        Node → prize (households newly within reach), finite, ≥ 0. Switches on prize collecting.
    budget_vnd : float, optional
        Maximum cost of the new edges, VND.
    prize_value_vnd : float, optional
        VND one unit of prize is worth (the λ⁻¹ of ``prize − λ·cost``), prize mode.
    time_limit_s : float, optional
        Wall-clock guard on the whole call, s. The first tree (Mehlhorn's, the answer that
        has no partial form) always completes; past the limit no other start (shortest-path
        heuristic) nor improvement begins, and an improvement under way stops at its next
        key path. Measured past a 1 ms limit (``benchmarks/bench_router_limit.py``, 150 POPs
        on the province twin's roads, load 8.6): 0.16-0.18 s wall, 0.09 CPU-s (the graph's
        contraction and the first tree; 0.39-0.41 s when the other start and the
        improvements still ran past the limit). Default None: the
        improvement runs until no exchange improves the tree (at most 20 growth rounds), so
        the route is the same on any machine.

    Raises
    ------
    InfeasibleError
        No terminal is reachable from the existing fibre, or the budget cannot connect the
        mandatory terminals; the message says what is reachable.
    """
    t0 = time.perf_counter()
    deadline = np.inf if time_limit_s is None else t0 + time_limit_s
    if not isinstance(graph, nx.Graph):
        raise DataError(f"graph: expected a networkx graph, got {type(graph).__name__}")
    if graph.number_of_nodes() == 0:
        raise DataError("graph has no nodes; build the road graph first")
    if time_limit_s is not None and not (np.isfinite(time_limit_s) and time_limit_s > 0):
        raise ModelError(f"time_limit_s must be > 0 seconds (or None), got {time_limit_s}")
    if budget_vnd is not None and not (np.isfinite(budget_vnd) and budget_vnd >= 0):
        raise ModelError(f"budget_vnd must be a finite amount ≥ 0 VND, got {budget_vnd}")
    terms_in = list(dict.fromkeys(terminals))
    for t in terms_in:
        if t not in graph:
            raise DataError(f"terminal {t!r} is not a node of the graph; snap terminals to road "
                            "nodes first")
    if prizes is None and not terms_in:
        raise DataError("no terminals given; give the nodes to connect (or prizes)")
    if prizes is not None and budget_vnd is None and prize_value_vnd is None:
        raise ModelError("prize-collecting mode needs budget_vnd or prize_value_vnd (VND one "
                         "unit of prize is worth)")
    net = _Net(graph, weight, _parse_existing(graph, existing))
    prize = np.zeros(net.n)
    if prizes is not None:
        for node, val in prizes.items():
            if node not in graph:
                raise DataError(f"prizes: {node!r} is not a node of the graph")
            val = float(val)
            if not np.isfinite(val) or val < 0:
                raise DataError(f"prizes: {node!r} has prize {val:g}; prizes must be finite, ≥ 0")
            if net.cidx[node] != net.root:
                prize[net.cidx[node]] += val
    tc = [net.cidx[t] for t in terms_in]
    home = _home_component(net, tc, prize)
    reach = [t for t, c in zip(terms_in, tc, strict=True) if net.comp[c] == home]
    unreach = [t for t, c in zip(terms_in, tc, strict=True) if net.comp[c] != home]
    mand = sorted({net.cidx[t] for t in reach} - {net.root})
    terms = mand + ([net.root] if net.root is not None else [])
    edges, method, mel_cost = _steiner(net, weight, sorted(set(terms)), deadline)
    if budget_vnd is not None and net.true_cost(edges) > budget_vnd * (1 + 1e-12):
        raise InfeasibleError(
            f"connecting the {len(reach)} reachable terminals costs "
            f"{net.true_cost(edges):,.0f} VND, above budget_vnd {budget_vnd:,.0f}; raise the "
            "budget" + (" or drop terminals" if prizes is not None else
                        " or give prizes to choose which terminals to reach"))
    if prizes is not None:
        in_home = (net.comp == home) & (prize > 0)
        if terms:
            starts = sorted(set(terms))
        elif in_home.any():
            starts = [int(np.argmax(np.where(in_home, prize, -1.0)))]
        else:
            starts = []
        if starts:
            if net.root is not None:
                starts = [net.root] + [s for s in starts if s != net.root]
            edges = prize_collect(net.G, net.W, edges, starts, set(terms), prize,
                                  value_vnd=prize_value_vnd, budget_vnd=budget_vnd,
                                  deadline=deadline)
            method += "+prize"
            terms = starts
    return _result(net, edges, terms, reach, unreach, prize, mel_cost, method, t0, terms_in,
                   deadline)


def _home_component(net: _Net, tc: list[int], prize: np.ndarray) -> int:
    if net.root is not None:
        home = int(net.comp[net.root])
        reachable_prize = prize[net.comp == home].sum()
        if not any(net.comp[c] == home for c in tc) and reachable_prize <= 0:
            size = int((net.comp == home).sum())
            what = f"{len(tc)} terminals" if tc else "prize nodes"
            what += " nor prize nodes" if tc and prize.any() else ""
            raise InfeasibleError(
                f"none of the {what} is reachable from the existing fibre: the road graph has "
                f"{net.ncomp} components and the fibre's component ({size} nodes) holds none; "
                "add the missing road links or existing fibre in the other components")
        return home
    if tc:
        counts = np.bincount(net.comp[tc], minlength=net.ncomp)
        return int(np.argmax(counts))
    return int(np.argmax(np.bincount(net.comp, weights=prize, minlength=net.ncomp)))


def _result(net, edges, terms, reach, unreach, prize, mel_cost, method, t0, terms_in,
            deadline=np.inf):
    tnodes = core.tree_nodes(edges, terms)
    orig_edges = [net.orig[e] for e in sorted(edges)]
    seen: dict = {}
    for u, v in orig_edges:
        seen.setdefault(u, None)
        seen.setdefault(v, None)
    reached = [t for t in reach if net.cidx[t] in tnodes or net.cidx[t] == net.root]
    assert len(reached) == len(reach) or not reach, "a reachable terminal was left out"
    collected = float(sum(prize[i] for i in tnodes if i != net.root))
    return FibreRoute(cost=net.true_cost(edges), edges=orig_edges, nodes=list(seen),
                      terminals_reached=reached, terminals_unreachable=unreach,
                      prize_collected=collected, mehlhorn_cost=mel_cost, components=net.ncomp,
                      method=method, seconds=time.perf_counter() - t0,
                      stopped_by_time_limit=bool(time.perf_counter() > deadline))
