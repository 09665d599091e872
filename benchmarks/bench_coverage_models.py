"""Benchmark: the province raster per propagation model, against the terrain-sweep floor.

Builds the twin (seed 0), then runs the best-server raster over the province at
``--resolution-m`` with the engine's defaults (screened) for ITM, Hata + Bullington and
38.901 + Bullington, and once more for Hata + Bullington with the direct O(n²) ray geometry
(the kernel before 2026-12-07) as the baseline of the hull kernel. Each run reports wall and
CPU seconds and the **terrain floor** of that same run: the thread CPU seconds spent inside
the ray-sampling kernel (bilinear DEM samples along exactly the rays the model walks), so
``cpu_over_floor`` is the model's cost in units of sampling its own terrain. The sampling
kernels are wrapped by a Python timer once per site (≈ 1,350 calls; checked below: a run with
and without the wrapper is reported for ITM).

Repeats (``--repeats``) give min/median/max. JSON lines on stdout.

Usage: .venv/bin/python benchmarks/bench_coverage_models.py [--resolution-m 100] [--repeats 1]
       [--threads 2] [--skip-direct]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _emit(**kw):
    print(json.dumps(kw), flush=True)


class _FloorTimer:
    """Wraps the raster's sampling kernels and sums the thread CPU time spent in them."""

    def __init__(self, raster_mod):
        self.mod, self.total, self.lock = raster_mod, 0.0, threading.Lock()

    def _wrap(self, fn):
        def timed(*args):
            t0 = time.thread_time()
            out = fn(*args)
            with self.lock:
                self.total += time.thread_time() - t0
            return out
        return timed

    def __enter__(self):
        m = self.mod
        self.saved = (m._PARALLEL, m._SERIAL)
        m._PARALLEL = dataclasses.replace(m._PARALLEL, sample=self._wrap(m._PARALLEL.sample))
        m._SERIAL = dataclasses.replace(m._SERIAL, sample=self._wrap(m._SERIAL.sample))
        return self

    def __exit__(self, *exc):
        self.mod._PARALLEL, self.mod._SERIAL = self.saved


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolution-m", type=float, default=100.0)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--skip-timer-check", action="store_true",
                    help="skip ITM's extra run without the floor timer (its cost is ≈ 0)")
    ap.add_argument("--skip-direct", action="store_true",
                    help="skip the O(n²) geometry baseline (slow: minutes at 100 m)")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from _province_twin import province_run

    from phusong.coverage import _diffraction, _raster
    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._raster import raster_links

    run = province_run(a.resolution_m)
    terrain, tx, grid, g, pairs = run.terrain, run.tx, run.grid, run.groups, run.pairs
    _emit(bench="models_setup", sites=int(tx["site_id"].nunique()), cells=len(tx),
          grid_cells=int(grid.mask.sum()), resolution_m=a.resolution_m, threads=a.threads)

    def direct_geometry(rays, step_m, ground_tx_m, tx_height_m, rx_height_m, *, method,
                        k_factor, min_freq_mhz=None, last=None):
        import numpy as np
        r = np.ascontiguousarray(rays, dtype=np.float64)
        out = np.empty(r.shape + (5,))
        inv2a = 1.0 / (2.0 * k_factor * _diffraction.EARTH_RADIUS_M)
        _diffraction._geom_rays(r, float(step_m), float(ground_tx_m + tx_height_m),
                                float(rx_height_m), inv2a, _diffraction.METHODS[method], out)
        return out

    runs = [("itm", "bullington", False), ("hata", "bullington", False),
            ("38901", "bullington", False)]
    if not a.skip_direct:
        runs.append(("hata", "bullington", True))
    small = run.grid_at(2000.0)
    for model, diff, direct in runs:
        opts = EngineOptions(model=model, diffraction=diff, threads=a.threads).check()
        txs = TxSet.from_frame(tx, terrain, opts)
        saved = _raster.ray_geometry
        if direct:
            _raster.ray_geometry = direct_geometry
        try:
            raster_links(txs, g, len(pairs), terrain, small, opts)  # JIT warm-up, not timed
            walls, cpus, floors = [], [], []
            for _ in range(a.repeats):
                with _FloorTimer(_raster) as ft:
                    t0, c0 = time.perf_counter(), time.process_time()
                    _, _, st = raster_links(txs, g, len(pairs), terrain, grid, opts)
                    walls.append(time.perf_counter() - t0)
                    cpus.append(time.process_time() - c0)
                floors.append(ft.total)
            if model == "itm" and not a.skip_timer_check:  # the timer's cost: a run without it
                t0 = time.perf_counter()
                raster_links(txs, g, len(pairs), terrain, grid, opts)
                untimed = round(time.perf_counter() - t0, 2)
            else:
                untimed = None
        finally:
            _raster.ray_geometry = saved

        def mmm(xs):
            return [round(min(xs), 2), round(statistics.median(xs), 2), round(max(xs), 2)]
        _emit(bench="province_model", model=model, diffraction=diff,
              geometry="direct O(n^2)" if direct else ("hull O(n log n)" if model != "itm"
                                                      else "itm"),
              resolution_m=a.resolution_m, threads=a.threads, repeats=a.repeats,
              wall_s_min_med_max=mmm(walls), cpu_s_min_med_max=mmm(cpus),
              floor_cpu_s_min_med_max=mmm(floors),
              cpu_over_floor=round(statistics.median(cpus) / statistics.median(floors), 1),
              ray_points=st["ray_points"], points_evaluated=st["points_evaluated"],
              wall_s_without_floor_timer=untimed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
