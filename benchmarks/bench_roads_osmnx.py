"""Benchmark: the osmnx road graph against the hand-written builder it replaced (issue 15), on the
real 2018 OSM roads of Hòa Bình (``../shared/data/hoabinh/osm2018``, read-only; skipped when absent).

Both graphs are built from ``roads_province.gpkg`` (1,586 lines, no class: every road is a
``commune`` road, cost factor of settings). The old builder is taken from the repository's own
history (``git show f2db6ee:phusong/planning/roads.py``, the last commit before osmnx), so the
comparison runs on the same machine, data and router. Fibre is routed (``route_fibre``,
``weight="cost_vnd"``) from the OSM place of Hòa Bình city to (a) the OSM places inside the
province (towns and villages) and (b) 300 seeded random vertices of the road lines (the same
points for both builders), each snapped to its nearest graph node, within the city's
connected component (the 2018 extract is fragmented: 245 components). A third builder,
osmnx without intersection consolidation (``road_graph(consolidate_m=0)``: osmnx's
``graph_from_gdfs`` + ``simplify_graph`` only), is the baseline that isolates what osmnx's
``consolidate_intersections`` costs. Prints one JSON line per builder and instance (nodes,
edges, components, km, build wall and CPU seconds min/median/max over ``--repeat`` runs,
places reached, route cost VND and km), one line of CPU seconds per step of ``road_graph``,
and lines of ratios osmnx / old and osmnx / osmnx_no_consolidation. Usage::

    .venv/bin/python benchmarks/bench_roads_osmnx.py [--repeat 3] [--time-limit 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PHUSONG_SHARED", ROOT.parent / "shared"))
OSM = SHARED / "data" / "hoabinh" / "osm2018"
OLD_COMMIT = "f2db6ee"


def old_builder():
    """The pre-osmnx ``phusong.planning.roads`` module, loaded from git history."""
    src = subprocess.run(["git", "show", f"{OLD_COMMIT}:phusong/planning/roads.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_roads.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_roads", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def inputs():
    import geopandas as gpd

    from phusong import settings

    roads = gpd.read_file(OSM / "roads_province.gpkg")
    roads = roads.assign(road_id=[f"osm{i}" for i in range(len(roads))], road_class="commune",
                         cost_factor=settings.ROAD_COST_FACTOR["commune"])
    places = gpd.read_file(OSM / "places_bbox.geojson")
    places = places[places["in_province"].astype(bool)].to_crs(settings.WORK_CRS)
    return roads, places.reset_index(drop=True)


def spread(secs) -> dict:
    """min / median / max of a list of seconds."""
    return {"min": round(min(secs), 3), "median": round(statistics.median(secs), 3),
            "max": round(max(secs), 3)}


def timed(fn, repeat: int):
    """Result of the last of ``repeat`` calls, wall and CPU seconds (min/median/max).

    CPU seconds (``time.process_time``) are the robust figure on a shared machine: wall time
    grows with the load of other processes (the machine has 2 cores).
    """
    out, wall, cpu = None, [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return out, spread(wall), spread(cpu)


def stages(roads, repeat: int) -> dict:
    """CPU seconds of each step of :func:`phusong.network.roads.road_graph` (min/median/max):
    our noding and cutting at junctions, osmnx's graph building and simplification, osmnx's
    intersection consolidation (per-node tolerance, as ``road_graph`` calls it), our pricing; and,
    as the baseline of that call, osmnx's consolidation with one tolerance for every node."""
    import networkx as nx
    import osmnx as ox

    from phusong import settings
    from phusong.crs import to_work
    from phusong.network import roads as R

    steps = {k: [] for k in ("pieces", "graph_from_gdfs+simplify", "consolidate", "price",
                             "consolidate_one_tolerance")}
    for _ in range(repeat):
        c = [time.process_time()]
        work = to_work(roads, "roads").explode(index_parts=False, ignore_index=True)
        nodes, edges = R._piece_frames(work[work.geom_type == "LineString"], 5.0)
        c.append(time.process_time())
        g = ox.convert.graph_from_gdfs(R.gpd_nodes(nodes), R.gpd_edges(edges),
                                       graph_attrs={"crs": settings.WORK_CRS})
        g = ox.simplification.simplify_graph(
            g, edge_attrs_differ=["road_class", "cost_factor", "road_id"])
        simplified = (g.number_of_nodes(), g.number_of_edges())
        c.append(time.process_time())
        g0 = g
        g = ox.simplification.consolidate_intersections(
            g0, tolerance=R._near_tolerance(g0, R.CONSOLIDATE_M), rebuild_graph=True,
            dead_ends=True, reconnect_edges=True)
        c.append(time.process_time())
        g.remove_edges_from(list(nx.selfloop_edges(g)))
        R._price(g, settings.COSTS, None)
        c.append(time.process_time())
        # baseline: osmnx's scalar tolerance, every node buffered (before issue 15's close-out)
        one = ox.simplification.consolidate_intersections(
            g0, tolerance=R.CONSOLIDATE_M, rebuild_graph=True, dead_ends=True,
            reconnect_edges=True)
        c.append(time.process_time())
        assert one.number_of_nodes() == g.number_of_nodes()
        for k, a, b in zip(steps, c[:-1], c[1:], strict=True):
            steps[k].append(b - a)
    return {"pieces_nodes_edges": [len(nodes), len(edges)],
            "simplified_nodes_edges": list(simplified),
            "consolidated_nodes_edges": [g.number_of_nodes(), g.number_of_edges()],
            "cpu_s": {k: spread(v) for k, v in steps.items()}}


def random_points(roads, n: int = 300, seed: int = 0):
    """``n`` seeded vertices of the road lines, in WORK_CRS (same points for every builder)."""
    import geopandas as gpd
    import shapely

    from phusong import settings

    xy = shapely.get_coordinates(roads.to_crs(settings.WORK_CRS).geometry.to_numpy())
    pick = np.random.default_rng(seed).choice(len(xy), n, replace=False)
    return gpd.GeoDataFrame({"fclass": ["point"] * n},
                            geometry=gpd.points_from_xy(xy[pick, 0], xy[pick, 1]),
                            crs=settings.WORK_CRS)


def route(name, g, snap, places, time_limit, city_xy=None):
    from phusong.network.roads import graph_components
    from phusong.planning.fibre_router import route_fibre

    nodes, offset = snap(g, places.geometry.x.to_numpy(), places.geometry.y.to_numpy())
    src = int(snap(g, [city_xy[0]], [city_xy[1]])[0][0])
    comp = next(c for c in graph_components(g) if src in c)
    terms = sorted({int(n) for n in nodes if int(n) in comp and int(n) != src})
    t0 = time.perf_counter()
    r = route_fibre(g, terms, weight="cost_vnd", existing=[src], time_limit_s=time_limit)
    secs = time.perf_counter() - t0
    length = "length_m" if name == "old" else "length"
    km = 0.0
    for u, v in r.edges:
        d = g.get_edge_data(u, v)
        d = min(d.values(), key=lambda e: e["cost_vnd"]) if g.is_multigraph() else d
        km += d[length] / 1000.0
    comps = graph_components(g)
    undirected_edges = g.number_of_edges() // (2 if g.is_directed() else 1)
    total_km = g.size(weight=length) / 1000.0 / (2 if g.is_directed() else 1)
    return {"nodes": g.number_of_nodes(), "edges": undirected_edges, "components": len(comps),
            "largest_component_nodes": len(comps[0]), "network_km": round(total_km, 1),
            "places": len(places), "places_in_city_component": len(terms) + 1,
            "snap_offset_m_median": round(float(np.median(offset)), 1),
            "route_cost_vnd": round(r.cost), "route_km": round(km, 2),
            "route_method": r.method, "route_s": round(secs, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=20.0)
    a = ap.parse_args(argv)
    if not OSM.is_dir():
        print(json.dumps({"bench": "roads_osmnx", "skipped": f"{OSM} absent"}))
        return 0
    from phusong.network.roads import road_graph, snap_points

    old = old_builder()
    roads, places = inputs()
    city = places[places["fclass"].astype(str) == "city"].geometry.iloc[0]
    points = random_points(roads)
    rows = {}
    # baselines in the same run: the hand-written builder osmnx replaced, and osmnx's graph
    # without intersection consolidation (graph_from_gdfs + simplify_graph only)
    for name, build, snap in (
            ("old", lambda: old.road_graph(roads), old.snap_points),
            ("osmnx_no_consolidation", lambda: road_graph(roads, consolidate_m=0), snap_points),
            ("osmnx", lambda: road_graph(roads), snap_points)):
        g, build_s, build_cpu_s = timed(build, a.repeat)
        for instance, pts in (("places", places), ("random_points", points)):
            row = {"bench": "roads_osmnx", "builder": name, "instance": instance,
                   "build_s": build_s, "build_cpu_s": build_cpu_s,
                   **route(name, g, snap, pts, a.time_limit, (city.x, city.y))}
            rows[name, instance] = row
            print(json.dumps(row), flush=True)
    print(json.dumps({"bench": "roads_osmnx", "builder": "osmnx", "instance": "stages",
                      **stages(roads, a.repeat)}), flush=True)
    for base in ("old", "osmnx_no_consolidation"):
        for instance in ("places", "random_points"):
            o, n = rows[base, instance], rows["osmnx", instance]
            print(json.dumps({
                "bench": "roads_osmnx", "instance": instance, "ratio": f"osmnx/{base}",
                "route_cost": round(n["route_cost_vnd"] / o["route_cost_vnd"], 4),
                "route_km": round(n["route_km"] / o["route_km"], 4),
                "terminals": [o["places_in_city_component"], n["places_in_city_component"]],
                "nodes": round(n["nodes"] / o["nodes"], 4),
                "network_km": round(n["network_km"] / o["network_km"], 4),
                "build_s_median": round(n["build_s"]["median"] / o["build_s"]["median"], 3),
                "build_cpu_s_median": round(n["build_cpu_s"]["median"]
                                            / o["build_cpu_s"]["median"], 3)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
