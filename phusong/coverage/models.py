"""Propagation models, vectorised over paths: free space, Okumura-Hata, COST-231 Hata,
3GPP TR 38.901 RMa / UMa, and the single knife-edge function J(v) of ITU-R P.526.

Every function takes arrays (one entry per path) and returns basic transmission loss in dB.
Inputs outside a model's published validity raise :class:`~phusong.errors.ValidityWarning`
(naming the model and range) or, far outside, :class:`~phusong.errors.ModelError`.

Examples
--------
>>> from phusong.coverage.models import fspl_db
>>> round(float(fspl_db(1.0, 1000.0)[0]), 2)
92.45
"""

from __future__ import annotations

import warnings

import numpy as np

from phusong.errors import ModelError, ValidityWarning

__all__ = [
    "fspl_db",
    "hata_db",
    "cost231_db",
    "rma_db",
    "uma_db",
    "knife_edge_db",
    "ENVIRONMENTS",
    "SPEED_OF_LIGHT_M_S",
]

SPEED_OF_LIGHT_M_S = 299_792_458.0
#: Terrain/clutter classes of the Hata family.
ENVIRONMENTS = ("urban", "suburban", "rural", "open")


def _arr(v) -> np.ndarray:
    return np.atleast_1d(np.asarray(v, dtype=float))


def _check(model: str, name: str, v: np.ndarray, lo: float, hi: float, unit: str,
           hard: tuple[float, float] | None = None) -> None:
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return
    vmin, vmax = float(finite.min()), float(finite.max())
    if hard is not None and (vmin < hard[0] or vmax > hard[1]):
        raise ModelError(
            f"{model}: {name} {vmin:g}–{vmax:g} {unit} is far outside its validity "
            f"{lo:g}–{hi:g} {unit}; choose another model (--model itm)"
        )
    if vmin < lo or vmax > hi:
        warnings.warn(
            f"{model}: {name} {vmin:g}–{vmax:g} {unit} outside validity {lo:g}–{hi:g} {unit}; "
            "results are extrapolated",
            ValidityWarning,
            stacklevel=3,
        )


def fspl_db(d_km, f_mhz) -> np.ndarray:
    """Free-space basic transmission loss (ITU-R P.525-4 eq. 6).

    ``L = 32.45 + 20 log10(f_MHz) + 20 log10(d_km)``.

    Validity: far field (d ≫ λ); any frequency. Reference: ITU-R P.525-4 (2019).

    Parameters
    ----------
    d_km : array_like
        Path length (3-D or horizontal), km.
    f_mhz : array_like
        Frequency, MHz.

    Returns
    -------
    ndarray
        Loss, dB.
    """
    d = _arr(d_km)
    f = _arr(f_mhz)
    if (f <= 0).any() or (d <= 0).any():
        raise ModelError("fspl: frequency and distance must be positive")
    return 32.45 + 20.0 * np.log10(f) + 20.0 * np.log10(d)


def _a_hm(f: np.ndarray, hm: np.ndarray, environment: str) -> np.ndarray:
    lf = np.log10(f)
    if environment == "large_city":
        return 3.2 * np.log10(11.75 * hm) ** 2 - 4.97
    return (1.1 * lf - 0.7) * hm - (1.56 * lf - 0.8)


def _env_correction(f: np.ndarray, environment: str) -> np.ndarray:
    lf = np.log10(f)
    if environment in ("urban", "large_city"):
        return np.zeros_like(f)
    if environment == "suburban":
        return -2.0 * np.log10(f / 28.0) ** 2 - 5.4
    if environment == "rural":  # quasi-open area
        return -4.78 * lf**2 + 18.33 * lf - 35.94
    if environment == "open":
        return -4.78 * lf**2 + 18.33 * lf - 40.94
    raise ModelError(f"hata: environment {environment!r} unknown; use one of {ENVIRONMENTS}")


def hata_db(d_km, f_mhz, hb_m, hm_m, environment: str = "rural") -> np.ndarray:
    """Okumura-Hata median path loss.

    Urban: ``L = 69.55 + 26.16 log f − 13.82 log hb − a(hm) + (44.9 − 6.55 log hb) log d``
    with ``a(hm) = (1.1 log f − 0.7) hm − (1.56 log f − 0.8)`` (small/medium city).
    Suburban: ``L − 2 (log(f/28))² − 5.4``; rural (quasi-open): ``L − 4.78 (log f)² +
    18.33 log f − 35.94``; open: same with ``− 40.94``.

    Validity: f 150–1500 MHz, hb 30–200 m, hm 1–10 m, d 1–20 km. Distances outside 1–20 km
    are evaluated by the same formula (coverage maps need them); callers floor the result at
    free space. Reference: M. Hata, IEEE Trans. Veh. Technol. 29(3), 1980; ITU-R P.529-3.

    Parameters
    ----------
    d_km : array_like
        Horizontal distance, km.
    f_mhz : array_like
        Frequency, MHz.
    hb_m, hm_m : array_like
        Base-station and mobile antenna heights, m.
    environment : str
        ``urban``, ``suburban``, ``rural`` or ``open``.

    Returns
    -------
    ndarray
        Loss, dB.
    """
    d, f, hb, hm = (_arr(v) for v in (d_km, f_mhz, hb_m, hm_m))
    _check("hata", "frequency", f, 150, 1500, "MHz", hard=(30, 3000))
    _check("hata", "base height", hb, 30, 200, "m", hard=(1, 1000))
    _check("hata", "mobile height", hm, 1, 10, "m", hard=(0.1, 100))
    lf, lb = np.log10(f), np.log10(hb)
    urban = 69.55 + 26.16 * lf - 13.82 * lb - _a_hm(f, hm, environment) + (
        44.9 - 6.55 * lb
    ) * np.log10(d)
    return urban + _env_correction(f, environment)


def cost231_db(d_km, f_mhz, hb_m, hm_m, environment: str = "rural") -> np.ndarray:
    """COST-231 Hata median path loss (the 1500–2000 MHz extension of Hata).

    ``L = 46.3 + 33.9 log f − 13.82 log hb − a(hm) + (44.9 − 6.55 log hb) log d + Cm``,
    ``Cm = 3 dB`` for ``large_city`` (metropolitan), 0 otherwise; suburban/rural/open add the
    Hata environment corrections (common practice, as in ITU-R P.529).

    Validity: f 1500–2000 MHz, hb 30–200 m, hm 1–10 m, d 1–20 km. Reference: COST Action 231
    final report, EUR 18957, 1999, §4.4.

    Parameters
    ----------
    d_km, f_mhz, hb_m, hm_m, environment
        As :func:`hata_db`.

    Returns
    -------
    ndarray
        Loss, dB.
    """
    d, f, hb, hm = (_arr(v) for v in (d_km, f_mhz, hb_m, hm_m))
    _check("cost231", "frequency", f, 1500, 2000, "MHz", hard=(400, 6000))
    _check("cost231", "base height", hb, 30, 200, "m", hard=(1, 1000))
    _check("cost231", "mobile height", hm, 1, 10, "m", hard=(0.1, 100))
    lf, lb = np.log10(f), np.log10(hb)
    cm = 3.0 if environment == "large_city" else 0.0
    urban = 46.3 + 33.9 * lf - 13.82 * lb - _a_hm(f, hm, environment) + (
        44.9 - 6.55 * lb
    ) * np.log10(d) + cm
    return urban + _env_correction(f, environment)


def _d3d(d2d_m, hbs, hut):
    return np.sqrt(d2d_m**2 + (hbs - hut) ** 2)


def rma_db(d2d_m, f_mhz, hbs_m, hut_m, los, *, h_building_m: float = 5.0,
           w_street_m: float = 20.0) -> np.ndarray:
    """3GPP TR 38.901 RMa path loss, LOS or NLOS per path (Table 7.4.1-1).

    ``PL1 = 20 log10(40π d3D fc/3) + min(0.03 h^1.72, 10) log10(d3D) − min(0.044 h^1.72,
    14.77) + 0.002 log10(h) d3D``; ``PL2 = PL1(dBP) + 40 log10(d3D/dBP)``,
    ``dBP = 2π hBS hUT fc/c``; LOS = PL1 below dBP, PL2 beyond. NLOS = ``max(PL_LOS, 161.04 −
    7.1 log10 W + 7.5 log10 h − (24.37 − 3.7 (h/hBS)²) log10 hBS + (43.42 − 3.1 log10 hBS)
    (log10 d3D − 3) + 20 log10 fc − (3.2 (log10(11.75 hUT))² − 4.97))``. fc in GHz, d in m.

    Validity: fc 0.5–30 GHz, hBS 10–150 m, hUT 1–10 m, d2D 10 m–10 km (LOS), 10 m–5 km
    (NLOS); longer distances are evaluated by the same formula. Reference: 3GPP TR 38.901
    V17.0.0 (2022) §7.4.1.

    Parameters
    ----------
    d2d_m : array_like
        Horizontal distance, m.
    f_mhz : array_like
        Frequency, MHz.
    hbs_m, hut_m : array_like
        Base-station and user heights, m.
    los : array_like of bool
        Line of sight per path (from the terrain profile).
    h_building_m, w_street_m : float
        Average building height and street width, m (defaults of the TR).

    Returns
    -------
    ndarray
        Loss, dB.
    """
    d2, f, hbs, hut = (_arr(v) for v in (d2d_m, f_mhz, hbs_m, hut_m))
    _check("38901-RMa", "frequency", f, 500, 30000, "MHz", hard=(100, 100000))
    _check("38901-RMa", "base height", hbs, 10, 150, "m", hard=(1, 1000))
    _check("38901-RMa", "user height", hut, 1, 10, "m", hard=(0.1, 100))
    fc = f / 1000.0
    h = h_building_m
    d2 = np.maximum(d2, 10.0)
    d3 = _d3d(d2, hbs, hut)
    dbp = 2 * np.pi * hbs * hut * fc * 1e9 / SPEED_OF_LIGHT_M_S

    def pl1(dd):
        return (20 * np.log10(40 * np.pi * dd * fc / 3) + min(0.03 * h**1.72, 10) * np.log10(dd)
                - min(0.044 * h**1.72, 14.77) + 0.002 * np.log10(h) * dd)

    pl_los = np.where(d2 <= dbp, pl1(d3), pl1(dbp) + 40 * np.log10(d3 / dbp))
    pl_n = (161.04 - 7.1 * np.log10(w_street_m) + 7.5 * np.log10(h)
            - (24.37 - 3.7 * (h / hbs) ** 2) * np.log10(hbs)
            + (43.42 - 3.1 * np.log10(hbs)) * (np.log10(d3) - 3) + 20 * np.log10(fc)
            - (3.2 * np.log10(11.75 * hut) ** 2 - 4.97))
    return np.where(np.asarray(los, bool), pl_los, np.maximum(pl_los, pl_n))


def uma_db(d2d_m, f_mhz, hbs_m, hut_m, los) -> np.ndarray:
    """3GPP TR 38.901 UMa path loss, LOS or NLOS per path (Table 7.4.1-1).

    ``PL1 = 28.0 + 22 log10 d3D + 20 log10 fc``; ``PL2 = 28.0 + 40 log10 d3D + 20 log10 fc −
    9 log10(d'BP² + (hBS − hUT)²)``, ``d'BP = 4 h'BS h'UT fc/c`` with ``h' = h − 1 m``; LOS =
    PL1 below d'BP, PL2 beyond. NLOS = ``max(PL_LOS, 13.54 + 39.08 log10 d3D + 20 log10 fc −
    0.6 (hUT − 1.5))``. fc in GHz, d in m.

    Validity: fc 0.5–100 GHz, hBS 25 m nominal (10–150 accepted), hUT 1.5–22.5 m, d2D 10 m–
    5 km. Reference: 3GPP TR 38.901 V17.0.0 (2022) §7.4.1.

    Parameters
    ----------
    d2d_m, f_mhz, hbs_m, hut_m, los
        As :func:`rma_db`.

    Returns
    -------
    ndarray
        Loss, dB.
    """
    d2, f, hbs, hut = (_arr(v) for v in (d2d_m, f_mhz, hbs_m, hut_m))
    _check("38901-UMa", "frequency", f, 500, 100000, "MHz", hard=(100, 200000))
    _check("38901-UMa", "base height", hbs, 10, 150, "m", hard=(1, 1000))
    _check("38901-UMa", "user height", hut, 1.5, 22.5, "m", hard=(0.1, 100))
    fc = f / 1000.0
    d2 = np.maximum(d2, 10.0)
    d3 = _d3d(d2, hbs, hut)
    dbp = 4 * (hbs - 1.0) * (hut - 1.0) * fc * 1e9 / SPEED_OF_LIGHT_M_S
    pl1 = 28.0 + 22 * np.log10(d3) + 20 * np.log10(fc)
    pl2 = (28.0 + 40 * np.log10(d3) + 20 * np.log10(fc)
           - 9 * np.log10(dbp**2 + (hbs - hut) ** 2))
    pl_los = np.where(d2 <= dbp, pl1, pl2)
    pl_n = 13.54 + 39.08 * np.log10(d3) + 20 * np.log10(fc) - 0.6 * (hut - 1.5)
    return np.where(np.asarray(los, bool), pl_los, np.maximum(pl_los, pl_n))


def knife_edge_db(v) -> np.ndarray:
    """Single knife-edge diffraction loss J(v) (ITU-R P.526-15 eq. 31).

    ``J(v) = 6.9 + 20 log10(sqrt((v − 0.1)² + 1) + v − 0.1)`` for ``v > −0.78``, else 0.
    ``v = h sqrt(2 d / (λ d1 d2))`` where ``h`` is the height of the edge above the direct
    ray. Reference: ITU-R P.526-15 (2019) §4.1.

    Examples
    --------
    >>> round(float(knife_edge_db(0.0)[0]), 2)
    6.03
    """
    v = _arr(v)
    w = np.maximum(v, -0.78)  # J is only defined (and > 0) above -0.78
    j = 6.9 + 20.0 * np.log10(np.sqrt((w - 0.1) ** 2 + 1.0) + w - 0.1)
    return np.where(v > -0.78, j, 0.0)
