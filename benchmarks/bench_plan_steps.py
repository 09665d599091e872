"""Plan wall time per step on the full twin (2025 + 2030), cold and warm (JSON lines).

Each run is a fresh process that loads the twin bundle, makes the plan of a shipped 2030
scenario (``scenarios/plan2030_midband.toml``, ``scenarios/plan2030_lowband.toml``) and writes the
plan folder. Steps (wall seconds, summed over the plan years):

* ``load``: reading the bundle; ``baseline coverage``: ``score_villages`` of the bundle as it is;
* ``candidates``: candidate generation (upgrades, new sites, their pricing);
* ``coverage matrix``: villages × candidates coverage per technology (the propagation engine);
* ``siting/targets solve``: the mobile steps (budgeted maximal covering or least-cost targets);
* ``fibre``: backhaul and extensions (routing, reach, FTTH fitting);
* ``grow``: writing a year's actions into the bundle for the next year;
* ``services``: gap tables with switch-offs and a service (or fallback) for every village;
* ``curves``: cost curves to 100 %; ``writing``: the plan folder; ``other``: the rest of
  ``make_plan`` (context, road graph, fibre reach, assembly).

**Cold**: the numba cache points at an empty temporary folder (``NUMBA_CACHE_DIR``), so every
compiled kernel is compiled again, as on a first run. **Warm**: the cache the cold runs filled.
Per-step timers wrap the module functions the year loop calls; to show they do not move the
figure, warm runs are repeated without them (total only) and the ratio of the medians of the
totals is reported (``overhead``). Figures are min / median / max over ``--repeats`` runs.

Usage: ``.venv/bin/python benchmarks/bench_plan_steps.py [--bundle TWIN_DIR] [--repeats 3]``
(without ``--bundle`` the twin is built, seed 0, into a temporary folder first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("scenarios/plan2030_midband.toml", "scenarios/plan2030_lowband.toml")
#: Step → (module, function names) whose calls are timed.
STEPS = {
    "baseline coverage": ("phusong.planning._plan_deps", ("score_villages",)),
    "candidates": ("phusong.planning._plan_year", ("generate_candidates",)),
    "coverage matrix": ("phusong.planning._plan_year", ("candidate_coverage",)),
    "siting/targets solve": ("phusong.planning._plan_year", ("siting_step", "target_step")),
    "fibre": ("phusong.planning._plan_year", ("fibre_actions",)),
    "grow": ("phusong.planning._plan_year", ("grow_bundle",)),
    "services": ("phusong.planning.plan", ("compute_gaps", "village_services")),
    "curves": ("phusong.planning.plan", ("plan_cost_curves",)),
}


def _timed(fn, acc: dict, step: str):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[step] = acc.get(step, 0.0) + time.perf_counter() - t
    return wrapper


def worker(bundle_dir: str, scenario: str, timers: bool) -> dict:
    """One plan in this process; wall seconds per step (or the total only)."""
    import importlib

    t0 = time.perf_counter()
    from phusong.bundle import load_bundle
    from phusong.planning import plan as plan_mod
    from phusong.planning.scenario import load_scenario

    acc: dict = {}
    if timers:
        for step, (mod, names) in STEPS.items():
            m = importlib.import_module(mod)
            for name in names:
                setattr(m, name, _timed(getattr(m, name), acc, step))
    t1 = time.perf_counter()
    bundle = load_bundle(bundle_dir)
    t2 = time.perf_counter()
    plan = plan_mod.make_plan(bundle, scenario=load_scenario(ROOT / scenario))
    t3 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        plan.write(Path(d) / "plan")
    t4 = time.perf_counter()
    out = {"total_s": t4 - t1, "import_s": t1 - t0}
    if timers:
        acc["load"], acc["writing"] = t2 - t1, t4 - t3
        acc["other"] = (t3 - t2) - sum(v for k, v in acc.items() if k not in ("load", "writing"))
        out["steps_s"] = acc
    out["fibre_pct_2030"] = plan.years[-1]["province_pct"].get("fibre_households_pct")
    summary = plan.cost_curves.get("fibre_households", {}).get("summary", {})
    out["fibre_curve_top_pct"] = summary.get("top_pct")
    out["fibre_curve_top_vnd"] = summary.get("cost_to_top_vnd")
    out["cost_vnd"] = plan.totals.get("cost_vnd")
    return out


def _run(bundle_dir: str, scenario: str, timers: bool, cache: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, __file__, "--worker", bundle_dir, scenario, str(int(timers))]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    if res.returncode:
        raise SystemExit(f"worker failed ({scenario}): {res.stderr.strip()[-800:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    # one line per run as it ends, so a run cut short still leaves its figures
    print(json.dumps({"bench": "plan_steps_run", "scenario": scenario, "timers": timers,
                      "cold": Path(cache).name.startswith("cold"), **out}), flush=True)
    return out


def _spread(xs) -> dict:
    return {"min": round(min(xs), 3), "median": round(statistics.median(xs), 3),
            "max": round(max(xs), 3), "n": len(xs)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=None, help="a saved twin bundle (default: build one)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scenario", action="append", default=None,
                    help="scenario TOML (repeatable; default: both shipped 2030 scenarios)")
    ap.add_argument("--worker", nargs=3, metavar=("BUNDLE", "SCENARIO", "TIMERS"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        b, s, t = args.worker
        print(json.dumps(worker(b, s, bool(int(t)))))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-plan-steps-") as tmp:
        bundle_dir = args.bundle
        if bundle_dir is None:
            from phusong.bundle import save_bundle
            from phusong.twin import build_twin

            bundle_dir = str(save_bundle(build_twin(seed=0), Path(tmp) / "twin"))
        for scenario in args.scenario or SCENARIOS:
            runs: dict = {"cold": [], "warm": [], "warm_untimed": []}
            warm_cache = str(Path(tmp) / "numba-warm")
            for k in range(args.repeats):
                cold_cache = tempfile.mkdtemp(prefix=f"cold{k}-", dir=tmp)  # empty: compile all
                runs["cold"].append(_run(bundle_dir, scenario, True, cold_cache))
                if k == 0:
                    os.rename(cold_cache, warm_cache)  # the warm runs reuse what it compiled
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                runs["warm"].append(_run(bundle_dir, scenario, True, warm_cache))
                runs["warm_untimed"].append(_run(bundle_dir, scenario, False, warm_cache))
            for mode in ("cold", "warm"):
                steps = runs[mode][0]["steps_s"].keys()
                print(json.dumps({
                    "bench": "plan_steps", "scenario": scenario, "mode": mode,
                    "cpus": os.cpu_count(), "total_s": _spread([r["total_s"] for r in runs[mode]]),
                    "import_s": _spread([r["import_s"] for r in runs[mode]]),
                    "steps_s": {s: _spread([r["steps_s"].get(s, 0.0) for r in runs[mode]])
                                for s in steps},
                    "fibre_pct_2030": runs[mode][0]["fibre_pct_2030"],
                    "cost_vnd": runs[mode][0]["cost_vnd"]}), flush=True)
            timed = statistics.median(r["total_s"] for r in runs["warm"])
            plain = statistics.median(r["total_s"] for r in runs["warm_untimed"])
            print(json.dumps({
                "bench": "plan_steps", "scenario": scenario, "mode": "overhead",
                "warm_total_timed_s": _spread([r["total_s"] for r in runs["warm"]]),
                "warm_total_untimed_s": _spread([r["total_s"] for r in runs["warm_untimed"]]),
                "ratio_timed_to_untimed_median": round(timed / plain, 4),
                "same_result": len({(r["cost_vnd"], r["fibre_pct_2030"])
                                    for r in runs["warm"] + runs["warm_untimed"]}) == 1}),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
