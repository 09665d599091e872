"""Numba kernels of ITU-R P.1812 (one path each; a batch loop over flat profiles).

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
from llvmlite import ir as llir
from numba import njit, types
from numba.extending import intrinsic

from phusong.coverage.p1812._inputs import first_bad_in

__all__ = ["inv_cum_norm", "beta0", "loss_batch", "checked_loss_batch", "path_loss", "combine",
           "N_DIAG", "N_SCRATCH", "DIAG_NAMES", "sigma_l_eq68", "coast_km", "bull_loss",
           "bracket", "smooth_slope_best", "smooth_nu_best", "fmax", "nu_pass",
           "profile_flags", "first_at", "last_at"]

#: Intermediate values written per path when diagnostics are asked for (in this order).
DIAG_NAMES = ("Lbfs", "Lb0p", "Lb0b", "Ld50", "Ldp", "Lbd50", "Lbd", "Lminb0p", "Lba",
              "Lminbap", "Lbda", "Lbam", "Lbs", "Lbc", "Lloc", "Lb", "b0", "theta", "dlt",
              "dlr", "omega", "dtm", "dlm", "hm", "hte", "hre", "hstd", "hsrd", "Fj", "Fk")
N_DIAG = len(DIAG_NAMES)

_RE_KM = 6371.0
_LN10 = math.log(10.0)
_LN_4_17 = math.log(4.17)
_LN_50 = math.log(50.0)
_LN_1_076 = math.log(1.076)
#: Rows of a path's scratch (:func:`path_loss`): the profile with clutter, the horizon
#: arguments from Tx and from Rx, and ν, per point.
N_SCRATCH = 4
# error_model="numpy": a division is a division (no zero test and branch per operation: the
# checked profiles never divide by zero), so the per-point loops vectorize
_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
_JIT_SUMS = dict(_JIT, fastmath={"reassoc", "nsz"})


@njit(**_JIT)
def _tfun(y):
    return math.sqrt(-2.0 * math.log(y))  # eq. (97a)


@njit(**_JIT)
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


@njit(**_JIT)
def _sections(d, z, a, b, same):
    """Fraction over sea ω (eq. (1)) and the longest land (dtm) and inland (dlm) sections, §3.6.

    A section of consecutive profile points in a zone extends half an interval beyond its end
    points (into the neighbouring points of another zone). ``same``: every point is in one
    zone (:func:`profile_flags`): one section, no half-interval extensions.
    """
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


@njit(**_JIT)
def beta0(phi_deg, dtm, dlm):
    """Time percentage β0 (%) of anomalous refractivity gradients, §3.5 eqs. (2)-(5)."""
    return math.exp(_ln_beta0(phi_deg, dtm, _tau(dlm)))


@njit(**_JIT)
def _tau(dlm):
    """τ of eq. (3) from the longest inland section dlm, km (β0 and μ2 share it)."""
    return 1.0 - math.exp(-4.12e-4 * dlm ** 2.41)  # (3)


@njit(**_JIT)
def _ln_beta0(phi_deg, dtm, tau):
    """ln β0 (β0 in %) of eqs. (2), (4), (5) for a given τ (eq. (3)).

    The powers are taken through logarithms: ``10^x = e^(x ln 10)``, ``ln μ1 = min(0.2 ln(…),
    0)`` and ``β0 = 10^(1.67 − 0.015|φ|) μ1^(1 + c)`` with ``μ4 = μ1^c``: one logarithm and
    three exponentials instead of five powers (equal to rounding)."""
    ln_mu1 = min(0.2 * math.log(math.exp(-_LN10 * dtm / (16.0 - 6.6 * tau))
                                + math.exp(-_LN10 * 5.0 * (0.496 + 0.354 * tau))), 0.0)  # (2)
    aphi = abs(phi_deg)
    if aphi <= 70.0:
        # (4): μ4 = μ1^(−0.935 + 0.0176|φ|); (5): β0 = 10^(−0.015|φ| + 1.67) μ1 μ4
        return _LN10 * (1.67 - 0.015 * aphi) + (0.065 + 0.0176 * aphi) * ln_mu1
    return _LN_4_17 + 1.3 * ln_mu1  # (5), |φ| > 70°: β0 = 4.17 μ1 μ1^0.3


@intrinsic
def fmax(typingctx, a, b):
    """``max(a, b)`` of two floats that are not NaN, as LLVM's ``maxnum`` (flags nnan, nsz).

    Python's ``max`` compiles to a compare and a select, which LLVM keeps scalar; ``maxnum``
    lets the loop vectorizer keep a running maximum in SIMD lanes. The order of the
    comparisons does not change a maximum, so the result is the same; only a NaN operand
    (never one here: the profiles are checked before, every scratch value is finite) would
    be undefined.
    """
    sig = types.float64(types.float64, types.float64)

    def codegen(context, builder, signature, args):
        dbl = llir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.maxnum", [dbl],
                                              llir.FunctionType(dbl, [dbl, dbl]))
        return builder.call(fn, args, fastmath=("nnan", "nsz"))

    return sig, codegen


@njit(**_JIT)
def profile_flags(d, h, r, z, a, b):
    """(valid, one zone, clutter) of the profile ``[a, b)`` in branch-free passes (they
    vectorize): valid when :func:`~phusong.coverage.p1812._inputs.first_bad_in` finds
    nothing (zone codes 1, 3, 4; finite distances and heights; finite clutter ≥ 0; distances
    from 0, strictly increasing); one zone when every point is in the zone of the first;
    clutter when R ≠ 0 at an intermediate point (without, the profile with clutter of §3.2 is
    the terrain). A zero-stride ``r`` or ``z`` (one value for every point) is read once."""
    bad = d[a] != 0.0
    for i in range(a, b):
        # x − x is 0 for a finite x, NaN for ±inf or NaN (and NaN != 0)
        bad = bad | ((d[i] - d[i]) != 0.0) | ((h[i] - h[i]) != 0.0)
    for i in range(a + 1, b):
        bad = bad | (d[i] <= d[i - 1])  # (a NaN is bad above)
    if r.strides[0] == 0:
        r0 = r[a]
        bad = bad | ((r0 - r0) != 0.0) | (r0 < 0.0)
        clutter = r0 != 0.0
    else:
        clutter = False
        for i in range(a, b):
            ri = r[i]
            bad = bad | ((ri - ri) != 0.0) | (ri < 0.0)
        for i in range(a + 1, b - 1):
            clutter = clutter | (r[i] != 0.0)
    z0 = z[a]
    mixed = False
    if z.strides[0] == 0:
        bad = bad | ((z0 != 1) & (z0 != 3) & (z0 != 4))
    else:
        for i in range(a, b):
            zi = z[i]
            bad = bad | ((zi != 1) & (zi != 3) & (zi != 4))
            mixed = mixed | (zi != z0)
    return not bad, not mixed, clutter


@njit(**_JIT_SUMS)
def _ls_sums(d, h, a, b):
    """The sums of eqs. (85), (86) (least-squares smooth Earth). Their order of addition is
    free here (``reassoc``: the loop vectorizes); they differ from a left-to-right sum by a
    few units in the last place."""
    v1 = 0.0
    v2 = 0.0
    for i in range(a + 1, b):
        dd = d[i] - d[i - 1]
        v1 += dd * (h[i] + h[i - 1])  # (85)
        v2 += dd * (h[i] * (2.0 * d[i] + d[i - 1]) + h[i - 1] * (d[i] + 2.0 * d[i - 1]))  # (86)
    return v1, v2


@njit(**_JIT)
def _horizon_pass(d, h, g, a, b, hts, hrs, c2, kb, kb2, et, er):
    """One vectorizable pass over the intermediate points: the maxima of the profile
    analysis and of Bullington's slopes.

    ``g`` is the profile with clutter (§3.2); ``et`` and ``er`` receive the horizon elevation
    argument from Tx (77) and from Rx (82) of each point, before the arctangent (two stores
    only: with more, LLVM gives up the run-time overlap checks that let it vectorize).
    Returns (hobs, aobt, aobr) of (89a)-(89c), the greatest (77) and (82) arguments, and Stim
    (13), Srim (17) of the profile with clutter for the radii of ``kb = 500/ae`` and ``kb2``.
    """
    dtot = d[b - 1] - d[a]
    inv_dtot = 1.0 / dtot
    hobs = -np.inf  # obstruction above the straight line between the antennas, (89a)-(89d)
    aobt = -np.inf
    aobr = -np.inf
    targ = -np.inf  # horizon elevation from Tx (77) and from Rx (82), before the arctangent
    rarg = -np.inf
    stim = -np.inf  # Bullington's slopes (13), (17) of the profile with clutter, radius ae
    srim = -np.inf
    stim2 = -np.inf  # the same for the radius of kb2
    srim2 = -np.inf
    for i in range(a + 1, b - 1):
        di = d[i]
        hi = h[i]
        x = dtot - di
        dx = di * x
        iv = 1.0 / di
        ix = 1.0 / x
        hh = hi - (hts * x + hrs * di) * inv_dtot
        hobs = fmax(hobs, hh)
        aobt = fmax(aobt, hh * iv)
        aobr = fmax(aobr, hh * ix)
        t = (hi - hts) * iv * 1e-3 - di * c2
        et[i] = t
        targ = fmax(targ, t)
        u = (hi - hrs) * ix * 1e-3 - x * c2
        er[i] = u
        rarg = fmax(rarg, u)
        gi = g[i]
        gg = gi + kb * dx
        stim = fmax(stim, (gg - hts) * iv)  # (13)
        srim = fmax(srim, (gg - hrs) * ix)  # (17)
        gg2 = gi + kb2 * dx
        stim2 = fmax(stim2, (gg2 - hts) * iv)
        srim2 = fmax(srim2, (gg2 - hrs) * ix)
    return hobs, aobt, aobr, targ, rarg, stim, srim, stim2, srim2


@njit(**_JIT)
def nu_pass(d, y, a, b, hts, hrs, k, nu):
    """Greatest ν of eq. (15) without the wavelength (× 1/sqrt(λ) gives ν) over the
    intermediate points of the profile ``y`` for ``k = 500/a``; each point's value in ``nu``
    (for the point of (80a)). One vectorizable pass."""
    dtot = d[b - 1] - d[a]
    inv_dtot = 1.0 / dtot
    c = 0.002 * dtot
    best = -np.inf
    for i in range(a + 1, b - 1):
        di = d[i]
        x = dtot - di
        v = (y[i] + k * di * x - (hts * x + hrs * di) * inv_dtot) * math.sqrt(c / (di * x))
        nu[i] = v
        best = fmax(best, v)
    return best


@njit(**_JIT)
def first_at(v, lo, hi, x):
    """The first ``i`` in ``[lo, hi)`` with ``v[i] == x`` (``lo`` if none): blocks of 8
    compared at once (one vector compare), then the block scanned."""
    i = lo
    while i + 8 <= hi:
        hit = False
        for j in range(8):
            hit = hit | (v[i + j] == x)
        if hit:
            break
        i += 8
    while i < hi:
        if v[i] == x:
            return i
        i += 1
    return lo


@njit(**_JIT)
def last_at(v, lo, hi, x, none):
    """The last ``i`` in ``[lo, hi)`` with ``v[i] == x`` (``none`` if none), by blocks of 8
    from the end as :func:`first_at`."""
    i = hi
    while i - 8 >= lo:
        hit = False
        for j in range(8):
            hit = hit | (v[i - 1 - j] == x)
        if hit:
            break
        i -= 8
    while i > lo:
        i -= 1
        if v[i] == x:
            return i
    return none


@njit(**_JIT)
def _hm_max(d, h, lo, hi, hst, m):
    """Roughness hm, eq. (95): the greatest ``h_i − (hst + m d_i)`` over ``lo ≤ i ≤ hi``."""
    hm = -np.inf
    for i in range(lo, hi + 1):
        hm = fmax(hm, h[i] - (hst + m * d[i]))
    return hm


@njit(**_JIT)
def _smooth_earth(d, h, r, a, b, htg, hrg, ae, a2, f, sc, clutter):
    """Profile analysis of Attachment 1: horizons, angular distance, smooth-Earth heights.

    Returns ((hstd, hsrd, hte, hre, hm, dlt, dlr, theta_t, theta_r, theta, transhorizon),
    Stim, Srim, Stim2, Srim2, ν): Bullington's slopes (13), (17) of the profile with clutter
    for the radius ``ae`` and for ``a2``, found in the same pass, and, for a line-of-sight
    path, the greatest wavelength-free ν of the terrain (NaN otherwise; it is the profile's
    with clutter when there is none).
    Eqs. (76)-(83) horizons; (84) θ; (85)-(88) least-squares smooth Earth; (89)-(91) the
    diffraction heights hstd/hsrd; (92)-(95) the ducting heights hte/hre and roughness hm.
    Fills the scratch of :func:`_horizon_pass` (the maxima are the Recommendation's, found
    on the arguments of the monotone arctangents; their points are the first (Tx) and last
    (Rx) points holding them).
    """
    dtot = d[b - 1] - d[a]
    hts = h[a] + htg
    hrs = h[b - 1] + hrg
    c2 = 1.0 / (2.0 * ae)
    v1, v2 = _ls_sums(d, h, a, b)
    g = h
    if clutter:  # the profile with clutter, §3.2 (intermediate points only are read)
        g = sc[0]
        for i in range(a + 1, b - 1):
            g[i] = h[i] + r[i]
    hobs, aobt, aobr, targ, rarg, stim, srim, stim2, srim2 = _horizon_pass(
        d, h, g, a, b, hts, hrs, c2, 500.0 / ae, 500.0 / a2, sc[1], sc[2])
    hst = (2.0 * v1 * dtot - v2) / (dtot * dtot)  # (87)
    hsr = (v2 - v1 * dtot) / (dtot * dtot)  # (88)
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
    trans = tmax > ttd  # (79): a trans-horizon path
    theta_t = max(tmax, ttd)
    nuh = np.nan
    if trans:
        # the first point of greatest elevation from Tx, the last one from Rx
        lt = first_at(sc[1], a + 1, b - 1, targ)
        lr = last_at(sc[2], a + 1, b - 1, rarg, b - 2)
        dlt = d[lt]  # (80)
        theta_r = 1000.0 * math.atan(rarg)  # (82)
        dlr = dtot - d[lr]  # (83)
    else:
        theta_r = 1000.0 * math.atan((hts - hrs) / (1000.0 * dtot) - dtot / (2.0 * ae))  # (81)
        # the Bullington point of the 50 % time diffraction: the last point of greatest ν
        # (80a), the same point for any wavelength
        nu = sc[3]
        nuh = nu_pass(d, h, a, b, hts, hrs, 500.0 / ae, nu)
        lt = last_at(nu, a + 1, b - 1, nuh, a + 1)
        dlt = d[lt]
        dlr = dtot - dlt  # (83a)
        lr = lt
    theta = 1e3 * dtot / ae + theta_t + theta_r  # (84)
    hst = min(hst, h[a])  # (92a)
    hsr = min(hsr, h[b - 1])  # (92b)
    m = (hsr - hst) / dtot  # (93)
    hte = htg + h[a] - hst  # (94a)
    hre = hrg + h[b - 1] - hsr  # (94b)
    hm = _hm_max(d, h, lt, lr, hst, m)  # (95)
    return ((hstd, hsrd, hte, hre, hm, dlt, dlr, theta_t, theta_r, theta, trans), stim, srim,
            stim2, srim2, nuh)


@njit(**_JIT)
def _j_nu(nu):
    """Knife-edge loss J(ν), eq. (12) (P.526 eq. (31)); 0 for ν ≤ −0.78."""
    if nu > -0.78:
        return 6.9 + 20.0 * math.log10(math.sqrt((nu - 0.1) ** 2 + 1.0) + nu - 0.1)
    return 0.0


@njit(**_JIT)
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


@njit(**_JIT)
def bracket(d, a, b, t):
    """The last intermediate point ``i`` (``a ≤ i ≤ b − 2``) with ``d[i] ≤ t``: the sample at
    or before ``t`` (``a`` when ``t`` lies before the first intermediate point)."""
    lo = a
    n = b - 1 - a  # the candidates a .. b − 2; the answer is in [lo, lo + n − 1]
    while n > 1:  # branch-free halving (a select, no mispredicted jump): ⌈log2 n⌉ loads
        half = n >> 1
        mid = lo + half
        lo = mid if d[mid] <= t else lo
        n -= half
    return lo


@njit(**_JIT)
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


@njit(**_JIT)
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
    # the cubic times (D − t)³ > 0, with the same sign and no division: positive at t = 0
    # (ht D³), negative towards the far terminal (c3 < 0); the last intermediate point where
    # it is positive, by branch-free halving as in :func:`bracket`
    lo = a
    n = b - 1 - a
    while n > 1:
        half = n >> 1
        mid = lo + half
        t = d[mid]
        x = dtot - t
        lo = mid if ((c3 * t + c2 * x) * t + c1 * x * x) * t + ht * x * x * x > 0.0 else lo
        n -= half
    i0 = lo
    best = -np.inf
    for q in range(i0 - 1, i0 + 3):
        i = min(max(q, a + 1), b - 2)
        x = dtot - d[i]
        nu = (k * d[i] * x - (ht * x + hr * d[i]) / dtot) * math.sqrt(0.002 * dtot / (d[i] * x))
        best = max(best, nu)
    return best


@njit(**_JIT)
def _bullington(d, g, a, b, hts, hrs, hts1, hrs1, ap, f, stim, srim, nua, nu):
    """Bullington losses of the profile with clutter ``g`` (Lbulla, terminals ``hts``/
    ``hrs``) and of the zero-height smooth profile (Lbulls, ``hts1``/``hrs1``), eqs.
    (13)-(21), from the slopes (13), (17) of the profile (:func:`_horizon_pass`) and, when it
    is in line of sight, its greatest wavelength-free ν (``nua``; NaN: found here by
    :func:`nu_pass` into the scratch ``nu``); those of the smooth profile in O(log n)
    (:func:`smooth_slope_best`, :func:`smooth_nu_best`)."""
    lam = 0.2998 / f
    dtot = d[b - 1] - d[a]
    k = 500.0 / ap
    if stim < (hrs - hts) / dtot:  # line of sight: the greatest ν, (15)
        if nua != nua:
            nua = nu_pass(d, g, a, b, hts, hrs, k, nu)
    else:
        nua = 0.0
    stis = smooth_slope_best(d, a, b, hts1, k, dtot, False)
    sris = smooth_slope_best(d, a, b, hrs1, k, dtot, True)
    nus = 0.0
    if stis < (hrs1 - hts1) / dtot:
        nus = smooth_nu_best(d, a, b, dtot, hts1, hrs1, k)
    return (bull_loss(stim, srim, nua, hts, hrs, dtot, lam),
            bull_loss(stis, sris, nus, hts1, hrs1, dtot, lam))


@njit(**_JIT)
def _se_ft_one(epsr, sigma, dkm, hte, hre, adft, f, pol, cf, ca):
    """First-term spherical-Earth diffraction loss for one ground, eqs. (29)-(36).

    ``cf = f^(1/3)`` and ``ca = adft^(1/3)`` give every third power of (29a), (31), (32)
    (``(adft f)^(−1/3) = 1/(ca cf)``, ``(f/adft²)^(1/3) = cf/ca²``, ``(f²/adft)^(1/3) =
    cf²/ca``); the quarter and half powers of (29) are square roots."""
    s18 = 18.0 * sigma / f
    k = 0.036 / (ca * cf) / math.sqrt(math.sqrt((epsr - 1.0) ** 2 + s18 * s18))  # (29a) horizontal
    if pol == 2:
        k = k * math.sqrt(epsr * epsr + s18 * s18)  # (29b) vertical
    k2 = k * k
    bdft = (1.0 + 1.6 * k2 + 0.67 * k2 * k2) / (1.0 + 4.5 * k2 + 1.53 * k2 * k2)  # (30)
    x = 21.88 * bdft * (cf / (ca * ca)) * dkm  # (31)
    fy = cf * cf / ca
    yt = 0.9575 * bdft * fy * hte  # (32a)
    yr = 0.9575 * bdft * fy * hre  # (32b)
    lx = math.log(x)
    if x >= 1.6:
        fx = 11.0 + (10.0 / _LN10) * lx - 17.6 * x  # (33)
    else:
        fx = -(20.0 / _LN10) * lx - 5.6488 * math.exp(1.425 * lx)
    gmin = 2.0 + 20.0 * math.log10(k)
    g_sum = 0.0
    for y in (yt, yr):
        bb = bdft * y  # (35)
        if bb > 2.0:
            gy = 17.6 * math.sqrt(bb - 1.1) - 5.0 * math.log10(bb - 1.1) - 8.0  # (34)
        else:
            gy = 20.0 * math.log10(bb + 0.1 * bb * bb * bb)
        g_sum += max(gy, gmin)
    return -fx - g_sum  # (36)


@njit(**_JIT)
def _se_ft(dkm, hte, hre, adft, f, omega, pol, cf):
    """First-term loss mixed over land and sea by the sea fraction ω, eq. (28)."""
    ca = adft ** (1.0 / 3.0)
    if omega <= 0.0:  # all land (ω = 0 gives the land term exactly): the sea term unused
        return _se_ft_one(22.0, 0.003, dkm, hte, hre, adft, f, pol, cf, ca)
    sea = _se_ft_one(80.0, 5.0, dkm, hte, hre, adft, f, pol, cf, ca)
    if omega >= 1.0:
        return sea
    land = _se_ft_one(22.0, 0.003, dkm, hte, hre, adft, f, pol, cf, ca)
    return omega * sea + (1.0 - omega) * land


@njit(**_JIT)
def _spherical(dkm, hte, hre, ap, f, omega, pol, cf):
    """Spherical-Earth diffraction loss Ldsph, §4.3.3 eqs. (22)-(27) (``cf = f^(1/3)``)."""
    lam = 0.2998 / f
    dlos = math.sqrt(2.0 * ap) * (math.sqrt(0.001 * hte) + math.sqrt(0.001 * hre))  # (22)
    if dkm >= dlos:
        return _se_ft(dkm, hte, hre, ap, f, omega, pol, cf)
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
    ldft = max(_se_ft(dkm, hte, hre, aem, f, omega, pol, cf), 0.0)
    return (1.0 - hse / hreq) * ldft  # (27)


@njit(**_JIT)
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


@njit(**_JIT)
def _delta(lbulla, lbulls, dtot, hts1, hrs1, ap, f, omega, pol, att4, cf):
    """Delta-Bullington diffraction loss Ld for one effective Earth radius, §4.3.4 eq. (39),
    from the Bullington losses of the actual (Lbulla) and smooth (Lbulls) profiles."""
    if att4:
        lbulls = _bullington_att4(dtot, hts1, hrs1, ap, f)
    ldsph = _spherical(dtot, hts1, hrs1, ap, f, omega, pol, cf)  # (38a), (38b)
    return lbulla + max(ldsph - lbulls, 0.0)  # (39)


@njit(**_JIT)
def _anomalous(dtot, dlt, dlr, dct, dcr, tau, hts, hrs, hte, hre, hm, theta_t, theta_r, f, p,
               omega, ae, ln_b0, cf, lgf, ldt):
    """Ducting / layer-reflection loss Lba, §4.5 eqs. (46)-(56) (``tau`` of eq. (3)).

    Per path: ``ln_b0 = ln β0``, ``cf = f^(1/3)``, ``lgf = log10 f``, ``ldt = ln d``. The
    powers of (53)-(55) are taken through logarithms (β of (54) as ``ln β = ln β0 + ln μ2 +
    ln μ3``, ``d^3.1`` and ``d^1.13`` from ``ln d``): equal to rounding, fewer calls."""
    alf = 45.375 - 137.0 * f + 92.5 * f * f if f < 0.5 else 0.0  # (47a)
    tt2 = theta_t - 0.1 * dlt  # (48a)
    tr2 = theta_r - 0.1 * dlr
    ast = (20.0 * math.log10(1.0 + 0.361 * tt2 * math.sqrt(f * dlt))
           + 0.264 * tt2 * cf) if tt2 > 0.0 else 0.0  # (48)
    asr = (20.0 * math.log10(1.0 + 0.361 * tr2 * math.sqrt(f * dlr))
           + 0.264 * tr2 * cf) if tr2 > 0.0 else 0.0
    act = 0.0  # over-sea surface duct coupling, (49)
    acr = 0.0
    if dct <= 5.0 and dct <= dlt and omega >= 0.75:
        act = -3.0 * math.exp(-0.25 * dct * dct) * (1.0 + math.tanh(0.07 * (50.0 - hts)))
    if dcr <= 5.0 and dcr <= dlr and omega >= 0.75:
        acr = -3.0 * math.exp(-0.25 * dcr * dcr) * (1.0 + math.tanh(0.07 * (50.0 - hrs)))
    gamma_d = 5e-5 * ae * cf  # (51)
    tt1 = min(theta_t, 0.1 * dlt)  # (52a)
    tr1 = min(theta_r, 0.1 * dlr)
    theta1 = 1e3 * dtot / ae + tt1 + tr1  # (52)
    di = min(dtot - dlt - dlr, 40.0)  # (56a)
    ln_mu3 = -4.6e-5 * (hm - 10.0) * (43.0 + 6.0 * di) if hm > 10.0 else 0.0  # (56)
    alpha = max(-0.6 - 3.5e-9 * math.exp(3.1 * ldt) * tau, -3.4)  # (55a)
    sq = math.sqrt(hte) + math.sqrt(hre)
    ln_mu2 = min(alpha * math.log(500.0 / ae * dtot * dtot / (sq * sq)), 0.0)  # (55)
    ln_beta = ln_b0 + ln_mu2 + ln_mu3  # (54)
    lb = ln_beta / _LN10
    gam = math.exp(_LN_1_076 - 1.012 * math.log(2.0058 - lb) - (
        9.51 - 4.8 * lb + 0.198 * lb * lb) * 1e-6 * math.exp(1.13 * ldt))  # (53a)
    ln_pb = math.log(p) - ln_beta
    ap_ = -12.0 + (1.2 + 3.7e-3 * dtot) * (ln_pb / _LN10) + 12.0 * math.exp(gam * ln_pb)  # (53)
    adp = gamma_d * theta1 + ap_  # (50)
    af = 102.45 + 20.0 * lgf + 20.0 * math.log10(dlt + dlr) + alf + ast + asr + act + acr  # (47)
    return af + adp  # (46)


@njit(**_JIT)
def path_loss(d, h, r, z, a, b, sc, f, p, pl, htg, hrg, pol, phi, dn, n0, dct, dcr, sigma_l,
              att4, diag):
    """Basic transmission loss Lb (dB) of one path, §4 of Annex 1 (eqs. (40)-(69)).

    ``sc`` is (:data:`N_SCRATCH`, ≥ b) scratch (:func:`_horizon_pass`). ``diag`` (length
    :data:`N_DIAG` or 0) receives the intermediate values. NaN for a profile that is not
    valid (:func:`profile_flags`: a void height, say), never a loss computed from it.
    """
    ok, one_zone, clutter = profile_flags(d, h, r, z, a, b)
    if not ok:
        return np.nan
    return _path_loss(d, h, r, z, a, b, sc, f, p, pl, htg, hrg, pol, phi, dn, n0, dct, dcr,
                      sigma_l, att4, diag, one_zone, clutter)


@njit(**_JIT)
def _path_loss(d, h, r, z, a, b, sc, f, p, pl, htg, hrg, pol, phi, dn, n0, dct, dcr, sigma_l,
               att4, diag, one_zone, clutter):
    """:func:`path_loss` with the flags of :func:`profile_flags` given."""
    dtot = d[b - 1] - d[a]
    omega, dtm, dlm = _sections(d, z, a, b, one_zone)
    ae = 6371.0 * 157.0 / (157.0 - dn)  # (6), (7a)
    ab = 6371.0 * 3.0  # (7b)
    se, stim, srim, stimb, srimb, nuh = _smooth_earth(d, h, r, a, b, htg, hrg, ae, ab, f, sc,
                                                      clutter)
    g = sc[0] if clutter else h  # the profile with clutter, §3.2
    hts = h[a] + htg
    hrs = h[b - 1] + hrg
    hts1 = hts - se[0]  # (37a)
    hrs1 = hrs - se[1]  # (37b)
    la50, ls50 = _bullington(d, g, a, b, hts, hrs, hts1, hrs1, ae, f, stim, srim,
                             np.nan if clutter else nuh, sc[3])
    lab, lsb = la50, ls50
    if p != 50.0:
        lab, lsb = _bullington(d, g, a, b, hts, hrs, hts1, hrs1, ab, f, stimb,
                               srimb, np.nan, sc[3])
    return combine(dtot, omega, dtm, dlm, se, hts, hrs, la50, ls50, lab, lsb, f, p, pl, pol,
                   phi, dn, n0, dct if z[a] != 1 else 0.0, dcr if z[b - 1] != 1 else 0.0,
                   sigma_l if z[b - 1] != 1 else 0.0, att4, diag)


@njit(**_JIT)
def combine(dtot, omega, dtm, dlm, se, hts, hrs, la50, ls50, lab, lsb, f, p, pl, pol, phi, dn,
            n0, dct, dcr, sigma_l, att4, diag):
    """Lb from the profile analysis, §4.2-§4.8 (eqs. (8)-(69)).

    ``se`` is the tuple of :func:`_smooth_earth`; ``la50``/``ls50`` and ``lab``/``lsb`` the
    Bullington losses of the actual and smooth profiles for the median (ae) and the β0
    (ab) effective Earth radii; ``dct``/``dcr`` are 0 for a terminal at sea, ``sigma_l`` 0 for
    a receiver at sea (no location variability there, §4.8).
    Per-path terms are computed once (``log10 f``, ``f^(1/3)``, ``ln d``, ``ln β0``), and the
    power sums of (60) and (63) in the overflow-free form ``m + c log(1 + e^(−|Δ|/c))``: equal
    to rounding.
    """
    hstd, hsrd, hte, hre, hm, dlt, dlr, theta_t, theta_r, theta, _ = se
    tau = _tau(dlm)
    ln_b0 = _ln_beta0(phi, dtm, tau)
    b0 = math.exp(ln_b0)
    ae = 6371.0 * 157.0 / (157.0 - dn)  # (6), (7a)
    ab = 6371.0 * 3.0  # (7b)
    hts1 = hts - hstd  # (37a)
    hrs1 = hrs - hsrd  # (37b)
    # (57), (58): 1 − (1 + tanh(x))/2 = 1/(1 + e^(2x))
    fj = 1.0 / (1.0 + math.exp(2.0 * 3.0 * 0.8 * (theta - 0.3) / 0.3))  # (57)
    fk = 1.0 / (1.0 + math.exp(2.0 * 3.0 * 0.5 * (dtot - 20.0) / 20.0))  # (58)
    lgf = math.log10(f)
    cf = f ** (1.0 / 3.0)
    ldt = math.log(dtot)
    # line of sight with multipath and focusing, §4.2 eqs. (8)-(11)
    lbfs = 92.4 + 20.0 * lgf + 10.0 * math.log10(dtot ** 2 + ((hts - hrs) / 1e3) ** 2)
    es = 2.6 * (1.0 - math.exp(-0.1 * (dlt + dlr)))
    lb0p = lbfs + es * math.log10(p / 50.0) if p != 50.0 else lbfs  # (9a), (10): log 1 = 0
    lb0b = lbfs + es * ((ln_b0 - _LN_50) / _LN10)  # (9b), (11)
    # diffraction, §4.3 eqs. (40)-(43)
    ld50 = _delta(la50, ls50, dtot, hts1, hrs1, ae, f, omega, pol, att4, cf)
    # (40a): Fi of (41) and (59) (1 for p ≤ β0, where p = β0 gives 1 anyway)
    fi = inv_cum_norm(p / 100.0) / inv_cum_norm(b0 / 100.0) if p >= b0 else 1.0
    if p == 50.0:
        ldp = ld50
    else:
        ldb = _delta(lab, lsb, dtot, hts1, hrs1, ab, f, omega, pol, att4, cf)
        ldp = ld50 + fi * (ldb - ld50)  # (41)
    lbd50 = lbfs + ld50  # (42)
    lbd = lb0p + ldp  # (43)
    # combination, §4.6 eqs. (57)-(63)
    lminb0p = lb0p + (1.0 - omega) * ldp  # (59)
    if p >= b0:
        lminb0p = lbd50 + (lb0b + (1.0 - omega) * ldp - lbd50) * fi
    lba = _anomalous(dtot, dlt, dlr, dct, dcr, tau, hts, hrs, hte, hre, hm, theta_t, theta_r,
                     f, p, omega, ae, ln_b0, cf, lgf, ldt)
    eta = 2.5
    # (60): η ln(e^(Lba/η) + e^(Lb0p/η))
    lminbap = max(lba, lb0p) + eta * math.log1p(math.exp(-abs(lba - lb0p) / eta))
    lbda = lminbap + (lbd - lminbap) * fk if lminbap <= lbd else lbd  # (61)
    lbam = lbda + (lminb0p - lbda) * fj  # (62)
    # troposcatter, §4.4 eqs. (44)-(45)
    lg2 = lgf - math.log10(2.0)
    lf = 25.0 * lgf - 2.5 * lg2 * lg2
    lbs = 190.1 + lf + (20.0 / _LN10) * ldt + 0.573 * theta - 0.15 * n0
    if p != 50.0:  # log 1 = 0 at p = 50 %
        lbs = lbs - 10.125 * math.log10(50.0 / p) ** 0.7
    # (63): −5 log10(10^(−0.2 Lbs) + 10^(−0.2 Lbam))
    lbc = min(lbs, lbam) - (5.0 / _LN10) * math.log1p(math.exp(-0.2 * _LN10 * abs(lbs - lbam)))
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


@njit(**_JIT)
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


@njit(**_JIT)
def checked_loss_batch(d, h, r, z, start, count, f, p, pl, htg, hrg, pol, phi, dn, n0, dct,
                       dcr, sigma_l, att4, want_diag):
    """:func:`loss_batch` that checks each profile (:func:`~phusong.coverage.p1812._inputs.
    first_bad_in`) just before computing its loss: ``(lb, diag, kind, point)``, ``kind`` 0
    when every path was valid, else the first bad value (the losses are then incomplete).
    One pass over the points instead of two."""
    return _batch(d, h, r, z, start, count, f, p, pl, htg, hrg, pol, phi, dn, n0, dct, dcr,
                  sigma_l, att4, want_diag, True)


@njit(**_JIT)
def _batch(d, h, r, z, start, count, f, p, pl, htg, hrg, pol, phi, dn, n0, dct, dcr, sigma_l,
           att4, want_diag, check):
    n = start.shape[0]
    out = np.empty(n)
    diag = np.full((n, N_DIAG if want_diag else 0), np.nan)
    width = 0
    for k in range(n):
        width = max(width, count[k])
    sc = np.empty((N_SCRATCH, width))  # one path's scratch: stays in cache from path to path
    empty = np.empty(0)
    for k in range(n):
        a = start[k]
        b = a + count[k]
        ok, one_zone, clutter = profile_flags(d[a:b], h[a:b], r[a:b], z[a:b], 0, count[k])
        if check and not ok:  # the first bad value, for the message
            kind, i = first_bad_in(d, h, r, z, a, b)
            if kind:
                return out, diag, kind, i
        row = diag[k] if want_diag else empty
        out[k] = _path_loss(d[a:b], h[a:b], r[a:b], z[a:b], 0, count[k], sc, f[k], p[k],
                            pl[k], htg[k], hrg[k], pol[k], phi[k], dn[k], n0[k], dct[k],
                            dcr[k], sigma_l[k], att4[k], row, one_zone, clutter)
    return out, diag, 0, -1


@njit(**_JIT)
def sigma_l_eq68(f_ghz, hrx, r_rx, wa_m):
    """σL of §4.10 eq. (68), dB: ``(0.52 + 0.024 f) wa^0.28 uh``, ``uh`` 1 at or below the
    clutter height R at the receiver, falling linearly to 0 at R + 10 m."""
    uh = min(max(1.0 - (hrx - r_rx) / 10.0, 0.0), 1.0)
    return (0.52 + 0.024 * f_ghz) * wa_m ** 0.28 * uh


@njit(**_JIT)
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
