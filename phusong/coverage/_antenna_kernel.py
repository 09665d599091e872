"""Compiled antenna gain shared by the point and raster engines.

Patterns are tabulated on a uniform 0.1° grid of each cut (:class:`PatternTable`); linear
interpolation on that grid reproduces the piecewise-linear MSI cut exactly when the file's
angles are multiples of 0.1° (every standard 360-point file), and the parametric 3GPP curves
within 3·10⁻⁴ dB on the parabolas (12 (0.05/θ3dB)² at θ3dB = 10°) and 0.014 dB at the corners
where A_m or SLA_V start. The geometry (azimuth, exact mechanical-tilt
rotation, electrical-tilt shift of the vertical cut) and the combination rule are those of
:func:`phusong.coverage.antenna.gain_db`, which stays the reference.

Behind a pattern's back lobe the gain is the cap ``−A_m`` whatever the exact angles:
:meth:`PatternTable.build` finds, per pattern, the arc of horizontal angles where both table
nodes read are ``A_m`` (``back``) and the vertical angles where a node read is below
``1e-12·A_m`` (``vlow``); :func:`pattern_gain_back` returns ``−A_m`` for directions certified
inside that arc and outside those vertical angles (with margins of 10⁻³° against rounding)
without the arc tangent and sine of the full evaluation, the same value bit for bit
(``A_H + A_V ≥ A_m`` in floating point there: ``A_H`` is within 4 ulp of ``A_m`` and
``A_V ≥ 10⁻¹²·A_m``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from phusong.coverage.antenna import Antenna

__all__ = ["PatternTable", "back_certificates", "behind_by_bearing", "mod360",
           "pattern_gain_back",
           "pattern_gain_db", "pattern_gain_pre", "pattern_gains"]

_JIT = {"cache": True, "nogil": True}
#: Cut sampling of the tables, degrees.
TABLE_STEP_DEG = 0.1
#: Margin of the back-lobe certificates against rounding, degrees (and its sine on ``z``).
_CERT_MARGIN_DEG = 1e-3
_CERT_MARGIN_Z = 1e-9
#: Slack of the bearing-only test of the back arc against its own rounding, degrees.
_CERT_SLACK_DEG = 1e-6
#: A vertical node is "low" below this fraction of A_m (the cap may then not be reached).
_LOW_FRACTION = 2e-12


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
    back : ndarray
        (n_patterns, 5): ``cos c, sin c, cos² w, c, w`` of the arc of horizontal angles
        (centre c, half-width w < 90°, degrees, margins taken off) where both nodes read are
        A_m; NaN: none.
    vlow : ndarray
        (n_patterns, 3): ``kind, lo, hi``: kind 0 no vertical node is low, 1 every low node is
        read only at cut angles (θ' − shift, signed degrees) within ``[lo, hi]``, 2 the low
        nodes are too spread to certify.
    """

    h: np.ndarray
    v: np.ndarray
    tilt: np.ndarray
    cap: np.ndarray
    gain_dbi: np.ndarray
    names: tuple
    back: np.ndarray
    vlow: np.ndarray

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
        back, vlow = _certify(h, v, cap)
        return cls(h, v, tilt, cap, gain, tuple(a.name for a in antennas), back, vlow)

    @classmethod
    def empty(cls) -> PatternTable:
        """No patterns (every cell on the legacy sector pattern)."""
        return cls.build([])


def _longest_run(on: np.ndarray) -> tuple[int, int] | None:
    """First and last index (the last may be ≥ n: circular) of the longest run of True."""
    n = on.size
    if on.all():
        return 0, 2 * n
    if not on.any():
        return None
    start = int(np.flatnonzero(~on)[0]) + 1  # a run never crosses this index
    rolled = np.roll(on, -start)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], rolled.astype(np.int8), [0]])))
    lengths = edges[1::2] - edges[::2]
    r = int(np.argmax(lengths))
    return start + int(edges[2 * r]), start + int(edges[2 * r + 1]) - 1


def _certify(h: np.ndarray, v: np.ndarray, cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``back`` and ``vlow`` certificates of :class:`PatternTable` (see its notes)."""
    n_pat, n = h.shape
    step = 360.0 / n
    m = _CERT_MARGIN_DEG
    back = np.full((n_pat, 5), np.nan)
    vlow = np.full((n_pat, 3), np.nan)
    vlow[:, 0] = 2.0
    for k in range(n_pat):
        c = cap[k]
        if not (np.isfinite(c) and c > 0.0):
            continue
        run = _longest_run(h[k] == c)
        if run is not None:
            # floor(x) and floor(x) + 1 in the run: x in [a, b)
            lo, hi = run[0] * step + m, run[1] * step - m
            if hi > lo:
                half = min(0.5 * (hi - lo), 89.0)
                ctr = np.radians(0.5 * (lo + hi))
                back[k] = (np.cos(ctr), np.sin(ctr), np.cos(np.radians(half)) ** 2,
                           0.5 * (lo + hi), half)
        low = ~(v[k] >= _LOW_FRACTION * c)  # NaN nodes are low too
        if not low.any():
            vlow[k] = (0.0, np.nan, np.nan)
            continue
        gap = _longest_run(~low)  # the low nodes lie in the complement of the longest gap
        j0, j1 = (0, n - 1) if gap is None else (gap[1] + 1, gap[0] - 1 + n)
        lo, hi = (j0 - 1) * step - m, (j1 + 1) * step + m  # x in [j − 1, j + 1) reads node j
        if hi - lo <= 90.0:
            shift = 360.0 * math.floor((0.5 * (lo + hi) + 180.0) / 360.0)
            vlow[k] = (1.0, lo - shift, hi - shift)
    return back, vlow


@njit(inline="always", **_JIT)
def mod360(a):
    """``a % 360.0`` (Python's float modulo, as numba computes it) bit for bit, without the
    ``fmod`` call for ``−360 < a < 360``."""
    if a > 0.0 and a < 360.0:
        return a
    if a < 0.0 and a > -360.0:
        return a + 360.0  # fmod(a, 360) is a, then + 360 (a result of 360.0 is kept, as %)
    return a % 360.0


@njit(inline="always", **_JIT)
def _cut(table, k, angle_deg):
    """Linear interpolation of row ``k`` of a 0.1° circular table at ``angle_deg``."""
    n = table.shape[1]
    x = mod360(angle_deg) / 360.0 * n
    i = int(math.floor(x))  # 0 ≤ i ≤ n (x = n when the modulo rounds to 360), or NaN's
    f = x - i
    i0 = i if 0 <= i < n else i % n
    i1 = i0 + 1 if i0 + 1 < n else i0 + 1 - n
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
    for every link that shares them; the same operations, so the same value bit for bit
    (:func:`pattern_gain_back` without a certificate: NaN arc, every ``z`` excluded)."""
    return pattern_gain_back(h, v, tilt, cap, k, bearing, azimuth, cos_e, sin_e, cos_b, sin_b,
                             etilt, math.nan, math.nan, math.nan, -math.inf, math.inf)


@njit(inline="always", **_JIT)
def pattern_gain_back(h, v, tilt, cap, k, bearing, azimuth, cos_e, sin_e, cos_b, sin_b, etilt,
                      back_x, back_y, back_c2, z_lo, z_hi):
    """:func:`pattern_gain_pre`, bit for bit, returning ``−A_m`` directly for directions in
    the back-lobe certificate of this cell (:func:`back_certificates`: the horizontal arc
    ``back_*`` and the rotated ``z`` outside ``[z_lo, z_hi]``)."""
    omni = math.isnan(azimuth)
    phi = math.radians(bearing - (0.0 if omni else azimuth))
    x = cos_e * math.cos(phi)
    y = cos_e * math.sin(phi)
    z = sin_e
    xr = x * cos_b - z * sin_b
    zr = x * sin_b + z * cos_b
    dot = xr * back_x + y * back_y
    if dot > 0.0 and dot * dot >= back_c2 * (xr * xr + y * y) and (zr < z_lo or zr > z_hi):
        return -cap[k]
    phi_r = math.degrees(math.atan2(y, xr))
    theta_r = -math.degrees(math.asin(min(max(zr, -1.0), 1.0)))
    shift = 0.0 if math.isnan(etilt) else etilt - tilt[k]
    ah = 0.0 if omni else _cut(h, k, phi_r)
    av = _cut(v, k, theta_r - shift)
    return -min(ah + av, cap[k])


@njit(inline="always", **_JIT)
def behind_by_bearing(bearing, azimuth, cos_e, sin_e, cos_b, sin_b, centre, half, z_lo, z_hi):
    """True when the direction (bearing, elevation e) is inside the back-lobe certificate of
    :func:`pattern_gain_back`, decided without its sine and cosine of the bearing offset.

    The mechanical tilt ``b`` moves the receiver's horizontal angle in the antenna frame by at
    most ``asin(δ / cos e) ≤ 90° δ / cos e`` with ``δ = cos e (1 − cos b) + |sin e| |sin b|``
    (the x component of the direction moves by ≤ δ), and its rotated ``z`` lies within
    ``sin e cos b ± cos e |sin b|``. ``half`` carries 1e-6° of slack for this test's own
    rounding (≪ the certificate's 1e-3° margins). False (then the full test decides) for NaN
    inputs or a receiver within 1e-6 of the vertical.
    """
    if not cos_e > 1e-6:
        return False
    off = abs(mod360(bearing - azimuth - centre + 180.0) - 180.0)
    if not cos_e * (half - off - 90.0 * (1.0 - cos_b)) >= 90.0 * abs(sin_e) * abs(sin_b):
        return False
    zc = sin_e * cos_b
    zw = cos_e * abs(sin_b)
    return zc + zw < z_lo or zc - zw > z_hi


@njit(**_JIT)
def back_certificates(pattern, azimuth, etilt, tilt, back, vlow, cells):
    """Per local cell ``cells[i]``: ``(back_x, back_y, back_c2, z_lo, z_hi)`` of
    :func:`pattern_gain_back` (``back_c2`` NaN: never certified, e.g. omni or no pattern),
    then the arc's centre and half-width less 1e-6°, degrees, for :func:`behind_by_bearing`.

    The vertical certificate of pattern ``k`` (``vlow[k]``) shifted by the cell's electrical
    tilt is turned from cut angles into the rotated ``z = −sin θ'``, widened by ``1e-9``."""
    n = cells.shape[0]
    out = np.full((7, n), np.nan)
    for i in range(n):
        c = cells[i]
        k = pattern[c]
        if k < 0 or math.isnan(azimuth[c]):
            continue
        shift = 0.0 if math.isnan(etilt[c]) else etilt[c] - tilt[k]
        kind = vlow[k, 0]
        if kind == 0.0:
            z_lo, z_hi = math.inf, -math.inf  # every z certified
        elif kind == 1.0 and abs(shift) <= 720.0:
            z_lo, z_hi = math.inf, -math.inf
            for t in range(-3, 4):
                a = vlow[k, 1] + shift + 360.0 * t  # θ' interval of the low nodes
                b = vlow[k, 2] + shift + 360.0 * t
                if b >= -90.0 and a <= 90.0:
                    z_lo = min(z_lo, -math.sin(math.radians(min(b, 90.0))) - _CERT_MARGIN_Z)
                    z_hi = max(z_hi, -math.sin(math.radians(max(a, -90.0))) + _CERT_MARGIN_Z)
        else:
            continue
        out[0, i] = back[k, 0]
        out[1, i] = back[k, 1]
        out[2, i] = back[k, 2]
        out[3, i] = z_lo
        out[4, i] = z_hi
        out[5, i] = back[k, 3]
        out[6, i] = back[k, 4] - _CERT_SLACK_DEG
    return out


@njit(**_JIT)
def pattern_gains(h, v, tilt, cap, k, bearing, azimuth, down, mtilt, etilt):
    """:func:`pattern_gain_db` over arrays (one value per link; serial, so that it may run
    inside the point engine's worker threads)."""
    out = np.empty(bearing.shape[0])
    for i in range(bearing.shape[0]):
        out[i] = pattern_gain_db(h, v, tilt, cap, k[i], bearing[i], azimuth[i], down[i],
                                 mtilt[i], etilt[i])
    return out
