"""Longley-Rice Irregular Terrain Model: the propagation physics, as scalar numba kernels.

Written for phusong from the published algorithm: A. G. Longley and P. L. Rice, "Prediction of
tropospheric radio transmission loss over irregular terrain", ESSA Tech. Rep. ERL 79-ITS 67
(1968); G. A. Hufford, "The ITS Irregular Terrain Model, version 1.2.2: the algorithm" (1995);
TN101 (Rice et al., 1967) for the troposcatter and variability curves; and the equations of
NTIA/ITS's C++ reference (which corrected a few constants of the 1.2.2 Fortran, e.g. the exact
``0.04 f`` LOS distance and ``18000 sigma / f``). Quantities are SI (metres, radians, MHz) and the
names follow the algorithm's symbols.

Everything here is a plain ``@njit`` function over floats so that the batch driver
(:mod:`phusong.coverage._itm_kernel`) can inline it in a compiled loop over paths.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "A0_M",
    "ERR_EFFECTIVE_EARTH",
    "ERR_GROUND_IMPEDANCE",
    "ERR_NS_LARGE",
    "ERR_NS_SMALL",
    "MODE_DIFFRACTION",
    "MODE_LOS",
    "MODE_TROPOSCATTER",
    "WARN_DIST_BIG_1",
    "WARN_DIST_BIG_2",
    "WARN_DIST_SMALL_1",
    "WARN_DIST_SMALL_2",
    "WARN_EXTREME_VAR",
    "WARN_NS",
    "free_space_db",
    "inv_ccdf",
    "longley_rice",
    "longley_rice_band",
    "path_terms",
]

# --- constants of the model -------------------------------------------------------------------
A0_M = 6370e3  # actual earth radius for Vogler's 4/3-earth scaling, m
THIRD = 1.0 / 3.0
SQRT2 = math.sqrt(2.0)

# propagation modes (same numbering as the NTIA reference)
MODE_LOS = 1
MODE_DIFFRACTION = 2
MODE_TROPOSCATTER = 3

# warning bits raised here (the input-range bits are raised by the validation in _itm_kernel)
WARN_DIST_BIG_1 = 0x0008
WARN_DIST_BIG_2 = 0x0010
WARN_DIST_SMALL_1 = 0x0020
WARN_DIST_SMALL_2 = 0x0040
WARN_TX_ANGLE = 0x0080
WARN_RX_ANGLE = 0x0100
WARN_TX_HZN_1 = 0x0200
WARN_RX_HZN_1 = 0x0400
WARN_TX_HZN_2 = 0x0800
WARN_RX_HZN_2 = 0x1000
WARN_EXTREME_VAR = 0x2000
WARN_NS = 0x4000

# error codes raised here
ERR_GROUND_IMPEDANCE = 1013
ERR_EFFECTIVE_EARTH = 1016
ERR_NS_SMALL = 1021
ERR_NS_LARGE = 1022

# H0 curves of the troposcatter frequency-gain function, eta_s = 1..5
_H0_A = np.array([25.0, 80.0, 177.0, 395.0, 705.0])
_H0_B = np.array([24.0, 45.0, 68.0, 80.0, 105.0])

_JIT = {"cache": True, "nogil": True}


# --- small functions ----------------------------------------------------------------------------
@njit(**_JIT)
def free_space_db(d_m: float, f_mhz: float) -> float:
    """Free-space basic transmission loss, dB (``32.45 + 20 lg f_MHz + 20 lg d_km``)."""
    return 32.45 + 20.0 * math.log10(f_mhz) + 20.0 * math.log10(d_m / 1000.0)


@njit(**_JIT)
def inv_ccdf(q: float) -> float:
    """Inverse complementary normal CDF, Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4)."""
    x = 1.0 - q if q > 0.5 else q
    t = math.sqrt(-2.0 * math.log(x))
    num = (0.010328 * t + 0.802853) * t + 2.515516
    den = ((0.001308 * t + 0.189269) * t + 1.432788) * t + 1.0
    z = t - num / den
    return -z if q > 0.5 else z


@njit(**_JIT)
def _roughness(d_m: float, delta_h_m: float) -> float:
    """Terrain irregularity seen over distance ``d``: ``dh (1 - 0.8 e^{-d/50 km})``."""
    return delta_h_m * (1.0 - 0.8 * math.exp(-d_m / 50e3))


@njit(**_JIT)
def _sigma_h(delta_h_m: float) -> float:
    """RMS terrain deviation within the first Fresnel zone (ERL 79-ITS 67 eq. 3.6a), m."""
    # sqrt(sqrt(x)) for x**0.25: half the cost of pow, within 1 ulp of it
    return 0.78 * delta_h_m * math.exp(-0.5 * math.sqrt(math.sqrt(delta_h_m)))


@njit(**_JIT)
def _fresnel_db(v2: float) -> float:
    """Single knife-edge loss A(v, 0) as a function of v^2 (TN101 III.24)."""
    if v2 < 5.76:
        return 6.02 + 9.11 * math.sqrt(v2) - 1.27 * v2
    return 12.953 + 10.0 * math.log10(v2)


@njit(**_JIT)
def _height_gain_db(x: float, k: float) -> float:
    """Vogler's terminal height-gain function F(x, K), dB."""
    if x < 200.0:
        w = -math.log(k)
        if k < 1e-5 or x * w**3 > 5495.0:
            out = -117.0
            if x > 1.0:
                out += 17.372 * math.log(x)
            return out
        return 2.5e-5 * x * x / k - 8.686 * w - 15.0
    ln_x = math.log(x)  # once for both terms
    out = 0.05751 * x - 4.343 * ln_x
    if x < 2000.0:
        w = 0.0134 * x * math.exp(-0.005 * x)
        out = (1.0 - w) * out + w * (17.372 * ln_x - 117.0)
    return out


@njit(**_JIT)
def _f_function(td: float) -> float:
    """Troposcatter attenuation function F(theta d), dB (Algorithm eq. 6.9)."""
    if td <= 10e3:
        return 133.4 + 0.332e-3 * td - 10.0 * math.log10(td)
    if td <= 70e3:
        return 104.6 + 0.212e-3 * td - 2.5 * math.log10(td)
    return 71.8 + 0.157e-3 * td + 5.0 * math.log10(td)


@njit(**_JIT)
def _h0_curve(j: int, r: float) -> float:
    inv = 1.0 / r
    return 10.0 * math.log10(1.0 + _H0_A[j] * inv**4 + _H0_B[j] * inv * inv)


@njit(**_JIT)
def _h0_function(r: float, eta_s: float) -> float:
    """Troposcatter frequency-gain H0(r, eta_s), interpolated between the curves eta = 1..5."""
    eta = min(max(eta_s, 1.0), 5.0)
    i = int(eta)
    frac = eta - i
    out = _h0_curve(i - 1, r)
    if frac != 0.0:
        out = (1.0 - frac) * out + frac * _h0_curve(i, r)
    return out


# --- the three regions ---------------------------------------------------------------------------
@njit(**_JIT)
def _vogler_c0(radius):
    """Vogler's radius factor ``(4/3 a_0 / radius)^(1/3)`` (cbrt: faster than ``**``, 1 ulp)."""
    return np.cbrt((4.0 / 3.0) * A0_M / radius)


@njit(**_JIT)
def _vogler_k_x(c0, arc_km, f3, zg_abs):
    """Vogler's scaled distance ``x`` and ground parameter ``K`` for one radius factor."""
    k = 0.017778 * c0 / f3 / zg_abs
    return (1.607 - k) * c0 * c0 * f3 * arc_km, k


@njit(**_JIT)
def path_terms(dl0, dl1, he0, he1, gamma_e, delta_h, d):
    """The frequency-independent terms of one path used by :func:`longley_rice_band` and the
    variability: ``(ds0, ds1, c0_tx, c0_rx, sigma_h at d_sML, sqrt(2 a_9000 he0) +
    sqrt(2 a_9000 he1), roughness at d, 20 lg(d / 1 km), a_e^(2/3))``. Computed once per path
    and shared by its bands."""
    a_e = 1.0 / gamma_e
    ds0 = math.sqrt(2.0 * he0 * a_e)
    ds1 = math.sqrt(2.0 * he1 * a_e)
    return (ds0, ds1, _vogler_c0(0.5 * dl0 * dl0 / he0), _vogler_c0(0.5 * dl1 * dl1 / he1),
            _sigma_h(_roughness(ds0 + ds1, delta_h)),
            math.sqrt(2.0 * 9000e3 * he0) + math.sqrt(2.0 * 9000e3 * he1),
            _roughness(d, delta_h), 20.0 * math.log10(d / 1000.0), np.cbrt(a_e * a_e))


@njit(**_JIT)
def _diffraction_setup(f, f3, dl0, dl1, he0, he1, h0, h1, zg_abs, p2p, pt):
    """Distance-independent terms of :func:`_diffraction_db` (computed once per path/band):
    ``(f^1/3, x1, x2, height gains, A_fo, sqrt(1 + qk/q))``; ``f3`` is ``f**THIRD``, ``pt``
    from :func:`path_terms`."""
    x1, k1 = _vogler_k_x(pt[2], dl0 / 1000.0, f3, zg_abs)
    x2, k2 = _vogler_k_x(pt[3], dl1 / 1000.0, f3, zg_abs)
    gain = 0.0
    gain += _height_gain_db(x1, k1)
    gain += _height_gain_db(x2, k2)
    sh = pt[4]
    a_fo = min(15.0, 5.0 * math.log10(1.0 + 1e-5 * h0 * h1 * f * sh))
    q = h0 * h1
    qk = he0 * he1 - q
    if p2p:
        q += 10.0  # "C ~= 10 for low antennas with known path parameters" (ERL 79-ITS 67 p. 3-8)
    return f3, x1, x2, gain, a_fo, math.sqrt(1.0 + qk / q)


@njit(**_JIT)
def _diffraction_db(d, f, a_e, theta_los, dl0, dl1, zg_abs, delta_h, setup):
    """Diffraction loss at distance ``d``: weighted knife-edge / smooth-earth (Vogler's
    three-radii method) plus clutter, dB; ``setup`` from :func:`_diffraction_setup`."""
    f3, x1, x2, gain, a_fo, term = setup
    d_ml = dl0 + dl1
    theta_nlos = d / a_e - theta_los
    d_nlos = d - d_ml
    c = 0.0795775 * (f / 47.7) * theta_nlos * theta_nlos * d_nlos
    a_k = _fresnel_db(c * dl0 / (d_nlos + dl0)) + _fresnel_db(c * dl1 / (d_nlos + dl1))
    radius = (d - d_ml) / theta_nlos
    x0, _k0 = _vogler_k_x(_vogler_c0(radius), radius * theta_nlos / 1000.0, f3, zg_abs)
    total = 0.0
    total += x0
    total += x1
    total += x2
    a_se = 0.05751 * total - 10.0 * math.log10(total) - gain - 20.0
    q = (term + (-theta_los * a_e + d_ml) / d) * min(_roughness(d, delta_h) * f / 47.7, 6283.2)
    w = 25.1 / (25.1 + math.sqrt(q))
    return w * a_se + (1.0 - w) * a_k + a_fo


@njit(**_JIT)
def _los_db(d, he0, he1, zg, delta_h, m_d, a_d0, d_sml, f):
    """Line-of-sight loss: two-ray (rough-earth reflection) blended with the diffraction line."""
    sh = _sigma_h(_roughness(d, delta_h))
    wn = f / 47.7
    hs = he0 + he1
    sin_psi = hs / math.sqrt(d * d + hs * hs)
    r_e = (sin_psi - zg) / (sin_psi + zg) * math.exp(-min(10.0, wn * sh * sin_psi))
    q = r_e.real * r_e.real + r_e.imag * r_e.imag
    if q < 0.25 or q < sin_psi:
        r_e = r_e * math.sqrt(sin_psi / q)
    dphi = wn * 2.0 * he0 * he1 / d
    if dphi > math.pi / 2.0:
        dphi = math.pi - (math.pi / 2.0) ** 2 / dphi
    re = math.cos(dphi) + r_e.real
    im = -math.sin(dphi) + r_e.imag
    a_t = -10.0 * math.log10(re * re + im * im)
    a_d = m_d * d + a_d0
    w = 1.0 / (1.0 + f * delta_h / max(10e3, d_sml))
    return w * a_t + (1.0 - w) * a_d


@njit(**_JIT)
def _troposcatter_db(d, th0, th1, dl0, dl1, he0, he1, a_e, n_s, f, theta_los, h0_prev):
    """Troposcatter loss at ``d``; returns (loss dB, H0 carried to the next call)."""
    wn = f / 47.7
    if h0_prev > 15.0:
        h_0 = h0_prev
    else:
        ad = dl0 - dl1
        rr = he1 / he0
        if ad < 0.0:
            ad = -ad
            rr = 1.0 / rr
        theta = th0 + th1 + d / a_e
        r1 = 2.0 * wn * theta * he0
        r2 = 2.0 * wn * theta * he1
        if r1 < 0.2 and r2 < 0.2:
            return 1001.0, h0_prev  # A_scat undefined: caller falls back to the diffraction line
        s = (d - ad) / (d + ad)
        q = min(max(0.1, rr / s), 10.0)
        s = max(0.1, s)
        z0 = (d - ad) * (d + ad) * theta * 0.25 / d  # crossover height, m
        eta = (z0 / 1.7556e3) * (
            1.0 + (0.031 - n_s * 2.32e-3 + n_s * n_s * 5.67e-6)
            * math.exp(-min(1.7, z0 / 8.0e3) ** 6)
        )
        h00 = 0.5 * (_h0_function(r1, eta) + _h0_function(r2, eta))
        dh0 = min(h00, 6.0 * (0.6 - math.log10(max(eta, 1.0))) * math.log10(s) * math.log10(q))
        h_0 = max(h00 + dh0, 0.0)
        if eta < 1.0:
            h_0 = eta * h_0 + (1.0 - eta) * 10.0 * math.log10(
                ((1.0 + SQRT2 / r1) * (1.0 + SQRT2 / r2)) ** 2 * (r1 + r2) / (r1 + r2 + 2.0 * SQRT2)
            )
        if h_0 > 15.0 and h0_prev >= 0.0:
            h_0 = h0_prev
    th = d / a_e - theta_los
    loss = (
        _f_function(th * d) + 10.0 * math.log10(wn * 47.7 * th**4)
        - 0.1 * (n_s - 301.0) * math.exp(-th * d / 40e3) + h_0
    )
    return loss, h_0


@njit(**_JIT)
def longley_rice(th0, th1, f, zg, dl0, dl1, he0, he1, gamma_e, n_s, delta_h, h0, h1, d, p2p):
    """Reference attenuation relative to free space.

    Returns ``(a_ref_db, warning_bits, error_code, mode)``; ``error_code`` 0 means success.
    """
    return longley_rice_band(th0, th1, f, f**THIRD, math.log(f), zg, dl0, dl1, he0, he1,
                             gamma_e, n_s, delta_h, h0, h1, d, p2p,
                             path_terms(dl0, dl1, he0, he1, gamma_e, delta_h, d))


@njit(**_JIT)
def longley_rice_band(th0, th1, f, f3, ln_f, zg, dl0, dl1, he0, he1, gamma_e, n_s, delta_h,
                      h0, h1, d, p2p, pt):
    """:func:`longley_rice` with the frequency's ``f3 = f**(1/3)`` and ``ln_f = log(f)`` given
    (computed once per band by the ray driver) and the path's :func:`path_terms` ``pt``
    (once per path): same operations, same result."""
    warn = 0
    a_e = 1.0 / gamma_e
    ds0 = pt[0]
    ds1 = pt[1]
    d_sml = ds0 + ds1  # smooth-earth maximum line-of-sight distance
    d_ml = dl0 + dl1  # actual maximum line-of-sight distance
    theta_los = -max(th0 + th1, -d_ml / a_e)
    if abs(th0) > 200e-3:
        warn |= WARN_TX_ANGLE
    if abs(th1) > 200e-3:
        warn |= WARN_RX_ANGLE
    if dl0 < 0.1 * ds0:
        warn |= WARN_TX_HZN_1
    if dl1 < 0.1 * ds1:
        warn |= WARN_RX_HZN_1
    if dl0 > 3.0 * ds0:
        warn |= WARN_TX_HZN_2
    if dl1 > 3.0 * ds1:
        warn |= WARN_RX_HZN_2
    if n_s < 150.0:
        return 0.0, warn, ERR_NS_SMALL, 0
    if n_s > 400.0:
        return 0.0, warn, ERR_NS_LARGE, 0
    if n_s < 250.0:
        warn |= WARN_NS
    if a_e < 4000000.0 or a_e > 13333333.0:
        return 0.0, warn, ERR_EFFECTIVE_EARTH, 0
    if zg.real <= abs(zg.imag):
        return 0.0, warn, ERR_GROUND_IMPEDANCE, 0
    zg_abs = abs(zg)

    # diffraction line through two distances far into the diffraction region; the scale
    # (a_e^2 / f)^(1/3) from the path's a_e^(2/3) and the band's f^(1/3) (one cbrt per path)
    scale = pt[8] / f3
    d3 = max(d_sml, d_ml + 5.0 * scale)
    d4 = d3 + 10.0 * scale
    setup = _diffraction_setup(f, f3, dl0, dl1, he0, he1, h0, h1, zg_abs, p2p, pt)
    a3 = _diffraction_db(d3, f, a_e, theta_los, dl0, dl1, zg_abs, delta_h, setup)
    a4 = _diffraction_db(d4, f, a_e, theta_los, dl0, dl1, zg_abs, delta_h, setup)
    m_d = (a4 - a3) / (d4 - d3)
    a_d0 = a3 - m_d * d3

    if d < abs(he0 - he1) / 200e-3:
        warn |= WARN_DIST_SMALL_1
    if d < 1e3:
        warn |= WARN_DIST_SMALL_2
    if d > 1000e3:
        warn |= WARN_DIST_BIG_1
    if d > 2000e3:
        warn |= WARN_DIST_BIG_2

    if d < d_sml:
        # line of sight: A = A_o + k1 d + k2 ln d through d0, d1 and the diffraction value at d_sML
        a_sml = d_sml * m_d + a_d0
        d_0 = 0.04 * f * he0 * he1
        if a_d0 >= 0.0:
            d_0 = min(d_0, 0.5 * d_ml)
            d_1 = d_0 + 0.25 * (d_ml - d_0)
        else:
            d_1 = max(-a_d0 / m_d, 0.25 * d_ml)
        a_1 = _los_db(d_1, he0, he1, zg, delta_h, m_d, a_d0, d_sml, f)
        use_two = False
        k1 = 0.0
        k2 = 0.0
        if d_0 < d_1:
            a_0 = _los_db(d_0, he0, he1, zg, delta_h, m_d, a_d0, d_sml, f)
            q = math.log(d_sml / d_0)
            k2 = max(
                0.0,
                ((d_sml - d_0) * (a_1 - a_0) - (d_1 - d_0) * (a_sml - a_0))
                / ((d_sml - d_0) * math.log(d_1 / d_0) - (d_1 - d_0) * q),
            )
            use_two = a_d0 > 0.0 or k2 > 0.0
            if use_two:
                k1 = (a_sml - a_0 - k2 * q) / (d_sml - d_0)
                if k1 < 0.0:
                    k1 = 0.0
                    k2 = max(a_sml - a_0, 0.0) / q
                    if k2 == 0.0:
                        k1 = m_d
        if not use_two:
            k1 = max(a_sml - a_1, 0.0) / (d_sml - d_1)
            k2 = 0.0
            if k1 == 0.0:
                k1 = m_d
        a_o = a_sml - k1 * d_sml - k2 * math.log(d_sml)
        a_ref = a_o + k1 * d + k2 * math.log(d)
        mode = MODE_LOS
    elif d <= max(d_sml, d_ml + 1.088 * scale * ln_f):
        # the troposcatter crossover d_x below is never shorter than this bound, so the path is
        # in the diffraction region whatever the scatter line: skip the scatter computation
        a_ref = m_d * d + a_d0
        mode = MODE_DIFFRACTION
    else:
        d5 = d_ml + 200e3
        d6 = d_ml + 400e3
        a6, h0s = _troposcatter_db(d6, th0, th1, dl0, dl1, he0, he1, a_e, n_s, f, theta_los, -1.0)
        a5, h0s = _troposcatter_db(d5, th0, th1, dl0, dl1, he0, he1, a_e, n_s, f, theta_los, h0s)
        if a5 < 1000.0:
            m_s = (a6 - a5) / 200e3
            d_x = max(
                max(d_sml, d_ml + 1.088 * scale * ln_f),
                (a5 - a_d0 - m_s * d5) / (m_d - m_s),
            )
            a_s0 = (m_d - m_s) * d_x + a_d0
        else:
            m_s = m_d
            a_s0 = a_d0
            d_x = 10e6
        if d > d_x:
            a_ref = m_s * d + a_s0
            mode = MODE_TROPOSCATTER
        else:
            a_ref = m_d * d + a_d0
            mode = MODE_DIFFRACTION
    return max(a_ref, 0.0), warn, 0, mode
