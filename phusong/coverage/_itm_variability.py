"""Longley-Rice ITM: time, location and situation variability (TN101 curves), numba.

Written for phusong from Hufford's 1.2.2 algorithm (``avar``) and the NTIA/ITS C++ reference's
restatement: the reference attenuation becomes the attenuation not exceeded for the given
time/location/situation percentages, per radio climate (1 equatorial ... 7 maritime temperate
over sea) and mode of variability ``mdvar``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from phusong.coverage._itm_core import WARN_EXTREME_VAR, inv_ccdf

__all__ = ["variability", "variability_band", "variability_path"]

A9000_M = 9000e3  # 9000 km radius used by the effective-distance formula, m
THIRD = 1.0 / 3.0
_JIT = {"cache": True, "nogil": True}


@njit(**_JIT)
def _roughness(d_m: float, delta_h_m: float) -> float:
    return delta_h_m * (1.0 - 0.8 * math.exp(-d_m / 50e3))


# --- variability curve coefficients, one column per radio climate 1..7 (TN101 fig. 10.13) -----
_V_MED = np.array(
    [
        [-9.67, -0.62, 1.26, -9.21, -0.62, -0.39, 3.15],
        [12.7, 9.19, 15.5, 9.05, 9.19, 2.86, 857.9],
        [144.9e3, 228.9e3, 262.6e3, 84.1e3, 228.9e3, 141.7e3, 2222.0e3],
        [190.3e3, 205.2e3, 185.2e3, 101.1e3, 205.2e3, 315.9e3, 164.8e3],
        [133.8e3, 143.6e3, 99.8e3, 98.6e3, 143.6e3, 167.4e3, 116.3e3],
    ]
)
_SIGMA_MINUS = np.array(
    [
        [2.13, 2.66, 6.11, 1.98, 2.68, 6.86, 8.51],
        [159.5, 7.67, 6.65, 13.11, 7.16, 10.38, 169.8],
        [762.2e3, 100.4e3, 138.2e3, 139.1e3, 93.7e3, 187.8e3, 609.8e3],
        [123.6e3, 172.5e3, 242.2e3, 132.7e3, 186.8e3, 169.6e3, 119.9e3],
        [94.5e3, 136.4e3, 178.6e3, 193.5e3, 133.5e3, 108.9e3, 106.6e3],
    ]
)
_SIGMA_PLUS = np.array(
    [
        [2.11, 6.87, 10.08, 3.68, 4.75, 8.58, 8.43],
        [102.3, 15.53, 9.60, 159.3, 8.12, 13.97, 8.19],
        [636.9e3, 138.7e3, 165.3e3, 464.4e3, 93.2e3, 216.0e3, 136.2e3],
        [134.8e3, 143.7e3, 225.7e3, 93.1e3, 135.9e3, 152.0e3, 188.5e3],
        [95.6e3, 98.6e3, 129.7e3, 94.2e3, 113.4e3, 122.7e3, 122.9e3],
    ]
)
_C_D = np.array([1.224, 0.801, 1.380, 1.000, 1.224, 1.518, 1.518])
_Z_D = np.array([1.282, 2.161, 1.282, 20.0, 1.282, 1.282, 1.282])
# frequency gain factors g-(f), g+(f): b1 + b2 / ((b3 ln(0.133 k))^2 + 1)
_G_MINUS = np.array(
    [[1.0, 1.0, 1.0, 1.0, 0.92, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0],
     [0.0, 0.0, 0.0, 0.0, 1.77, 0.0, 0.0]]
)
_G_PLUS = np.array(
    [[1.0, 0.93, 1.0, 0.93, 0.93, 1.0, 1.0], [0.0, 0.31, 0.0, 0.19, 0.31, 0.0, 0.0],
     [0.0, 2.00, 0.0, 1.79, 2.00, 0.0, 0.0]]
)

@njit(**_JIT)
def _curve(c1, c2, x1, x2, x3, d_e):
    """TN101 eq. III.69/III.70 curve shape for the variability terms."""
    r = (d_e / x1) ** 2
    return (c1 + c2 / (1.0 + ((d_e - x2) / x3) ** 2)) * r / (1.0 + r)


@njit(**_JIT)
def variability_band(time_pct, location_pct, situation_pct, f, climate):
    """The path-independent part of :func:`variability` (percentages, frequency, climate).

    Returns ``(z_t, z_l, z_s, g_minus, g_plus, d_f)``: standard normal deviates, the
    frequency gain factors and the frequency term of the effective distance, m. Computed once
    per band by the ray driver; :func:`variability` is exactly
    ``variability_path(*variability_band(...), ...)``.
    """
    z_t = inv_ccdf(time_pct / 100.0)
    z_l = inv_ccdf(location_pct / 100.0)
    z_s = inv_ccdf(situation_pct / 100.0)
    c = climate - 1
    wn = f / 47.7
    q = math.log(0.133 * wn)
    g_minus = _G_MINUS[0, c] + _G_MINUS[1, c] / ((_G_MINUS[2, c] * q) ** 2 + 1.0)
    g_plus = _G_PLUS[0, c] + _G_PLUS[1, c] / ((_G_PLUS[2, c] * q) ** 2 + 1.0)
    return z_t, z_l, z_s, g_minus, g_plus, (575.7e12 / wn) ** THIRD


@njit(**_JIT)
def variability(time_pct, location_pct, situation_pct, he0, he1, delta_h, f, d, a_ref, climate, mdvar):
    """Attenuation not exceeded for the given time/location/situation fractions.

    Returns ``(attenuation_db, warning_bits)``; add free-space loss for basic transmission loss.
    """
    z_t, z_l, z_s, g_minus, g_plus, d_f = variability_band(time_pct, location_pct, situation_pct,
                                                            f, climate)
    return variability_path(z_t, z_l, z_s, g_minus, g_plus, d_f,
                            math.sqrt(2.0 * A9000_M * he0) + math.sqrt(2.0 * A9000_M * he1),
                            _roughness(d, delta_h), f, d, a_ref, climate, mdvar)


@njit(**_JIT)
def variability_path(z_t, z_l, z_s, g_minus, g_plus, d_f, d_he, dhd, f, d, a_ref, climate,
                     mdvar):
    """:func:`variability` with the :func:`variability_band` terms given, and the path's
    ``d_he = sqrt(2 a_9000 he0) + sqrt(2 a_9000 he1)`` and ``dhd`` = roughness at ``d``."""
    warn = 0
    c = climate - 1
    wn = f / 47.7
    d_ex = d_he + d_f
    if d < d_ex:
        d_e = 130e3 * d / d_ex
    else:
        d_e = 130e3 + d - d_ex

    kind = mdvar
    no_situation = kind >= 20
    if no_situation:
        kind -= 20
    sigma_s = 0.0 if no_situation else 5.0 + 3.0 * math.exp(-d_e / 100e3)
    no_location = kind >= 10
    if no_location:
        kind -= 10

    v_med = _curve(_V_MED[0, c], _V_MED[1, c], _V_MED[2, c], _V_MED[3, c], _V_MED[4, c], d_e)
    if kind == 0:  # single-message mode
        z_t = z_s
        z_l = z_s
    elif kind == 1:  # accidental mode
        z_l = z_s
    elif kind == 2:  # mobile mode
        z_l = z_t
    if abs(z_t) > 3.1 or abs(z_l) > 3.1 or abs(z_s) > 3.1:
        warn |= WARN_EXTREME_VAR

    if no_location:
        sigma_l = 0.0
    else:
        sigma_l = 10.0 * wn * dhd / (wn * dhd + 13.0)
    y_l = sigma_l * z_l

    s_minus = _curve(
        _SIGMA_MINUS[0, c], _SIGMA_MINUS[1, c], _SIGMA_MINUS[2, c], _SIGMA_MINUS[3, c],
        _SIGMA_MINUS[4, c], d_e,
    ) * g_minus
    s_plus = _curve(
        _SIGMA_PLUS[0, c], _SIGMA_PLUS[1, c], _SIGMA_PLUS[2, c], _SIGMA_PLUS[3, c],
        _SIGMA_PLUS[4, c], d_e,
    ) * g_plus
    s_td = _C_D[c] * s_plus
    tgtd = (s_plus - s_td) * _Z_D[c]
    if z_t < 0.0:
        sigma_t = s_minus
    elif z_t <= _Z_D[c]:
        sigma_t = s_plus
    else:
        sigma_t = s_td + tgtd / z_t
    y_t = sigma_t * z_t

    ys_sq = sigma_s * sigma_s + y_t * y_t / (7.8 + z_s * z_s) + y_l * y_l / (24.0 + z_s * z_s)
    if kind == 0:
        y_r = 0.0
        y_s = math.sqrt(sigma_t * sigma_t + sigma_l * sigma_l + ys_sq) * z_s
    elif kind == 1:
        y_r = y_t
        y_s = math.sqrt(sigma_l * sigma_l + ys_sq) * z_s
    elif kind == 2:
        y_r = math.sqrt(sigma_t * sigma_t + sigma_l * sigma_l) * z_t
        y_s = math.sqrt(ys_sq) * z_s
    else:  # broadcast mode
        y_r = y_t + y_l
        y_s = math.sqrt(ys_sq) * z_s
    out = a_ref - v_med - y_r - y_s
    if out < 0.0:
        out = out * (29.0 - out) / (29.0 - 10.0 * out)
    return out, warn

