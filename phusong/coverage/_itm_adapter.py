"""Bridge from the engine's profile batches to :mod:`phusong.coverage.itm`.

Profiles are passed in flat form (one 1-D elevation buffer, a start offset and a sample count
per path) so that radial rays serve every receiver along them without copying: the path to
sample ``j`` of ray ``k`` is ``rays[k, :j + 1]``.
"""

from __future__ import annotations

import warnings

import numpy as np

from phusong.errors import ModelError, ValidityWarning

__all__ = ["itm_loss_db", "flat_profiles"]


def flat_profiles(profiles: np.ndarray, n_valid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat, start, count) view of a padded (n, width) profile array."""
    z = np.ascontiguousarray(profiles, dtype=np.float64)
    n, width = z.shape
    return z.reshape(-1), np.arange(n, dtype=np.int64) * width, np.asarray(n_valid, np.int64)


def itm_loss_db(flat, start, count, step_m, tx_height_m, rx_height_m, freq_mhz,
                reliability_pct: float | None = None, *, serial: bool = False) -> np.ndarray:
    """ITM point-to-point loss per path with the engine's ITM defaults, dB (median unless
    ``reliability_pct`` asks another percentage of time and locations: in ITM's mobile mode
    the two are combined and driven by the time percentage, so both are set).

    Invalid paths (ITM error codes ≥ 1000) get ``+inf`` (no signal) instead of raising.
    Consecutive entries with the same profile, step and heights (one path at several
    frequencies) share one profile analysis; the losses are identical to separate calls.

    Parameters
    ----------
    flat : ndarray
        All elevations, m (float64, contiguous).
    start, count : ndarray
        Offset of each path's first sample (under the transmitter) and its sample count.
    step_m, tx_height_m, rx_height_m, freq_mhz : ndarray or float
        Per path.
    serial : bool
        Run on the calling thread only (callers running several Python threads: numba's
        workqueue threading layer aborts on concurrent parallel launches).
    """
    try:
        from phusong.coverage import itm
    except ImportError:
        raise ModelError("model itm is not available in this build; use --model hata") from None
    from phusong.coverage import _itm_kernel
    from phusong.coverage._link import ITM_DEFAULTS as D

    start = np.asarray(start, np.int64)
    count = np.asarray(count, np.int64)
    n = len(count)
    step, htx, hrx, f = (np.ascontiguousarray(np.broadcast_to(np.asarray(v, float), (n,)))
                         for v in (step_m, tx_height_m, rx_height_m, freq_mhz))
    loss = np.full(n, np.inf)
    warn = np.zeros(n, np.int64)
    code = np.zeros(n, np.int32)
    if n == 0:
        return loss
    new = np.ones(n, bool)
    new[1:] = ((start[1:] != start[:-1]) | (count[1:] != count[:-1]) | (step[1:] != step[:-1])
               | (htx[1:] != htx[:-1]) | (hrx[1:] != hrx[:-1]))
    heads = np.flatnonzero(new)
    ptr = np.append(heads, n).astype(np.int64)
    kernel = _itm_kernel.p2p_multi_batch_serial if serial else _itm_kernel.p2p_multi_batch
    kernel(np.ascontiguousarray(flat, dtype=np.float64), start[heads], count[heads],
                    step[heads], htx[heads], hrx[heads], ptr, f, int(D["polarization"]),
                    float(D["epsilon"]), float(D["sigma"]), float(D["n0"]), int(D["climate"]),
                    float(D["time_pct"] if reliability_pct is None else reliability_pct),
                    float(D["location_pct"] if reliability_pct is None else reliability_pct),
                    float(D["situation_pct"]),
                    int(D["mdvar"]), loss, warn, code)
    bits = warn & itm._INPUT_BITS
    if bits.any():
        warnings.warn(
            f"ITM used near the limits of its validity for {int((bits != 0).sum())} of {n} "
            f"paths: {'; '.join(itm.describe_warnings(int(np.bitwise_or.reduce(bits))))} "
            "(results less reliable)", ValidityWarning, stacklevel=3)
    return np.where(code < 1000, loss, np.inf)
