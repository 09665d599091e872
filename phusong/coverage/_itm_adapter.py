"""Bridge from the engine's profile batches to :mod:`phusong.coverage.itm`.

Profiles are passed in flat form (one 1-D elevation buffer, a start offset and a sample count
per path) so that radial rays serve every receiver along them without copying: the path to
sample ``j`` of ray ``k`` is ``rays[k, :j + 1]``.
"""

from __future__ import annotations

import numpy as np

from phusong.errors import ModelError

__all__ = ["itm_loss_db", "flat_profiles"]


def flat_profiles(profiles: np.ndarray, n_valid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat, start, count) view of a padded (n, width) profile array."""
    z = np.ascontiguousarray(profiles, dtype=np.float64)
    n, width = z.shape
    return z.reshape(-1), np.arange(n, dtype=np.int64) * width, np.asarray(n_valid, np.int64)


def itm_loss_db(flat, start, count, step_m, tx_height_m, rx_height_m, freq_mhz) -> np.ndarray:
    """ITM point-to-point median loss per path with the engine's ITM defaults, dB.

    Invalid paths (ITM error codes ≥ 1000) get ``+inf`` (no signal) instead of raising.

    Parameters
    ----------
    flat : ndarray
        All elevations, m (float64, contiguous).
    start, count : ndarray
        Offset of each path's first sample (under the transmitter) and its sample count.
    step_m, tx_height_m, rx_height_m, freq_mhz : ndarray or float
        Per path.
    """
    try:
        from phusong.coverage import itm
    except ImportError:
        raise ModelError("model itm is not available in this build; use --model hata") from None
    from phusong.coverage._link import ITM_DEFAULTS

    n = len(count)
    res = itm._run_p2p(np.ascontiguousarray(flat, dtype=np.float64),
                       np.asarray(start, np.int64), np.asarray(count, np.int64), n, step_m,
                       tx_height_m, rx_height_m, freq_mhz, dict(ITM_DEFAULTS), "flag")
    return np.where(res.valid, res.loss_db, np.inf)
