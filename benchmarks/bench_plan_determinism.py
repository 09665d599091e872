"""Is a plan the same on every run, and what does that cost in time? (issue 18)

Runs ``phusong plan`` on a bundle ``--runs`` times, each in its own process, and prints one
JSON line per run (wall seconds, total cost, a hash of ``plan.json`` without the solvers' wall
times) and a summary line: wall min/median/max, whether every hash is equal, and which steps
a time limit cut (``--set-limit S`` writes a copy of the scenario with ``time_limit_s = S``).
Usage::

    .venv/bin/python benchmarks/bench_plan_determinism.py BUNDLE --scenario scenarios/plan2030_midband.toml \
        [--runs 2] [--set-limit 60]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def without_timings(x):
    """``plan.json`` content with the solvers' wall times (``seconds``) left out."""
    if isinstance(x, dict):
        return {k: without_timings(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [without_timings(v) for v in x]
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--set-limit", type=float, default=None)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-plan-det-"))
    scenario = Path(a.scenario)
    if a.set_limit is not None:
        text = scenario.read_text(encoding="utf-8").replace("[budgets", (
            f"time_limit_s = {a.set_limit}\n\n[budgets"), 1)
        scenario = work / scenario.name
        scenario.write_text(text, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    walls, hashes, cut = [], [], []
    for i in range(a.runs):
        out = work / f"plan{i}"
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", "from phusong.cli import main; main()", "plan",
                            a.bundle, "--scenario", str(scenario), "--out", str(out), "--quiet"],
                           env=env, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t
        if r.returncode != 0:
            raise SystemExit(r.stderr[-2000:])
        meta = json.loads((out / "plan.json").read_text(encoding="utf-8"))
        h = hashlib.sha256(json.dumps(without_timings(meta), sort_keys=True).encode())
        walls.append(wall)
        hashes.append(h.hexdigest()[:16])
        cut.append(meta.get("time_limit", {}).get("stopped", []))
        print(json.dumps({"run": i, "wall_s": round(wall, 1), "hash": hashes[-1],
                          "cost_vnd": meta["totals"].get("cost_vnd"),
                          "stopped_by_time_limit": cut[-1]}), flush=True)
    print(json.dumps({"bundle": a.bundle, "scenario": a.scenario, "time_limit_s": a.set_limit,
                      "runs": a.runs, "wall_s_min_median_max": [round(min(walls), 1),
                      round(statistics.median(walls), 1), round(max(walls), 1)],
                      "identical": len(set(hashes)) == 1}))


if __name__ == "__main__":
    main()
