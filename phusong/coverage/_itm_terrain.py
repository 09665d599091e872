"""Longley-Rice ITM: terrain-profile analysis (horizons, delta h, effective heights), numba.

A profile here is a 1-D elevation array ``z`` of ``n_int + 1`` samples spaced ``xi`` metres
apart (the ITM "pfl" form without its two header values): ``z[0]`` under the transmitter,
``z[n_int]`` under the receiver. Written for phusong from Hufford's 1.2.2 algorithm (``hzns``,
``zlsq1``, ``dlthx``, ``qlrpfl``) as restated by NTIA/ITS's C++ reference.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "DELTA_H_BUFFER", "delta_h", "find_horizons", "fit_range", "interdecile", "kth_largest",
    "line_of_sight", "linear_fit", "linear_fit_lanes", "linear_fit_sums", "profile_rest",
    "quick_profile", "resample_size", "tail_deciles",
]

#: Scratch of :func:`delta_h`: up to 245 resampled heights, the two tails gathered by
#: :func:`interdecile` (up to 245 each) and 25 floats for the order statistics.
_HI, _LO, _TMP = 245, 490, 735
DELTA_H_BUFFER = _TMP + 25

_JIT = {"cache": True, "nogil": True}
_SUM = {**_JIT, "fastmath": {"reassoc"}}


@njit(**_JIT)
def _fdim(a: float, b: float) -> float:
    return a - b if a > b else 0.0


@njit(**_JIT)
def line_of_sight(z, n_int, xi, a_e, h_tx, h_rx):
    """Where :func:`find_horizons` starts: ``(d, z_tx, z_rx, half_c, theta_tx, theta_rx)``,
    the path length (m), both antennas' heights above sea level (m), half the earth's
    curvature (1/m) and the line-of-sight elevation angles (rad)."""
    d = n_int * xi
    z_tx = z[0] + h_tx
    z_rx = z[n_int] + h_rx
    half_c = 0.5 / a_e
    slope = (z_rx - z_tx) / d
    return d, z_tx, z_rx, half_c, slope - d * half_c, -slope - d * half_c


@njit(**_JIT)
def find_horizons(z, n_int, xi, a_e, h_tx, h_rx):
    """Horizon elevation angles (rad) and distances (m) of both terminals.

    Starts from the line-of-sight geometry and raises each terminal's horizon ray whenever an
    intermediate point stands above it on an earth of radius ``a_e``. Returns
    ``(theta_tx, theta_rx, d_hzn_tx, d_hzn_rx)``.
    """
    d, z_tx, z_rx, half_c, th_tx, th_rx = line_of_sight(z, n_int, xi, a_e, h_tx, h_rx)
    dl_tx = d
    dl_rx = d
    d_tx = 0.0
    d_rx = d
    for i in range(1, n_int):
        d_tx += xi
        d_rx -= xi
        zi = z[i]
        t = (zi - z_tx) / d_tx - d_tx * half_c
        if t > th_tx:
            th_tx = t
            dl_tx = d_tx
        r = (zi - z_rx) / d_rx - d_rx * half_c
        if r > th_rx:
            th_rx = r
            dl_rx = d_rx
    return th_tx, th_rx, dl_tx, dl_rx


@njit(**_JIT)
def _fit_samples(n_int, xi, d_start, d_end):
    """First and last sample ``(i0, i1)`` of a terrain line between two distances."""
    i0 = int(_fdim(d_start / xi, 0.0))
    i1 = n_int - int(_fdim(n_int, d_end / xi))
    if i1 <= i0:
        i0 = int(_fdim(i0, 1.0))
        i1 = n_int - int(_fdim(n_int, i1 + 1.0))
    return i0, i1


@njit(**_JIT)
def linear_fit(z, n_int, xi, d_start, d_end):
    """Least-squares straight line through ``z`` between two distances (end points half weight).

    Returns the fitted heights at the two ends of the whole profile, ``(y_at_0, y_at_end)``.
    """
    i0, i1 = _fit_samples(n_int, xi, d_start, d_end)
    span = float(i1 - i0)
    x = -0.5 * span
    x_end = i1 + x  # index of the fit's centre
    total = 0.5 * (z[i0] + z[i1])
    moment = 0.5 * (z[i0] - z[i1]) * x
    for k in range(i0 + 1, i1):
        x += 1.0
        total += z[k]
        moment += z[k] * x
    mean = total / span
    slope = moment * 12.0 / ((span * span + 2.0) * span)
    return mean - slope * x_end, mean + slope * (n_int - x_end)


@njit(**_SUM)
def _line_sums(z, last):
    """``(Σ z[1:last], Σ k z[k] for k in 1..last−1)`` in independent lanes (the sums may be
    reordered: ``fastmath`` reassociation only, so LLVM vectorises them)."""
    s0 = 0.0
    s1 = 0.0
    for k in range(1, last):
        v = z[k]
        s0 += v
        s1 += k * v
    return s0, s1


@njit(**_JIT)
def linear_fit_lanes(z, n_int, xi, d_start, d_end):
    """:func:`linear_fit` with its two sums in lanes (closed form of its half-weighted end
    points): the same line up to float rounding."""
    i0, i1 = _fit_samples(n_int, xi, d_start, d_end)
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
def linear_fit_sums(z, csum, cksum, n_int, xi, d_start, d_end, lanes=False):
    """:func:`linear_fit` in O(1) from prefix sums (``csum[i]`` = Σ z[:i], ``cksum[i]`` =
    Σ k z[k] for k < i); the same line up to float rounding. Empty ``csum``: the plain loop,
    or :func:`linear_fit_lanes` when ``lanes``."""
    if csum.shape[0] == 0:
        if lanes:
            return linear_fit_lanes(z, n_int, xi, d_start, d_end)
        return linear_fit(z, n_int, xi, d_start, d_end)
    i0, i1 = _fit_samples(n_int, xi, d_start, d_end)
    span = float(i1 - i0)
    x_end = i1 - 0.5 * span  # index of the fit's centre
    s0 = csum[i1] - csum[i0 + 1]
    s1 = cksum[i1] - cksum[i0 + 1]
    total = 0.5 * (z[i0] + z[i1]) + s0
    moment = 0.5 * (z[i0] - z[i1]) * (-0.5 * span) + (s1 - x_end * s0)
    mean = total / span
    slope = moment * 12.0 / ((span * span + 2.0) * span)
    return mean - slope * x_end, mean + slope * (n_int - x_end)


@njit(**_JIT)
def kth_largest(a, lo, m, k, tmp):
    """The ``k``-th largest of ``a[lo:lo + m]`` (``1 ≤ k ≤ m``), exact.

    Keeps the ``k`` largest in ``tmp`` (descending) by insertion, or, when it is shorter, the
    ``m − k + 1`` smallest (the same value is the ``(m − k + 1)``-th smallest) through a sign
    flip, which is exact. After the first few values almost every comparison fails the same
    way, so this branch-predictable scan beats quickselect for the small ``m`` here.
    """
    r = m - k + 1
    s = 1.0
    if r < k:
        k = r
        s = -1.0
    last = k - 1
    for i in range(m):
        v = s * a[lo + i]
        if i > last:
            if v <= tmp[last]:
                continue
            j = last
        else:
            j = i
        while j > 0 and tmp[j - 1] < v:
            tmp[j] = tmp[j - 1]
            j -= 1
        tmp[j] = v
    return s * tmp[last]


@njit(**_JIT)
def resample_size(span):
    """Δh's resampling over ``span`` profile intervals: ``(p10, n = 10 p10 − 5)`` with
    ``p10 = int(0.1 (span + 8))`` kept within 4..25."""
    p10 = min(max(4, int(0.1 * (span + 8.0))), 25)
    return p10, 10 * p10 - 5


@njit(**_JIT)
def delta_h(z, n_int, xi, d_start, d_end, buf):
    """Terrain irregularity Δh between two distances, m.

    The profile is resampled at ``n = 10 p - 5`` points (``p`` in 4..25 grows with length), a
    least-squares line is removed, and the interdecile range of the residuals (the ``p``-th
    largest minus the ``p``-th smallest) is scaled back to an asymptotic Δh with
    ``1 - 0.8 exp(-L / 50 km)``. ``buf`` is scratch of at least :data:`DELTA_H_BUFFER` floats.
    """
    xs = d_start / xi
    xe = d_end / xi
    if xe - xs < 2.0:
        return 0.0
    p10, n = resample_size(xe - xs)
    last = n - 1
    step = (xe - xs) / last
    i = int(xs)
    x = xs - float(i + 1)
    for j in range(n):
        while x > 0.0 and i + 1 < n_int:
            x -= 1.0
            i += 1
        buf[j] = z[i + 1] + (z[i + 1] - z[i]) * x
        x += step
    return interdecile(buf, n, p10, d_end - d_start)


@njit(**_JIT)
def _interdecile_4(buf, n, y0, slope, length_m):
    """:func:`interdecile` for ``p10 = 4``: the same residuals (same operations), the 4th
    largest and 4th smallest kept in registers by branch-free compare-exchange chains (order
    statistics are exact, so the result is identical to the general path, bit for bit)."""
    t0 = t1 = t2 = t3 = -math.inf
    b0 = b1 = b2 = b3 = math.inf
    for j in range(n):
        v = buf[j] - y0
        y0 += slope
        u = v
        a = max(t0, u)
        u = min(t0, u)
        t0 = a
        a = max(t1, u)
        u = min(t1, u)
        t1 = a
        a = max(t2, u)
        u = min(t2, u)
        t2 = a
        t3 = max(t3, u)
        a = min(b0, v)
        v = max(b0, v)
        b0 = a
        a = min(b1, v)
        v = max(b1, v)
        b1 = a
        a = min(b2, v)
        v = max(b2, v)
        b2 = a
        b3 = min(b3, v)
    return (t3 - b3) / (1.0 - 0.8 * math.exp(-length_m / 50e3))


#: Tail thresholds tried by :func:`interdecile`, in standard deviations beyond the mean,
#: tightest first (after the last, every residual is taken).
_TAIL_SD = (1.5, 1.3, 1.15, 1.0, 0.8, 0.5, 0.0)


@njit(**_JIT)
def _tail_threshold(buf, n, p10, mean, sd, sign):
    """The tightest threshold ``t = mean + sign·c·sd`` (``c`` from :data:`_TAIL_SD`) with at
    least ``p10`` of ``buf[:n]`` at or beyond it on its side (``sign·v ≥ sign·t``), and the
    next tighter one (fewer than ``p10`` beyond it; ``mean + sign·2·sd`` after the first).
    ``t = −sign·inf`` (every residual) when no threshold has ``p10``. One branch-free
    counting pass."""
    t0 = mean + sign * _TAIL_SD[0] * sd
    t1 = mean + sign * _TAIL_SD[1] * sd
    t2 = mean + sign * _TAIL_SD[2] * sd
    t3 = mean + sign * _TAIL_SD[3] * sd
    t4 = mean + sign * _TAIL_SD[4] * sd
    t5 = mean + sign * _TAIL_SD[5] * sd
    t6 = mean
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = 0
    for j in range(n):
        v = sign * buf[j]
        c0 += v >= sign * t0
        c1 += v >= sign * t1
        c2 += v >= sign * t2
        c3 += v >= sign * t3
        c4 += v >= sign * t4
        c5 += v >= sign * t5
        c6 += v >= sign * t6
    if c0 >= p10:
        return t0, mean + sign * 2.0 * sd
    if c1 >= p10:
        return t1, t0
    if c2 >= p10:
        return t2, t1
    if c3 >= p10:
        return t3, t2
    if c4 >= p10:
        return t4, t3
    if c5 >= p10:
        return t5, t4
    if c6 >= p10:
        return t6, t5
    return -sign * math.inf, t6


@njit(**_JIT)
def _narrow_tail(buf, lo, m, p10, t_in, t_out, sign):
    """Shrink a gathered tail ``buf[lo:lo + m]`` (every value at or beyond ``t_in`` on the
    ``sign`` side, at least ``p10`` of them) to the values at or beyond the tightest of seven
    thresholds evenly between ``t_in`` and ``t_out`` that still keeps ``p10``; returns the new
    length. The ``p10`` most extreme values are always kept, so every order statistic up to
    ``p10`` is unchanged. Counting and compaction are branch-free passes over the short tail."""
    if not math.isfinite(t_in):
        return m
    w = (t_out - t_in) * 0.125
    u1 = sign * (t_in + w)
    u2 = sign * (t_in + 2.0 * w)
    u3 = sign * (t_in + 3.0 * w)
    u4 = sign * (t_in + 4.0 * w)
    u5 = sign * (t_in + 5.0 * w)
    u6 = sign * (t_in + 6.0 * w)
    u7 = sign * (t_in + 7.0 * w)
    c1 = c2 = c3 = c4 = c5 = c6 = c7 = 0
    for j in range(m):
        v = sign * buf[lo + j]
        c1 += v >= u1
        c2 += v >= u2
        c3 += v >= u3
        c4 += v >= u4
        c5 += v >= u5
        c6 += v >= u6
        c7 += v >= u7
    if c7 >= p10:
        u = u7
    elif c6 >= p10:
        u = u6
    elif c5 >= p10:
        u = u5
    elif c4 >= p10:
        u = u4
    elif c3 >= p10:
        u = u3
    elif c2 >= p10:
        u = u2
    elif c1 >= p10:
        u = u1
    else:
        return m
    k = 0
    for j in range(m):
        v = buf[lo + j]
        buf[lo + k] = v
        k += sign * v >= u
    return k


@njit(**_JIT)
def interdecile(buf, n, p10, length_m):
    """Δh from ``n = 10 p10 − 5`` resampled heights in ``buf``: remove the least-squares line,
    take the interdecile range and scale it to the asymptotic value for ``length_m``.

    The ``p10``-th largest and smallest residuals are exact order statistics. Each is taken
    among the residuals at or beyond a threshold on its side (gathered without branches into
    ``buf[245:735]``): the tightest of mean ± :data:`_TAIL_SD` standard deviations that still
    has ``p10`` residuals beyond it (counted first, in one pass), so the gathered tail holds
    the ``p10`` most extreme and is barely larger, which makes the selection short
    (:func:`kth_largest` works from the tail's small end). Same values as a full sort.

    Before 2026-12-07 the threshold was a fixed 0.9 sd with a fallback to all ``n``; on SRTM3
    paths 29 % of paths fell back (skewed residuals: too few beyond 0.9 sd on the short side),
    and the selection among 245 residuals was a third of a path's ITM evaluation.
    """
    last = n - 1
    y0, y1 = linear_fit(buf, last, 1.0, 0.0, float(last))
    slope = (y1 - y0) / last
    if p10 == 4:  # every path up to ~40 samples (and every capped ray path): no buffer, no branch
        return _interdecile_4(buf, n, y0, slope, length_m)
    s1 = 0.0
    s2 = 0.0
    for j in range(n):
        v = buf[j] - y0
        buf[j] = v
        y0 += slope
        s1 += v
        s2 += v * v
    return tail_deciles(buf, n, p10, s1, s2, length_m)


@njit(**_JIT)
def tail_deciles(buf, n, p10, s1, s2, length_m):
    """The end of :func:`interdecile` once ``buf[:n]`` holds the residuals, ``s1`` their sum
    and ``s2`` their sum of squares: the exact ``p10``-th largest and smallest residuals from
    the gathered tails, scaled to Δh."""
    mean = s1 / n
    sd = math.sqrt(max(s2 / n - mean * mean, 0.0))
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
    # upper decile: the p10-th largest; lower: rank p90 = n - p10 descending, the p10-th smallest
    q10 = kth_largest(buf, _HI, n_hi, p10, tmp)
    q90 = kth_largest(buf, _LO, n_lo, n_lo - p10 + 1, tmp)
    return (q10 - q90) / (1.0 - 0.8 * math.exp(-length_m / 50e3))


@njit(**_JIT)
def quick_profile(z, n_int, xi, gamma_e, h_tx, h_rx, buf):
    """Everything ITM needs from a profile (Hufford's ``qlrpfl``).

    Returns ``(theta_tx, theta_rx, d_hzn_tx, d_hzn_rx, h_e_tx, h_e_rx, delta_h_m, d_m)``.
    Effective heights are the structural heights over a least-squares terrain line; on paths
    well inside line of sight the horizons are re-derived from the smooth-earth formulas.
    """
    d = n_int * xi
    a_e = 1.0 / gamma_e
    th0, th1, dl0, dl1 = find_horizons(z, n_int, xi, a_e, h_tx, h_rx)
    d_start, d_end = fit_range(d, h_tx, h_rx, dl0, dl1)
    dh = delta_h(z, n_int, xi, d_start, d_end, buf)
    return profile_rest(z, n_int, xi, a_e, h_tx, h_rx, th0, th1, dl0, dl1, d, dh, _NO_SUMS,
                        _NO_SUMS)


_NO_SUMS = np.empty(0)


@njit(**_JIT)
def fit_range(d, h_tx, h_rx, dl0, dl1):
    """Distances between which Δh and the terrain line are taken, m."""
    return min(15.0 * h_tx, 0.1 * dl0), d - min(15.0 * h_rx, 0.1 * dl1)


@njit(**_JIT)
def profile_rest(z, n_int, xi, a_e, h_tx, h_rx, th0, th1, dl0, dl1, d, dh, csum, cksum,
                 lanes=False):
    """The part of :func:`quick_profile` after the horizons and Δh: effective heights (and
    smooth-earth horizons on paths well inside line of sight).

    ``csum``/``cksum``: prefix sums of ``z`` for O(1) terrain lines
    (:func:`linear_fit_sums`), or empty arrays for the plain loops (``lanes``: their sums in
    lanes, :func:`linear_fit_lanes`).
    """
    d_start, d_end = fit_range(d, h_tx, h_rx, dl0, dl1)
    if dl0 + dl1 > 1.5 * d:
        y0, y1 = linear_fit_sums(z, csum, cksum, n_int, xi, d_start, d_end, lanes)
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
        y0, _unused = linear_fit_sums(z, csum, cksum, n_int, xi, d_start, 0.9 * dl0,
                                         lanes)
        he0 = h_tx + _fdim(z[0], y0)
        _unused, y1 = linear_fit_sums(z, csum, cksum, n_int, xi, d - 0.9 * dl1, d_end,
                                         lanes)
        he1 = h_rx + _fdim(z[n_int], y1)
    return th0, th1, dl0, dl1, he0, he1, dh, d
