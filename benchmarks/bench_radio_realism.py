"""Benchmark: the province coverage run with the radio-realism features on vs off (issue 17).

Builds the twin (seed 0) in memory, then runs :func:`phusong.coverage.run_bundle` (villages,
communes and every raster, ITM, screened as by default) in three configurations, interleaved
``--repeats`` times so that machine load hits all alike:

- ``off``: the run as before issue 17 (no land cover, 50 %, no SINR rasters);
- ``on``: the same omni network with P.2108 clutter from a land cover, ``--reliability-pct``
  90, SINR and margin rasters (villages always get indoor/SINR columns);
- ``on_sectors``: as ``on`` with every cell split into 3 sectors (azimuth 0/120/240°,
  ``3gpp-65`` antenna, 2° mechanical and 4° electrical downtilt), i.e. 3× the cells.

The land cover is made here for timing only (the twin does not generate one yet): tree cover
where the DEM slope exceeds 15°, built-up within 300 m of a village, cropland elsewhere.

Prints one JSON line per run (wall seconds, peak RSS) and a summary line with min/median/max
per configuration and the ratios of medians against ``off``.

Usage: .venv/bin/python benchmarks/bench_radio_realism.py [--resolution-m 250] [--repeats 3]
       [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _peak_rss import PeakRSS

ROOT = Path(__file__).resolve().parents[1]


def _emit(**kw):
    print(json.dumps(kw), flush=True)


def _landcover(bundle):
    """Synthetic WorldCover raster on the twin's DEM grid (see module notes)."""
    from scipy import ndimage

    from phusong import settings
    from phusong.bundle import Raster
    from phusong.coverage._terrain import prepare_terrain
    from phusong.crs import transform_points

    t = prepare_terrain(bundle.dem)
    gy, gx = np.gradient(np.nan_to_num(t.z.astype(float)), t.py_m, t.px_m)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    lc = np.where(slope > 15.0, 10.0, 40.0)
    v = bundle.villages
    x, y = transform_points(v.geometry.x, v.geometry.y, v.crs.to_string(), settings.WORK_CRS)
    cols = ((np.asarray(x) - t.x0_m) / t.px_m).astype(int)
    rows = ((t.y0_m - np.asarray(y)) / t.py_m).astype(int)
    ok = (rows >= 0) & (rows < lc.shape[0]) & (cols >= 0) & (cols < lc.shape[1])
    seed = np.zeros(lc.shape, bool)
    seed[rows[ok], cols[ok]] = True
    near = ndimage.binary_dilation(seed, iterations=max(1, int(300.0 / t.px_m)))
    lc[near] = 50.0
    from affine import Affine

    return Raster(lc.astype(np.float32), Affine(t.px_m, 0, t.x0_m, 0, -t.py_m, t.y0_m),
                  settings.WORK_CRS, "class")


def _sectors(cells):
    import pandas as pd

    parts = []
    for k, az in enumerate((0.0, 120.0, 240.0)):
        c = cells.copy()
        c["cell_id"] = c["cell_id"].astype(str) + f"-s{k}"
        c["azimuth_deg"] = az
        c["tilt_deg"] = 2.0
        c["etilt_deg"] = 4.0
        c["antenna"] = "3gpp-65"
        parts.append(c)
    return pd.concat(parts, ignore_index=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolution-m", type=float, default=250.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from phusong.bundle import Bundle
    from phusong.coverage import run_bundle
    from phusong.twin import build_twin

    t0 = time.perf_counter()
    base = build_twin(seed=a.seed)
    lc = _landcover(base)
    with_lc = Bundle(base.name, dict(base.layers), dict(base.rasters) | {"landcover": lc},
                     dict(base.provenance), base.boundaries, dict(base.meta))
    sect = Bundle(base.name, dict(base.layers) | {"cells": _sectors(base.cells)},
                  dict(with_lc.rasters), dict(base.provenance), base.boundaries,
                  dict(base.meta))
    classes, counts = np.unique(lc.array, return_counts=True)
    _emit(bench="realism_setup", seconds=round(time.perf_counter() - t0, 1),
          cells=len(base.cells), sector_cells=len(sect.cells),
          landcover_share={str(int(c)): round(float(n / counts.sum()), 3)
                           for c, n in zip(classes, counts, strict=True)},
          resolution_m=a.resolution_m, threads=a.threads)
    configs = {
        "off": (base, dict(clutter=False, reliability_pct=50.0, sinr=False)),
        "on": (with_lc, dict(clutter=True, reliability_pct=90.0, sinr=True)),
        "on_sectors": (sect, dict(clutter=True, reliability_pct=90.0, sinr=True)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        # JIT warm-up (compilation is not part of any run below)
        run_bundle(sect, Path(tmp) / "warm", resolution_m=4000.0, threads=a.threads,
                   clutter=True, reliability_pct=90.0, sinr=True)
        secs: dict[str, list[float]] = {k: [] for k in configs}
        for rep in range(a.repeats):
            for name, (bundle, kw) in configs.items():
                out = Path(tmp) / f"{name}{rep}"
                with PeakRSS() as mem:
                    t1 = time.perf_counter()
                    r = run_bundle(bundle, out, resolution_m=a.resolution_m,
                                   threads=a.threads, **kw)
                    s = time.perf_counter() - t1
                secs[name].append(s)
                _emit(bench="realism_run", config=name, repeat=rep, seconds=round(s, 1),
                      villages_covered_any=r["villages_covered_any"],
                      raster_covered_pct=r.get("raster_covered_pct"),
                      peak_rss_mb=round(mem.peak_mb, 1))
    med = {k: statistics.median(v) for k, v in secs.items()}
    _emit(bench="realism_summary", resolution_m=a.resolution_m, threads=a.threads,
          seconds={k: {"min": round(min(v), 1), "median": round(med[k], 1),
                       "max": round(max(v), 1)} for k, v in secs.items()},
          ratio_vs_off={k: round(med[k] / med["off"], 2) for k in secs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
