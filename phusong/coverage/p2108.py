"""ITU-R P.2108-1 clutter loss: terminal height-gain model (§3.1) and statistical model (§3.2).

Vectorised over paths (every argument broadcasts). Frequencies are in GHz here, as in the
Recommendation; the engine converts from MHz.

- :func:`height_gain_db` — §3.1, the correction for a terrestrial terminal inside clutter of
  representative height ``R`` (equations 2a/2b, Table 2 defaults). Valid 0.03–3 GHz.
- :func:`terrestrial_statistical_db` — §3.2, clutter loss not exceeded for ``p`` % of locations
  for a terrestrial path with one end in urban/suburban clutter (equations 3–6, with the
  reference code's ``min(L(d), L(2 km))``). Valid 2–67 GHz, d ≥ 0.25 km.

Validated against the ITU-R SG 3 "Clutter and BEL" workbook values (``tests/test_p2108.py``).

Examples
--------
>>> round(float(height_gain_db(1.5, 2.0, 2)), 2)   # open/rural, R = 10 m
16.0
>>> round(float(terrestrial_statistical_db(2.0, 0.65, 50.0)), 1)
27.1
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from phusong.errors import ModelError

__all__ = [
    "CLUTTER_TYPES",
    "DEFAULT_R_M",
    "DEFAULT_STREET_WIDTH_M",
    "height_gain_db",
    "terrestrial_statistical_db",
]

#: P.2108 Table 2 clutter types (code → name). Types 1–2 use eq. (2b), 3–5 eq. (2a).
CLUTTER_TYPES = {1: "water/sea", 2: "open/rural", 3: "suburban", 4: "urban/trees/forest",
                 5: "dense urban"}
#: Table 2 default representative clutter height R per type, m (index = type).
DEFAULT_R_M = np.array([np.nan, 10.0, 10.0, 10.0, 15.0, 20.0])
#: Default street width, m (§3.1).
DEFAULT_STREET_WIDTH_M = 27.0


def height_gain_db(f_ghz, h_m, clutter_type, r_m=None, ws_m=DEFAULT_STREET_WIDTH_M) -> np.ndarray:
    """Height-gain terminal correction of P.2108 §3.1, dB (≥ 0; 0 where ``h ≥ R``).

    ``K_h2 = 21.8 + 6.2 log10 f``; for water and open/rural (types 1–2, eq. 2b)
    ``A_h = −K_h2 log10(h/R)``; for suburban, urban/trees and dense urban (types 3–5, eq. 2a)
    ``A_h = J(ν) − 6.03`` with ``ν = K_nu √(h_dif θ_clut)``, ``K_nu = 0.342 √f``,
    ``h_dif = R − h``, ``θ_clut = atan(h_dif / w_s)`` in degrees and ``J`` the knife-edge loss of
    P.526. Where ``h ≥ R`` the terminal is above the clutter and the loss is 0.

    Parameters
    ----------
    f_ghz : array_like
        Frequency, GHz (0.03–3).
    h_m : array_like
        Antenna height above ground, m (> 0).
    clutter_type : array_like of int
        1 water/sea, 2 open/rural, 3 suburban, 4 urban/trees/forest, 5 dense urban; 0 means no
        clutter (loss 0).
    r_m : array_like, optional
        Representative clutter height, m (default: Table 2 per type).
    ws_m : array_like
        Street width, m (default 27).

    Returns
    -------
    numpy.ndarray
        Additional loss, dB.

    Raises
    ------
    ModelError
        A clutter type outside 0–5 or a non-positive height.
    """
    f, h, t = np.broadcast_arrays(np.asarray(f_ghz, float), np.asarray(h_m, float),
                                  np.asarray(clutter_type))
    t = t.astype(np.int64)
    if np.any((t < 0) | (t > 5)):
        bad = sorted(set(t[(t < 0) | (t > 5)].tolist()))
        raise ModelError(f"P.2108 clutter type(s) {bad} unknown; use 1–5 (Table 2) or 0 for none")
    if np.any(h <= 0):
        raise ModelError("P.2108 terminal height must be > 0 m")
    r = DEFAULT_R_M[np.maximum(t, 1)] if r_m is None else np.asarray(r_m, float)
    r, ws = np.broadcast_arrays(r, np.asarray(ws_m, float))
    r = np.broadcast_to(r, f.shape)
    ws = np.broadcast_to(ws, f.shape)
    below = (t > 0) & (h < r)
    kh2 = 21.8 + 6.2 * np.log10(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        open_ = -kh2 * np.log10(h / r)
        hdif = np.maximum(r - h, 0.0)
        theta = np.degrees(np.arctan(hdif / ws))
        nu = 0.342 * np.sqrt(f) * np.sqrt(hdif * theta)
        j = 6.9 + 20.0 * np.log10(np.sqrt((nu - 0.1) ** 2 + 1.0) + nu - 0.1)
    built = j - 6.03
    out = np.where(t <= 2, open_, built)
    return np.where(below, out, 0.0)


def _ctt_db(f, d, q):
    ll = -2.0 * np.log10(10.0 ** (-5.0 * np.log10(f) - 12.5) + 10.0 ** (-16.5))
    ls = 32.98 + 23.9 * np.log10(d) + 3.0 * np.log10(f)
    al, as_ = 10.0 ** (-0.2 * ll), 10.0 ** (-0.2 * ls)
    sigma = np.sqrt((4.0 ** 2 * al + 6.0 ** 2 * as_) / (al + as_))
    return -5.0 * np.log10(al + as_) - sigma * q


def terrestrial_statistical_db(f_ghz, d_km, p_pct) -> np.ndarray:
    """Clutter loss not exceeded for ``p`` % of locations, P.2108 §3.2 (eq. 3–6), dB.

    ``L_ctt = −5 log10(10^(−0.2 L_l) + 10^(−0.2 L_s)) − σ_cb Q⁻¹(p/100)`` with
    ``L_l = −2 log10(10^(−5 log10 f − 12.5) + 10^(−16.5))`` (P.2108-1 eq. 4a),
    ``L_s = 32.98 + 23.9 log10 d + 3 log10 f``, σ_l = 4 dB, σ_s = 6 dB; the result is
    ``min(L_ctt(d), L_ctt(2 km))`` as in the ITU reference code (the model saturates beyond
    2 km). Applies to one end of the path; add it twice when both ends are in clutter.

    Parameters
    ----------
    f_ghz : array_like
        Frequency, GHz (2–67).
    d_km : array_like
        Path length, km (≥ 0.25).
    p_pct : array_like
        Percentage of locations, in (0, 100).

    Returns
    -------
    numpy.ndarray
        Clutter loss, dB.
    """
    f, d, p = np.broadcast_arrays(np.asarray(f_ghz, float), np.asarray(d_km, float),
                                  np.asarray(p_pct, float))
    if np.any((p <= 0) | (p >= 100)):
        raise ModelError("P.2108 percentage of locations must be in (0, 100)")
    if np.any(d <= 0) or np.any(f <= 0):
        raise ModelError("P.2108 frequency and distance must be > 0")
    q = -ndtri(p / 100.0)  # Q⁻¹(p) = inverse complementary normal
    return np.minimum(_ctt_db(f, d, q), _ctt_db(f, np.full_like(d, 2.0), q))
