"""Does ``time_limit_s`` bound the whole siting call? (issue 18)

On the seeded instances of ``bench_siting.py`` (m demand rows × n candidates × p sites),
solves with each limit ``--runs`` times and prints one JSON line per (size, limit): wall
seconds min/median/max, the worst overshoot past the limit, the stage that ended the search
and the gap (median run). Usage::

    .venv/bin/python benchmarks/bench_time_limit.py [--limits 1,2.5,10] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_siting import instance  # noqa: E402

SIZES = [(10_000, 500, 20), (20_000, 1_000, 30)]


def main() -> None:
    from phusong.planning.siting import MaximalCovering

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limits", default="1,2.5,10")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    for m, n, p in SIZES:
        _, _, w, A = instance(m, n)
        for limit in (float(x) for x in args.limits.split(",")):
            walls, out = [], []
            for _ in range(args.runs):
                prob = MaximalCovering.from_coverage(A, w, n_sites=p)
                t = time.perf_counter()
                r = prob.solve(time_limit_s=limit)
                walls.append(time.perf_counter() - t)
                out.append(r)
            mid = out[sorted(range(len(walls)), key=walls.__getitem__)[len(walls) // 2]]
            print(json.dumps({
                "m": m, "n": n, "p": p, "time_limit_s": limit, "runs": args.runs,
                "wall_s": {"min": round(min(walls), 3), "median": round(statistics.median(walls), 3),
                           "max": round(max(walls), 3)},
                "worst_overshoot_s": round(max(walls) - limit, 3),
                "stage": mid.method, "gap_pct": round(100 * mid.gap, 3)}), flush=True)


if __name__ == "__main__":
    main()
