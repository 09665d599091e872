"""Longley-Rice ITM profile analysis in loops LLVM can vectorise (numba).

The same quantities as :mod:`phusong.coverage._itm_terrain` (the reference, which the tests
compare against), computed so that the loops over profile samples carry no serial dependency:

* the profile checks count non-finite heights (an integer sum) instead of returning at the
  first one, and the system height's sum runs in independent lanes;
* Δh's resampled heights are interpolated at ``x_s + t·step`` directly (the reference walks an
  accumulated position; positions and indices in one load-free pass), and the least-squares
  lines (Δh's and the effective heights') and the residuals' moments are sums in
  independent lanes.

The horizons are the reference's loop: their distances feed ITM's cuts of the terrain-line
range to whole samples, so they must be the same floats, and splitting the loop (accumulated
distances, vectorised divisions, a compare pass; or reciprocal screening) was slower here.
Positions and sums differ from the reference by float rounding only (a few ulps); the order
statistics, branch tests and everything after them are the reference's own functions. ``fastmath={"reassoc"}`` lets LLVM reorder the sums only: no NaN/Inf or contraction
assumptions, so non-finite inputs are still caught. Results do not depend on the thread count;
the tests bound the difference to the reference (≤ 1e-9 dB on random and SRTM3 paths).
"""

from __future__ import annotations

import math

from numba import njit

from phusong.coverage._itm_terrain import (
    _HI,
    _LO,
    _NO_SUMS,
    _interdecile_4,
    delta_h,
    find_horizons,
    fit_range,
    linear_fit_lanes,
    profile_rest,
    resample_size,
    tail_deciles,
)

__all__ = ["FLAT_DH_M", "delta_h_fast", "interdecile_fast", "profile_checks_fast",
           "quick_profile_fast", "system_height_fast"]

# error_model="numpy": a float division by zero gives inf/nan instead of raising, which removes
# the zero test (a branch) before every division and lets the division loops vectorise; the
# callers never divide by zero (positive steps and distances), so results are unchanged
_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
_SUM = {**_JIT, "fastmath": {"reassoc"}}

#: Δh (m) under which :func:`delta_h_fast` takes the reference's computation (see there).
FLAT_DH_M = 1e-3

ERR_SHORT_PROFILE = 2000
ERR_BAD_ELEVATION = 2001
ERR_BAD_STEP = 2002


@njit(**_JIT)
def profile_checks_fast(z, xi):
    """:func:`phusong.coverage._itm_kernel.check_profile` (same codes, same order) with the
    non-finite heights counted in one vectorisable pass."""
    n = z.shape[0]
    if n < 2:
        return ERR_SHORT_PROFILE
    if not (xi > 0.0 and math.isfinite(xi)):
        return ERR_BAD_STEP
    bad = 0
    for k in range(n):
        bad += 0 if abs(z[k]) < math.inf else 1  # NaN compares false: counted too
    return ERR_BAD_ELEVATION if bad else 0


@njit(**_SUM)
def system_height_fast(z, n_int):
    """Mean height of the middle 80 % of the path (ITM's system height), m."""
    p10 = int(0.1 * n_int)
    mid = z[p10:n_int - p10 + 1]  # indices from 0: no negative-index wrap, so LLVM vectorises
    s = 0.0
    for k in range(mid.shape[0]):
        s += mid[k]
    return s / (n_int - 2 * p10 + 1)


@njit(**_JIT)
def delta_h_fast(z, n_int, xi, d_start, d_end, buf):
    """:func:`phusong.coverage._itm_terrain.delta_h` with the resampled heights interpolated
    at their positions directly (no accumulated position, no inner loop).

    Below :data:`FLAT_DH_M` (flat water, synthetic planes and ramps) Δh is rounding noise
    of the heights, which ITM's √Δh terms amplify (to ~1e-6 dB between two orders of the same
    sums); there the reference's own resampling and sums are taken instead, so both kernels
    agree. Real terrain never comes near it."""
    xs = d_start / xi
    xe = d_end / xi
    if xe - xs < 2.0:
        return 0.0
    p10, n = resample_size(xe - xs)
    stp = (xe - xs) / (n - 1)
    lo = int(xs) + 1
    idx = buf[_LO:_LO + n]  # the tail areas are free until the residuals are gathered
    frac = buf[_HI:_HI + n]
    for t in range(n):  # no loads: vectorises
        pos = xs + t * stp
        i1 = min(max(math.ceil(pos), lo), n_int)
        idx[t] = i1
        frac[t] = pos - i1
    for t in range(n):
        i1 = int(idx[t])
        buf[t] = z[i1] + (z[i1] - z[i1 - 1]) * frac[t]
    dh = interdecile_fast(buf, n, p10, d_end - d_start)
    if dh < FLAT_DH_M:
        return delta_h(z, n_int, xi, d_start, d_end, buf)
    return dh


@njit(**_SUM)
def _residuals(buf, n, y0, slope):
    """Replace ``buf[:n]`` by its residuals from the line ``y0 + j·slope``; returns their sum
    and sum of squares."""
    s1 = 0.0
    s2 = 0.0
    for j in range(n):
        v = buf[j] - (y0 + j * slope)
        buf[j] = v
        s1 += v
        s2 += v * v
    return s1, s2


@njit(**_JIT)
def interdecile_fast(buf, n, p10, length_m):
    """:func:`phusong.coverage._itm_terrain.interdecile` with the least-squares line's sums
    and the residuals' moments in lanes; the order statistics are the reference's."""
    last = n - 1
    y0, y1 = linear_fit_lanes(buf, last, 1.0, 0.0, float(last))
    slope = (y1 - y0) / last
    if p10 == 4:
        return _interdecile_4(buf, n, y0, slope, length_m)
    r1, r2 = _residuals(buf, n, y0, slope)
    return tail_deciles(buf, n, p10, r1, r2, length_m)


@njit(**_JIT)
def quick_profile_fast(z, n_int, xi, gamma_e, h_tx, h_rx, buf):
    """:func:`phusong.coverage._itm_terrain.quick_profile` from the functions above; the
    horizons are the reference's loop (bit for bit the same, and faster than any split of it
    tried: its cost is the two running maxima, not the divisions)."""
    d = n_int * xi
    a_e = 1.0 / gamma_e
    th0, th1, dl0, dl1 = find_horizons(z, n_int, xi, a_e, h_tx, h_rx)
    d_start, d_end = fit_range(d, h_tx, h_rx, dl0, dl1)
    dh = delta_h_fast(z, n_int, xi, d_start, d_end, buf)
    return profile_rest(z, n_int, xi, a_e, h_tx, h_rx, th0, th1, dl0, dl1, d, dh, _NO_SUMS, _NO_SUMS,
                        True)
