"""Benchmark: cost of one ITM ray point (terrain analysis + per band), one thread.

Times :func:`phusong.coverage._itm_rays.itm_ray_losses` on 360 radial rays of SRTM3 terrain
(``../shared/data/hoabinh/dem/srtm3_N21E105.tif``, nearest sample every 90 m out to 50 km
around 105.5 E 21.3 N) for 1, 2 and 4 bands, and splits the cost per point into the
frequency-free terrain part and the per-band part (slope over the number of bands), for the
lockstep kernel and (``scalar_`` keys) its one-sample-at-a-time reference
``itm_ray_losses_scalar``. Prints one JSON line.

Usage: .venv/bin/python benchmarks/bench_coverage_raypoint.py [--radius-km R] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's phusong, not an editable install elsewhere
TILE = ROOT.parent / "shared" / "data" / "hoabinh" / "dem" / "srtm3_N21E105.tif"
LON, LAT, STEP_M = 105.5, 21.3, 90.0


def srtm_rays(radius_km: float, n_rays: int = 360) -> np.ndarray:
    """Nearest-sample terrain heights (m) along ``n_rays`` rays from the site."""
    import rasterio

    with rasterio.open(TILE) as src:
        z = src.read(1).astype(float)
        row0, col0 = src.index(LON, LAT)
        dy_m = abs(src.transform.e) * 111_320.0
        dx_m = src.transform.a * 111_320.0 * np.cos(np.radians(LAT))
    n_s = int(radius_km * 1000.0 / STEP_M) + 1
    d = np.arange(n_s) * STEP_M
    az = np.radians(np.arange(n_rays) * 360.0 / n_rays)
    rows = np.clip(np.rint(row0 - np.outer(np.cos(az), d) / dy_m), 0, z.shape[0] - 1)
    cols = np.clip(np.rint(col0 + np.outer(np.sin(az), d) / dx_m), 0, z.shape[1] - 1)
    out = z[rows.astype(int), cols.astype(int)]
    return np.where(np.isfinite(out) & (out > -1000), out, 0.0)


def time_rays(rays: np.ndarray, freqs: list[float], repeats: int, cap: int,
              kernel: str = "itm_ray_losses") -> list[float]:
    """CPU seconds of each of ``repeats`` runs over every ray sample and band, with the
    kernel ``kernel`` of :mod:`phusong.coverage._itm_rays`."""
    from phusong.coverage import _itm_rays
    from phusong.coverage._link import ITM_DEFAULTS as d

    itm_ray_losses = getattr(_itm_rays, kernel)
    n_rays, n_s = rays.shape
    slot = np.arange(n_rays * n_s, dtype=np.int64)
    need = np.ones((len(freqs), n_rays * n_s), bool)
    times = []
    for _ in range(repeats):
        out = np.full((len(freqs), n_rays * n_s), np.inf)
        t = time.process_time()
        itm_ray_losses(rays, np.full(n_rays, n_s - 1, np.int64), STEP_M, slot, need,
                       np.asarray(freqs, float), 30.0, 1.5, cap,
                       d["polarization"], d["epsilon"], d["sigma"], d["n0"], d["climate"],
                       d["time_pct"], d["location_pct"], d["situation_pct"], d["mdvar"], out)
        times.append(time.process_time() - t)
    return times


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--radius-km", type=float, default=50.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cap", type=int, default=32)
    a = ap.parse_args()
    numba.set_num_threads(1)
    rays = srtm_rays(a.radius_km)
    res = {"bench": "itm_ray_point", "radius_km": a.radius_km, "rays": rays.shape[0],
           "points": int(rays.size), "cap": a.cap, "threads": 1}
    # the lockstep kernel and the scalar reference, alternating band sets in one process;
    # per repeat i: 1-band run i against 4-band run i (min / median / max over repeats)
    for name, kernel in (("", "itm_ray_losses"), ("scalar_", "itm_ray_losses_scalar")):
        time_rays(rays[:2], [947.5], 1, a.cap, kernel)  # compile / load the cache
        us = {}
        for freqs in ([1842.5], [947.5, 1842.5], [700.0, 947.5, 1842.5, 2600.0]):
            us[len(freqs)] = np.array(time_rays(rays, freqs, a.repeats, a.cap, kernel)
                                      ) / rays.size * 1e6
        per_band = (us[4] - us[1]) / 3.0
        terrain = us[1] - per_band

        def mmm(v):
            return [round(float(x), 3) for x in (v.min(), np.median(v), v.max())]

        res.update({
            f"{name}us_per_point_1_band": round(float(us[1].min()), 3),
            f"{name}us_per_point_2_bands": round(float(us[2].min()), 3),
            f"{name}us_per_point_4_bands": round(float(us[4].min()), 3),
            f"{name}us_per_band": round(float((us[4].min() - us[1].min()) / 3.0), 3),
            f"{name}us_terrain": round(float(us[1].min() - (us[4].min() - us[1].min()) / 3.0),
                                       3),
            f"{name}us_per_band_min_med_max": mmm(per_band),
            f"{name}us_terrain_min_med_max": mmm(terrain),
        })
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
