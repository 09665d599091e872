"""Coverage reliability: percentage of locations, margins and coverage probability.

- ITM takes the percentage as its time and location percentages (situation stays at 50 %);
  in the engine's mobile mode (``mdvar`` 2) ITM combines the two, driven by the time
  percentage, like Signal-Server's ``-rel``.
- The empirical models (Hata, COST-231, 38.901, free space) predict medians; at ``p`` % of
  locations the loss grows by the lognormal margin ``z(p) σ`` with ``σ`` per environment
  (``settings.LOCATION_SIGMA_DB``, from TR 38.901's shadow-fading table).
- The probability that a receiver clears a threshold is ``Φ((rx₅₀ − threshold) / σ)``, the
  lognormal model (Jakes); the engine's value at ``p`` % is turned back into a median with the
  same margin, so for ITM it treats ITM's location spread as lognormal with σ (stated).

Examples
--------
>>> round(location_margin_db(90.0, "rural"), 3)   # z(0.9) = 1.2816, σ = 8 dB
10.252
>>> round(float(coverage_probability(-100.0, -110.0, 8.0)), 4)
0.8944
"""

from __future__ import annotations

import numpy as np

from phusong import settings
from phusong.errors import ModelError

__all__ = ["check_reliability", "coverage_probability", "location_margin_db", "sigma_db"]


def check_reliability(pct: float) -> float:
    """``pct`` as a float in (0, 100), else :class:`ModelError`."""
    p = float(pct)
    if not 0.0 < p < 100.0:
        raise ModelError(f"reliability {pct!r} %: must be strictly between 0 and 100 "
                         "(e.g. --reliability-pct 90)")
    return p


def sigma_db(environment: str, table=settings.LOCATION_SIGMA_DB) -> float:
    """Location variability σ of an environment, dB (``table``: the settings'
    ``location_sigma_db``, environment → dB)."""
    try:
        return float(table[environment])
    except KeyError:
        raise ModelError(f"no location σ for environment {environment!r}; add it to "
                         "the settings (--set location_sigma_db.ENV=8)") from None


def location_margin_db(reliability_pct: float, environment: str,
                       table=settings.LOCATION_SIGMA_DB) -> float:
    """``z(p) σ``: extra loss so that ``p`` % of locations reach the median-minus-margin, dB."""
    from scipy.special import ndtri  # here: checking a percentage needs no scipy (start-up)

    return float(ndtri(check_reliability(reliability_pct) / 100.0)) * sigma_db(environment,
                                                                                table)


def coverage_probability(rx_median_dbm, threshold_dbm, sigma: float) -> np.ndarray:
    """Probability that a lognormally spread level clears ``threshold_dbm`` (0–1).

    ``-inf`` (no signal) gives 0.
    """
    from scipy.special import ndtr

    rx = np.asarray(rx_median_dbm, float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(rx), ndtr((rx - threshold_dbm) / sigma), 0.0)
