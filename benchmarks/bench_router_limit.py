"""How far past a small ``time_limit_s`` do ``route_fibre`` and ``infer_feeders`` run? (issue 18)

On a bundle's road graph (built once, outside the timings), each call is made with
``time_limit_s = --limit`` (default 1 ms: everything the call does is overrun) and without a
limit, ``--runs`` times in this process; one JSON line per call kind with the limited call's
wall seconds and CPU-s, its overrun past the limit (min/median/max), the unlimited call's
seconds, and the 1-minute load. POPs are assumed at the commune centres (the bundle's fibre
layers dropped, as for ``phusong plan --infer-feeders`` without fibre). Calls: ``route_fibre``
joining every POP's road node to the first POP (the feeders' Steiner tree), and ``infer_feeders`` with the graph given (as the plan
calls it) and without (its own graph: within one process the road graph is shared by
content, so after the first call this is the graph's look-up, not a build). Usage::

    .venv/bin/python benchmarks/bench_router_limit.py BUNDLE [--limit 0.001] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def _timed(f, runs: int) -> dict:
    walls, cpus, cut = [], [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        out = f()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        cut.append(bool(getattr(out, "stopped_by_time_limit", False)))
    return {"wall_s": [round(min(walls), 3), round(statistics.median(walls), 3),
                       round(max(walls), 3)],
            "cpu_s": [round(min(cpus), 3), round(statistics.median(cpus), 3),
                      round(max(cpus), 3)], "stopped_by_time_limit": cut}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--limit", type=float, default=0.001)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    from dataclasses import replace

    from phusong import settings
    from phusong.bundle import load_bundle
    from phusong.crs import to_work
    from phusong.planning import _plan_deps as deps
    from phusong.planning.centres import assume_pops
    from phusong.planning.feeders import infer_feeders

    b = load_bundle(a.bundle)  # POPs assumed at the commune centres (the fibre layers dropped)
    b = assume_pops(replace(b, layers={k: v for k, v in b.layers.items()
                                       if k not in ("fibre", "fibre_nodes")}))
    graph = deps.road_graph(b.roads, costs=settings.COSTS)
    pw = to_work(b.fibre_nodes, "fibre_nodes")
    nodes, _ = deps.snap_points(graph, pw.geometry.x.to_numpy(), pw.geometry.y.to_numpy())
    nodes = list(dict.fromkeys(nodes.tolist()))
    root, terms = nodes[0], nodes[1:]
    calls = {
        "route_fibre": lambda lim: deps.route_fibre(graph, terms, existing=[root],
                                                    time_limit_s=lim),
        "infer_feeders (graph given)": lambda lim: infer_feeders(b, graph=graph,
                                                                 time_limit_s=lim),
        "infer_feeders (own graph)": lambda lim: infer_feeders(b, time_limit_s=lim),
    }
    for name, f in calls.items():
        load = os.getloadavg()[0]
        lim = _timed(lambda f=f: f(a.limit), a.runs)
        free = _timed(lambda f=f: f(None), 1)
        print(json.dumps({"call": name, "bundle": a.bundle, "terminals": len(terms),
                          "time_limit_s": a.limit, "limited": lim,
                          "overrun_s": [round(x - a.limit, 3) for x in lim["wall_s"]],
                          "unlimited_wall_s": free["wall_s"][0], "load": round(load, 1)}),
              flush=True)


if __name__ == "__main__":
    main()
