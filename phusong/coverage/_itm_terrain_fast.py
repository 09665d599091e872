"""Longley-Rice ITM profile analysis in loops LLVM can vectorise (numba).

The same quantities as :mod:`phusong.coverage._itm_terrain` (the reference, which the tests
compare against), computed so that the loops over profile samples carry no serial dependency:

* the profile checks count non-finite heights (an integer sum) instead of returning at the
  first one, and the system height's sum runs in independent lanes;
* Δh's resampled heights are interpolated at ``x_s + t·step`` directly (the reference walks an
  accumulated position), and the least-squares line and the residuals' moments are sums in
  independent lanes.

Positions and sums therefore differ from the reference by float rounding only (a few ulps;
horizon distances, which ITM cuts to whole samples, are bit for bit the reference's);
the order statistics, branch tests and everything after them are the reference's own
functions. ``fastmath={"reassoc"}`` lets LLVM reorder the sums only: no NaN/Inf or contraction
assumptions, so non-finite inputs are still caught. Results do not depend on the thread count;
the tests bound the difference to the reference (≤ 1e-9 dB on random and SRTM3 paths).
"""

from __future__ import annotations

import math

from numba import njit

from phusong.coverage._itm_terrain import (
    _HI,
    _LO,
    _TMP,
    _interdecile_4,
    _narrow_tail,
    _tail_threshold,
    delta_h,
    find_horizons,
    fit_range,
    kth_largest,
)

__all__ = ["FLAT_DH_M", "delta_h_fast", "interdecile_fast", "linear_fit_fast",
           "profile_checks_fast", "profile_rest_fast", "quick_profile_fast", "system_height_fast"]

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
    p10 = int(0.1 * (xe - xs + 8.0))
    p10 = min(max(4, p10), 25)
    n = 10 * p10 - 5
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
def _line_sums(buf, last):
    """``(Σ buf[1:last], Σ k buf[k] for k in 1..last−1)`` in independent lanes."""
    s0 = 0.0
    s1 = 0.0
    for k in range(1, last):
        v = buf[k]
        s0 += v
        s1 += k * v
    return s0, s1


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
    """:func:`phusong.coverage._itm_terrain.interdecile` with the least-squares line from two
    lane sums (closed form of the reference's half-weighted end points) and the residuals'
    moments in lanes; the order statistics are the reference's functions."""
    last = n - 1
    span = float(last)
    h = 0.5 * span
    s0, s1 = _line_sums(buf, last)
    total = 0.5 * (buf[0] + buf[last]) + s0
    moment = 0.5 * (buf[0] - buf[last]) * (-h) + (s1 - h * s0)
    mean_l = total / span
    slope_l = moment * 12.0 / ((span * span + 2.0) * span)
    y0 = mean_l - slope_l * h
    y1 = mean_l + slope_l * (last - h)
    slope = (y1 - y0) / last
    if p10 == 4:
        return _interdecile_4(buf, n, y0, slope, length_m)
    r1, r2 = _residuals(buf, n, y0, slope)
    mean = r1 / n
    sd = math.sqrt(max(r2 / n - mean * mean, 0.0))
    hi, hi_out = _tail_threshold(buf, n, p10, mean, sd, 1.0)
    lo, lo_out = _tail_threshold(buf, n, p10, mean, sd, -1.0)
    n_hi = 0
    n_lo = 0
    for j in range(n):  # branch-free gathering of the two tails
        v = buf[j]
        buf[_HI + n_hi] = v
        n_hi += v >= hi
        buf[_LO + n_lo] = v
        n_lo += v <= lo
    n_hi = _narrow_tail(buf, _HI, n_hi, p10, hi, hi_out, 1.0)
    n_lo = _narrow_tail(buf, _LO, n_lo, p10, lo, lo_out, -1.0)
    tmp = buf[_TMP:]
    q10 = kth_largest(buf, _HI, n_hi, p10, tmp)
    q90 = kth_largest(buf, _LO, n_lo, n_lo - p10 + 1, tmp)
    return (q10 - q90) / (1.0 - 0.8 * math.exp(-length_m / 50e3))


@njit(**_JIT)
def linear_fit_fast(z, n_int, xi, d_start, d_end):
    """:func:`phusong.coverage._itm_terrain.linear_fit` with its two sums in lanes."""
    i0 = int(_fdim(d_start / xi, 0.0))
    i1 = n_int - int(_fdim(n_int, d_end / xi))
    if i1 <= i0:
        i0 = int(_fdim(i0, 1.0))
        i1 = n_int - int(_fdim(n_int, i1 + 1.0))
    span = float(i1 - i0)
    h = 0.5 * span
    s0, s1 = _line_sums(z[i0:], i1 - i0)  # Σ z[k], Σ (k − i0) z[k] over i0 < k < i1
    total = 0.5 * (z[i0] + z[i1]) + s0
    moment = 0.5 * (z[i0] - z[i1]) * (-h) + (s1 - h * s0)
    mean = total / span
    slope = moment * 12.0 / ((span * span + 2.0) * span)
    x_end = i1 - h
    return mean - slope * x_end, mean + slope * (n_int - x_end)


@njit(**_JIT)
def _fdim(a, b):
    return a - b if a > b else 0.0


@njit(**_JIT)
def profile_rest_fast(z, n_int, xi, a_e, h_tx, h_rx, th0, th1, dl0, dl1, d, dh):
    """:func:`phusong.coverage._itm_terrain.profile_rest` (plain-profile form) with
    :func:`linear_fit_fast`: the same formulas, terrain lines equal up to rounding."""
    d_start, d_end = fit_range(d, h_tx, h_rx, dl0, dl1)
    if dl0 + dl1 > 1.5 * d:
        y0, y1 = linear_fit_fast(z, n_int, xi, d_start, d_end)
        he0 = h_tx + _fdim(z[0], y0)
        he1 = h_rx + _fdim(z[n_int], y1)
        dl0 = math.sqrt(2.0 * he0 * a_e) * math.exp(-0.07 * math.sqrt(dh / max(he0, 5.0)))
        dl1 = math.sqrt(2.0 * he1 * a_e) * math.exp(-0.07 * math.sqrt(dh / max(he1, 5.0)))
        both = dl0 + dl1
        if both <= d:
            q = (d / both) ** 2
            he0 *= q
            he1 *= q
            dl0 = math.sqrt(2.0 * he0 * a_e) * math.exp(-0.07 * math.sqrt(dh / max(he0, 5.0)))
            dl1 = math.sqrt(2.0 * he1 * a_e) * math.exp(-0.07 * math.sqrt(dh / max(he1, 5.0)))
        q = math.sqrt(2.0 * he0 * a_e)
        th0 = (0.65 * dh * (q / dl0 - 1.0) - 2.0 * he0) / q
        q = math.sqrt(2.0 * he1 * a_e)
        th1 = (0.65 * dh * (q / dl1 - 1.0) - 2.0 * he1) / q
    else:
        y0, _unused = linear_fit_fast(z, n_int, xi, d_start, 0.9 * dl0)
        he0 = h_tx + _fdim(z[0], y0)
        _unused, y1 = linear_fit_fast(z, n_int, xi, d - 0.9 * dl1, d_end)
        he1 = h_rx + _fdim(z[n_int], y1)
    return th0, th1, dl0, dl1, he0, he1, dh, d


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
    return profile_rest_fast(z, n_int, xi, a_e, h_tx, h_rx, th0, th1, dl0, dl1, d, dh)
