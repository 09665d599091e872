"""ITM along radial rays: every ray sample is a receiver, with work per sample bounded.

The path to sample ``j`` of a ray is the ray prefix ``z[0..j]``. A plain ITM call per sample
costs O(j) (O(L²) per ray). Here, walking each ray outwards:

* the system height (mean of the middle 80 % of the path, which sets N_s and the effective
  earth radius) comes from running prefix sums: O(1), exact;
* the transmitter horizon is the maximum over earlier samples ``i`` of
  ``(z_i − z_tx)/d_i − d_i/(2 a_e)``, where ``a_e`` changes (slightly) with ``j``: it is read
  from the upper convex hull of the points ``(d_i, (z_i − z_tx)/d_i)``, kept incrementally
  (Andrew's monotone chain) and searched in O(log j): exact;
* the receiver horizon is scanned backwards from the receiver and stops as soon as no earlier
  sample can beat it (bound from the running prefix maximum of the terrain), skipping blocks
  of 8 samples whose maximum cannot beat it: exact, and short where the receiver's own
  horizon is steep (valleys);
* the effective heights come from least-squares terrain lines computed in O(1) from running
  prefix sums of ``z`` and ``k z``: exact;
* the terrain irregularity Δh (interdecile range of the detrended path, which ITM takes on
  ``10 p − 5`` resampled points with ``p`` growing with the number of samples) is taken with
  the resampling density of ``cap`` samples when the path has more (``cap = 0``: all samples).
  This is the only approximation; its error on SRTM3 terrain is measured in
  ``benchmarks/bench_coverage_splat.py``.

The frequency part (with the band's constants computed once per site) then runs once per band,
on batches of ``WIDTH`` samples of the ray in lockstep (:mod:`phusong.coverage._itm_lanes`,
vectorised; :func:`itm_ray_losses_scalar` is the one-sample-at-a-time reference,
:func:`phusong.coverage._itm_kernel.p2p_from_band`). Rays run in parallel (``prange``),
each writing only its own samples' losses, so results do not depend on the number of threads;
:func:`itm_ray_losses_serial` runs them on the calling thread, for callers that run several
sites at once.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from phusong.coverage._hull import hull_push, hull_support
from phusong.coverage._itm_kernel import (
    AUX_COLUMNS,
    BAND_COLUMNS,
    band_constants,
    p2p_from_band,
    p2p_path_terms,
    validate_inputs,
)
from phusong.coverage._itm_lanes import (
    FALLBACK,
    LOSS,
    ROWS,
    WIDTH,
    fill_band,
    lanes_frequency,
    set_geometry,
)
from phusong.coverage._itm_pairs import slope_pair
from phusong.coverage._itm_terrain import (
    DELTA_H_BUFFER,
    delta_h,
    fit_range,
    interdecile,
    profile_rest,
)

__all__ = ["delta_h_capped", "itm_ray_losses", "itm_ray_losses_scalar", "itm_ray_losses_serial",
           "ray_point_geometry"]

_JIT = {"cache": True, "nogil": True}
BLOCK_LOG = 3  # receiver-horizon scan skips blocks of 2**BLOCK_LOG samples by their maximum
_BLOCK_MASK = (1 << BLOCK_LOG) - 1
RAY_CHUNK = 16  # rays per parallel task of itm_ray_losses (they share lockstep batches)


@njit(**_JIT)
def delta_h_capped(z, n_int, xi, d_start, d_end, buf, cap):
    """Δh as :func:`phusong.coverage._itm_terrain.delta_h` would find it on the profile
    resampled to ``cap`` intervals: the resampling density (``p``) is that of ``cap`` samples,
    the heights are interpolated straight from the full profile ``z``."""
    xs = d_start / xi
    xe = d_end / xi
    span = (xe - xs) * (cap / n_int)
    if span < 2.0:
        return 0.0
    p10 = min(max(4, int(0.1 * (span + 8.0))), 25)
    n = 10 * p10 - 5
    stp = (xe - xs) / (n - 1)
    lo = int(xs) + 1
    for t in range(n):
        pos = xs + t * stp
        i1 = min(max(int(math.ceil(pos)), lo), n_int)
        buf[t] = z[i1] + (z[i1] - z[i1 - 1]) * (pos - i1)
    return interdecile(buf, n, p10, d_end - d_start)


@njit(**_JIT)
def ray_point_geometry(ray, j, step, h_tx, h_rx, n0, csum, cksum, pmax, bmax, hd, ha, nh, cap,
                       buf):
    """ITM profile analysis of the path ``ray[0..j]`` (see the module notes).

    ``csum[i]`` = sum of ``ray[:i]``, ``cksum[i]`` of ``k ray[k]`` for k < i; ``pmax[i]`` = max
    of ``ray[1:i + 1]``; ``bmax[b]`` = max of the block ``ray[b B:(b + 1) B]``
    (``B = 2**BLOCK_LOG``); ``hd``/``ha[:nh]`` the transmitter hull of samples ``1..j−1``.
    Returns the tuple of :func:`phusong.coverage._itm_kernel.p2p_geometry`.
    """
    d = j * step
    p10 = int(0.1 * j)
    h_sys = (csum[j - p10 + 1] - csum[p10]) / (j - 2 * p10 + 1)
    n_s = n0 if h_sys == 0.0 else n0 * math.exp(-h_sys / 9460.0)
    gamma_e = 157e-9 * (1.0 - 0.04665 * math.exp(n_s / 179.3))
    a_e = 1.0 / gamma_e
    half_c = 0.5 / a_e
    z_tx = ray[0] + h_tx
    z_rx = ray[j] + h_rx
    slope = (z_rx - z_tx) / d
    th0 = slope - d * half_c
    dl0 = d
    if nh > 0:
        q = hull_support(hd, ha, nh, half_c)
        v = ha[q] - hd[q] * half_c
        if v > th0:
            th0 = v
            dl0 = hd[q]
    th1 = -slope - d * half_c
    best_i = 0
    i = j - 1
    while i > 0:
        dd = (j - i) * step
        # the bound from the prefix maximum and sample i's own candidate, in two lanes
        bound, r = slope_pair(max(pmax[i] - z_rx, 0.0), ray[i] - z_rx, dd, half_c)
        if bound < th1:
            break  # no sample at or before i can raise the receiver horizon
        if (i & _BLOCK_MASK) == _BLOCK_MASK and i > _BLOCK_MASK:
            # the whole block ending at i: the same bound from its maximum; skipping samples
            # that cannot reach th1 leaves the scan's result unchanged (rounding is monotone)
            if max(bmax[i >> BLOCK_LOG] - z_rx, 0.0) / dd - dd * half_c < th1:
                i -= _BLOCK_MASK + 1
                continue
        if r > th1 or (r == th1 and best_i != 0):
            th1 = r
            best_i = i
        i -= 1
    dl1 = d if best_i == 0 else (j - best_i) * step
    d_start, d_end = fit_range(d, h_tx, h_rx, dl0, dl1)
    if cap > 0 and j > cap:
        dh = delta_h_capped(ray, j, step, d_start, d_end, buf, cap)
    else:
        dh = delta_h(ray, j, step, d_start, d_end, buf)
    g = profile_rest(ray, j, step, a_e, h_tx, h_rx, th0, th1, dl0, dl1, d, dh, csum, cksum)
    return g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], n_s, gamma_e


@njit(**_JIT)
def _band_table(freqs, h_tx, h_rx, pol, eps, sigma, n0, climate, tm, loc, sit, mdvar):
    """Everything that depends on the band only (input checks, ground impedance, f^1/3, ln f,
    free-space and variability constants), one row per band: computed once per call."""
    n_f = freqs.shape[0]
    band = np.zeros((n_f, len(BAND_COLUMNS)))
    for f in range(n_f):
        code, w = validate_inputs(h_tx, h_rx, climate, tm, loc, sit, n0, freqs[f], pol, eps,
                                  sigma, mdvar)
        band[f, 0] = code
        band[f, 1] = w
        if code == 0:
            band_constants(freqs[f], pol, eps, sigma, climate, tm, loc, sit, band[f])
    return band


@njit(**_JIT)
def _lane_batches(freqs, band, climate, mdvar):
    """Empty lockstep batches, one per band (see :func:`_one_ray`): lane tables with the
    band's rows filled, output columns, free-space terms, lanes filled, scalar scratch."""
    n_f = freqs.shape[0]
    tables = np.empty((n_f, len(ROWS) * WIDTH))
    for f in range(n_f):
        if band[f, 0] == 0.0:  # the band's rows are the same for every batch
            fill_band(tables[f], freqs[f], band[f], climate, mdvar, band[f, 1])
    return (tables, np.empty((n_f, WIDTH), np.int64), np.empty((n_f, WIDTH)),
            np.zeros(n_f, np.int64), np.empty(len(AUX_COLUMNS)))


@njit(**_JIT)
def _flush_all(batches, freqs, band, h_tx, h_rx, climate, mdvar, out):
    """Flush every band's partly filled batch (:func:`_flush`)."""
    tables, lane_u, lane_fs, fill, aux = batches
    for f in range(freqs.shape[0]):
        if fill[f] > 0:
            _flush(tables[f], fill[f], lane_u[f], lane_fs[f], f, freqs, band, h_tx, h_rx,
                   climate, mdvar, aux, out)
            fill[f] = 0


@njit(**_JIT)
def _one_ray(k, rays, last_j, step, slot, need, freqs, band, h_tx, h_rx, cap, n0, climate,
             mdvar, out, batches):
    """ITM losses of the needed samples ``1..last_j`` of ray ``k`` into ``out`` (see
    :func:`itm_ray_losses`); touches only those samples' columns. The profile analysis runs per
    sample; the frequency part runs per band on batches of ``WIDTH`` samples in lockstep
    (:func:`_flush`), in ``batches`` (:func:`_lane_batches`), which outlive the ray: the
    caller flushes them after its last ray (:func:`_flush_all`). Each band has its own lane
    table, filled only with the samples that need that band, and a batch spans rays: under
    screening a ray has few wanted (sample, band) pairs, and a batch per ray and band ran all
    ``WIDTH`` lanes for them. Every lane is computed alone, so where a sample sits does not
    change its result."""
    n_s = rays.shape[1]
    n_f = freqs.shape[0]
    ray = rays[k]
    csum = np.empty(n_s + 1)
    cksum = np.empty(n_s + 1)
    pmax = np.empty(n_s)
    bmax = np.empty((n_s >> BLOCK_LOG) + 1)
    hd = np.empty(n_s)
    ha = np.empty(n_s)
    buf = np.empty(DELTA_H_BUFFER)
    tables, lane_u, lane_fs, fill, aux = batches
    csum[0] = 0.0
    csum[1] = ray[0]
    cksum[0] = 0.0
    cksum[1] = 0.0
    pmax[0] = -math.inf  # the transmitter's own sample is never a receiver horizon
    bmax[0] = ray[0]
    nh = 0
    z_top = ray[0] + h_tx
    for j in range(1, min(last_j, n_s - 1) + 1):
        csum[j + 1] = csum[j] + ray[j]
        cksum[j + 1] = cksum[j] + j * ray[j]
        pmax[j] = max(pmax[j - 1], ray[j])
        b = j >> BLOCK_LOG
        bmax[b] = ray[j] if (j & _BLOCK_MASK) == 0 else max(bmax[b], ray[j])
        if j >= 2:
            di = (j - 1) * step
            nh = hull_push(hd, ha, nh, di, (ray[j - 1] - z_top) / di)
        u = slot[k * n_s + j]
        if u < 0:
            continue
        todo = False
        for f in range(n_f):
            todo = todo or (need[f, u] and band[f, 0] == 0.0)
        if not todo:
            continue
        g = ray_point_geometry(ray, j, step, h_tx, h_rx, n0, csum, cksum, pmax, bmax, hd, ha,
                               nh, cap, buf)
        d3 = math.hypot(max(j * step, 10.0), z_top - (ray[j] + h_rx))
        fs_d = 20.0 * math.log10(d3 / 1000.0)
        for f in range(n_f):
            if not need[f, u] or band[f, 0] != 0.0:
                continue
            m = fill[f]
            set_geometry(tables[f], m, g, h_tx, h_rx)
            lane_u[f, m] = u
            lane_fs[f, m] = fs_d
            m += 1
            if m == WIDTH:
                _flush(tables[f], m, lane_u[f], lane_fs[f], f, freqs, band, h_tx, h_rx,
                       climate, mdvar, aux, out)
                m = 0
            fill[f] = m


@njit(**_JIT)
def _flush(t, m, lane_u, lane_fs, f, freqs, band, h_tx, h_rx, climate, mdvar, aux, out):
    """The frequency part of band ``f`` for the ``m`` ray samples in lanes ``0..m-1`` of ``t``
    (its band rows already filled; output column ``lane_u``, free-space distance term
    ``lane_fs``): :func:`lanes_frequency`, then the scalar :func:`p2p_from_band` for the lanes
    it flags. Writes what :func:`_one_ray_scalar` writes."""
    lanes_frequency(t)
    floor = band[f, 6]
    for k in range(m):
        u = lane_u[k]
        if t[FALLBACK * WIDTH + k] != 0.0:
            g = (t[k], t[WIDTH + k], t[2 * WIDTH + k], t[3 * WIDTH + k], t[4 * WIDTH + k],
                 t[5 * WIDTH + k], t[6 * WIDTH + k], t[7 * WIDTH + k], t[8 * WIDTH + k],
                 t[9 * WIDTH + k])
            loss, _w, code, _m = p2p_from_band(g, p2p_path_terms(g), h_tx, h_rx, freqs[f],
                                               climate, mdvar, band[f], aux)
            if code < 1000:
                out[f, u] = max(loss, floor + lane_fs[k])
        else:
            out[f, u] = max(t[LOSS * WIDTH + k], floor + lane_fs[k])


@njit(**_JIT)
def _one_ray_scalar(k, rays, last_j, step, slot, need, freqs, band, h_tx, h_rx, cap, n0, climate,
             mdvar, out):
    """ITM losses of the needed samples ``1..last_j`` of ray ``k`` into ``out`` (see
    :func:`itm_ray_losses`), the frequency part one sample at a time (the reference of
    :func:`_one_ray`); touches only those samples' columns."""
    n_s = rays.shape[1]
    n_f = freqs.shape[0]
    ray = rays[k]
    csum = np.empty(n_s + 1)
    cksum = np.empty(n_s + 1)
    pmax = np.empty(n_s)
    bmax = np.empty((n_s >> BLOCK_LOG) + 1)
    hd = np.empty(n_s)
    ha = np.empty(n_s)
    buf = np.empty(DELTA_H_BUFFER)
    aux = np.empty(len(AUX_COLUMNS))
    csum[0] = 0.0
    csum[1] = ray[0]
    cksum[0] = 0.0
    cksum[1] = 0.0
    pmax[0] = -math.inf  # the transmitter's own sample is never a receiver horizon
    bmax[0] = ray[0]
    nh = 0
    z_top = ray[0] + h_tx
    for j in range(1, min(last_j, n_s - 1) + 1):
        csum[j + 1] = csum[j] + ray[j]
        cksum[j + 1] = cksum[j] + j * ray[j]
        pmax[j] = max(pmax[j - 1], ray[j])
        b = j >> BLOCK_LOG
        bmax[b] = ray[j] if (j & _BLOCK_MASK) == 0 else max(bmax[b], ray[j])
        if j >= 2:
            di = (j - 1) * step
            nh = hull_push(hd, ha, nh, di, (ray[j - 1] - z_top) / di)
        u = slot[k * n_s + j]
        if u < 0:
            continue
        todo = False
        for f in range(n_f):
            todo = todo or need[f, u]
        if not todo:
            continue
        g = ray_point_geometry(ray, j, step, h_tx, h_rx, n0, csum, cksum, pmax, bmax, hd, ha,
                               nh, cap, buf)
        d3 = math.hypot(max(j * step, 10.0), z_top - (ray[j] + h_rx))
        fs_d = 20.0 * math.log10(d3 / 1000.0)
        pt = p2p_path_terms(g)
        for f in range(n_f):
            if not need[f, u] or band[f, 0] != 0.0:
                continue
            loss, _w, code, _m = p2p_from_band(g, pt, h_tx, h_rx, freqs[f], climate, mdvar,
                                               band[f], aux)
            if code < 1000:
                out[f, u] = max(loss, band[f, 6] + fs_d)


@njit(parallel=True, **_JIT)
def itm_ray_losses(rays, last, step, slot, need, freqs, h_tx, h_rx, cap, pol, eps, sigma, n0,
                   climate, tm, loc, sit, mdvar, out):
    """ITM loss (dB, ``inf`` when invalid) of every needed (band, ray sample), floored at free
    space over the 3-D distance like the point engine; rays in parallel.

    ``last[k]`` is the last sample of ray ``k`` that can be needed (the ray is not walked
    further; 0 skips it); ``slot[k * n_s + j]`` is the output column of sample ``j`` of ray
    ``k`` (−1: not used); ``need[f, u]``: band ``f`` is wanted at column ``u``; ``out`` is
    (n_bands, n_used) and is only written where needed. The ITM options after ``cap`` are
    scalars.
    """
    band = _band_table(freqs, h_tx, h_rx, pol, eps, sigma, n0, climate, tm, loc, sit, mdvar)
    n_rays = rays.shape[0]
    # chunks of rays share their lockstep batches (results do not depend on the chunking)
    for c in prange((n_rays + RAY_CHUNK - 1) // RAY_CHUNK):
        batches = _lane_batches(freqs, band, climate, mdvar)
        for k in range(c * RAY_CHUNK, min(n_rays, (c + 1) * RAY_CHUNK)):
            if last[k] > 0:
                _one_ray(np.int64(k), rays, last[k], step, slot, need, freqs, band, h_tx,
                         h_rx, cap, n0, climate, mdvar, out, batches)
        _flush_all(batches, freqs, band, h_tx, h_rx, climate, mdvar, out)


@njit(parallel=True, **_JIT)
def itm_ray_losses_scalar(rays, last, step, slot, need, freqs, h_tx, h_rx, cap, pol, eps,
                          sigma, n0, climate, tm, loc, sit, mdvar, out):
    """:func:`itm_ray_losses` with the frequency part one sample at a time (the reference the
    tests compare the lockstep form with; the results differ by the polynomial functions'
    few ulps)."""
    band = _band_table(freqs, h_tx, h_rx, pol, eps, sigma, n0, climate, tm, loc, sit, mdvar)
    for k in prange(rays.shape[0]):
        if last[k] > 0:
            _one_ray_scalar(k, rays, last[k], step, slot, need, freqs, band, h_tx, h_rx, cap,
                            n0, climate, mdvar, out)


@njit(**_JIT)
def itm_ray_losses_serial(rays, last, step, slot, need, freqs, h_tx, h_rx, cap, pol, eps,
                          sigma, n0, climate, tm, loc, sit, mdvar, out):
    """:func:`itm_ray_losses` on the calling thread only (for callers that run several sites
    at once); same results."""
    band = _band_table(freqs, h_tx, h_rx, pol, eps, sigma, n0, climate, tm, loc, sit, mdvar)
    batches = _lane_batches(freqs, band, climate, mdvar)
    for k in range(rays.shape[0]):
        if last[k] > 0:
            _one_ray(np.int64(k), rays, last[k], step, slot, need, freqs, band, h_tx, h_rx,
                     cap, n0, climate, mdvar, out, batches)
    _flush_all(batches, freqs, band, h_tx, h_rx, climate, mdvar, out)
