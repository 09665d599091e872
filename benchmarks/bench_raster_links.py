"""Benchmark: the raster's link stage (``site_links``) against the loop before 2026-12-07.

Runs the province raster (the twin, seed 0, or ``--bundle``; Hata + Bullington, screened, at
``--resolution-m``) once on one thread and keeps the inputs of every ``--every``-th call of
the link kernel (its grid cells' slice of the best/serving-cell state, so the replay sees the
state the run saw). Then replays them ``--repeats`` times through the current kernel
(``_raster_kernels.site_links_serial``) and the frozen one (``tests/_links_before.py``),
alternating, and reports thread CPU seconds (min/median/max), ns per link, their ratio and
whether the outputs (best, serving cell, link counts) are identical bit for bit.

One JSON line on stdout.

Usage: .venv/bin/python benchmarks/bench_raster_links.py [--every 10] [--repeats 5]
       [--resolution-m 100] [--bundle DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--resolution-m", type=float, default=100.0)
    ap.add_argument("--bundle", help="a saved bundle (default: build the twin, seed 0)")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from _province_twin import province_run

    from phusong.coverage import _raster
    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._raster_kernels import site_links_serial
    from tests._links_before import site_links_serial as site_links_before

    kept = []
    seen = [0]

    def capture(fn):
        def run(best, arg, flat, *rest):
            seen[0] += 1
            if seen[0] % a.every == 0:  # this call's grid cells only, as compact arrays
                kept.append((best[:, flat].copy(), arg[:, flat].copy(), len(flat),
                             [np.array(r) if isinstance(r, np.ndarray) else r
                              for r in rest[:-4]], rest[-3], rest[-2]))
            return fn(best, arg, flat, *rest)
        return run

    for name in ("_PARALLEL", "_SERIAL"):
        k = getattr(_raster, name)
        setattr(_raster, name, dataclasses.replace(k, links=capture(k.links)))
    run = province_run(a.resolution_m, a.bundle)
    opts = EngineOptions(model="hata", diffraction="bullington", threads=1).check()
    txs = TxSet.from_frame(run.tx, run.terrain, opts)
    _raster.raster_links(txs, run.groups, len(run.pairs), run.terrain, run.grid, opts)

    def args(item, before):
        best, arg, n, rest, ant, clut = item
        return ([best.copy(), arg.copy(), np.arange(n, dtype=np.int64)] + rest
                + [np.zeros(n, np.int64), ant[:6] if before else ant, clut, _raster._NO_SINR])

    def replay(fn, before):
        calls = [args(item, before) for item in kept]
        t0 = time.thread_time()
        for c in calls:
            fn(*c)
        return time.thread_time() - t0, [(c[0], c[1], c[-4]) for c in calls]

    replay(site_links_serial, False)  # compile
    replay(site_links_before, True)
    now, before = [], []
    for _ in range(a.repeats):
        t, out_now = replay(site_links_serial, False)
        now.append(t)
        t, out_before = replay(site_links_before, True)
        before.append(t)
    same = all(np.array_equal(x, y) for o, p in zip(out_now, out_before, strict=True)
               for x, y in zip(o, p, strict=True))
    links = int(sum(int(o[2].sum()) for o in out_now))

    def mmm(xs, scale=1.0):
        return [round(min(xs) * scale, 3), round(statistics.median(xs) * scale, 3),
                round(max(xs) * scale, 3)]
    ratio = [b / n for b, n in zip(before, now, strict=True)]
    print(json.dumps({
        "bench": "raster_links", "resolution_m": a.resolution_m, "calls_kept": len(kept),
        "calls": seen[0], "links": links, "repeats": a.repeats,
        "now_cpu_s_min_med_max": mmm(now), "before_cpu_s_min_med_max": mmm(before),
        "now_ns_per_link": mmm(now, 1e9 / links), "before_ns_per_link": mmm(before, 1e9 / links),
        "speedup_min_med_max": mmm(ratio), "identical": bool(same)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
