"""Province plan benchmark: build and solve times, objective, gap, peak memory (one JSON line).

Runs on the embedded twin (``phusong.twin.build_twin``) when it is available, otherwise on the
seeded synthetic planning bundle with all 151 communes (``"fallback": true`` in the output).
Stages: coverage of villages (``score_villages``) and fibre reach; *build* = candidate generation
and the villages × candidates coverage matrix; *solve* = the joint plan (siting, 5G upgrades,
backhaul and fibre routing, gap tables) with coverage and candidates given. Quality: the
public-utility siting objective (households newly covered) against its LP/MILP bound (gap) and
against the plain greedy measured in the same solve (ratio ≥ 1).

Usage: ``.venv/bin/python benchmarks/bench_plan_province.py [--districts 154,158]
[--villages-per-commune N]`` (the latter only for the fallback bundle).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def _bundle(per_commune: int, districts):
    try:
        from phusong.twin import build_twin
    except ImportError:
        build_twin = None
    if build_twin is not None:
        return build_twin(seed=0, districts=districts), False
    from phusong.bundle import validate

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test doubles live in tests/
    from tests._synthetic import synthetic_bundle

    return validate(synthetic_bundle(151, per_commune, seed=7, sites_per_commune=2)), True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--villages-per-commune", type=int, default=12)
    ap.add_argument("--model", default=None)
    ap.add_argument("--districts", default=None,
                    help="comma-separated district codes of the twin (default: whole province)")
    args = ap.parse_args(argv)

    from phusong import settings
    from phusong.crs import to_work
    from phusong.planning import _plan_deps as deps
    from phusong.planning.candidates import (
        candidate_transmitters,
        fibre_road_nodes,
        generate_candidates,
    )
    from phusong.planning.plan import make_plan
    from phusong.planning.scenario import DEFAULT_SCENARIO

    model = args.model or settings.DEFAULT_MODEL
    t0 = time.perf_counter()
    districts = args.districts.split(",") if args.districts else None
    bundle, fallback = _bundle(args.villages_per_commune, districts)
    t1 = time.perf_counter()
    cov = deps.score_villages(bundle, model=model)
    graph = deps.road_graph(bundle.roads)
    fibre = deps.fibre_available(bundle, graph=graph)
    t2 = time.perf_counter()
    cands = generate_candidates(bundle, cov, graph=graph, fibre_nodes=fibre_road_nodes(graph, bundle))
    v = to_work(bundle.villages)
    A = deps.coverage_matrix(candidate_transmitters(cands, bundle.dem), v.geometry.x.to_numpy(),
                             v.geometry.y.to_numpy(), bundle.dem, model=model)
    t3 = time.perf_counter()
    # the plan regenerates candidates each year; the build stage above is timed alone
    plan = make_plan(bundle, scenario=DEFAULT_SCENARIO, model=model, village_cov=cov,
                     fibre=fibre)
    t4 = time.perf_counter()
    bts = plan.years[0]["solver"].get("public-utility BTS", {})
    g5 = plan.years[0]["solver"].get("5G", {})
    obj = bts.get("objective")
    greedy = bts.get("greedy_objective")
    print(json.dumps({
        "bench": "plan_province",
        "bundle": bundle.name,
        "fallback": fallback,
        "districts": districts or "all",
        "model": model,
        "villages": int(len(bundle.villages)),
        "sites": int(len(bundle.sites)),
        "candidates": int(len(cands)),
        "coverage_nnz": int(A.nnz),
        "bundle_s": round(t1 - t0, 2),
        "coverage_s": round(t2 - t1, 2),
        "build_s": round(t3 - t2, 2),
        "solve_s": round(t4 - t3, 2),
        "objective_households": obj,
        "upper_bound": bts.get("upper_bound"),
        "gap": bts.get("gap"),
        "status": bts.get("status"),
        "method": bts.get("method"),
        "demand_open_households": bts.get("demand_open"),
        "greedy_objective": greedy,
        "objective_vs_greedy": (obj / greedy) if obj and greedy else None,
        "cost_bn_vnd": round(plan.totals["cost_vnd"] / 1e9, 3),
        "new_sites": plan.totals["new_sites"],
        "upgrades_5G": plan.totals["upgrades_5G"],
        "upgrades_5G_objective_persons": g5.get("objective"),
        "upgrades_5G_gap": g5.get("gap"),
        "fibre_km": round(plan.totals["fibre_km"], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
