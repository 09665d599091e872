"""Benchmark: the whole province raster per propagation model, against the terrain-sweep floor.

Builds the twin (seed 0: 1,350 sites, 2,650 BTS, 151 communes, ≈ 4,600 km²), then runs the
best-server raster over the province at ``--resolution-m`` (100 m: ≈ 457 k cells) with the
engine's defaults (screened) for **ITM, Hata + Bullington and 38.901 + Bullington in one
run**, on the same twin and grid. Each run reports wall and CPU seconds and the **terrain
floor** of that same run: the thread CPU seconds spent inside the ray-sampling kernel (bilinear
DEM samples along exactly the rays the model walks), so ``cpu_over_floor`` is the model's cost
in units of sampling its own terrain (the system's part of the CPU time, page faults mostly,
is reported apart), and ``cpu_over_itm`` its CPU time against the ITM run of
this process (issue 14's goals: Hata + Bullington ≤ 0.25× ITM and ≤ 10× the floor; ITM ≤ 45 s
wall). The sampling kernels are wrapped by a Python timer once per site (≈ 1,350 calls;
checked: a run with and without the wrapper is reported for ITM).

Unless ``--skip-direct``, Hata + Bullington runs once more with the direct O(n²) ray geometry
(the kernel before 2026-12-07) as the baseline of the hull kernel. With ``--screening``, ITM
also runs with every (site, cell) pair (``screen_margin_db=0``, the exact baseline) and once
per screening margin × window, reporting their agreement with the exact run (cells whose best
value per operator × technology or per technology differs, the |Δ| there, coverage per
technology and operator-count flips) and peak resident memory (sampled, not traced).

Repeats (``--repeats``) give min/median/max. JSON lines on stdout. ``bench_coverage_models.py``
is an alias of this script.

Usage: .venv/bin/python benchmarks/bench_coverage_province.py [--resolution-m 100]
       [--repeats 1] [--threads 2] [--skip-direct] [--skip-timer-check]
       [--screening [--margins 15,10] [--factor 4] [--windows 5,3]]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The models of the one run: (model, diffraction).
MODELS = (("itm", "bullington"), ("hata", "bullington"), ("38901", "bullington"))


def _emit(**kw):
    print(json.dumps(kw), flush=True)


def _mmm(xs):
    return [round(min(xs), 2), round(statistics.median(xs), 2), round(max(xs), 2)]


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


def _direct_geometry(rays, step_m, ground_tx_m, tx_height_m, rx_height_m, *, method,
                     k_factor, min_freq_mhz=None, last=None, slot=None):
    """The O(n²) ray geometry (``_diffraction._geom_rays`` over whole rays), rows as
    :func:`phusong.coverage._diffraction.ray_geometry` returns them."""
    import numpy as np

    from phusong.coverage import _diffraction

    r = np.ascontiguousarray(rays, dtype=np.float64)
    out = np.empty(r.shape + (5,))
    inv2a = 1.0 / (2.0 * k_factor * _diffraction.EARTH_RADIUS_M)
    _diffraction._geom_rays(r, float(step_m), float(ground_tx_m + tx_height_m),
                            float(rx_height_m), inv2a, _diffraction.METHODS[method], out)
    return out if slot is None else _diffraction.used_rows(out, slot)


def model_runs(run, a) -> None:
    """The three models (and the direct-geometry baseline unless ``a.skip_direct``) on the
    province run ``run``, each after an untimed warm-up on a 2 km grid; one JSON line each."""
    from phusong.coverage import _raster
    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._raster import raster_links

    terrain, tx, grid, g, pairs = run.terrain, run.tx, run.grid, run.groups, run.pairs
    runs = [(m, d, False) for m, d in MODELS]
    if not a.skip_direct:
        runs.append(("hata", "bullington", True))
    small = run.grid_at(2000.0)
    itm_cpu = None
    for model, diff, direct in runs:
        opts = EngineOptions(model=model, diffraction=diff, threads=a.threads).check()
        txs = TxSet.from_frame(tx, terrain, opts)
        saved = _raster.ray_geometry
        if direct:
            _raster.ray_geometry = _direct_geometry
        try:
            raster_links(txs, g, len(pairs), terrain, small, opts)  # JIT warm-up, not timed
            walls, cpus, floors, syss = [], [], [], []
            for _ in range(a.repeats):
                with _FloorTimer(_raster) as ft:
                    r0 = resource.getrusage(resource.RUSAGE_SELF)
                    t0, c0 = time.perf_counter(), time.process_time()
                    _, _, st = raster_links(txs, g, len(pairs), terrain, grid, opts)
                    walls.append(time.perf_counter() - t0)
                    cpus.append(time.process_time() - c0)
                    syss.append(resource.getrusage(resource.RUSAGE_SELF).ru_stime - r0.ru_stime)
                floors.append(ft.total)
            if model == "itm" and not a.skip_timer_check:  # the timer's cost: a run without it
                t0 = time.perf_counter()
                raster_links(txs, g, len(pairs), terrain, grid, opts)
                untimed = round(time.perf_counter() - t0, 2)
            else:
                untimed = None
        finally:
            _raster.ray_geometry = saved
        cpu = statistics.median(cpus)
        if model == "itm":
            itm_cpu = cpu
        _emit(bench="province_model", model=model, diffraction=diff,
              geometry="direct O(n^2)" if direct else ("hull O(n log n)" if model != "itm"
                                                      else "itm"),
              resolution_m=a.resolution_m, threads=a.threads, repeats=a.repeats,
              wall_s_min_med_max=_mmm(walls), cpu_s_min_med_max=_mmm(cpus),
              floor_cpu_s_min_med_max=_mmm(floors), sys_cpu_s_min_med_max=_mmm(syss),
              cpu_over_floor=round(cpu / statistics.median(floors), 1),
              cpu_over_itm=None if itm_cpu is None else round(cpu / itm_cpu, 3),
              ray_points=st["ray_points"], points_evaluated=st["points_evaluated"],
              wall_s_without_floor_timer=untimed)


def screening_runs(run, a) -> None:
    """ITM exact (every pair) and screened per margin × window, with their agreement."""
    import numpy as np
    from _peak_rss import PeakRSS

    from phusong import settings
    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._raster import raster_links

    terrain, tx, grid, g, pairs = run.terrain, run.tx, run.grid, run.groups, run.pairs
    warm = EngineOptions(model="itm", threads=a.threads)
    raster_links(TxSet.from_frame(tx.head(40), terrain, warm), g[:40], len(pairs), terrain,
                 run.grid_at(2000.0), warm)  # JIT warm-up (not part of any run below)
    exact = None
    m = grid.mask
    runs = [(0.0, 5)] + [(float(x), int(w)) for x in a.margins.split(",") if x
                         for w in a.windows.split(",") if w]
    for margin, window in runs:
        opts = EngineOptions(model="itm", threads=a.threads, screen_margin_db=margin,
                             screen_factor=a.factor, screen_window=window).check()
        txs = TxSet.from_frame(tx, terrain, opts)
        with PeakRSS() as mem:
            t0, c0 = time.perf_counter(), time.process_time()
            best, arg, st = raster_links(txs, g, len(pairs), terrain, grid, opts)
            secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        row = {"bench": "province_raster", "screen_margin_db": margin,
               "screen_factor": a.factor if margin else None,
               "screen_window": window if margin else None, "threads": a.threads,
               "resolution_m": a.resolution_m, "seconds": round(secs, 1),
               "cpu_seconds": round(cpu, 1), "points_evaluated": st["points_evaluated"],
               "screen_points_evaluated": st.get("screen_points_evaluated", 0),
               "ray_points": st["ray_points"], "peak_rss_mb": round(mem.peak_mb, 1),
               "rss_growth_mb": None if mem.growth_mb is None else round(mem.growth_mb, 1)}
        if exact is None:
            exact = (best, arg, secs, cpu)
        else:
            b0 = exact[0]
            both = np.isfinite(b0) & m[None]
            diff = (best != b0) & m[None]
            gap = np.abs(b0 - np.where(np.isfinite(best), best, -300.0))[diff & both]
            row |= {"speedup_wall": round(exact[2] / secs, 2),
                    "speedup_cpu": round(exact[3] / cpu, 2),
                    "group_cells_differing_pct": round(100 * diff.sum() / both.sum(), 4),
                    "group_abs_db_where_differing_p50": round(float(np.median(gap)), 1)
                    if gap.size else 0.0}
            for tech in settings.TECHS:
                gi = [i for i, (t, _) in enumerate(pairs) if t == tech]
                if not np.isfinite(b0[gi]).any():
                    continue
                th = settings.THRESHOLDS_DBM[tech]
                top0, top1 = b0[gi].max(axis=0)[m], best[gi].max(axis=0)[m]
                ops0, ops1 = (b0[gi] >= th).sum(axis=0)[m], (best[gi] >= th).sum(axis=0)[m]
                row[f"{tech}_best_differing_cells"] = int((top0 != top1).sum())
                row[f"{tech}_covered_pct"] = [round(100 * float((top0 >= th).mean()), 3),
                                              round(100 * float((top1 >= th).mean()), 3)]
                row[f"{tech}_operator_count_differing_cells"] = int((ops0 != ops1).sum())
        _emit(**row)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolution-m", type=float, default=100.0)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--bundle", help="a saved bundle (default: build the twin, seed 0)")
    ap.add_argument("--skip-timer-check", action="store_true",
                    help="skip ITM's extra run without the floor timer (its cost is ≈ 0)")
    ap.add_argument("--skip-direct", action="store_true",
                    help="skip the O(n²) geometry baseline (slow: minutes at 100 m)")
    ap.add_argument("--screening", action="store_true",
                    help="also ITM exact against screened (margins × windows), with agreement")
    ap.add_argument("--margins", default="15,10", help="screening margins, dB (comma list)")
    ap.add_argument("--factor", type=int, default=4, help="coarse grid factor")
    ap.add_argument("--windows", default="5",
                    help="screening blocks, coarse cells per side (comma list; each margin "
                         "runs with each window)")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _province_twin import province_run

    t0 = time.perf_counter()
    run = province_run(a.resolution_m, a.bundle)
    _emit(bench="province_setup", seconds=round(time.perf_counter() - t0, 1),
          sites=int(run.tx["site_id"].nunique()), cells=len(run.tx),
          grid_cells=int(run.grid.mask.sum()), resolution_m=a.resolution_m, threads=a.threads)
    model_runs(run, a)
    if a.screening:
        screening_runs(run, a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
