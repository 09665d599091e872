"""FROZEN REFERENCE for tests only: the P.1812 path kernel as it was before the arithmetic
rework of issue 19 (main at f4294f9, ``phusong/coverage/p1812/_kernel.py``), unchanged but for
this note.

``tests/test_p1812_kernel_rework.py`` checks the reworked kernel against it (losses within a
stated tolerance on the ITU's 63 profiles and on random ones). Do not edit it to follow the
package: it is the yardstick.

Numba kernels of ITU-R P.1812 (one path each; a batch loop over flat profiles).

Written from Recommendation ITU-R P.1812-6/-8, Annex 1, with the delta-Bullington diffraction
method of its §4.3 (the method of ITU-R P.526-15 §4.5). Equation numbers are those of
P.1812-6. Distances in km, heights in m, frequency in GHz, angles in mrad, inside this module.

A path is ``d[a:b]``, ``h[a:b]``, ``r[a:b]``, ``z[a:b]`` of the flat buffers: distances from
the transmitter (``d[a] == 0``, ascending, any spacing), terrain heights above sea level,
representative clutter heights and radio-climatic zones (1 sea, 3 coastal land, 4 inland).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from phusong.coverage.p1812._inputs import first_bad_in

__all__ = ["inv_cum_norm", "beta0", "loss_batch", "checked_loss_batch", "path_loss", "combine",
           "N_DIAG", "DIAG_NAMES", "sigma_l_eq68", "coast_km", "bull_loss", "bracket",
           "smooth_slope_best", "smooth_nu_best"]

#: Intermediate values written per path when diagnostics are asked for (in this order).
DIAG_NAMES = ("Lbfs", "Lb0p", "Lb0b", "Ld50", "Ldp", "Lbd50", "Lbd", "Lminb0p", "Lba",
              "Lminbap", "Lbda", "Lbam", "Lbs", "Lbc", "Lloc", "Lb", "b0", "theta", "dlt",
              "dlr", "omega", "dtm", "dlm", "hm", "hte", "hre", "hstd", "hsrd", "Fj", "Fk")
N_DIAG = len(DIAG_NAMES)

_RE_KM = 6371.0


@njit(cache=True, nogil=True)
def _tfun(y):
    return math.sqrt(-2.0 * math.log(y))  # eq. (97a)


@njit(cache=True, nogil=True)
def inv_cum_norm(x):
    """Approximate inverse complementary cumulative normal I(x), Attachment 2 eqs. (96)-(97).

    ``x`` is clipped to [1e-6, 0.999999]; ``I(x) = T(x) − C(x)`` for x ≤ 0.5 and
    ``−(T(1−x) − C(1−x))`` above, with ``T(y) = sqrt(−2 ln y)`` and the rational C of (97b).
    """
    x = min(max(x, 1e-6), 0.999999)
    y = x if x <= 0.5 else 1.0 - x
    t = _tfun(y)
    c = ((0.010328 * t + 0.802853) * t + 2.515516698) / (
        ((0.001308 * t + 0.189269) * t + 1.432788) * t + 1.0)
    return t - c if x <= 0.5 else -(t - c)


@njit(cache=True, nogil=True)
def _sections(d, z, a, b):
    """Fraction over sea ω (eq. (1)) and the longest land (dtm) and inland (dlm) sections, §3.6.

    A section of consecutive profile points in a zone extends half an interval beyond its end
    points (into the neighbouring points of another zone).
    """
    same = True  # one zone along the whole path: one section, no half-interval extensions
    for i in range(a + 1, b):
        if z[i] != z[a]:
            same = False
            break
    if same:
        length = d[b - 1] - d[a]
        if z[a] == 1:
            return 1.0, 0.0, 0.0
        return 0.0, length, length if z[a] == 4 else 0.0
    sea = 0.0
    dtm = 0.0
    dlm = 0.0
    for kind in range(3):  # 0: sea (sum), 1: land 3|4 (longest), 2: inland 4 (longest)
        i = a
        while i < b:
            zi = z[i]
            inside = (zi == 1) if kind == 0 else ((zi == 3 or zi == 4) if kind == 1 else zi == 4)
            if not inside:
                i += 1
                continue
            j = i
            while j + 1 < b:
                zj = z[j + 1]
                nxt = (zj == 1) if kind == 0 else ((zj == 3 or zj == 4) if kind == 1
                                                   else zj == 4)
                if not nxt:
                    break
                j += 1
            length = d[j] - d[i]
            if j + 1 < b:
                length += 0.5 * (d[j + 1] - d[j])
            if i > a:
                length += 0.5 * (d[i] - d[i - 1])
            if kind == 0:
                sea += length
            elif kind == 1:
                dtm = max(dtm, length)
            else:
                dlm = max(dlm, length)
            i = j + 1
    return sea / (d[b - 1] - d[a]), dtm, dlm


@njit(cache=True, nogil=True)
def beta0(phi_deg, dtm, dlm):
    """Time percentage β0 (%) of anomalous refractivity gradients, §3.5 eqs. (2)-(5)."""
    return _beta0_tau(phi_deg, dtm, _tau(dlm))


@njit(cache=True, nogil=True)
def _tau(dlm):
    """τ of eq. (3) from the longest inland section dlm, km (β0 and μ2 share it)."""
    return 1.0 - math.exp(-4.12e-4 * dlm ** 2.41)  # (3)


@njit(cache=True, nogil=True)
def _beta0_tau(phi_deg, dtm, tau):
    """β0 (%) of eqs. (2), (4), (5) for a given τ (eq. (3))."""
    mu1 = (10.0 ** (-dtm / (16.0 - 6.6 * tau)) + 10.0 ** (-5.0 * (0.496 + 0.354 * tau))) ** 0.2
    mu1 = min(mu1, 1.0)  # (2)
    aphi = abs(phi_deg)
    if aphi <= 70.0:
        mu4 = mu1 ** (-0.935 + 0.0176 * aphi)  # (4)
        return 10.0 ** (-0.015 * aphi + 1.67) * mu1 * mu4  # (5)
    return 4.17 * mu1 * mu1 ** 0.3


@njit(cache=True, nogil=True)
def _smooth_earth(d, h, r, a, b, htg, hrg, ae, f, g, invd, invx):
    """Profile analysis of Attachment 1: horizons, angular distance, smooth-Earth heights.

    Returns ((hstd, hsrd, hte, hre, hm, dlt, dlr, theta_t, theta_r, theta, transhorizon),
    Stim, Srim): the last two are Bullington's slopes (13), (17) of the profile with clutter
    for the radius ``ae``, found in the same pass.
    Eqs. (76)-(83) horizons; (84) θ; (85)-(88) least-squares smooth Earth; (89)-(91) the
    diffraction heights hstd/hsrd; (92)-(95) the ducting heights hte/hre and roughness hm.
    Fills ``invd[i] = 1/d_i``, ``invx[i] = 1/(d − d_i)`` and the profile with clutter
    ``g[i] = h_i + R_i`` (§3.2; ``g`` = ``h`` at the terminals) for the intermediate points
    (one fused pass with the sums of (85)-(86); the maxima are the Recommendation's, found on
    the arguments of the monotone arctangents).
    """
    dtot = d[b - 1] - d[a]
    hts = h[a] + htg
    hrs = h[b - 1] + hrg
    v1 = 0.0
    v2 = 0.0
    c2 = 1.0 / (2.0 * ae)
    inv_dtot = 1.0 / dtot
    hobs = -np.inf  # obstruction above the straight line between the antennas, (89a)-(89d)
    aobt = -np.inf
    aobr = -np.inf
    targ = -np.inf  # horizon elevation from Tx (77) and from Rx (82), before the arctangent
    rarg = -np.inf
    kb = 500.0 / ae  # Bullington's slopes (13), (17) of the profile with clutter, radius ae
    stim = -np.inf
    srim = -np.inf
    for i in range(a + 1, b - 1):  # branch-free maxima first, their points after
        dd = d[i] - d[i - 1]
        v1 += dd * (h[i] + h[i - 1])  # (85)
        v2 += dd * (h[i] * (2.0 * d[i] + d[i - 1]) + h[i - 1] * (d[i] + 2.0 * d[i - 1]))  # (86)
        g[i] = h[i] + r[i]
        di = d[i]
        x = dtot - di
        iv = 1.0 / di
        ix = 1.0 / x
        invd[i] = iv
        invx[i] = ix
        hh = h[i] - (hts * x + hrs * di) * inv_dtot
        hobs = max(hobs, hh)
        aobt = max(aobt, hh * iv)
        aobr = max(aobr, hh * ix)
        targ = max(targ, (h[i] - hts) * iv * 1e-3 - di * c2)
        rarg = max(rarg, (h[i] - hrs) * ix * 1e-3 - x * c2)
        gg = g[i] + kb * di * x
        stim = max(stim, (gg - hts) * iv)  # (13)
        srim = max(srim, (gg - hrs) * ix)  # (17)
    i = b - 1  # the last interval of the sums
    dd = d[i] - d[i - 1]
    v1 += dd * (h[i] + h[i - 1])
    v2 += dd * (h[i] * (2.0 * d[i] + d[i - 1]) + h[i - 1] * (d[i] + 2.0 * d[i - 1]))
    g[a] = h[a]
    g[b - 1] = h[b - 1]
    hst = (2.0 * v1 * dtot - v2) / (dtot * dtot)  # (87)
    hsr = (v2 - v1 * dtot) / (dtot * dtot)  # (88)
    lt = a + 1  # the first point of greatest elevation from Tx
    for i in range(a + 1, b - 1):
        if (h[i] - hts) * invd[i] * 1e-3 - d[i] * c2 == targ:
            lt = i
            break
    lr = b - 2  # the last point of greatest elevation from Rx
    for i in range(b - 2, a, -1):
        if (h[i] - hrs) * invx[i] * 1e-3 - (dtot - d[i]) * c2 == rarg:
            lr = i
            break
    if hobs <= 0.0:
        hstp = hst  # (90a)
        hsrp = hsr  # (90b)
    else:
        gt = aobt / (aobt + aobr)  # (90e)
        gr = aobr / (aobt + aobr)  # (90f)
        hstp = hst - hobs * gt  # (90c)
        hsrp = hsr - hobs * gr  # (90d)
    hstd = h[a] if hstp >= h[a] else hstp  # (91a), (91b)
    hsrd = h[b - 1] if hsrp > h[b - 1] else hsrp  # (91c), (91d)
    tmax = 1000.0 * math.atan(targ)  # (76)
    ttd = 1000.0 * math.atan((hrs - hts) / (1000.0 * dtot) - dtot / (2.0 * ae))  # (78)
    trd = 1000.0 * math.atan((hts - hrs) / (1000.0 * dtot) - dtot / (2.0 * ae))  # (81)
    trans = tmax > ttd  # (79): a trans-horizon path
    theta_t = max(tmax, ttd)
    if trans:
        dlt = d[lt]  # (80)
        theta_r = 1000.0 * math.atan(rarg)  # (82)
        dlr = dtot - d[lr]  # (83)
    else:
        theta_r = trd
        # the Bullington point of the 50 % time diffraction: the point of greatest ν, (80a)
        lam = 0.2998 / f
        numax = -np.inf
        k = 500.0 / ae
        cnu = 0.002 * dtot / lam
        for i in range(a + 1, b - 1):
            x = dtot - d[i]
            numax = max(numax, (h[i] + k * d[i] * x - (hts * x + hrs * d[i]) / dtot)
                        * math.sqrt(cnu * invd[i] * invx[i]))
        lt = a + 1
        for i in range(b - 2, a, -1):  # the last point of greatest ν
            x = dtot - d[i]
            if (h[i] + k * d[i] * x - (hts * x + hrs * d[i]) / dtot) * math.sqrt(
                    cnu * invd[i] * invx[i]) == numax:
                lt = i
                break
        dlt = d[lt]
        dlr = dtot - dlt  # (83a)
        lr = lt
    theta = 1e3 * dtot / ae + theta_t + theta_r  # (84)
    hst = min(hst, h[a])  # (92a)
    hsr = min(hsr, h[b - 1])  # (92b)
    m = (hsr - hst) / dtot  # (93)
    hte = htg + h[a] - hst  # (94a)
    hre = hrg + h[b - 1] - hsr  # (94b)
    hm = -np.inf
    for i in range(lt, lr + 1):
        hm = max(hm, h[i] - (hst + m * d[i]))  # (95)
    return (hstd, hsrd, hte, hre, hm, dlt, dlr, theta_t, theta_r, theta, trans), stim, srim


@njit(cache=True, nogil=True)
def _j_nu(nu):
    """Knife-edge loss J(ν), eq. (12) (P.526 eq. (31)); 0 for ν ≤ −0.78."""
    if nu > -0.78:
        return 6.9 + 20.0 * math.log10(math.sqrt((nu - 0.1) ** 2 + 1.0) + nu - 0.1)
    return 0.0


@njit(cache=True, nogil=True)
def bull_loss(stim, srim, nu_u, hts, hrs, dtot, lam):
    """Bullington loss, eqs. (14)-(21), from the slopes Stim (13) and Srim (17) and, for a
    line-of-sight profile, its greatest wavelength-free ν (eq. (15) × sqrt(λ))."""
    if stim < (hrs - hts) / dtot:  # (14): line of sight, (15)-(16)
        luc = _j_nu(nu_u / math.sqrt(lam))
    else:  # trans-horizon: the Bullington point, (18)-(20)
        dbp = (hrs - hts + srim * dtot) / (stim + srim)  # (18)
        nub = (hts + stim * dbp - (hts * (dtot - dbp) + hrs * dbp) / dtot) * math.sqrt(
            0.002 * dtot / (lam * dbp * (dtot - dbp)))  # (19)
        luc = _j_nu(nub)  # (20)
    return luc + (1.0 - math.exp(-luc / 6.0)) * (10.0 + 0.02 * dtot)  # (21)


@njit(cache=True, nogil=True)
def bracket(d, a, b, t):
    """The last intermediate point ``i`` (``a ≤ i ≤ b − 2``) with ``d[i] ≤ t``: the sample at
    or before ``t`` (``a`` when ``t`` lies before the first intermediate point)."""
    lo = a
    hi = b - 2
    if d[hi] <= t:
        return hi
    while hi - lo > 1:  # d[lo] ≤ t < d[hi] (d[a] = 0; t < 0 ends at a)
        mid = (lo + hi) // 2
        if d[mid] <= t:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def smooth_slope_best(d, a, b, h1, k, dtot, rx_side):
    """Greatest Stim (or Srim with ``rx_side``) of the zero-height smooth profile, eqs. (13)/
    (17): the slope ``k (D − t) − h1/t`` (``t`` the distance from that terminal, ``h1 > 0``,
    ``k = 500/a``) is strictly concave in ``t``, so over the intermediate points its maximum
    lies at one of the two points around ``t* = sqrt(h1/k)``: O(log n), any spacing."""
    t_star = math.sqrt(h1 / k)
    i0 = bracket(d, a, b, dtot - t_star if rx_side else t_star)
    best = -np.inf
    for q in range(i0, i0 + 2):
        i = min(max(q, a + 1), b - 2)
        x = dtot - d[i]
        bulge = k * d[i] * x
        best = max(best, (bulge - h1) / x if rx_side else (bulge - h1) / d[i])
    return best


@njit(cache=True, nogil=True)
def smooth_nu_best(d, a, b, dtot, ht, hr, k):
    """Greatest wavelength-free ν (eq. (15) × sqrt(λ)) over the zero-height smooth profile,
    terminals ``ht``, ``hr`` > 0 m above it. With ``r = sqrt(t/(D − t))``, ν ∝ ``k D r/(1 +
    r²) − (ht/r + hr r)/D`` whose derivative vanishes where the cubic ``−hr y³ + (ht − kD² −
    2 hr) y² + (kD² + 2 ht − hr) y + ht`` (``y = r²``) does: its signs allow exactly one
    positive root (Descartes; the case with three changes needs ht > 2 hr and hr > 2 ht), so
    ν is unimodal in ``t`` and its maximum over the points lies next to the root: the cubic
    is positive before it (``ht`` > 0 at y = 0) and negative after, so a binary search over
    the points on the cubic's sign at ``y_i = t_i/(D − t_i)`` finds the last point before
    the root: O(log n), any spacing."""
    kd2 = k * dtot * dtot
    c3 = -hr
    c2 = ht - kd2 - 2.0 * hr
    c1 = kd2 + 2.0 * ht - hr
    lo = a  # y = 0: the cubic is ht > 0
    hi = b - 1  # the far terminal: y = ∞, the cubic → −∞ (c3 < 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        y = d[mid] / (dtot - d[mid])
        if ((c3 * y + c2) * y + c1) * y + ht > 0.0:
            lo = mid
        else:
            hi = mid
    i0 = lo
    best = -np.inf
    for q in range(i0 - 1, i0 + 3):
        i = min(max(q, a + 1), b - 2)
        x = dtot - d[i]
        nu = (k * d[i] * x - (ht * x + hr * d[i]) / dtot) * math.sqrt(0.002 * dtot / (d[i] * x))
        best = max(best, nu)
    return best


@njit(cache=True, nogil=True)
def _bullington(d, g, invd, invx, a, b, hts, hrs, hts1, hrs1, ap, f, stim, srim):
    """Bullington losses of the profile with clutter ``g`` (Lbulla, terminals ``hts``/
    ``hrs``) and of the zero-height smooth profile (Lbulls, ``hts1``/``hrs1``), eqs.
    (13)-(21): the slopes (13), (17) of the profile in one pass (unless given: ``stim`` not
    −inf) and its greatest ν when in line of sight, those of the smooth profile in O(log n)
    (:func:`smooth_slope_best`, :func:`smooth_nu_best`)."""
    lam = 0.2998 / f
    dtot = d[b - 1] - d[a]
    k = 500.0 / ap
    if stim == -np.inf:
        for i in range(a + 1, b - 1):
            gg = g[i] + k * d[i] * (dtot - d[i])
            stim = max(stim, (gg - hts) * invd[i])  # (13)
            srim = max(srim, (gg - hrs) * invx[i])  # (17)
    nua = 0.0
    if stim < (hrs - hts) / dtot:  # line of sight: the greatest ν, (15)
        nua = -np.inf
        for i in range(a + 1, b - 1):
            x = dtot - d[i]
            nua = max(nua, (g[i] + k * d[i] * x - (hts * x + hrs * d[i]) / dtot) * math.sqrt(
                0.002 * dtot * invd[i] * invx[i]))
    stis = smooth_slope_best(d, a, b, hts1, k, dtot, False)
    sris = smooth_slope_best(d, a, b, hrs1, k, dtot, True)
    nus = 0.0
    if stis < (hrs1 - hts1) / dtot:
        nus = smooth_nu_best(d, a, b, dtot, hts1, hrs1, k)
    return (bull_loss(stim, srim, nua, hts, hrs, dtot, lam),
            bull_loss(stis, sris, nus, hts1, hrs1, dtot, lam))


@njit(cache=True, nogil=True)
def _se_ft_one(epsr, sigma, dkm, hte, hre, adft, f, pol):
    """First-term spherical-Earth diffraction loss for one ground, eqs. (29)-(36)."""
    k = 0.036 * (adft * f) ** (-1.0 / 3.0) * ((epsr - 1.0) ** 2 + (18.0 * sigma / f) ** 2) ** (
        -0.25)  # (29a) horizontal
    if pol == 2:
        k = k * (epsr ** 2 + (18.0 * sigma / f) ** 2) ** 0.5  # (29b) vertical
    k2 = k * k
    bdft = (1.0 + 1.6 * k2 + 0.67 * k2 * k2) / (1.0 + 4.5 * k2 + 1.53 * k2 * k2)  # (30)
    x = 21.88 * bdft * (f / adft ** 2) ** (1.0 / 3.0) * dkm  # (31)
    fy = (f ** 2 / adft) ** (1.0 / 3.0)
    yt = 0.9575 * bdft * fy * hte  # (32a)
    yr = 0.9575 * bdft * fy * hre  # (32b)
    if x >= 1.6:
        fx = 11.0 + 10.0 * math.log10(x) - 17.6 * x  # (33)
    else:
        fx = -20.0 * math.log10(x) - 5.6488 * x ** 1.425
    gmin = 2.0 + 20.0 * math.log10(k)
    g_sum = 0.0
    for y in (yt, yr):
        bb = bdft * y  # (35)
        if bb > 2.0:
            gy = 17.6 * (bb - 1.1) ** 0.5 - 5.0 * math.log10(bb - 1.1) - 8.0  # (34)
        else:
            gy = 20.0 * math.log10(bb + 0.1 * bb ** 3)
        g_sum += max(gy, gmin)
    return -fx - g_sum  # (36)


@njit(cache=True, nogil=True)
def _se_ft(dkm, hte, hre, adft, f, omega, pol):
    """First-term loss mixed over land and sea by the sea fraction ω, eq. (28)."""
    if omega <= 0.0:  # all land (ω = 0 gives the land term exactly): the sea term unused
        return _se_ft_one(22.0, 0.003, dkm, hte, hre, adft, f, pol)
    sea = _se_ft_one(80.0, 5.0, dkm, hte, hre, adft, f, pol)
    if omega >= 1.0:
        return sea
    land = _se_ft_one(22.0, 0.003, dkm, hte, hre, adft, f, pol)
    return omega * sea + (1.0 - omega) * land


@njit(cache=True, nogil=True)
def _spherical(dkm, hte, hre, ap, f, omega, pol):
    """Spherical-Earth diffraction loss Ldsph, §4.3.3 eqs. (22)-(27)."""
    lam = 0.2998 / f
    dlos = math.sqrt(2.0 * ap) * (math.sqrt(0.001 * hte) + math.sqrt(0.001 * hre))  # (22)
    if dkm >= dlos:
        return _se_ft(dkm, hte, hre, ap, f, omega, pol)
    c = (hte - hre) / (hte + hre)  # (24d)
    m = 250.0 * dkm * dkm / (ap * (hte + hre))  # (24e)
    bb = 2.0 * math.sqrt((m + 1.0) / (3.0 * m)) * math.cos(
        math.pi / 3.0 + math.acos(1.5 * c * math.sqrt(3.0 * m / (m + 1.0) ** 3)) / 3.0)  # (24c)
    dse1 = dkm / 2.0 * (1.0 + bb)  # (24a)
    dse2 = dkm - dse1  # (24b)
    hse = ((hte - 500.0 * dse1 * dse1 / ap) * dse2 + (hre - 500.0 * dse2 * dse2 / ap) * dse1
           ) / dkm  # (23)
    hreq = 17.456 * math.sqrt(dse1 * dse2 * lam / dkm)  # (25)
    if hse > hreq:
        return 0.0
    aem = 500.0 * (dkm / (math.sqrt(hte) + math.sqrt(hre))) ** 2  # (26)
    ldft = max(_se_ft(dkm, hte, hre, aem, f, omega, pol), 0.0)
    return (1.0 - hse / hreq) * ldft  # (27)


@njit(cache=True, nogil=True)
def _bullington_att4(dtot, hte, hre, ap, f):
    """Lbulls without a profile (Attachment 4, eqs. (104)-(112))."""
    ce = 1.0 / ap
    lam = 0.2998 / f
    dlos = math.sqrt(2.0 * ap) * (math.sqrt(0.001 * hte) + math.sqrt(0.001 * hre))
    if dtot < dlos:
        c = (hte - hre) / (hte + hre)
        m = 250.0 * dtot * dtot / (ap * (hte + hre))
        bb = 2.0 * math.sqrt((m + 1.0) / (3.0 * m)) * math.cos(
            math.pi / 3.0 + math.acos(1.5 * c * math.sqrt(3.0 * m / (m + 1.0) ** 3)) / 3.0)
        dse1 = dtot / 2.0 * (1.0 + bb)
        dse2 = dtot - dse1
        hse = ((hte - 500.0 * dse1 * dse1 / ap) * dse2 + (hre - 500.0 * dse2 * dse2 / ap)
               * dse1) / dtot
        nu = -hse * math.sqrt(0.002 * dtot / (lam * dse1 * (dtot - dse1)))  # (105)
    else:
        stm = 500.0 * ce * dtot - 2.0 * math.sqrt(500.0 * ce * hte)  # (107)
        srm = 500.0 * ce * dtot - 2.0 * math.sqrt(500.0 * ce * hre)  # (108)
        ds = (hre - hte + srm * dtot) / (stm + srm)  # (109)
        nu = (hte + stm * ds - (hte * (dtot - ds) + hre * ds) / dtot) * math.sqrt(
            0.002 * dtot / (lam * ds * (dtot - ds)))  # (110)
    lus = _j_nu(nu)
    return lus + (1.0 - math.exp(-lus / 6.0)) * (10.0 + 0.02 * dtot)  # (112)


@njit(cache=True, nogil=True)
def _delta(lbulla, lbulls, dtot, hts1, hrs1, ap, f, omega, pol, att4):
    """Delta-Bullington diffraction loss Ld for one effective Earth radius, §4.3.4 eq. (39),
    from the Bullington losses of the actual (Lbulla) and smooth (Lbulls) profiles."""
    if att4:
        lbulls = _bullington_att4(dtot, hts1, hrs1, ap, f)
    ldsph = _spherical(dtot, hts1, hrs1, ap, f, omega, pol)  # (38a), (38b)
    return lbulla + max(ldsph - lbulls, 0.0)  # (39)


@njit(cache=True, nogil=True)
def _anomalous(dtot, dlt, dlr, dct, dcr, tau, hts, hrs, hte, hre, hm, theta_t, theta_r, f, p,
               omega, ae, b0):
    """Ducting / layer-reflection loss Lba, §4.5 eqs. (46)-(56) (``tau`` of eq. (3))."""
    f3 = f ** (1.0 / 3.0)
    alf = 45.375 - 137.0 * f + 92.5 * f * f if f < 0.5 else 0.0  # (47a)
    tt2 = theta_t - 0.1 * dlt  # (48a)
    tr2 = theta_r - 0.1 * dlr
    ast = (20.0 * math.log10(1.0 + 0.361 * tt2 * math.sqrt(f * dlt))
           + 0.264 * tt2 * f3) if tt2 > 0.0 else 0.0  # (48)
    asr = (20.0 * math.log10(1.0 + 0.361 * tr2 * math.sqrt(f * dlr))
           + 0.264 * tr2 * f3) if tr2 > 0.0 else 0.0
    act = 0.0  # over-sea surface duct coupling, (49)
    acr = 0.0
    if dct <= 5.0 and dct <= dlt and omega >= 0.75:
        act = -3.0 * math.exp(-0.25 * dct * dct) * (1.0 + math.tanh(0.07 * (50.0 - hts)))
    if dcr <= 5.0 and dcr <= dlr and omega >= 0.75:
        acr = -3.0 * math.exp(-0.25 * dcr * dcr) * (1.0 + math.tanh(0.07 * (50.0 - hrs)))
    gamma_d = 5e-5 * ae * f3  # (51)
    tt1 = min(theta_t, 0.1 * dlt)  # (52a)
    tr1 = min(theta_r, 0.1 * dlr)
    theta1 = 1e3 * dtot / ae + tt1 + tr1  # (52)
    di = min(dtot - dlt - dlr, 40.0)  # (56a)
    mu3 = math.exp(-4.6e-5 * (hm - 10.0) * (43.0 + 6.0 * di)) if hm > 10.0 else 1.0  # (56)
    alpha = max(-0.6 - 3.5e-9 * dtot ** 3.1 * tau, -3.4)  # (55a)
    mu2 = min((500.0 / ae * dtot ** 2 / (math.sqrt(hte) + math.sqrt(hre)) ** 2) ** alpha,
              1.0)  # (55)
    beta = b0 * mu2 * mu3  # (54)
    lb = math.log10(beta)
    gam = 1.076 / (2.0058 - lb) ** 1.012 * math.exp(
        -(9.51 - 4.8 * lb + 0.198 * lb * lb) * 1e-6 * dtot ** 1.13)  # (53a)
    ap_ = -12.0 + (1.2 + 3.7e-3 * dtot) * math.log10(p / beta) + 12.0 * (p / beta) ** gam  # (53)
    adp = gamma_d * theta1 + ap_  # (50)
    af = 102.45 + 20.0 * math.log10(f) + 20.0 * math.log10(dlt + dlr) + alf + ast + asr + \
        act + acr  # (47)
    return af + adp  # (46)


@njit(cache=True, nogil=True)
def path_loss(d, h, r, z, a, b, sc, f, p, pl, htg, hrg, pol, phi, dn, n0, dct, dcr, sigma_l,
              att4, diag):
    """Basic transmission loss Lb (dB) of one path, §4 of Annex 1 (eqs. (40)-(69)).

    ``sc`` is (3, ≥ b) scratch: the profile with clutter (§3.2), 1/d_i and 1/(d − d_i).
    ``diag`` (length :data:`N_DIAG` or 0) receives the intermediate values.
    """
    dtot = d[b - 1] - d[a]
    omega, dtm, dlm = _sections(d, z, a, b)
    ae = 6371.0 * 157.0 / (157.0 - dn)  # (6), (7a)
    ab = 6371.0 * 3.0  # (7b)
    g = sc[0]
    invd = sc[1]
    invx = sc[2]
    se, stim, srim = _smooth_earth(d, h, r, a, b, htg, hrg, ae, f, g, invd, invx)  # g: §3.2
    hts = h[a] + htg
    hrs = h[b - 1] + hrg
    hts1 = hts - se[0]  # (37a)
    hrs1 = hrs - se[1]  # (37b)
    la50, ls50 = _bullington(d, g, invd, invx, a, b, hts, hrs, hts1, hrs1, ae, f, stim, srim)
    lab, lsb = la50, ls50
    if p != 50.0:
        lab, lsb = _bullington(d, g, invd, invx, a, b, hts, hrs, hts1, hrs1, ab, f, -np.inf,
                               -np.inf)
    return combine(dtot, omega, dtm, dlm, se, hts, hrs, la50, ls50, lab, lsb, f, p, pl, pol,
                   phi, dn, n0, dct if z[a] != 1 else 0.0, dcr if z[b - 1] != 1 else 0.0,
                   sigma_l if z[b - 1] != 1 else 0.0, att4, diag)


@njit(cache=True, nogil=True)
def combine(dtot, omega, dtm, dlm, se, hts, hrs, la50, ls50, lab, lsb, f, p, pl, pol, phi, dn,
            n0, dct, dcr, sigma_l, att4, diag):
    """Lb from the profile analysis, §4.2-§4.8 (eqs. (8)-(69)).

    ``se`` is the tuple of :func:`_smooth_earth`; ``la50``/``ls50`` and ``lab``/``lsb`` the
    Bullington losses of the actual and smooth profiles for the median (ae) and the β0
    (ab) effective Earth radii; ``dct``/``dcr`` are 0 for a terminal at sea, ``sigma_l`` 0 for
    a receiver at sea (no location variability there, §4.8).
    """
    hstd, hsrd, hte, hre, hm, dlt, dlr, theta_t, theta_r, theta, _ = se
    tau = _tau(dlm)
    b0 = _beta0_tau(phi, dtm, tau)
    ae = 6371.0 * 157.0 / (157.0 - dn)  # (6), (7a)
    ab = 6371.0 * 3.0  # (7b)
    hts1 = hts - hstd  # (37a)
    hrs1 = hrs - hsrd  # (37b)
    fj = 1.0 - 0.5 * (1.0 + math.tanh(3.0 * 0.8 * (theta - 0.3) / 0.3))  # (57)
    fk = 1.0 - 0.5 * (1.0 + math.tanh(3.0 * 0.5 * (dtot - 20.0) / 20.0))  # (58)
    # line of sight with multipath and focusing, §4.2 eqs. (8)-(11)
    lgf = math.log10(f)
    lbfs = 92.4 + 20.0 * lgf + 10.0 * math.log10(dtot ** 2 + ((hts - hrs) / 1e3) ** 2)
    es = 2.6 * (1.0 - math.exp(-0.1 * (dlt + dlr)))
    lb0p = lbfs + es * math.log10(p / 50.0) if p != 50.0 else lbfs  # (9a), (10): log 1 = 0
    lb0b = lbfs + es * math.log10(b0 / 50.0)  # (9b), (11)
    # diffraction, §4.3 eqs. (40)-(43)
    ld50 = _delta(la50, ls50, dtot, hts1, hrs1, ae, f, omega, pol, att4)
    if p == 50.0:
        ldp = ld50
    else:
        ldb = _delta(lab, lsb, dtot, hts1, hrs1, ab, f, omega, pol, att4)
        fi = inv_cum_norm(p / 100.0) / inv_cum_norm(b0 / 100.0) if p > b0 else 1.0  # (40a)
        ldp = ld50 + fi * (ldb - ld50)  # (41)
    lbd50 = lbfs + ld50  # (42)
    lbd = lb0p + ldp  # (43)
    # combination, §4.6 eqs. (57)-(63)
    lminb0p = lb0p + (1.0 - omega) * ldp  # (59)
    if p >= b0:
        fi = inv_cum_norm(p / 100.0) / inv_cum_norm(b0 / 100.0)
        lminb0p = lbd50 + (lb0b + (1.0 - omega) * ldp - lbd50) * fi
    lba = _anomalous(dtot, dlt, dlr, dct, dcr, tau, hts, hrs, hte, hre, hm, theta_t, theta_r,
                     f, p, omega, ae, b0)
    eta = 2.5
    lminbap = eta * math.log(math.exp(lba / eta) + math.exp(lb0p / eta))  # (60)
    lbda = lminbap + (lbd - lminbap) * fk if lminbap <= lbd else lbd  # (61)
    lbam = lbda + (lminb0p - lbda) * fj  # (62)
    # troposcatter, §4.4 eqs. (44)-(45)
    lf = 25.0 * lgf - 2.5 * math.log10(f / 2.0) ** 2
    lbs = 190.1 + lf + 20.0 * math.log10(dtot) + 0.573 * theta - 0.15 * n0
    if p != 50.0:  # log 1 = 0 at p = 50 %
        lbs = lbs - 10.125 * math.log10(50.0 / p) ** 0.7
    lbc = -5.0 * math.log10(10.0 ** (-0.2 * lbs) + 10.0 ** (-0.2 * lbam))  # (63)
    # location variability, §4.8 eq. (67)
    lloc = -inv_cum_norm(pl / 100.0) * sigma_l if sigma_l != 0.0 else 0.0
    lb = max(lb0p, lbc + lloc)  # (69)
    if diag.shape[0] >= N_DIAG:
        vals = (lbfs, lb0p, lb0b, ld50, ldp, lbd50, lbd, lminb0p, lba, lminbap, lbda, lbam,
                lbs, lbc, lloc, lb, b0, theta, dlt, dlr, omega, dtm, dlm, hm, hte, hre, hstd,
                hsrd, fj, fk)
        for k in range(N_DIAG):
            diag[k] = vals[k]
    return lb


@njit(cache=True, nogil=True)
def loss_batch(d, h, r, z, start, count, f, p, pl, htg, hrg, pol, phi, dn, n0, dct, dcr,
               sigma_l, att4, want_diag):
    """Lb for every path ``k`` of the flat buffers ``[start[k], start[k] + count[k])``.

    Every scalar argument is an array with one value per path. Returns ``(lb, diag)``;
    ``diag`` is (n, :data:`N_DIAG`) when ``want_diag``, else (n, 0). The profiles must be
    valid (:func:`checked_loss_batch` checks them as it goes).
    """
    out, diag, _, _ = _batch(d, h, r, z, start, count, f, p, pl, htg, hrg, pol, phi, dn, n0,
                             dct, dcr, sigma_l, att4, want_diag, False)
    return out, diag


@njit(cache=True, nogil=True)
def checked_loss_batch(d, h, r, z, start, count, f, p, pl, htg, hrg, pol, phi, dn, n0, dct,
                       dcr, sigma_l, att4, want_diag):
    """:func:`loss_batch` that checks each profile (:func:`~phusong.coverage.p1812._inputs.
    first_bad_in`) just before computing its loss: ``(lb, diag, kind, point)``, ``kind`` 0
    when every path was valid, else the first bad value (the losses are then incomplete).
    One pass over the points instead of two."""
    return _batch(d, h, r, z, start, count, f, p, pl, htg, hrg, pol, phi, dn, n0, dct, dcr,
                  sigma_l, att4, want_diag, True)


@njit(cache=True, nogil=True)
def _batch(d, h, r, z, start, count, f, p, pl, htg, hrg, pol, phi, dn, n0, dct, dcr, sigma_l,
           att4, want_diag, check):
    n = start.shape[0]
    out = np.empty(n)
    diag = np.full((n, N_DIAG if want_diag else 0), np.nan)
    width = 0
    for k in range(n):
        width = max(width, count[k])
    sc = np.empty((3, width))  # one path's scratch: stays in cache from path to path
    empty = np.empty(0)
    for k in range(n):
        a = start[k]
        b = a + count[k]
        if check:
            kind, i = first_bad_in(d, h, r, z, a, b)
            if kind:
                return out, diag, kind, i
        row = diag[k] if want_diag else empty
        out[k] = path_loss(d[a:b], h[a:b], r[a:b], z[a:b], 0, count[k], sc, f[k], p[k], pl[k],
                           htg[k], hrg[k], pol[k], phi[k], dn[k], n0[k], dct[k], dcr[k],
                           sigma_l[k], att4[k], row)
    return out, diag, 0, -1


@njit(cache=True, nogil=True)
def sigma_l_eq68(f_ghz, hrx, r_rx, wa_m):
    """σL of §4.10 eq. (68), dB: ``(0.52 + 0.024 f) wa^0.28 uh``, ``uh`` 1 at or below the
    clutter height R at the receiver, falling linearly to 0 at R + 10 m."""
    uh = min(max(1.0 - (hrx - r_rx) / 10.0, 0.0), 1.0)
    return (0.52 + 0.024 * f_ghz) * wa_m ** 0.28 * uh


@njit(cache=True, nogil=True)
def coast_km(d, z, a, b, far):
    """(dct, dcr): land distance from each terminal to the first sea point (zone 1) along the
    path, km, to the end of the land section (half an interval past its last point, as the
    sections of §3.6); ``far`` when the path crosses no sea (eq. (49) then plays no part:
    ω = 0)."""
    first = -1
    last = -1
    for i in range(a, b):
        if z[i] == 1:
            if first < 0:
                first = i
            last = i
    if first < 0:
        return far, far
    dct = 0.0 if first == a else d[first - 1] - d[a] + 0.5 * (d[first] - d[first - 1])
    dcr = 0.0 if last == b - 1 else d[b - 1] - d[last + 1] + 0.5 * (d[last + 1] - d[last])
    return dct, dcr
