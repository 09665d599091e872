"""ITM's frequency part for many paths in lockstep, in a loop LLVM vectorises (numba).

The per-band work of a point-to-point prediction (the reference attenuation of
:func:`phusong.coverage._itm_core.longley_rice_band`, the variability of
:func:`phusong.coverage._itm_variability.variability_path` and free space) is about forty libm
calls per path, which keep the scalar kernels one path at a time. Here the inputs of up to
:data:`WIDTH` paths ("lanes") sit in the rows of one table (:data:`ROWS`), and
:func:`lanes_frequency` runs every lane through the same branch-free arithmetic: both sides of
each of ITM's tests are computed and the result is selected, and exp/log/cbrt/sin/cos are the
polynomial forms of :mod:`phusong.coverage._simd_math`. So LLVM turns the loop over lanes into
SIMD instructions.

Line of sight and diffraction (almost every path) are done here. A lane whose path needs the
troposcatter line (beyond the bound where the crossover cannot be nearer), or whose inputs give
one of ITM's error codes, is flagged (``FALLBACK`` row = 1) and its caller runs the scalar
reference code for it, so codes, warnings and modes are the reference's own. The differences
from the scalar kernels are the approximations' few ulps (tests: ≤ 1e-9 dB).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from phusong.coverage._itm_core import (
    A0_M,
    WARN_DIST_BIG_1,
    WARN_DIST_BIG_2,
    WARN_DIST_SMALL_1,
    WARN_DIST_SMALL_2,
    WARN_EXTREME_VAR,
    WARN_NS,
    WARN_RX_ANGLE,
    WARN_RX_HZN_1,
    WARN_RX_HZN_2,
    WARN_TX_ANGLE,
    WARN_TX_HZN_1,
    WARN_TX_HZN_2,
)
from phusong.coverage._itm_variability import _C_D, _SIGMA_MINUS, _SIGMA_PLUS, _V_MED, _Z_D
from phusong.coverage._simd_math import vcbrt, vexp, vlog, vlog10, vsincos, vsqrt

__all__ = ["ROWS", "WIDTH", "fill_band", "lanes_frequency", "lanes_table", "set_band",
           "set_geometry"]

#: Lanes per table: paths computed together (the p2p chunk; a batch of ray points).
WIDTH = 64

#: Rows of a lane table (a flat array: row ``r`` of lane ``i`` at ``r * WIDTH + i``, so LLVM sees
#: constant distances between rows and needs no run-time alias checks). Inputs: the path geometry (:func:`p2p_geometry`'s tuple), antenna
#: heights, the band's constants (:data:`phusong.coverage._itm_kernel.BAND_COLUMNS`), mdvar,
#: the input-check warnings and the climate's variability coefficients. Outputs: loss, A_ref,
#: free space, warnings, mode and the fallback flag.
ROWS = (
    "th0", "th1", "dl0", "dl1", "he0", "he1", "dh", "d", "n_s", "gamma_e", "h_tx", "h_rx",
    "f", "f3", "ln_f", "zg_re", "zg_im", "fs_f", "z_t", "z_l", "z_s", "g_minus", "g_plus", "d_f",
    "mdvar", "warn_in",
    "vm0", "vm1", "vm2", "vm3", "vm4", "sm0", "sm1", "sm2", "sm3", "sm4",
    "sp0", "sp1", "sp2", "sp3", "sp4", "c_d", "z_d",
    "loss", "a_ref", "a_fs", "warn", "mode", "fallback",
)
(TH0, TH1, DL0, DL1, HE0, HE1, DH, D, N_S, GAMMA_E, H_TX, H_RX,
 F, F3, LN_F, ZG_RE, ZG_IM, FS_F, Z_T, Z_L, Z_S, G_MINUS, G_PLUS, D_F, MDVAR, WARN_IN,
 VM0, VM1, VM2, VM3, VM4, SM0, SM1, SM2, SM3, SM4, SP0, SP1, SP2, SP3, SP4, C_D, Z_D,
 LOSS, A_REF, A_FS, WARN, MODE, FALLBACK) = range(len(ROWS))

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
# the per-lane helpers are inlined by LLVM into the lane loop (no calls left to block its
# vectoriser): compiled once each and marked ``alwaysinline`` (see _simd_math's note on why
# not numba's ``inline="always"``)
_INL = {**_JIT, "forceinline": True}
_HALF_PI = math.pi / 2.0


@njit(**_JIT)
def lanes_table():
    """An empty lane table: row ``r`` of lane ``i`` is element ``r * WIDTH + i``."""
    return np.empty(len(ROWS) * WIDTH)


@njit(**_JIT)
def set_geometry(t, lane, g, h_tx, h_rx):
    """Lane ``lane`` of table ``t`` gets the path geometry ``g`` (the 10-tuple of
    :func:`phusong.coverage._itm_kernel.p2p_geometry`) and the antenna heights, m."""
    for r in range(10):
        t[r * WIDTH + lane] = g[r]
    t[H_TX * WIDTH + lane] = h_tx
    t[H_RX * WIDTH + lane] = h_rx


@njit(**_JIT)
def set_band(t, lane, f, row, climate, mdvar, warn_in):
    """Lane ``lane`` gets the band ``f`` (MHz) with its constants ``row``
    (:func:`phusong.coverage._itm_kernel.band_constants`), the climate 1..7, mdvar and the
    input-check warnings."""
    t[F * WIDTH + lane] = f
    for r in range(9):  # f3 ln_f and the rest: BAND_COLUMNS 4..12 (zg at 2, 3)
        t[(F3 + r + (2 if r >= 2 else 0)) * WIDTH + lane] = row[4 + r]
    t[ZG_RE * WIDTH + lane] = row[2]
    t[ZG_IM * WIDTH + lane] = row[3]
    t[MDVAR * WIDTH + lane] = mdvar
    t[WARN_IN * WIDTH + lane] = warn_in
    c = climate - 1
    for r in range(5):
        t[(VM0 + r) * WIDTH + lane] = _V_MED[r, c]
        t[(SM0 + r) * WIDTH + lane] = _SIGMA_MINUS[r, c]
        t[(SP0 + r) * WIDTH + lane] = _SIGMA_PLUS[r, c]
    t[C_D * WIDTH + lane] = _C_D[c]
    t[Z_D * WIDTH + lane] = _Z_D[c]


@njit(**_JIT)
def fill_band(t, f, row, climate, mdvar, warn_in):
    """:func:`set_band` for every lane of ``t`` at once (the ray kernel: one band, many
    samples)."""
    c = climate - 1
    vals = (f, row[4], row[5], row[2], row[3], row[6], row[7], row[8], row[9], row[10],
            row[11], row[12], float(mdvar), float(warn_in),
            _V_MED[0, c], _V_MED[1, c], _V_MED[2, c], _V_MED[3, c], _V_MED[4, c],
            _SIGMA_MINUS[0, c], _SIGMA_MINUS[1, c], _SIGMA_MINUS[2, c], _SIGMA_MINUS[3, c],
            _SIGMA_MINUS[4, c], _SIGMA_PLUS[0, c], _SIGMA_PLUS[1, c], _SIGMA_PLUS[2, c],
            _SIGMA_PLUS[3, c], _SIGMA_PLUS[4, c], _C_D[c], _Z_D[c])
    for r in range(len(vals)):  # rows F .. Z_D, in order
        v = vals[r]
        base = (F + r) * WIDTH
        for k in range(WIDTH):
            t[base + k] = v


@njit(**_INL)
def _min(a, b):
    return a if a < b else b


@njit(**_INL)
def _max(a, b):
    return a if a > b else b


@njit(**_INL)
def _roughness(d, dh):
    return dh * (1.0 - 0.8 * vexp(-d / 50e3))


@njit(**_INL)
def _sigma_h(dh):
    return 0.78 * dh * vexp(-0.5 * vsqrt(vsqrt(dh)))


@njit(**_INL)
def _fresnel(v2):
    a = 6.02 + 9.11 * vsqrt(v2) - 1.27 * v2
    b = 12.953 + 10.0 * vlog10(v2)
    return a if v2 < 5.76 else b


@njit(**_INL)
def _height_gain(x, k):
    """Vogler's F(x, K) of :func:`phusong.coverage._itm_core._height_gain_db`, both sides."""
    w = -vlog(k)
    ln_x = vlog(x)
    low_far = -117.0 + (17.372 * ln_x if x > 1.0 else 0.0)
    low = low_far if (k < 1e-5 or x * (w * w * w) > 5495.0) else (
        2.5e-5 * x * x / k - 8.686 * w - 15.0)
    out = 0.05751 * x - 4.343 * ln_x
    wb = 0.0134 * x * vexp(-0.005 * x)
    blend = (1.0 - wb) * out + wb * (17.372 * ln_x - 117.0)
    high = blend if x < 2000.0 else out
    return low if x < 200.0 else high


@njit(**_INL)
def _k_x(c0, arc_km, f3, zg_abs):
    k = 0.017778 * c0 / f3 / zg_abs
    return (1.607 - k) * c0 * c0 * f3 * arc_km, k


@njit(**_INL)
def _diffraction(d, f, f3, a_e, theta_los, dl0, dl1, zg_abs, dh, x1, x2, gain, a_fo, term):
    """:func:`phusong.coverage._itm_core._diffraction_db`, same operations."""
    d_ml = dl0 + dl1
    theta_nlos = d / a_e - theta_los
    d_nlos = d - d_ml
    c = 0.0795775 * (f / 47.7) * theta_nlos * theta_nlos * d_nlos
    a_k = _fresnel(c * dl0 / (d_nlos + dl0)) + _fresnel(c * dl1 / (d_nlos + dl1))
    radius = (d - d_ml) / theta_nlos
    x0, _k0 = _k_x(vcbrt((4.0 / 3.0) * A0_M / radius), radius * theta_nlos / 1000.0, f3, zg_abs)
    total = 0.0
    total += x0
    total += x1
    total += x2
    a_se = 0.05751 * total - 10.0 * vlog10(total) - gain - 20.0
    q = (term + (-theta_los * a_e + d_ml) / d) * _min(_roughness(d, dh) * f / 47.7, 6283.2)
    w = 25.1 / (25.1 + vsqrt(q))
    return w * a_se + (1.0 - w) * a_k + a_fo


@njit(**_INL)
def _cdiv(ar, ai, br, bi):
    """Complex ``a / b`` by Smith's method, as numba's complex division does it."""
    big = abs(br) >= abs(bi)
    r1 = bi / br
    d1 = br + bi * r1
    r2 = br / bi
    d2 = br * r2 + bi
    re = (ar + ai * r1) / d1 if big else (ar * r2 + ai) / d2
    im = (ai - ar * r1) / d1 if big else (ai * r2 - ar) / d2
    return re, im


@njit(**_INL)
def _los(d, he0, he1, zr, zi, dh, m_d, a_d0, d_sml, f):
    """:func:`phusong.coverage._itm_core._los_db`, same operations."""
    sh = _sigma_h(_roughness(d, dh))
    wn = f / 47.7
    hs = he0 + he1
    sin_psi = hs / vsqrt(d * d + hs * hs)
    qr, qi = _cdiv(sin_psi - zr, -zi, sin_psi + zr, zi)
    e = vexp(-_min(10.0, wn * sh * sin_psi))
    rr = qr * e
    ri = qi * e
    q = rr * rr + ri * ri
    s = vsqrt(sin_psi / q)
    scale = q < 0.25 or q < sin_psi
    rr = rr * s if scale else rr
    ri = ri * s if scale else ri
    dphi = wn * 2.0 * he0 * he1 / d
    dphi = math.pi - _HALF_PI * _HALF_PI / dphi if dphi > _HALF_PI else dphi
    sin_p, cos_p = vsincos(dphi)
    re = cos_p + rr
    im = -sin_p + ri
    a_t = -10.0 * vlog10(re * re + im * im)
    a_d = m_d * d + a_d0
    w = 1.0 / (1.0 + f * dh / _max(10e3, d_sml))
    return w * a_t + (1.0 - w) * a_d


@njit(**_INL)
def _curve(c1, c2, x1, x2, x3, d_e):
    r = (d_e / x1) * (d_e / x1)
    g = (d_e - x2) / x3
    return (c1 + c2 / (1.0 + g * g)) * r / (1.0 + r)


@njit(**_JIT)
def lanes_frequency(t):
    """ITM's frequency part for every lane of table ``t``: fills the ``loss`` (dB, free space
    included), ``a_ref``, ``a_fs``, ``warn``, ``mode`` and ``fallback`` rows. A lane with
    ``fallback`` 1 (an error code or the troposcatter region) must be recomputed by the scalar
    code; its other outputs are meaningless, as are those of lanes the caller did not fill.
    All :data:`WIDTH` lanes run (a constant trip count: LLVM emits no scalar remainder loop,
    which halves the compile time; unfilled lanes compute harmless garbage, never a trap)."""
    # one loop body with no calls and no branches LLVM cannot turn into selects (it vectorises
    # it); the array is not passed to an inlined helper, whose reference counting would stay
    # in the loop as calls
    for i in range(WIDTH):
        th0 = t[TH0 * WIDTH + i]
        th1 = t[TH1 * WIDTH + i]
        dl0 = t[DL0 * WIDTH + i]
        dl1 = t[DL1 * WIDTH + i]
        he0 = t[HE0 * WIDTH + i]
        he1 = t[HE1 * WIDTH + i]
        dh = t[DH * WIDTH + i]
        d = t[D * WIDTH + i]
        n_s = t[N_S * WIDTH + i]
        gamma_e = t[GAMMA_E * WIDTH + i]
        h0 = t[H_TX * WIDTH + i]
        h1 = t[H_RX * WIDTH + i]
        f = t[F * WIDTH + i]
        f3 = t[F3 * WIDTH + i]
        ln_f = t[LN_F * WIDTH + i]
        zr = t[ZG_RE * WIDTH + i]
        zi = t[ZG_IM * WIDTH + i]

        # path_terms
        a_e = 1.0 / gamma_e
        ds0 = vsqrt(2.0 * he0 * a_e)
        ds1 = vsqrt(2.0 * he1 * a_e)
        c0_tx = vcbrt((4.0 / 3.0) * A0_M / (0.5 * dl0 * dl0 / he0))
        c0_rx = vcbrt((4.0 / 3.0) * A0_M / (0.5 * dl1 * dl1 / he1))
        sh_ml = _sigma_h(_roughness(ds0 + ds1, dh))
        d_he = vsqrt(2.0 * 9000e3 * he0) + vsqrt(2.0 * 9000e3 * he1)
        dhd = _roughness(d, dh)
        fs_d = 20.0 * vlog10(d / 1000.0)
        ae23 = vcbrt(a_e * a_e)

        # longley_rice_band: warnings and the checks that send a lane to the scalar code
        warn = 0
        d_sml = ds0 + ds1
        d_ml = dl0 + dl1
        theta_los = -_max(th0 + th1, -d_ml / a_e)
        warn |= WARN_TX_ANGLE if abs(th0) > 200e-3 else 0
        warn |= WARN_RX_ANGLE if abs(th1) > 200e-3 else 0
        warn |= WARN_TX_HZN_1 if dl0 < 0.1 * ds0 else 0
        warn |= WARN_RX_HZN_1 if dl1 < 0.1 * ds1 else 0
        warn |= WARN_TX_HZN_2 if dl0 > 3.0 * ds0 else 0
        warn |= WARN_RX_HZN_2 if dl1 > 3.0 * ds1 else 0
        warn |= WARN_NS if n_s < 250.0 else 0
        bad = (n_s < 150.0 or n_s > 400.0 or a_e < 4000000.0 or a_e > 13333333.0
               or zr <= abs(zi))
        zg_abs = vsqrt(zr * zr + zi * zi)

        scale = ae23 / f3
        d3 = _max(d_sml, d_ml + 5.0 * scale)
        d4 = d3 + 10.0 * scale
        # _diffraction_setup (p2p)
        x1, k1 = _k_x(c0_tx, dl0 / 1000.0, f3, zg_abs)
        x2, k2 = _k_x(c0_rx, dl1 / 1000.0, f3, zg_abs)
        gain = 0.0
        gain += _height_gain(x1, k1)
        gain += _height_gain(x2, k2)
        a_fo = _min(15.0, 5.0 * vlog10(1.0 + 1e-5 * h0 * h1 * f * sh_ml))
        q = h0 * h1
        qk = he0 * he1 - q
        q += 10.0
        term = vsqrt(1.0 + qk / q)
        a3 = _diffraction(d3, f, f3, a_e, theta_los, dl0, dl1, zg_abs, dh, x1, x2, gain, a_fo, term)
        a4 = _diffraction(d4, f, f3, a_e, theta_los, dl0, dl1, zg_abs, dh, x1, x2, gain, a_fo, term)
        m_d = (a4 - a3) / (d4 - d3)
        a_d0 = a3 - m_d * d3

        warn |= WARN_DIST_SMALL_1 if d < abs(he0 - he1) / 200e-3 else 0
        warn |= WARN_DIST_SMALL_2 if d < 1e3 else 0
        warn |= WARN_DIST_BIG_1 if d > 1000e3 else 0
        warn |= WARN_DIST_BIG_2 if d > 2000e3 else 0

        # line of sight
        los = d < d_sml
        a_sml = d_sml * m_d + a_d0
        d_0a = 0.04 * f * he0 * he1
        pos = a_d0 >= 0.0
        d_0 = _min(d_0a, 0.5 * d_ml) if pos else d_0a
        d_1 = d_0 + 0.25 * (d_ml - d_0) if pos else _max(-a_d0 / m_d, 0.25 * d_ml)
        a_1 = _los(d_1, he0, he1, zr, zi, dh, m_d, a_d0, d_sml, f)
        a_0 = _los(d_0, he0, he1, zr, zi, dh, m_d, a_d0, d_sml, f)
        ql = vlog(d_sml / d_0)
        k2a = _max(0.0, ((d_sml - d_0) * (a_1 - a_0) - (d_1 - d_0) * (a_sml - a_0))
                   / ((d_sml - d_0) * vlog(d_1 / d_0) - (d_1 - d_0) * ql))
        two = d_0 < d_1 and (a_d0 > 0.0 or k2a > 0.0)
        # use_two: k1 from the two points; if negative, k1 = 0 and k2 from a_sml alone
        k1b = (a_sml - a_0 - k2a * ql) / (d_sml - d_0)
        k2c = _max(a_sml - a_0, 0.0) / ql
        neg = k1b < 0.0
        k1_two = (m_d if k2c == 0.0 else 0.0) if neg else k1b
        k2_two = k2c if neg else k2a
        # one point
        k1o = _max(a_sml - a_1, 0.0) / (d_sml - d_1)
        k1_one = m_d if k1o == 0.0 else k1o
        kk1 = k1_two if two else k1_one
        kk2 = k2_two if two else 0.0
        a_o = a_sml - kk1 * d_sml - kk2 * vlog(d_sml)
        a_los = a_o + kk1 * d + kk2 * vlog(d)
        # diffraction, and the troposcatter bound beyond which the scalar code takes over
        diff_ok = d <= _max(d_sml, d_ml + 1.088 * scale * ln_f)
        a_ref = a_los if los else m_d * d + a_d0
        a_ref = _max(a_ref, 0.0)
        mode = 1.0 if los else 2.0
        fallback = bad or not (los or diff_ok)

        # variability_path
        d_ex = d_he + t[D_F * WIDTH + i]
        d_e = 130e3 * d / d_ex if d < d_ex else 130e3 + d - d_ex
        kind = int(t[MDVAR * WIDTH + i])
        no_sit = kind >= 20
        kind = kind - 20 if no_sit else kind
        sigma_s = 0.0 if no_sit else 5.0 + 3.0 * vexp(-d_e / 100e3)
        no_loc = kind >= 10
        kind = kind - 10 if no_loc else kind
        v_med = _curve(t[VM0 * WIDTH + i], t[VM1 * WIDTH + i], t[VM2 * WIDTH + i],
                       t[VM3 * WIDTH + i], t[VM4 * WIDTH + i], d_e)
        z_t = t[Z_T * WIDTH + i]
        z_l = t[Z_L * WIDTH + i]
        z_s = t[Z_S * WIDTH + i]
        # kind 0..3; range tests, not equalities (an equality chain becomes a switch, which LLVM
        # does not vectorise)
        z_t = z_s if kind < 1 else z_t
        z_l = z_s if kind < 2 else (z_t if kind < 3 else z_l)
        extreme = abs(z_t) > 3.1 or abs(z_l) > 3.1 or abs(z_s) > 3.1
        wn = f / 47.7
        sigma_l = 0.0 if no_loc else 10.0 * wn * dhd / (wn * dhd + 13.0)
        y_l = sigma_l * z_l
        s_minus = _curve(t[SM0 * WIDTH + i], t[SM1 * WIDTH + i], t[SM2 * WIDTH + i],
                         t[SM3 * WIDTH + i], t[SM4 * WIDTH + i], d_e) * t[G_MINUS * WIDTH + i]
        s_plus = _curve(t[SP0 * WIDTH + i], t[SP1 * WIDTH + i], t[SP2 * WIDTH + i],
                        t[SP3 * WIDTH + i], t[SP4 * WIDTH + i], d_e) * t[G_PLUS * WIDTH + i]
        s_td = t[C_D * WIDTH + i] * s_plus
        z_d = t[Z_D * WIDTH + i]
        tgtd = (s_plus - s_td) * z_d
        sigma_t = s_minus if z_t < 0.0 else (s_plus if z_t <= z_d else s_td + tgtd / z_t)
        y_t = sigma_t * z_t
        ys_sq = sigma_s * sigma_s + y_t * y_t / (7.8 + z_s * z_s) + y_l * y_l / (24.0 + z_s * z_s)
        tl = sigma_t * sigma_t + sigma_l * sigma_l
        y_r = 0.0 if kind < 1 else (y_t if kind < 2 else (
            vsqrt(tl) * z_t if kind < 3 else y_t + y_l))
        sq = tl + ys_sq if kind < 1 else (sigma_l * sigma_l + ys_sq if kind < 2 else ys_sq)
        y_s = vsqrt(sq) * z_s
        out = a_ref - v_med - y_r - y_s
        out = out * (29.0 - out) / (29.0 - 10.0 * out) if out < 0.0 else out
        warn |= WARN_EXTREME_VAR if extreme else 0
        warn |= int(t[WARN_IN * WIDTH + i])

        a_fs = t[FS_F * WIDTH + i] + fs_d
        t[LOSS * WIDTH + i] = a_fs + out
        t[A_REF * WIDTH + i] = a_ref
        t[A_FS * WIDTH + i] = a_fs
        t[WARN * WIDTH + i] = warn
        t[MODE * WIDTH + i] = mode
        t[FALLBACK * WIDTH + i] = 1.0 if fallback else 0.0
