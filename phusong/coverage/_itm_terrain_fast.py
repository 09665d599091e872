"""Longley-Rice ITM profile analysis in loops LLVM can vectorise (numba).

The same quantities as :mod:`phusong.coverage._itm_terrain` (the reference, which the tests
compare against), computed so that the loops over profile samples carry no serial dependency:

* the profile checks count non-finite heights (an integer sum) instead of returning at the
  first one, and the system height's sum runs in independent lanes;
* Δh's resampled heights are interpolated at ``x_s + t·step`` directly (the reference walks an
  accumulated position; positions and indices in one load-free pass), and the least-squares
  lines (Δh's and the effective heights') and the residuals' moments are sums in
  independent lanes.

The horizons (:func:`find_horizons_fast`) are the reference's loop with its two candidates of
a sample (transmitter's and receiver's) computed as one two-lane vector expression
(:func:`phusong.coverage._itm_pairs.horizon_pair`): the same IEEE operations per lane, so the
same floats bit for bit (their distances feed ITM's cuts of the terrain-line range to whole
samples, so they must be), with one division instruction for two — the loop is bound by its
divisions' throughput. Splitting the loop instead (accumulated distances, vectorised
divisions, a compare pass; reciprocal screening; a closed form of the accumulated distances
per binade with a block-maximum skip) was slower here: the accumulated distances are a serial
chain as long as the loop (measured 2026-12-08, one process).

Δh's order statistics (the ``p10``-th largest and smallest residual) come from
:func:`bucket_deciles`: one vectorised pass counts the residuals into eight buckets per side,
the tails are gathered by bucket and the selection keeps the few extremes in registers; they
are the same values as a full sort's, bit for bit (tests), and 1.3× cheaper than the
reference's fourteen counted thresholds.

Positions and sums differ from the reference by float rounding only (a few ulps); the branch
tests and everything after them are the reference's own functions. ``fastmath={"reassoc"}`` lets LLVM reorder the sums only: no NaN/Inf or contraction
assumptions, so non-finite inputs are still caught. Results do not depend on the thread count;
the tests bound the difference to the reference (≤ 1e-9 dB on random and SRTM3 paths).
"""

from __future__ import annotations

import math

from numba import njit

from phusong.coverage._itm_pairs import horizon_pair
from phusong.coverage._itm_terrain import (
    _HI,
    _LO,
    _NO_SUMS,
    _TMP,
    _interdecile_4,
    _narrow_tail,
    delta_h,
    fit_range,
    kth_largest,
    line_of_sight,
    linear_fit_lanes,
    profile_rest,
    resample_size,
)

__all__ = ["FLAT_DH_M", "bucket_deciles", "delta_h_fast", "find_horizons_fast", "interdecile_fast",
           "kth_largest_chain", "profile_checks_fast", "quick_profile_fast", "system_height_fast"]

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
    and the residuals' moments in lanes; the order statistics (exact) from
    :func:`bucket_deciles`."""
    last = n - 1
    y0, y1 = linear_fit_lanes(buf, last, 1.0, 0.0, float(last))
    slope = (y1 - y0) / last
    if p10 == 4:
        return _interdecile_4(buf, n, y0, slope, length_m)
    r1, r2 = _residuals(buf, n, y0, slope)
    return bucket_deciles(buf, n, p10, r1, r2, length_m)


#: Bucket boundaries of :func:`bucket_deciles` on each side, in standard deviations of the
#: residuals beyond their mean: ``_B_FIRST_SD + i·_B_STEP_SD`` for i = 0 … 6 (0.5 … 1.4 sd; on
#: SRTM3 paths the 10 % point of the residuals lies there for 98 % of paths, the residuals'
#: tails being light).
_B_FIRST_SD = 0.5
_B_STEP_SD = 0.15
#: A gathered tail longer than ``p10`` + this is narrowed (:func:`_narrow_tail`) before the
#: selection; shorter ones go straight to it (narrowing would cost more than it saves).
_NARROW_OVER = 8


@njit(**_JIT)
def _bucket_pass(res, hi, lo, n, mean, inv_w, off):
    """One vectorisable pass over the residuals ``res[:n]``: for each, its bucket on the upper
    side ``x = min(max((v − mean)·inv_w − off, 0), 7)`` (stored in ``hi``) and on the lower
    side (``−(v − mean)·inv_w − off``, in ``lo``; separate views, so LLVM vectorises the
    stores at full width), and the count of each
    bucket ``int(x)`` packed one per byte into an integer per side (a byte cannot overflow:
    ``n ≤ 245``). ``int(x) ≥ b`` ⟺ ``x ≥ b`` for whole ``b``, and ``x`` never decreases with
    ``v`` on the upper side (never increases on the lower): a bucket and those beyond it hold
    the largest (smallest) residuals, ties together."""
    acc_h = 0
    acc_l = 0
    for j in range(n):
        u = (res[j] - mean) * inv_w
        xh = min(max(u - off, 0.0), 7.0)
        xl = min(max(-u - off, 0.0), 7.0)
        hi[j] = xh
        lo[j] = xl
        acc_h += 1 << (int(xh) << 3)
        acc_l += 1 << (int(xl) << 3)
    return acc_h, acc_l


@njit(**_JIT)
def _top_bucket(acc, p10, n):
    """The highest bucket ``b`` (0 … 7) whose residuals and those beyond hold at least
    ``p10`` (from :func:`_bucket_pass`'s packed counts), and how many they are."""
    c = 0
    for b in range(7, 0, -1):
        c += (acc >> (b << 3)) & 255
        if c >= p10:
            return b, c
    return 0, n


@njit(**_JIT)
def _narrow_bounds(mean, sd, w, off, b, sign):
    """``(t_in, t_out, sign)`` for :func:`_narrow_tail` on a tail gathered from bucket ``b``
    of :func:`_bucket_pass`: that bucket's bound and the next (the last bucket: three steps
    further; bucket 0, every residual: from ``mean − sign·sd`` to the first bound)."""
    if b == 0:
        return mean - sign * sd, mean + sign * (off + 1.0) * w, sign
    t_in = mean + sign * (off + b) * w
    return t_in, t_in + sign * (w if b < 7 else 4.0 * w), sign


@njit(**_JIT)
def bucket_deciles(buf, n, p10, s1, s2, length_m):
    """:func:`phusong.coverage._itm_terrain.tail_deciles` (same arguments, the same value bit
    for bit): the exact ``p10``-th largest and smallest of the residuals ``buf[:n]``, scaled
    to Δh, with the tails found by one counting pass instead of fourteen thresholds.

    :func:`_bucket_pass` puts each residual into one of eight buckets per side (bounds at
    :data:`_B_FIRST_SD` … in standard deviations) and counts them; the highest bucket that
    with those beyond it holds ``p10`` residuals gives the tail, gathered without branches
    (the residuals of that bucket and beyond, by the stored bucket, so counting and gathering
    agree exactly); a long tail is narrowed (:func:`_narrow_tail`, exact), then
    :func:`kth_largest` takes the order statistic. Every residual of the tail is at least
    (at most) every one outside it, so the tail's ``p10``-th is the whole set's: the same
    order statistics as a full sort, in O(n).
    """
    mean = s1 / n
    sd = math.sqrt(max(s2 / n - mean * mean, 0.0))
    w = _B_STEP_SD * sd
    inv_w = 1.0 / w
    off = _B_FIRST_SD / _B_STEP_SD - 1.0  # x = 1 at the first bound
    if inv_w < math.inf:
        acc_h, acc_l = _bucket_pass(buf, buf[_HI:_HI + n], buf[_LO:_LO + n], n, mean, inv_w,
                                    off)
        bh, n_hi = _top_bucket(acc_h, p10, n)
        bl, n_lo = _top_bucket(acc_l, p10, n)
    else:  # no spread (or none resolvable): every residual is in both tails
        for j in range(n):
            buf[_HI + j] = 0.0
            buf[_LO + j] = 0.0
        bh = bl = 0
        w = 0.0
    ch = float(bh)
    cl = float(bl)
    n_hi = 0
    n_lo = 0
    for j in range(n):  # branch-free gathering; a slot is read before any write reaches it
        xh = buf[_HI + j]
        xl = buf[_LO + j]
        v = buf[j]
        buf[_HI + n_hi] = v
        n_hi += xh >= ch
        buf[_LO + n_lo] = v
        n_lo += xl >= cl
    # narrowing's thresholds lie between the tail's bucket bound and the next (from a
    # standard deviation inside the mean when every residual was gathered); any will do for
    # exactness (it keeps the p10 most extreme), these make it short
    if n_hi > p10 + _NARROW_OVER:
        n_hi = _narrow_tail(buf, _HI, n_hi, p10, *_narrow_bounds(mean, sd, w, off, bh, 1.0))
    if n_lo > p10 + _NARROW_OVER:
        n_lo = _narrow_tail(buf, _LO, n_lo, p10, *_narrow_bounds(mean, sd, w, off, bl, -1.0))
    tmp = buf[_TMP:]
    # upper decile: the p10-th largest; lower: the p10-th smallest (rank n_lo − p10 + 1 of
    # the lower tail, from the top)
    q10 = kth_largest_chain(buf, _HI, n_hi, p10, tmp)
    q90 = kth_largest_chain(buf, _LO, n_lo, n_lo - p10 + 1, tmp)
    return (q10 - q90) / (1.0 - 0.8 * math.exp(-length_m / 50e3))


#: Ranks (from the nearer end) up to which :func:`kth_largest_chain` keeps the extremes in
#: registers.
CHAIN = 8


@njit(**_JIT)
def kth_largest_chain(a, lo, m, k, tmp):
    """:func:`phusong.coverage._itm_terrain.kth_largest` (same value, exact): when the rank
    from the nearer end is at most :data:`CHAIN` (a tail barely longer than ``p10``), the
    ``CHAIN`` most extreme values are kept in registers by a branch-free compare-exchange
    chain (min/max only: no mispredicted insertions); otherwise ``kth_largest``."""
    r = m - k + 1
    s = 1.0
    if r < k:
        k = r
        s = -1.0
    if k > CHAIN:
        return kth_largest(a, lo, m, m - k + 1 if s < 0.0 else k, tmp)
    if k == 1:  # the extreme itself: a reduction
        t0 = -math.inf
        for i in range(m):
            t0 = max(t0, s * a[lo + i])
        return s * t0
    t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = -math.inf
    for i in range(m):
        u = s * a[lo + i]
        h = max(t0, u)
        u = min(t0, u)
        t0 = h
        h = max(t1, u)
        u = min(t1, u)
        t1 = h
        h = max(t2, u)
        u = min(t2, u)
        t2 = h
        h = max(t3, u)
        u = min(t3, u)
        t3 = h
        h = max(t4, u)
        u = min(t4, u)
        t4 = h
        h = max(t5, u)
        u = min(t5, u)
        t5 = h
        h = max(t6, u)
        u = min(t6, u)
        t6 = h
        t7 = max(t7, u)
    if k <= 4:
        return s * (t1 if k == 2 else t2 if k == 3 else t3)
    return s * (t4 if k == 5 else t5 if k == 6 else t6 if k == 7 else t7)


@njit(**_JIT)
def find_horizons_fast(z, n_int, xi, a_e, h_tx, h_rx):
    """:func:`phusong.coverage._itm_terrain.find_horizons` (the same loop, the same floats bit
    for bit: tests) with each sample's two horizon candidates in one two-lane expression
    (:func:`phusong.coverage._itm_pairs.horizon_pair`): one division instruction for two."""
    d, z_tx, z_rx, half_c, th_tx, th_rx = line_of_sight(z, n_int, xi, a_e, h_tx, h_rx)
    dl_tx = d
    dl_rx = d
    d_tx = 0.0
    d_rx = d
    for i in range(1, n_int):
        d_tx += xi
        d_rx -= xi
        t, r = horizon_pair(z[i], z_tx, z_rx, d_tx, d_rx, half_c)
        if t > th_tx:
            th_tx = t
            dl_tx = d_tx
        if r > th_rx:
            th_rx = r
            dl_rx = d_rx
    return th_tx, th_rx, dl_tx, dl_rx


@njit(**_JIT)
def quick_profile_fast(z, n_int, xi, gamma_e, h_tx, h_rx, buf):
    """:func:`phusong.coverage._itm_terrain.quick_profile` from the functions above (the
    horizons: :func:`find_horizons_fast`, bit for bit the reference's)."""
    d = n_int * xi
    a_e = 1.0 / gamma_e
    th0, th1, dl0, dl1 = find_horizons_fast(z, n_int, xi, a_e, h_tx, h_rx)
    d_start, d_end = fit_range(d, h_tx, h_rx, dl0, dl1)
    dh = delta_h_fast(z, n_int, xi, d_start, d_end, buf)
    return profile_rest(z, n_int, xi, a_e, h_tx, h_rx, th0, th1, dl0, dl1, d, dh, _NO_SUMS, _NO_SUMS,
                        True)
