"""Prize-collecting growth and pruning behind :mod:`phusong.planning.fibre_router` (private).

Prizes (households newly within reach) sit on nodes; the tree grows from the current network
along shortest paths, each step taking the path with the best prize per added cost (all prizes
on the path count), then subtrees that do not pay for themselves are pruned.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from phusong.planning._router_core import (
    Edge,
    _adjacency,
    _Frontier,
    edge_key,
    grow_paths,
    improve,
    prune_leaves,
    tree_cost,
    tree_nodes,
)

__all__ = ["path_prizes", "grow_prizes", "strong_prune", "prize_collect"]


def path_prizes(pred: np.ndarray, dist: np.ndarray, prize_left: np.ndarray) -> np.ndarray:
    """Prize still to collect on the shortest path from the tree to every node (pointer doubling).

    ``S[v]`` sums ``prize_left`` over v and its predecessors up to the tree, in O(n log depth)
    vectorised steps instead of a Python walk per node.
    """
    S = np.where(np.isfinite(dist), prize_left, 0.0)
    P = np.where((pred >= 0) & (dist > 0), pred, -1)
    while (P >= 0).any():
        has = P >= 0
        S = S + np.where(has, S[np.where(has, P, 0)], 0.0)
        P = np.where(has, P[np.where(has, P, 0)], -1)
    return S


def grow_prizes(G: sp.csr_matrix, edges: set[Edge], in_tree: np.ndarray, prize_left: np.ndarray,
                *, value_vnd: float | None, budget_left: float | None,
                deadline: float, max_steps: int | None = None) -> float:
    """Greedy growth by prize per added cost; mutates ``edges``, ``in_tree``, ``prize_left``.

    Returns the budget still left (``inf`` without a budget).
    """
    left = np.inf if budget_left is None else float(budget_left)
    fr = _Frontier(G, list(np.flatnonzero(in_tree)), limit=_limit(prize_left, value_vnd, left))
    steps = 0
    while time.perf_counter() < deadline and (max_steps is None or steps < max_steps):
        d = fr.dist
        S = path_prizes(fr.pred, d, prize_left)
        ok = (prize_left > 0) & np.isfinite(d) & (d > 0) & (d <= left * (1 + 1e-12))
        if value_vnd is not None:
            ok &= value_vnd * S > d
        if not ok.any():
            break
        ratio = np.where(ok, S / np.where(ok, d, 1.0), -np.inf)
        v = int(np.argmax(ratio))
        left -= d[v]
        new = grow_paths(fr, fr.path(v), edges, in_tree)
        prize_left[new] = 0.0
        steps += 1
        if new:
            fr.add(new, limit=_limit(prize_left, value_vnd, left))
    return left


def _limit(prize_left, value_vnd, left) -> float:
    lim = left
    if value_vnd is not None:
        lim = min(lim, value_vnd * float(prize_left.sum()))
    return float(lim) if np.isfinite(lim) else np.inf


def strong_prune(W: dict[Edge, float], edges: set[Edge], root: int, forced: set[int],
                 value: np.ndarray) -> set[Edge]:
    """Drop every subtree whose value (prize × VND per prize) is below its cost (exact tree DP)."""
    adj = _adjacency(edges)
    if root not in adj:
        return set(edges)
    order, parent = [root], {root: -1}
    for v in order:
        for nb in adj[v]:
            if nb not in parent:
                parent[nb] = v
                order.append(nb)
    net = {v: float(value[v]) for v in order}
    must = {v: v in forced for v in order}
    for v in reversed(order[1:]):
        u = parent[v]
        gain = net[v] - W[edge_key(u, v)]
        if must[v] or gain > 0:
            net[u] += gain
            must[u] = must[u] or must[v]
    keep = {edge_key(parent[v], v) for v in order[1:]
            if must[v] or net[v] - W[edge_key(parent[v], v)] > 0}
    # a kept edge below a dropped one is unreachable: keep only what hangs from the root
    out, stack = set(), [root]
    while stack:
        v = stack.pop()
        for nb in adj[v]:
            if parent.get(nb) == v and edge_key(v, nb) in keep:
                out.add(edge_key(v, nb))
                stack.append(nb)
    return out


def prize_collect(G: sp.csr_matrix, W: dict[Edge, float], start_edges: set[Edge],
                  start_nodes: list[int], mandatory: set[int], prize: np.ndarray, *,
                  value_vnd: float | None, budget_vnd: float | None,
                  deadline: float) -> set[Edge]:
    """Greedy growth → improvement (MST, key paths) → pruning → regrowth with freed budget."""
    n = G.shape[0]
    base_nodes = tree_nodes(start_edges, start_nodes)

    def run(first_path: bool) -> tuple[set[Edge], float]:
        edges = set(start_edges)
        in_tree = np.zeros(n, dtype=bool)
        in_tree[list(base_nodes)] = True
        prize_left = np.where(in_tree, 0.0, prize)
        budget = None if budget_vnd is None else budget_vnd - tree_cost(W, edges)
        if first_path:  # best single path within budget (guards the ratio greedy's blind spot)
            fr = _Frontier(G, list(np.flatnonzero(in_tree)), limit=budget or np.inf)
            S = path_prizes(fr.pred, fr.dist, prize_left)
            ok = np.isfinite(fr.dist) & (fr.dist > 0) & (prize_left > 0)
            if budget is not None:
                ok &= fr.dist <= budget
            if not ok.any():
                return edges, 0.0
            v = int(np.argmax(np.where(ok, S, -np.inf)))
            budget = None if budget is None else budget - fr.dist[v]
            prize_left[grow_paths(fr, fr.path(v), edges, in_tree)] = 0.0
        for _ in range(20):
            before = float(prize_left.sum())
            grow_prizes(G, edges, in_tree, prize_left, value_vnd=value_vnd,
                        budget_left=budget, deadline=deadline)
            keep = mandatory | set(start_nodes) | {v for v in tree_nodes(edges)
                                                   if prize[v] > 0}
            edges = improve(G, W, edges, keep, deadline)
            in_tree[:] = False
            in_tree[list(tree_nodes(edges, base_nodes))] = True
            prize_left[in_tree] = 0.0
            if budget_vnd is not None:
                budget = budget_vnd - tree_cost(W, edges)
            if float(prize_left.sum()) >= before or time.perf_counter() > deadline:
                break
        got = float(prize[list(tree_nodes(edges, base_nodes) - base_nodes)].sum())
        return edges, got

    best, best_prize = run(False)
    if budget_vnd is not None:
        alt, alt_prize = run(True)
        if alt_prize > best_prize:
            best, best_prize = alt, alt_prize
    if value_vnd is not None:
        root = start_nodes[0]
        best = strong_prune(W, best, root, mandatory | set(start_nodes), value_vnd * prize)
    return prune_leaves(best, mandatory | set(start_nodes) | {v for v in tree_nodes(best)
                                                              if prize[v] > 0})
