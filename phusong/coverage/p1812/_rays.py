"""P.1812 along radial rays, every ray sample a receiver, walking each ray outwards.

The path to sample ``j`` is the ray prefix ``h[0..j]`` (spacing ``s``) with a clutter height
R and a radio-climatic zone per sample (from the land cover, or the settings' defaults). A
plain call of the path kernel costs O(j) per sample. Here the maxima over the intermediate points that P.1812's
profile analysis takes are kept incrementally as samples ``1..j−1`` join:

* from the transmitter side, maxima that do not depend on the receiver (the horizon angle of
  eq. (77), the slope Stim of eq. (13) for both effective radii, the obstruction slope of
  (89b)) are running maxima: O(1);
* from the receiver side (its horizon, eq. (82); Srim of eq. (17); the obstruction slope of
  (89c)) the maximum of ``(y_i − y_Q)/(d_Q − d_i)`` is the tangent from the receiver's point
  Q to the upper convex hull of the points ``(d_i, y_i)``, with the earth curvature folded
  into ``y_i = h_i − 500 d_i²/a``: each hull is kept incrementally (monotone chain, amortised
  O(1) per sample) and searched in O(log j); the greatest obstruction above the chord
  (89a) is a linear maximum on the hull of the terrain, also O(log j);
* the smooth-profile slopes and ν of the delta-Bullington method (zero heights) are concave
  or unimodal in ``d_i``: their maxima lie at the samples next to the continuous optimum,
  O(log j) (:func:`~phusong.coverage.p1812._kernel.smooth_slope_best`,
  :func:`~phusong.coverage.p1812._kernel.smooth_nu_best`, shared with the path kernel);
* the least-squares smooth Earth, eqs. (85)-(88), is a running sum: O(1);
* the zone sections of §3.6 (ω of eq. (1), the longest land and inland sections dtm, dlm)
  and the distances to the coast dct, dcr: a section's length is final once a point of
  another zone follows it, so closed sections are summed or maximised once and only the open
  one reaching the receiver is added per sample: O(1);
* the roughness hm, eq. (95), a maximum between the two horizons, is scanned with blocks of
  16 samples skipped by their maximum height when they cannot beat it;
* what stays O(j): the greatest ν over the real profile when it is line of sight (eqs. (15)
  and (80a); ν carries the weight ``sqrt(d/(d_i (d − d_i)))`` and is not a hull query), done
  once per sample for all bands (its argument does not depend on the wavelength).

Every maximum is then re-evaluated at its point with the path kernel's own expression, so a
ray sample gets the loss of the path kernel on the same prefix to rounding (tested to 1e-9 dB).
Samples closer than 4 intervals use the path kernel on the resampled 5-point path
(:mod:`phusong.coverage.p1812._engine`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from phusong.coverage._hull import hull_push, hull_support, hull_tangent
from phusong.coverage.p1812._kernel import (
    N_SCRATCH,
    bull_loss,
    coast_km,
    combine,
    path_loss,
    sigma_l_eq68,
    smooth_nu_best,
    smooth_slope_best,
)

__all__ = ["incremental_rays", "incremental_rays_serial", "short_path_loss", "sigma_engine"]

_JIT = {"cache": True, "nogil": True}
_BLOCK = 16


@njit(**_JIT)
def _push(hd, hz, hix, nh, row, i, d, y):
    """Point ``i`` of ``(d, y)`` joins hull ``row``; ``hix`` keeps each vertex's sample."""
    nh[row] = hull_push(hd[row], hz[row], nh[row], d[i], y[i])
    hix[row, nh[row] - 1] = i


@njit(**_JIT)
def _tangent(hd, hz, hix, nh, row, qd, qy):
    """Sample of hull ``row`` maximising ``(y − qy)/(qd − d)`` (the later one on ties)."""
    return hix[row, hull_tangent(hd[row], hz[row], nh[row], qd, qy, True)]


@njit(**_JIT)
def sigma_engine(prm, f_ghz, hrx, r_rx):
    """σL of the settings (≥ 0) or eq. (68) (``prm[5] < 0``); 0 at pL = 50 %, where eq. (67)
    asks for no location correction (Attachment 2's approximation gives I(0.5) ≈ −1.8e-5,
    not 0, and would move the median by σL × 1.8e-5 dB)."""
    if prm[1] == 50.0:
        return 0.0
    return prm[5] if prm[5] >= 0.0 else sigma_l_eq68(f_ghz, hrx, r_rx, prm[7])


@njit(**_JIT)
def short_path_loss(h, r, z, j, s, f_ghz, htx, hrx, phi, prm, dn, n0):
    """Lb of the path ``h[0..j]`` with fewer than 5 points (j < 4 intervals): resampled to 5
    equally spaced points (linear interpolation of the terrain; clutter height and zone of
    the nearest original point) over at least 10 m."""
    dist = max(j * s, 0.01)
    d5 = np.empty(5)
    h5 = np.empty(5)
    r5 = np.empty(5)
    z5 = np.empty(5, np.int64)
    for t in range(5):
        d5[t] = dist * t / 4.0
        pos = (j * t) / 4.0
        i0 = min(int(math.floor(pos)), max(j - 1, 0))
        wgt = pos - i0
        h5[t] = h[i0] if j == 0 else h[i0] * (1.0 - wgt) + h[i0 + 1] * wgt
        near = i0 if wgt < 0.5 or j == 0 else i0 + 1
        r5[t] = r[near]
        z5[t] = z[near]
    dct, dcr = coast_km(d5, z5, 0, 5, prm[6])
    return path_loss(d5, h5, r5, z5, 0, 5, np.empty((N_SCRATCH, 5)), f_ghz, prm[0], prm[1],
                     htx, hrx, int(prm[2]), phi, dn, n0, dct, dcr,
                     sigma_engine(prm, f_ghz, hrx, r[j]), False, np.empty(0))


@njit(**_JIT)
def _nu_scan(d, y, flat, j, dtot, hts, hrs, k):
    """Greatest ν of eq. (15) without the wavelength (× 1/sqrt(λ) gives ν), and its last
    point: O(j), for line-of-sight cases."""
    numax = -np.inf
    arg = 1
    for i in range(1, j):
        x = dtot - d[i]
        gi = 0.0 if flat else y[i]
        nu = (gi + k * d[i] * x - (hts * x + hrs * d[i]) / dtot) * math.sqrt(
            0.002 * dtot / (d[i] * x))
        if nu >= numax:
            numax = nu
            arg = i
    return numax, arg


@njit(**_JIT)
def _hm(h, d, bmax, lt, lr, hst, m):
    """Roughness hm, eq. (95): max of ``h_i − (hst + m d_i)`` over ``lt ≤ i ≤ lr``; blocks of
    :data:`_BLOCK` samples whose bound cannot beat the best so far are skipped."""
    best = -np.inf
    i = lt
    while i <= lr:
        if i % _BLOCK == 0 and i + _BLOCK - 1 <= lr:
            dmin = d[i] if m >= 0.0 else d[i + _BLOCK - 1]
            if bmax[i // _BLOCK] - (hst + m * dmin) + 1e-9 < best:
                i += _BLOCK
                continue
        best = max(best, h[i] - (hst + m * d[i]))
        i += 1
    return best


@njit(**_JIT)
def _in_kind(zi, kind):
    """Point of zone ``zi`` in a section kind: 0 sea, 1 land (3 or 4), 2 inland (4)."""
    if kind == 0:
        return zi == 1
    if kind == 1:
        return zi == 3 or zi == 4
    return zi == 4


@njit(**_JIT)
def _sections_add(d, z, j, sec, run):
    """Point ``j`` joins the ray prefix: close the runs it ends (their length is final, with
    half an interval on each side as in :func:`~phusong.coverage.p1812._kernel._sections`,
    in the same operations), open the runs it starts; track the first and last sea point."""
    for kind in range(3):
        inside = _in_kind(z[j], kind)
        i = run[kind]
        if inside and i < 0:
            run[kind] = j
        elif not inside and i >= 0:
            e = j - 1
            length = d[e] - d[i]
            length += 0.5 * (d[e + 1] - d[e])
            if i > 0:
                length += 0.5 * (d[i] - d[i - 1])
            if kind == 0:
                sec[0] += length
            else:
                sec[kind] = max(sec[kind], length)
            run[kind] = -1
    if z[j] == 1:
        if run[3] < 0:
            run[3] = j
        run[4] = j


@njit(**_JIT)
def _sections_at(d, j, sec, run):
    """(ω, dtm, dlm) of §3.6 / eq. (1) for the prefix ``0..j``: the closed runs and the open
    one ending at ``j`` (no half interval past the receiver)."""
    out = np.empty(3)
    for kind in range(3):
        i = run[kind]
        if i < 0:
            out[kind] = sec[kind]
            continue
        length = d[j] - d[i]
        if i > 0:
            length += 0.5 * (d[i] - d[i - 1])
        out[kind] = sec[0] + length if kind == 0 else max(sec[kind], length)
    return out[0] / (d[j] - d[0]), out[1], out[2]


@njit(**_JIT)
def _coast_at(d, j, run, far):
    """(dct, dcr) of :func:`~phusong.coverage.p1812._kernel.coast_km` for the prefix 0..j."""
    first = run[3]
    last = run[4]
    if first < 0:
        return far, far
    dct = 0.0 if first == 0 else d[first - 1] - d[0] + 0.5 * (d[first] - d[first - 1])
    dcr = 0.0 if last == j else d[j] - d[last + 1] + 0.5 * (d[last + 1] - d[last])
    return dct, dcr


@njit(**_JIT)
def _one_ray(k, rays, rr, zz, last_j, step_m, slot, need, f_ghz, htx, hrx, lat0, dlat, prm,
             dn, n0, out):
    n_s = rays.shape[1]
    n_f = f_ghz.shape[0]
    h = rays[k]
    r = rr[k]
    z = zz[k]
    p, pl, pol = prm[0], prm[1], int(prm[2])
    s = step_m / 1000.0
    top = min(last_j, n_s - 1) + 1
    d = np.arange(n_s) * s
    ae = 6371.0 * 157.0 / (157.0 - dn)
    n_ap = 1 if p == 50.0 else 2
    aps = np.array([ae, 6371.0 * 3.0])
    ke = 500.0 / ae
    c2 = 1.0 / (2.0 * ae)
    g = h + r  # intermediate points only are ever read
    u = h - ke * d * d  # the receiver-horizon hull's heights
    w = np.empty((2, n_s))
    for q in range(n_ap):
        w[q] = g - (500.0 / aps[q]) * d * d
    bmax = np.full(n_s // _BLOCK + 1, -np.inf)
    for i in range(top):
        bmax[i // _BLOCK] = max(bmax[i // _BLOCK], h[i])
    hd = np.empty((4, n_s))  # upper hulls: 0 terrain (d, h), 1 (d, u), 2 + q (d, w_q)
    hz = np.empty((4, n_s))
    hix = np.empty((4, n_s), np.int64)
    nh = np.zeros(4, np.int64)
    hts = h[0] + htx
    targ = -np.inf
    lt_tx = 1
    aobt_m = -np.inf
    stim_i = np.ones(2, np.int64)
    stim_v = np.full(2, -np.inf)
    v1 = 0.0
    v2 = 0.0
    north = math.cos(k * (2.0 * math.pi / rays.shape[0]))
    sec = np.zeros(3)  # closed sea sum, longest closed land / inland section
    run = np.full(5, -1, np.int64)  # open run start per kind; first and last sea point
    _sections_add(d, z, 0, sec, run)
    la = np.empty(2)
    ls = np.empty(2)
    stims = np.empty(2)
    srims = np.empty(2)
    nua = np.empty(2)
    nus = np.empty(2)
    stiss = np.empty(2)
    sriss = np.empty(2)
    diag = np.empty(0)
    for j in range(1, top):
        dd = d[j] - d[j - 1]
        v1 += dd * (h[j] + h[j - 1])  # (85), in the path kernel's order
        v2 += dd * (h[j] * (2.0 * d[j] + d[j - 1]) + h[j - 1] * (d[j] + 2.0 * d[j - 1]))
        _sections_add(d, z, j, sec, run)
        if j >= 2:  # point j − 1 becomes an intermediate point
            i = j - 1
            _push(hd, hz, hix, nh, 0, i, d, h)
            _push(hd, hz, hix, nh, 1, i, d, u)
            iv = 1.0 / d[i]
            t = (h[i] - hts) * iv * 1e-3 - d[i] * c2
            if t > targ:
                targ = t
                lt_tx = i
            aobt_m = max(aobt_m, (h[i] - hts) * iv)
            for q in range(n_ap):
                _push(hd, hz, hix, nh, 2 + q, i, d, w[q])
                v = (w[q, i] - hts) * iv
                if v > stim_v[q]:
                    stim_v[q] = v
                    stim_i[q] = i
        uslot = slot[k * n_s + j]
        if uslot < 0:
            continue
        todo = False
        for f in range(n_f):
            todo = todo or need[f, uslot]
        if not todo:
            continue
        phi = lat0 + dlat * 0.5 * max(j * step_m, 10.0) * north
        if j < 4:
            for f in range(n_f):
                if need[f, uslot]:
                    out[f, uslot] = short_path_loss(h, r, z, j, s, f_ghz[f], htx, hrx, phi,
                                                    prm, dn, n0)
            continue
        dtot = d[j]
        hrs = h[j] + hrx
        hst = (2.0 * v1 * dtot - v2) / (dtot * dtot)  # (87)
        hsr = (v2 - v1 * dtot) / (dtot * dtot)  # (88)
        c = (hrs - hts) / dtot
        vo = hix[0, hull_support(hd[0], hz[0], nh[0], c)]
        inv_dtot = 1.0 / dtot
        hobs = h[vo] - (hts * (dtot - d[vo]) + hrs * d[vo]) * inv_dtot  # (89a)
        if hobs <= 0.0:
            hstp = hst
            hsrp = hsr
        else:
            aobt = aobt_m - c  # (89b)
            vr = _tangent(hd, hz, hix, nh, 0, dtot, hrs)
            aobr = (h[vr] - (hts * (dtot - d[vr]) + hrs * d[vr]) * inv_dtot) / (dtot - d[vr])
            gt = aobt / (aobt + aobr)
            gr = aobr / (aobt + aobr)
            hstp = hst - hobs * gt
            hsrp = hsr - hobs * gr
        hstd = h[0] if hstp >= h[0] else hstp  # (91)
        hsrd = h[j] if hsrp > h[j] else hsrp
        tmax = 1000.0 * math.atan(targ)
        ttd = 1000.0 * math.atan((hrs - hts) / (1000.0 * dtot) - dtot / (2.0 * ae))
        trd = 1000.0 * math.atan((hts - hrs) / (1000.0 * dtot) - dtot / (2.0 * ae))
        trans = tmax > ttd
        theta_t = max(tmax, ttd)
        if trans:
            lt = lt_tx
            lr = _tangent(hd, hz, hix, nh, 1, dtot, hrs - ke * dtot * dtot)
            x = dtot - d[lr]
            theta_r = 1000.0 * math.atan((h[lr] - hrs) / (1000.0 * x) - x * c2)  # (82)
            dlt = d[lt]
            dlr = dtot - d[lr]
        else:
            theta_r = trd
            _, lt = _nu_scan(d, h, False, j, dtot, hts, hrs, ke)
            lr = lt
            dlt = d[lt]
            dlr = dtot - dlt
        theta = 1e3 * dtot / ae + theta_t + theta_r  # (84)
        hst = min(hst, h[0])
        hsr = min(hsr, h[j])
        m = (hsr - hst) / dtot
        hte = htx + h[0] - hst
        hre = hrx + h[j] - hsr
        hm = _hm(h, d, bmax, lt, lr, hst, m)
        se = (hstd, hsrd, hte, hre, hm, dlt, dlr, theta_t, theta_r, theta, trans)
        hts1 = hts - hstd
        hrs1 = hrs - hsrd
        for q in range(n_ap):
            kq = 500.0 / aps[q]
            i = stim_i[q]
            stims[q] = (g[i] + kq * d[i] * (dtot - d[i]) - hts) / d[i]  # (13)
            i = _tangent(hd, hz, hix, nh, 2 + q, dtot, hrs - kq * dtot * dtot)
            srims[q] = (g[i] + kq * d[i] * (dtot - d[i]) - hrs) / (dtot - d[i])  # (17)
            nua[q] = 0.0
            if stims[q] < (hrs - hts) / dtot:
                nua[q], _ = _nu_scan(d, g, False, j, dtot, hts, hrs, kq)
            stiss[q] = smooth_slope_best(d, 0, j + 1, hts1, kq, dtot, False)
            sriss[q] = smooth_slope_best(d, 0, j + 1, hrs1, kq, dtot, True)
            nus[q] = 0.0
            if stiss[q] < (hrs1 - hts1) / dtot:
                nus[q] = smooth_nu_best(d, 0, j + 1, dtot, hts1, hrs1, kq)
        omega, dtm, dlm = _sections_at(d, j, sec, run)
        dct, dcr = _coast_at(d, j, run, prm[6])
        if z[0] == 1:
            dct = 0.0
        if z[j] == 1:
            dcr = 0.0
        for f in range(n_f):
            if not need[f, uslot]:
                continue
            sig = 0.0 if z[j] == 1 else sigma_engine(prm, f_ghz[f], hrx, r[j])
            lam = 0.2998 / f_ghz[f]
            for q in range(n_ap):
                la[q] = bull_loss(stims[q], srims[q], nua[q], hts, hrs, dtot, lam)
                ls[q] = bull_loss(stiss[q], sriss[q], nus[q], hts1, hrs1, dtot, lam)
            qb = n_ap - 1
            out[f, uslot] = combine(dtot, omega, dtm, dlm, se, hts, hrs, la[0], ls[0],
                                    la[qb], ls[qb], f_ghz[f], p, pl, pol, phi, dn, n0, dct,
                                    dcr, sig, False, diag)


@njit(parallel=True, **_JIT)
def incremental_rays(rays, rr, zz, last, step_m, slot, need, f_ghz, htx, hrx, lat0, dlat, prm,
                     dn, n0, out):
    """P.1812 Lb of every needed (band, ray sample) into ``out``; rays in parallel (see the
    module notes; layout as :func:`phusong.coverage.p1812._engine.ray_losses`)."""
    for k in prange(rays.shape[0]):
        if last[k] > 0:
            _one_ray(np.int64(k), rays, rr, zz, last[k], step_m, slot, need, f_ghz, htx, hrx, lat0,
                     dlat, prm, dn, n0, out)


@njit(**_JIT)
def incremental_rays_serial(rays, rr, zz, last, step_m, slot, need, f_ghz, htx, hrx, lat0,
                            dlat, prm, dn, n0, out):
    """:func:`incremental_rays` on the calling thread only; same results."""
    for k in range(rays.shape[0]):
        if last[k] > 0:
            _one_ray(k, rays, rr, zz, last[k], step_m, slot, need, f_ghz, htx, hrx, lat0,
                     dlat, prm, dn, n0, out)
