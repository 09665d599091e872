"""Benchmark: fallback pricing (line of sight of microwave hops) at province size.

A seeded synthetic DEM of 100 km × 80 km (about Hòa Bình's 4,600 km²) at 30 m pixels (SRTM
1″), a 150 m plain with 300 Gaussian hills of 100–900 m (σ 1.5–5 km), and villages and sites
placed uniformly (default 1,500 of each, 15 m masts, 30 m hub antennas). The first call is a
warm-up that compiles the numba kernels (they are cached on disk after the first process);
then ``--runs`` timed calls. Prints one JSON line per timed run: sizes, seconds, hops checked
(villages with a site within reach), villages with line of sight, peak RSS. Usage::

    .venv/bin/python benchmarks/bench_fallback.py [--villages 1500] [--sites 1500] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _peak_rss import PeakRSS
from affine import Affine

ROOT = Path(__file__).resolve().parents[1]
WIDTH_M, HEIGHT_M, PX_M = 100_000.0, 80_000.0, 30.0
X0, Y1 = 560_000.0, 2_340_000.0


def synthetic_dem(seed: int = 7):
    """Hilly seeded DEM in WORK_CRS, m (a :class:`phusong.bundle.Raster`)."""
    from phusong import settings
    from phusong.bundle import Raster

    rng = np.random.default_rng(seed)
    cols, rows = int(WIDTH_M / PX_M), int(HEIGHT_M / PX_M)
    gx = (np.arange(cols) + 0.5) * PX_M
    gy = (np.arange(rows) + 0.5) * PX_M
    z = np.full((rows, cols), 150.0, dtype=np.float32)
    for _ in range(300):
        cx, cy = rng.uniform(0, WIDTH_M), rng.uniform(0, HEIGHT_M)
        s = rng.uniform(1_500, 5_000)
        # separable Gaussian, evaluated on the window within 4 σ only
        c0, c1 = max(0, int((cx - 4 * s) / PX_M)), min(cols, int((cx + 4 * s) / PX_M) + 1)
        r0, r1 = max(0, int((cy - 4 * s) / PX_M)), min(rows, int((cy + 4 * s) / PX_M) + 1)
        ex = np.exp(-((gx[c0:c1] - cx) ** 2) / (2 * s * s))
        ey = np.exp(-((gy[r0:r1] - cy) ** 2) / (2 * s * s))
        z[r0:r1, c0:c1] += (rng.uniform(100, 900) * ey[:, None] * ex[None, :]).astype(np.float32)
    return Raster(z, Affine(PX_M, 0, X0, 0, -PX_M, Y1), settings.WORK_CRS, "m")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--villages", type=int, default=1_500)
    ap.add_argument("--sites", type=int, default=1_500)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # this checkout's phusong, not an installed one
    from phusong.planning.fallback import fallback_options

    dem = synthetic_dem()
    rng = np.random.default_rng(11)
    vx, vy = X0 + rng.uniform(0, WIDTH_M, a.villages), Y1 - rng.uniform(0, HEIGHT_M, a.villages)
    sx, sy = X0 + rng.uniform(0, WIDTH_M, a.sites), Y1 - rng.uniform(0, HEIGHT_M, a.sites)
    hh = np.round(rng.lognormal(4.0, 0.8, a.villages))
    args = (vx, vy, hh, sx, sy, np.full(a.sites, 30.0), [f"S{i}" for i in range(a.sites)], dem)
    fallback_options(*args)  # warm-up: numba compilation or cache load
    for run in range(a.runs):
        with PeakRSS() as mem:
            t = time.perf_counter()
            out = fallback_options(*args)
            seconds = time.perf_counter() - t
        print(json.dumps({
            "bench": "fallback", "run": run, "villages": a.villages, "sites": a.sites,
            "dem_cells": int(dem.array.size), "dem_px_m": PX_M, "seconds": round(seconds, 3),
            "with_site_in_reach": int((~out["reason"].str.startswith("no site")).sum()),
            "los": int(out["los"].sum()), "small_cell": int((out["fallback"] != "satellite").sum()),
            "peak_rss_mb": round(mem.peak_mb, 1),
            "growth_mb": None if mem.growth_mb is None else round(mem.growth_mb, 1)}))


if __name__ == "__main__":
    main()
