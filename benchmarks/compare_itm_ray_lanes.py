"""Province raster at 100 m (the twin, ITM): the lockstep ray kernel against the scalar one.

Runs :func:`phusong.coverage._raster.raster_links` twice on the same inputs, once with
``itm_ray_losses`` (frequency part in lockstep, polynomial exp/log) and once with
``itm_ray_losses_scalar`` (the reference), and reports how many cells of the best-server
rasters differ, by how much, whether the serving cell changes, and whether any coverage
threshold (``settings.THRESHOLDS_DBM`` / ``GOOD_THRESHOLDS_DBM``) flips. CPU seconds of each
run too. One JSON line.

Usage: .venv/bin/python benchmarks/compare_itm_ray_lanes.py [--resolution-m 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _serial_scalar():
    """``itm_ray_losses_serial`` with the scalar frequency part (the raster runs sites in
    threads with the serial kernels)."""
    from numba import njit

    from phusong.coverage._itm_rays import _band_table, _one_ray_scalar

    @njit(nogil=True)
    def serial_scalar(rays, last, step, slot, need, freqs, h_tx, h_rx, cap, pol, eps, sigma,
                      n0, climate, tm, loc, sit, mdvar, out):
        band = _band_table(freqs, h_tx, h_rx, pol, eps, sigma, n0, climate, tm, loc, sit,
                           mdvar)
        for k in range(rays.shape[0]):
            if last[k] > 0:
                _one_ray_scalar(k, rays, last[k], step, slot, need, freqs, band, h_tx, h_rx,
                                cap, n0, climate, mdvar, out)

    return serial_scalar


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution-m", type=float, default=100.0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    from _province_twin import province_run

    from phusong import settings
    from phusong.coverage import _raster
    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._itm_rays import (
        itm_ray_losses,
        itm_ray_losses_scalar,
        itm_ray_losses_serial,
    )
    serial_scalar = _serial_scalar()

    run = province_run(a.resolution_m)
    opts = EngineOptions(model="itm", threads=a.threads).check()
    txs = TxSet.from_frame(run.tx, run.terrain, opts)
    small = run.grid_at(2000.0)
    out = {"bench": "itm_ray_lanes_vs_scalar", "resolution_m": a.resolution_m}
    res = {}
    # both kernel sets: parallel over rays (one site at a time) and serial (sites in threads)
    for name, kernel, serial in (("lockstep", itm_ray_losses, itm_ray_losses_serial),
                                 ("scalar", itm_ray_losses_scalar, serial_scalar)):
        object.__setattr__(_raster._PARALLEL, "itm", kernel)
        object.__setattr__(_raster._SERIAL, "itm", serial)
        _raster.raster_links(txs, run.groups, len(run.pairs), run.terrain, small, opts)  # JIT
        c0 = time.process_time()
        best, arg, _st = _raster.raster_links(txs, run.groups, len(run.pairs), run.terrain,
                                              run.grid, opts)
        out[f"{name}_cpu_s"] = round(time.process_time() - c0, 1)
        res[name] = (best, arg)
    object.__setattr__(_raster._PARALLEL, "itm", itm_ray_losses)
    object.__setattr__(_raster._SERIAL, "itm", itm_ray_losses_serial)
    (b1, a1), (b0, a0) = res["lockstep"], res["scalar"]
    fin = np.isfinite(b0)
    same_fin = np.array_equal(fin, np.isfinite(b1))
    d = np.abs(b1[fin].astype(float) - b0[fin].astype(float))
    out.update({
        "cells": int(b0.size), "finite_cells": int(fin.sum()), "finite_pattern_same": same_fin,
        "cells_changed": int((d > 0).sum()), "max_abs_diff_db": float(d.max()) if d.size else 0,
        "serving_cell_changed": int((a1 != a0).sum()),
    })
    flips = {}
    # group rows of the raster are the (technology, band) pairs; any threshold applies
    for label, table in (("threshold", settings.THRESHOLDS_DBM),
                         ("good", settings.GOOD_THRESHOLDS_DBM)):
        for tech, thr in table.items():
            flips[f"{label}_{tech}"] = int(((b1 >= thr) != (b0 >= thr)).sum())
    out["coverage_flips_per_threshold_all_groups"] = flips
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
