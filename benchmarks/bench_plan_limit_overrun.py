"""How far past its ``time_limit_s`` does a plan run, and where does the overrun go? (issue 18)

Runs ``make_plan`` on a bundle with the default scenario and ``time_limit_s = --limit``, each
run in its own process, alternating this checkout with ``--baseline-root`` (another checkout,
e.g. ``main`` before a change) when given. One JSON line per run: the plan's own wall time
(``plan.json`` ``time_limit.seconds``), the overrun past the limit, the 1-minute load, the
steps cut, and the seconds of the steps the limit cannot cut (``time_limit.fixed_s``, absent in
checkouts before it) and of the road work run in the background (``background_s``: graph,
projection, the existing fibre's reach, when done by the deadline; absent in checkouts before
it), the plan call's CPU-s (this process, all its threads; a kernel-compiling child's not
counted), the steps' seconds past the limit (``past_limit_s``, absent before it) and, when the
plan stopped with an error (``--cold``: kernels not compiled in time), its message; then a
summary line per checkout with min/median/max. ``--cold`` gives each run an empty numba cache
(a first run after an install). Usage::

    .venv/bin/python benchmarks/bench_plan_limit_overrun.py BUNDLE --limit 5 --runs 3 \\
        [--baseline-root /path/to/main]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_RUN = """
import dataclasses, json, os, sys, time
from phusong.bundle import load_bundle
from phusong.errors import PhusongError
from phusong.planning import make_plan
from phusong.planning.scenario import DEFAULT_SCENARIO
b = load_bundle(sys.argv[1])
load = os.getloadavg()[0]
t, c = time.perf_counter(), time.process_time()
try:
    p = make_plan(b, scenario=dataclasses.replace(DEFAULT_SCENARIO,
                                                  time_limit_s=float(sys.argv[2])))
    tl = dict(p.time_limit)
except PhusongError as exc:  # e.g. kernels not compiled in time (a cold cache)
    tl = {"seconds": round(time.perf_counter() - t, 3), "error": str(exc), "stopped": []}
print(json.dumps(dict(tl, villages=len(b.villages), load=round(load, 1),
                      plan_cpu_s=round(time.process_time() - c, 2))))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--limit", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline-root", default=None)
    ap.add_argument("--cold", action="store_true",
                    help="each run on an empty numba cache (NUMBA_CACHE_DIR a new folder)")
    a = ap.parse_args()
    roots = {"this": ROOT} | ({"baseline": Path(a.baseline_root)} if a.baseline_root else {})
    got: dict[str, list[float]] = {k: [] for k in roots}
    for i in range(a.runs):
        for name, root in roots.items():
            env = dict(os.environ, PYTHONPATH=str(root), NUMBA_NUM_THREADS="1",
                       OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
            if a.cold:
                env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-cold-numba-")
            r = subprocess.run([sys.executable, "-c", _RUN, a.bundle, str(a.limit)], env=env,
                               capture_output=True, text=True, cwd=root)
            if r.returncode != 0:
                raise SystemExit(r.stderr[-2000:])
            tl = json.loads(r.stdout.strip().splitlines()[-1])
            got[name].append(tl["seconds"])
            if a.cold:
                shutil.rmtree(env["NUMBA_CACHE_DIR"], ignore_errors=True)
            print(json.dumps({"checkout": name, "run": i, "seconds": tl["seconds"],
                              "overrun_s": round(tl["seconds"] - a.limit, 1),
                              "plan_cpu_s": tl.get("plan_cpu_s"), "error": tl.get("error"),
                              "past_limit_s": tl.get("past_limit_s"),
                              "load": tl["load"], "fixed_s": tl.get("fixed_s"),
                              "background_s": tl.get("background_s"),
                              "reserve_s": tl.get("reserve_s"),
                              "stopped": tl["stopped"]}), flush=True)
    for name, s in got.items():
        print(json.dumps({"checkout": name, "bundle": a.bundle, "time_limit_s": a.limit,
                          "runs": a.runs, "seconds_min_median_max": [
                              round(min(s), 1), round(statistics.median(s), 1),
                              round(max(s), 1)]}))


if __name__ == "__main__":
    main()
