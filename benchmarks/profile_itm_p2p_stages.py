"""Where ITM point-to-point spends its time per path: cumulative stage kernels, one thread.

Runs on ``bench_itm.py``'s 5,000 SRTM3 paths (same seed). Each stage kernel repeats the work of
the previous one and adds one step of ``p2p_batch``'s profile analysis, so the difference of
their medians is that step's CPU per path:

* ``checks``: input validation and the profile checks;
* ``system_height``: ITM's system height and the effective earth;
* ``horizons``: both terminals' horizons (``find_horizons_fast``);
* ``delta_h``: Δh (resampling, terrain line, residuals, order statistics);
* ``profile_rest``: effective heights;
* ``lockstep_and_driver``: ``p2p_batch`` (the whole kernel, frequency part in lockstep) minus
  the above;
* ``horizons_reference``: the ``horizons`` step with the reference's loop (``find_horizons``,
  two scalar divisions per sample) instead, timed in the same interleaved repeats.

Inside Δh: ``resample`` (over the horizons stage), ``fit``, ``residuals`` and
``order_statistics``. Prints one JSON line: min/median/max µs per path of every kernel and the
differences of the medians. The stage kernels are the benchmark's own loops over the library's
functions; the whole kernel's figure matches ``bench_itm.py``'s (checked: 2.59 against
2.63 µs per path on 2026-12-07).

Usage: ``.venv/bin/python benchmarks/profile_itm_p2p_stages.py [--repeats 7]``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_itm import DEM, FREQS_MHZ, H_RX_M, H_TX_M, real_profiles  # noqa: E402

from phusong.coverage import _itm_kernel as K  # noqa: E402
from phusong.coverage import _itm_terrain as T  # noqa: E402
from phusong.coverage import _itm_terrain_fast as TF  # noqa: E402
from phusong.coverage.itm import itm_p2p_batch  # noqa: E402

STAGES = ("checks", "system_height", "horizons", "delta_h", "profile_rest")
DH_PARTS = ("resample", "fit", "residuals", "order_statistics")


@njit
def _stage(level, elev, start, count, step, h_tx, h_rx, n0, out, ref_horizons=False):
    """Stages ``0 … level`` of the profile analysis on every path; a sum of their results in
    ``out`` (so no stage is optimised away). ``ref_horizons``: the reference's horizon loop
    (``find_horizons``) in place of the two-lane one, for the side-by-side figure."""
    buf = np.empty(T.DELTA_H_BUFFER)
    for i in range(start.shape[0]):
        z = elev[start[i]:start[i] + count[i]]
        xi = step[i]
        cd, _w = K.validate_inputs(h_tx, h_rx, 5, 50.0, 50.0, 50.0, n0, 900.0, 1, 15.0, 0.005,
                                   12)
        acc = float(cd + TF.profile_checks_fast(z, xi))
        if level >= 1:
            n_int = z.shape[0] - 1
            h_sys = TF.system_height_fast(z, n_int)
            n_s = n0 if h_sys == 0.0 else n0 * math.exp(-h_sys / 9460.0)
            gamma_e = 157e-9 * (1.0 - 0.04665 * math.exp(n_s / 179.3))
            acc += gamma_e
            if level >= 2:
                d = n_int * xi
                a_e = 1.0 / gamma_e
                if ref_horizons:
                    th0, th1, dl0, dl1 = T.find_horizons(z, n_int, xi, a_e, h_tx, h_rx)
                else:
                    th0, th1, dl0, dl1 = TF.find_horizons_fast(z, n_int, xi, a_e, h_tx, h_rx)
                acc += th0 + th1 + dl0 + dl1
                d_start, d_end = T.fit_range(d, h_tx, h_rx, dl0, dl1)
                if level >= 3:
                    dh = TF.delta_h_fast(z, n_int, xi, d_start, d_end, buf)
                    acc += dh
                    if level >= 4:
                        r = T.profile_rest(z, n_int, xi, a_e, h_tx, h_rx, th0, th1, dl0, dl1,
                                           d, dh, T._NO_SUMS, T._NO_SUMS, True)
                        acc += r[4] + r[5]
        out[i] = acc


@njit
def _dh_part(level, elev, start, count, step, h_tx, h_rx, n0, out):
    """Up to the horizons, then Δh's parts ``0 … level`` (resample, fit, residuals, order
    statistics) as ``delta_h_fast`` runs them."""
    buf = np.empty(T.DELTA_H_BUFFER)
    for i in range(start.shape[0]):
        z = elev[start[i]:start[i] + count[i]]
        xi = step[i]
        n_int = z.shape[0] - 1
        h_sys = TF.system_height_fast(z, n_int)
        n_s = n0 if h_sys == 0.0 else n0 * math.exp(-h_sys / 9460.0)
        gamma_e = 157e-9 * (1.0 - 0.04665 * math.exp(n_s / 179.3))
        d = n_int * xi
        _t0, _t1, dl0, dl1 = TF.find_horizons_fast(z, n_int, xi, 1.0 / gamma_e, h_tx, h_rx)
        d_start, d_end = T.fit_range(d, h_tx, h_rx, dl0, dl1)
        xs = d_start / xi
        xe = d_end / xi
        acc = dl0
        if xe - xs >= 2.0:
            p10, n = T.resample_size(xe - xs)
            stp = (xe - xs) / (n - 1)
            lo = int(xs) + 1
            idx = buf[T._LO:T._LO + n]
            frac = buf[T._HI:T._HI + n]
            for t in range(n):
                pos = xs + t * stp
                i1 = min(max(math.ceil(pos), lo), n_int)
                idx[t] = i1
                frac[t] = pos - i1
            for t in range(n):
                i1 = int(idx[t])
                buf[t] = z[i1] + (z[i1] - z[i1 - 1]) * frac[t]
            acc += buf[n // 2]
            if level >= 1:
                last = n - 1
                y0, _y1 = T.linear_fit_lanes(buf, last, 1.0, 0.0, float(last))
                slope = (_y1 - y0) / last
                acc += y0
                if level >= 2 and p10 != 4:
                    r1, r2 = TF._residuals(buf, n, y0, slope)
                    acc += r1 + r2
                    if level >= 3:
                        acc += TF.bucket_deciles(buf, n, p10, r1, r2, d_end - d_start)
                elif level >= 3:
                    acc += T._interdecile_4(buf, n, y0, slope, d_end - d_start)
        out[i] = acc


def _spread(v) -> list[float]:
    v = np.asarray(v)
    return [round(float(x), 3) for x in (v.min(), np.median(v), v.max())]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args(argv)
    if not DEM.is_file():
        print(json.dumps({"error": f"DEM not found at {DEM}"}))
        return 2
    numba.set_num_threads(1)
    elev, count, step = real_profiles(args.paths, args.seed)
    freq = np.random.default_rng(args.seed + 1).choice(FREQS_MHZ, args.paths)
    n, width = elev.shape
    flat = elev.reshape(-1).copy()
    start = np.arange(n, dtype=np.int64) * width
    out = np.empty(n)
    runs = {}
    for lv, name in enumerate(STAGES):
        runs[name] = (lambda lv=lv: _stage(lv, flat, start, count, step, H_TX_M, H_RX_M, 301.0,
                                           out))
    runs["horizons_reference"] = lambda: _stage(2, flat, start, count, step, H_TX_M, H_RX_M,
                                                 301.0, out, True)
    for lv, name in enumerate(DH_PARTS):
        runs["dh_" + name] = (lambda lv=lv: _dh_part(lv, flat, start, count, step, H_TX_M,
                                                     H_RX_M, 301.0, out))
    runs["p2p_batch"] = lambda: itm_p2p_batch(elev, count, step, H_TX_M, H_RX_M, freq,
                                              on_error="flag")
    for run in runs.values():
        run()  # compile
    us = {k: [] for k in runs}
    for _ in range(args.repeats):  # interleaved, so drifts of the machine hit every kernel
        for k, run in runs.items():
            c0 = time.process_time()
            run()
            us[k].append((time.process_time() - c0) / n * 1e6)
    med = {k: float(np.median(v)) for k, v in us.items()}
    steps = {"checks": med["checks"]}
    for prev, name in zip(STAGES, STAGES[1:], strict=False):
        steps[name] = med[name] - med[prev]
    steps["lockstep_and_driver"] = med["p2p_batch"] - med[STAGES[-1]]
    steps["horizons_reference"] = med["horizons_reference"] - med["system_height"]
    dh = {"resample": med["dh_resample"] - med["horizons"]}
    for prev, name in zip(DH_PARTS, DH_PARTS[1:], strict=False):
        dh[name] = med["dh_" + name] - med["dh_" + prev]
    print(json.dumps({
        "bench": "itm_p2p_stages", "n_paths": n, "samples_median": int(np.median(count)),
        "us_per_path_cpu_min_med_max": {k: _spread(v) for k, v in us.items()},
        "step_us_per_path_from_medians": {k: round(v, 3) for k, v in steps.items()},
        "delta_h_parts_us_per_path_from_medians": {k: round(v, 3) for k, v in dh.items()},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
