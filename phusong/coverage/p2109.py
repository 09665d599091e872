"""ITU-R P.2109-1 building entry loss (BEL), vectorised.

``L_BEL(P) = 10 log10(10^(0.1 A(P)) + 10^(0.1 B(P)) + 10^(0.1 C))`` with
``A(P) = F⁻¹(P) σ1 + μ1``, ``B(P) = F⁻¹(P) σ2 + μ2``, ``C = −3``;
``μ1 = L_h + L_e``, ``L_h = r + s log10 f + t (log10 f)²`` (horizontal entry),
``L_e = 0.212 |θ|`` (elevation at the façade), ``μ2 = w + x log10 f``,
``σ1 = u + v log10 f``, ``σ2 = y + z log10 f`` (Table 1 coefficients; f in GHz,
valid 0.08–100 GHz). ``F⁻¹`` is the inverse standard normal distribution.

Validated against the ITU-R SG 3 "Clutter and BEL" workbook values (``tests/test_p2109.py``).

Examples
--------
>>> round(float(building_entry_loss_db(2.0, 50.0, "traditional")), 2)
14.96
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from phusong.errors import ModelError

__all__ = ["BUILDING_CLASSES", "building_entry_loss_db"]

#: Table 1 coefficients (r, s, t, u, v, w, x, y, z) per building class.
BUILDING_CLASSES = {
    "traditional": (12.64, 3.72, 0.96, 9.6, 2.0, 9.1, -3.0, 4.5, -2.0),
    "thermally-efficient": (28.19, -3.0, 8.48, 13.5, 3.8, 27.8, -2.9, 9.4, -2.1),
}
_BY_NUMBER = {1: "traditional", 2: "thermally-efficient"}


def building_entry_loss_db(f_ghz, p_pct, building_class="traditional",
                           elevation_deg=0.0) -> np.ndarray:
    """Building entry loss not exceeded with probability ``p`` %, dB.

    Parameters
    ----------
    f_ghz : array_like
        Frequency, GHz (0.08–100).
    p_pct : array_like
        Probability that the loss is not exceeded, % in (0, 100).
    building_class : str or int
        ``"traditional"`` (1) or ``"thermally-efficient"`` (2).
    elevation_deg : array_like
        Elevation angle of the path at the façade, degrees above the horizontal.

    Returns
    -------
    numpy.ndarray
        Building entry loss, dB.

    Raises
    ------
    ModelError
        Unknown building class, probability outside (0, 100) or non-positive frequency.
    """
    name = _BY_NUMBER.get(building_class, building_class)
    if name not in BUILDING_CLASSES:
        raise ModelError(f"P.2109 building class {building_class!r} unknown; use "
                         "'traditional' or 'thermally-efficient'")
    r, s, t, u, v, w, x, y, z = BUILDING_CLASSES[name]
    f, p, th = np.broadcast_arrays(np.asarray(f_ghz, float), np.asarray(p_pct, float),
                                   np.asarray(elevation_deg, float))
    if np.any((p <= 0) | (p >= 100)):
        raise ModelError("P.2109 probability must be in (0, 100) %")
    if np.any(f <= 0):
        raise ModelError("P.2109 frequency must be > 0 GHz")
    lf = np.log10(f)
    mu1 = r + s * lf + t * lf ** 2 + 0.212 * np.abs(th)
    mu2 = w + x * lf
    sigma1, sigma2 = u + v * lf, y + z * lf
    finv = ndtri(p / 100.0)
    a, b = finv * sigma1 + mu1, finv * sigma2 + mu2
    return 10.0 * np.log10(10.0 ** (0.1 * a) + 10.0 ** (0.1 * b) + 10.0 ** (0.1 * -3.0))
