"""Steiner-tree heuristics behind :mod:`phusong.planning.fibre_router` (private).

Everything works on a symmetric scipy CSR graph ``G`` over integer nodes (costs > 0; the public
module turns zero costs into a tiny epsilon because scipy's spanning tree drops explicit zeros)
and a tree given as a set of undirected edges ``(i, j)`` with ``i < j``.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree

__all__ = [
    "edge_key",
    "edge_weights",
    "tree_cost",
    "tree_nodes",
    "shortest_path_heuristic",
    "grow_paths",
    "prune_leaves",
    "mst_rebuild",
    "key_path_exchange",
    "improve",
]

Edge = tuple[int, int]


def edge_key(i: int, j: int) -> Edge:
    """Undirected edge key, smaller index first."""
    return (i, j) if i < j else (j, i)


def edge_weights(G: sp.csr_matrix) -> dict[Edge, float]:
    """``{(i, j): weight}`` for every undirected edge of ``G`` (i < j)."""
    coo = sp.triu(G, k=1).tocoo()
    return {(int(a), int(b)): float(c) for a, b, c in zip(coo.row, coo.col, coo.data, strict=True)}


def tree_cost(W: dict[Edge, float], edges: set[Edge]) -> float:
    """Sum of the weights ``W`` of ``edges``."""
    return float(sum(W[e] for e in edges))


def tree_nodes(edges: set[Edge], extra=()) -> set[int]:
    """Nodes touched by ``edges`` plus ``extra``."""
    out = set(extra)
    for i, j in edges:
        out.add(i)
        out.add(j)
    return out


class _Frontier:
    """Distances from the growing tree, updated incrementally after each added path."""

    def __init__(self, G: sp.csr_matrix, sources: list[int], limit: float = np.inf):
        self.G = G
        d, pred = dijkstra(G, indices=sources, min_only=True, return_predecessors=True,
                           limit=limit)[:2]
        self.dist, self.pred = d, pred

    def add(self, nodes: list[int], limit: float = np.inf) -> None:
        d, pred = dijkstra(self.G, indices=nodes, min_only=True, return_predecessors=True,
                           limit=limit)[:2]
        better = d < self.dist
        self.dist = np.where(better, d, self.dist)
        self.pred = np.where(better, pred, self.pred)

    def path(self, v: int) -> list[int]:
        """Nodes from ``v`` back to the tree (tree node last)."""
        out = [v]
        while self.dist[out[-1]] > 0 and self.pred[out[-1]] >= 0:
            out.append(int(self.pred[out[-1]]))
        return out


def grow_paths(fr: _Frontier, path: list[int], edges: set[Edge], in_tree: np.ndarray) -> list[int]:
    """Add ``path`` (from a new node to the tree) to ``edges``; return the newly added nodes."""
    new = [u for u in path if not in_tree[u]]
    for a, b in zip(path[:-1], path[1:], strict=True):
        edges.add(edge_key(a, b))
    in_tree[new] = True
    fr.dist[new] = 0.0
    return new


def shortest_path_heuristic(G: sp.csr_matrix, terminals: list[int], start: list[int]) -> set[Edge]:
    """Takahashi–Matsuyama: repeatedly join the terminal nearest to the tree by a shortest path."""
    in_tree = np.zeros(G.shape[0], dtype=bool)
    in_tree[start] = True
    left = np.array(sorted(set(terminals) - set(start)), dtype=np.int64)
    edges: set[Edge] = set()
    if len(left) == 0:
        return edges
    fr = _Frontier(G, list(start))
    while len(left):
        d = fr.dist[left]
        k = int(np.argmin(d))
        if not np.isfinite(d[k]):
            break
        new = grow_paths(fr, fr.path(int(left[k])), edges, in_tree)
        left = left[~in_tree[left]]
        if len(left) and new:
            fr.add(new, limit=float(np.max(fr.dist[left][np.isfinite(fr.dist[left])],
                                           initial=0.0)))
    return edges


def _adjacency(edges: set[Edge]) -> dict[int, set[int]]:
    adj: dict[int, set[int]] = {}
    for i, j in edges:
        adj.setdefault(i, set()).add(j)
        adj.setdefault(j, set()).add(i)
    return adj


def prune_leaves(edges: set[Edge], keep: set[int]) -> set[Edge]:
    """Repeatedly remove leaves that are not in ``keep`` (terminals, root)."""
    edges = set(edges)
    adj = _adjacency(edges)
    stack = [v for v, nb in adj.items() if len(nb) == 1 and v not in keep]
    while stack:
        v = stack.pop()
        if v in keep or len(adj.get(v, ())) != 1:
            continue
        (u,) = adj.pop(v)
        edges.discard(edge_key(u, v))
        adj[u].discard(v)
        if len(adj[u]) == 1 and u not in keep:
            stack.append(u)
        if not adj[u]:
            del adj[u]
    return edges


def mst_rebuild(G: sp.csr_matrix, edges: set[Edge], keep: set[int]) -> set[Edge]:
    """Minimum spanning tree of the subgraph induced by the tree's nodes, then leaf pruning."""
    nodes = np.array(sorted(tree_nodes(edges, keep)), dtype=np.int64)
    if len(nodes) < 2:
        return set(edges)
    sub = G[nodes][:, nodes]
    T = minimum_spanning_tree(sub).tocoo()
    new = {edge_key(int(nodes[a]), int(nodes[b])) for a, b in zip(T.row, T.col, strict=True)}
    if len(new) != len(nodes) - 1:  # induced subgraph not connected (cannot happen for a tree)
        return set(edges)
    return prune_leaves(new, keep)


def _key_paths(edges: set[Edge], keep: set[int]) -> list[list[int]]:
    """Split the tree into key paths: maximal paths whose interior nodes are degree-2 non-keep."""
    adj = _adjacency(edges)
    key = {v for v, nb in adj.items() if v in keep or len(nb) != 2}
    seen: set[Edge] = set()
    paths = []
    for s in key:
        for nb in adj[s]:
            if edge_key(s, nb) in seen:
                continue
            path = [s, nb]
            seen.add(edge_key(s, nb))
            while path[-1] not in key:
                a, b = adj[path[-1]]
                nxt = a if a != path[-2] else b
                seen.add(edge_key(path[-1], nxt))
                path.append(nxt)
            paths.append(path)
    return paths


def _euler(edges: set[Edge], root: int):
    """DFS order of the tree from ``root``: nodes by entry time, entry time, subtree end, depth."""
    adj = _adjacency(edges)
    order, tin, tout, depth = [], {}, {}, {root: 0}
    stack = [(root, iter(adj[root]))]
    tin[root] = 0
    order.append(root)
    while stack:
        v, it = stack[-1]
        nb = next(it, None)
        if nb is None:
            tout[v] = len(order)
            stack.pop()
        elif nb not in tin:
            tin[nb] = len(order)
            depth[nb] = depth[v] + 1
            order.append(nb)
            stack.append((nb, iter(adj[nb])))
    return np.array(order, dtype=np.int64), tin, tout, depth


def key_path_exchange(G: sp.csr_matrix, W: dict[Edge, float], edges: set[Edge], keep: set[int],
                      deadline: float, failed: set | None = None) -> tuple[set[Edge], bool]:
    """Replace the first key path that a cheaper shortest path between the two halves beats.

    The tree is rooted once (Euler tour), so the two halves left by removing a key path are
    array slices: the subtree of its lower end, and everything outside the subtree of the node
    below its upper end. Paths in ``failed`` (already tried on an equal tree part) are skipped.
    """
    failed = set() if failed is None else failed
    paths = _key_paths(edges, keep)
    if not paths:
        return edges, False
    order, tin, tout, depth = _euler(edges, paths[0][0])
    costs = [sum(W[edge_key(a, b)] for a, b in zip(p[:-1], p[1:], strict=True)) for p in paths]
    for idx in np.argsort(costs)[::-1]:
        if time.perf_counter() > deadline:
            break
        path, pc = paths[idx], costs[idx]
        if depth[path[0]] > depth[path[-1]]:
            path = path[::-1]
        sig = tuple(path)
        if sig in failed:
            continue
        c, b = path[1], path[-1]
        A = np.concatenate([order[: tin[c]], order[tout[c]:]])
        B = order[tin[b] : tout[b]]
        if len(B) > len(A):  # search from the smaller half (all sources are settled first)
            A, B = B, A
        d, pred = dijkstra(G, indices=A, min_only=True, return_predecessors=True,
                           limit=pc)[:2]
        k = int(np.argmin(d[B]))
        if not d[B[k]] < pc * (1 - 1e-9):
            failed.add(sig)
            continue
        v = int(B[k])
        new = edges - {edge_key(a, b) for a, b in zip(path[:-1], path[1:], strict=True)}
        while d[v] > 0:
            u = int(pred[v])
            new.add(edge_key(u, v))
            v = u
        return prune_leaves(new, keep), True
    return edges, False


def improve(G: sp.csr_matrix, W: dict[Edge, float], edges: set[Edge], keep: set[int],
            deadline: float) -> set[Edge]:
    """MST rebuild + pruning, then key-path exchanges until none improves (or time runs out)."""
    best = prune_leaves(edges, keep)
    best_cost = tree_cost(W, best)
    cand = mst_rebuild(G, best, keep)
    if tree_cost(W, cand) < best_cost:
        best, best_cost = cand, tree_cost(W, cand)
    failed: set = set()
    while time.perf_counter() < deadline:
        cand, changed = key_path_exchange(G, W, best, keep, deadline, failed)
        if not changed and failed:  # one more full pass: the tree changed since those failed
            failed.clear()
            cand, changed = key_path_exchange(G, W, best, keep, deadline, failed)
        if not changed:
            break
        cand = mst_rebuild(G, cand, keep)
        c = tree_cost(W, cand)
        if c >= best_cost * (1 - 1e-12):
            break
        best, best_cost = cand, c
    return best
