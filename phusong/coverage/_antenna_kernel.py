"""Compiled antenna gain shared by the point and raster engines.

Patterns are tabulated on a uniform 0.1° grid of each cut (:class:`PatternTable`); linear
interpolation on that grid reproduces the piecewise-linear MSI cut exactly when the file's
angles are multiples of 0.1° (every standard 360-point file), and the parametric 3GPP curves
within 3·10⁻⁴ dB on the parabolas (12 (0.05/θ3dB)² at θ3dB = 10°) and 0.014 dB at the corners
where A_m or SLA_V start. The geometry (azimuth, exact mechanical-tilt
rotation, electrical-tilt shift of the vertical cut) and the combination rule are those of
:func:`phusong.coverage.antenna.gain_db`, which stays the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from phusong.coverage.antenna import Antenna

__all__ = ["PatternTable", "pattern_gain_db", "pattern_gain_pre", "pattern_gains"]

_JIT = {"cache": True, "nogil": True}
#: Cut sampling of the tables, degrees.
TABLE_STEP_DEG = 0.1


@dataclass(frozen=True)
class PatternTable:
    """Antenna patterns as arrays for compiled code.

    Attributes
    ----------
    h, v : ndarray
        (n_patterns, 3600) attenuation below the maximum, dB, at angles k·0.1° (horizontal
        clockwise from boresight; vertical below the horizon).
    tilt : ndarray
        Electrical tilt built into each vertical cut, degrees.
    cap : ndarray
        A_m per pattern, dB (+inf for the ``sum`` rule).
    gain_dbi : ndarray
        Maximum gain, dBi.
    names : tuple of str
    """

    h: np.ndarray
    v: np.ndarray
    tilt: np.ndarray
    cap: np.ndarray
    gain_dbi: np.ndarray
    names: tuple

    @classmethod
    def build(cls, antennas: list[Antenna]) -> PatternTable:
        """Tabulate ``antennas`` (in order: index k of the table is ``antennas[k]``)."""
        ang = np.arange(0.0, 360.0, TABLE_STEP_DEG)
        n = max(len(antennas), 1)
        h = np.zeros((n, ang.size))
        v = np.zeros((n, ang.size))
        tilt = np.zeros(n)
        cap = np.full(n, np.inf)
        gain = np.zeros(n)
        for k, a in enumerate(antennas):
            h[k] = a.horizontal_attenuation_db(ang)
            th = np.where(ang > 180.0, ang - 360.0, ang)
            v[k] = a.vertical_attenuation_db(th, np.full(ang.shape, a.tilt_deg))
            tilt[k] = a.tilt_deg
            cap[k] = a.front_to_back_db if a.rule == "3gpp" else np.inf
            gain[k] = a.gain_dbi
        return cls(h, v, tilt, cap, gain, tuple(a.name for a in antennas))

    @classmethod
    def empty(cls) -> PatternTable:
        """No patterns (every cell on the legacy sector pattern)."""
        return cls.build([])


@njit(**_JIT)
def _cut(table, k, angle_deg):
    """Linear interpolation of row ``k`` of a 0.1° circular table at ``angle_deg``."""
    n = table.shape[1]
    x = (angle_deg % 360.0) / 360.0 * n
    i = int(math.floor(x))
    f = x - i
    i0 = i % n
    i1 = (i + 1) % n
    return table[k, i0] * (1.0 - f) + table[k, i1] * f


@njit(**_JIT)
def pattern_gain_db(h, v, tilt, cap, k, bearing, azimuth, down, mtilt, etilt):
    """Gain relative to boresight of pattern ``k`` towards (bearing, down), dB (≤ 0).

    NaN azimuth = omni (no horizontal attenuation); NaN mechanical tilt = 0; NaN electrical
    tilt = the pattern's own.
    """
    e = -math.radians(down)
    b = 0.0 if math.isnan(mtilt) else math.radians(mtilt)
    return pattern_gain_pre(h, v, tilt, cap, k, bearing, azimuth, math.cos(e), math.sin(e),
                            math.cos(b), math.sin(b), etilt)


@njit(inline="always", **_JIT)
def pattern_gain_pre(h, v, tilt, cap, k, bearing, azimuth, cos_e, sin_e, cos_b, sin_b, etilt):
    """:func:`pattern_gain_db` from the cosine and sine of the elevation ``e = −down`` and of
    the mechanical tilt ``b`` (radians; ``b = 0`` for NaN tilt), computed once by the caller
    for every link that shares them; the same operations, so the same value bit for bit."""
    omni = math.isnan(azimuth)
    phi = math.radians(bearing - (0.0 if omni else azimuth))
    x = cos_e * math.cos(phi)
    y = cos_e * math.sin(phi)
    z = sin_e
    xr = x * cos_b - z * sin_b
    zr = x * sin_b + z * cos_b
    phi_r = math.degrees(math.atan2(y, xr))
    theta_r = -math.degrees(math.asin(min(max(zr, -1.0), 1.0)))
    shift = 0.0 if math.isnan(etilt) else etilt - tilt[k]
    ah = 0.0 if omni else _cut(h, k, phi_r)
    av = _cut(v, k, theta_r - shift)
    return -min(ah + av, cap[k])


@njit(**_JIT)
def pattern_gains(h, v, tilt, cap, k, bearing, azimuth, down, mtilt, etilt):
    """:func:`pattern_gain_db` over arrays (one value per link; serial, so that it may run
    inside the point engine's worker threads)."""
    out = np.empty(bearing.shape[0])
    for i in range(bearing.shape[0]):
        out[i] = pattern_gain_db(h, v, tilt, cap, k[i], bearing[i], azimuth[i], down[i],
                                 mtilt[i], etilt[i])
    return out
