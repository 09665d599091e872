"""Benchmark: fibre routing (Steiner tree on road graphs) — phusong vs networkx Mehlhorn and Kou,
and vs the exact optimum (bidirected multi-commodity flow MILP, scipy milp/HiGHS) on small graphs.

Instances: seeded road-like grids (k × k lattice, 15 % of links deleted, costs uniform 1–10,
largest component) with random terminals, and the real 2018 OSM roads around Hòa Bình
(``roads_bbox.gpkg``, read-only from ../shared). The extract's lines are not split at junctions
(``roads_province.gpkg`` gives 471 components, the largest 116 nodes), so here they are noded
with shapely at 5 m precision before ``phusong.network.roads.road_graph``; it has no road
class, so every road is costed as ``commune`` (cost factor 1); largest component kept.
Prints one JSON line per (instance, method): nodes, edges, terminals, cost, seconds, peak RSS,
cost ratio vs Mehlhorn and vs the exact optimum when known. Usage::

    .venv/bin/python benchmarks/bench_fibre.py [--no-osm] [--time-limit 30]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import networkx as nx
import numpy as np
import scipy.sparse as sp
from networkx.algorithms.approximation import steiner_tree
from scipy.optimize import LinearConstraint, milp

from phusong.planning.fibre_router import route_fibre

OSM = Path(__file__).resolve().parents[2] / "shared/data/hoabinh/osm2018/roads_bbox.gpkg"
GRIDS = [(8, 6, True), (12, 10, True), (15, 12, True), (40, 30, False), (100, 100, False),
         (150, 200, False)]


def grid(k: int, seed: int) -> nx.Graph:
    rng = np.random.default_rng(seed)
    g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(k, k))
    for u, v in list(g.edges):
        if rng.random() < 0.15:
            g.remove_edge(u, v)
        else:
            g[u][v]["cost"] = float(rng.uniform(1, 10))
    return g.subgraph(max(nx.connected_components(g), key=len)).copy()


def exact_milp(g: nx.Graph, terms, weight: str, time_limit: float):
    """Optimal Steiner cost: arcs y (binary), one unit of flow root → each terminal, f ≤ y."""
    nodes = list(g.nodes)
    idx = {v: i for i, v in enumerate(nodes)}
    E = [(idx[u], idx[v], float(d[weight])) for u, v, d in g.edges(data=True)]
    arcs = [(a, b, c) for a, b, c in E] + [(b, a, c) for a, b, c in E]
    na, nv = len(arcs), len(nodes)
    root, others = idx[terms[0]], [idx[t] for t in terms[1:]]
    K = len(others)
    nvar = na + K * na
    cost = np.concatenate([[c for *_, c in arcs], np.zeros(K * na)])
    tail = np.array([a for a, _, _ in arcs])
    head = np.array([b for _, b, _ in arcs])
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0
    for k, t in enumerate(others):
        off = na + k * na
        # conservation: inflow − outflow = 1 at t, −1 at root, 0 elsewhere
        rows += list(r + head) + list(r + tail)
        cols += list(off + np.arange(na)) * 2
        vals += [1.0] * na + [-1.0] * na
        b = np.zeros(nv)
        b[t], b[root] = 1.0, -1.0
        lo += list(b)
        hi += list(b)
        r += nv
        # capacity: f_a^k − y_a ≤ 0
        rows += list(r + np.arange(na)) * 2
        cols += list(off + np.arange(na)) + list(np.arange(na))
        vals += [1.0] * na + [-1.0] * na
        lo += [-np.inf] * na
        hi += [0.0] * na
        r += na
    M = sp.csr_matrix((vals, (rows, cols)), shape=(r, nvar))
    integ = np.concatenate([np.ones(na), np.zeros(K * na)])
    t0 = time.perf_counter()
    res = milp(cost, constraints=[LinearConstraint(M, lo, hi)], integrality=integ,
               bounds=(0, 1), options={"time_limit": time_limit, "mip_rel_gap": 1e-9})
    return (float(res.fun) if res.status == 0 else None), time.perf_counter() - t0


def _rss() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def bench(name: str, g: nx.Graph, terms, weight: str, limit: float, exact: bool,
          kou: bool = True) -> None:
    base = {"bench": "fibre", "instance": name, "nodes": g.number_of_nodes(),
            "edges": g.number_of_edges(), "terminals": len(terms)}
    rows = []
    t0 = time.perf_counter()
    r = route_fibre(g, terms, weight=weight, time_limit_s=limit)
    rows.append({"method": "phusong", "cost": r.cost, "seconds": time.perf_counter() - t0,
                 "winner": r.method})
    for m in ("mehlhorn", "kou") if kou else ("mehlhorn",):
        t0 = time.perf_counter()
        T = steiner_tree(g, terms, weight=weight, method=m)
        rows.append({"method": f"networkx_{m}", "cost": T.size(weight=weight),
                     "seconds": time.perf_counter() - t0})
    opt = None
    if exact:
        opt, sec = exact_milp(g, terms, weight, 120.0)
        rows.append({"method": "exact_milp", "cost": opt, "seconds": sec})
    mel = rows[1]["cost"]
    for row in rows:
        row.update(base)
        if row["cost"] is not None:
            row["ratio_vs_mehlhorn"] = round(row["cost"] / mel, 5)
            if opt:
                row["ratio_vs_optimum"] = round(row["cost"] / opt, 5)
        row["peak_rss_mb"] = _rss()
        row = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
        print(json.dumps(row), flush=True)


def osm_graph():
    import geopandas as gpd
    import shapely

    from phusong.network.roads import graph_components, road_graph, simple_graph

    roads = gpd.read_file(OSM).to_crs("EPSG:32648")
    noded = shapely.node(shapely.union_all(shapely.set_precision(roads.geometry.values, 5.0)))
    parts = gpd.GeoDataFrame(geometry=list(shapely.get_parts(noded)), crs="EPSG:32648")
    parts = parts.assign(road_id=[f"osm{i}" for i in range(len(parts))], road_class="commune",
                         cost_factor=1.0)
    g = road_graph(parts)  # osmnx MultiDiGraph; networkx's Steiner methods need a simple graph
    return simple_graph(g.subgraph(graph_components(g)[0]).copy())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-osm", action="store_true")
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--osm-only", action="store_true")
    a = ap.parse_args()
    for k, nt, exact in [] if a.osm_only else GRIDS:
        g = grid(k, seed=k)
        terms = [int(t) for t in np.random.default_rng(k).choice(list(g.nodes), nt, False)]
        bench(f"grid{k}x{k}", g, terms, "cost", a.time_limit, exact, kou=k <= 100)
    if not a.no_osm and OSM.exists():
        t0 = time.perf_counter()
        g = osm_graph()
        build = time.perf_counter() - t0
        print(json.dumps({"bench": "fibre", "instance": "osm2018_hoabinh", "graph_build_s":
                          round(build, 2), "nodes": g.number_of_nodes(),
                          "edges": g.number_of_edges()}), flush=True)
        for nt in (30, 150):
            terms = [int(t) for t in np.random.default_rng(nt).choice(list(g.nodes), nt, False)]
            bench(f"osm2018_hoabinh_{nt}t", g, terms, "cost_vnd", a.time_limit, False,
                  kou=nt <= 30)


if __name__ == "__main__":
    main()
