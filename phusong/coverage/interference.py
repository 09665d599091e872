"""Indoor levels (ITU-R P.2109) and downlink SINR / best-server margin per receiver.

SINR of a receiver on the best server ``c*`` of an operator and technology (4G/5G)::

    SINR = S / (η Σ_{c ≠ c*} P_c + N),   N = −174 dBm/Hz + 10 log10(Δf) + NF

with ``S`` and ``P_c`` the reference-signal received powers (RSRP / SS-RSRP per resource
element, as the engine computes them) of the co-channel cells — same operator, same
frequency — ``η`` the load factor (share of the interferers' resource elements occupied),
``Δf`` the subcarrier spacing (15 kHz for LTE, 30 kHz for NR at 2.6/3.5 GHz) and NF the UE noise
figure (``settings.INTERFERENCE``). The best-server margin is best minus second-best level
within the serving operator and technology (dB; +inf with a single server).

Powers are summed as integers of 10⁻¹⁶ mW (−160 dBm), so the sums — and the SINR — do not
depend on the order of the cells, the threads or the workers (float sums would).

Examples
--------
>>> round(noise_per_re_dbm("4G", 7.0), 2)
-125.24
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from phusong import settings
from phusong.coverage.p2109 import building_entry_loss_db

__all__ = ["SINR_TECHS", "QUANTUM_MW", "cell_keys", "indoor_loss_db", "noise_per_re_dbm",
           "point_columns", "power_quanta", "require_sinr", "sinr_db"]

#: Technologies that get an SINR (reference-signal based).
SINR_TECHS = ("4G", "5G")
#: Subcarrier spacing per technology, Hz.
SUBCARRIER_HZ = {"4G": 15e3, "5G": 30e3}
#: Fixed-point unit of the power sums, mW (−160 dBm).
QUANTUM_MW = 1e-16


def noise_per_re_dbm(tech: str, noise_figure_db: float) -> float:
    """Thermal noise in one resource element plus the UE noise figure, dBm."""
    return float(-174.0 + 10.0 * np.log10(SUBCARRIER_HZ[tech]) + noise_figure_db)


def power_quanta(rx_dbm) -> np.ndarray:
    """Received power as int64 multiples of :data:`QUANTUM_MW` (capped at 0 dBm)."""
    mw = 10.0 ** (np.minimum(np.asarray(rx_dbm, float), 0.0) / 10.0)
    return np.rint(mw / QUANTUM_MW).astype(np.int64)


def cell_keys(tx: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Co-channel key per cell (operator × frequency, 4G/5G only; −1 otherwise), and count."""
    on = tx["tech"].isin(SINR_TECHS).to_numpy()
    ops = tx["operator"].astype(str) if "operator" in tx.columns else pd.Series([""] * len(tx))
    label = ops + "|" + tx["freq_mhz"].astype(float).map(repr)
    codes, uniq = pd.factorize(label.where(on), sort=True)
    return np.where(on, codes, -1).astype(np.int64), int(len(uniq))


def sinr_db(best_dbm, sum_quanta, tech: str, *,
            interference: settings.Interference = settings.INTERFERENCE) -> np.ndarray:
    """SINR of the best server from its level and the co-channel power sum (incl. itself), dB.

    Parameters
    ----------
    best_dbm : ndarray
        Best server's level, dBm (−inf: none → NaN SINR).
    sum_quanta : ndarray
        Σ of :func:`power_quanta` over the co-channel cells of the best server, itself included.
    tech : str
        4G or 5G (noise bandwidth).
    interference : settings.Interference
        Load factor and noise figure (the run's ``config.interference``).
    """
    it = interference
    best = np.asarray(best_dbm, float)
    ok = np.isfinite(best)
    s_q = power_quanta(np.where(ok, best, -np.inf))
    others_mw = np.maximum(np.asarray(sum_quanta, np.int64) - s_q, 0) * QUANTUM_MW
    noise_mw = 10.0 ** (noise_per_re_dbm(tech, it.noise_figure_db) / 10.0)
    with np.errstate(divide="ignore"):
        out = best - 10.0 * np.log10(it.load_factor * others_mw + noise_mw)
    return np.where(ok, out, np.nan)


def indoor_loss_db(freq_mhz, indoor: settings.Indoor = settings.INDOOR) -> np.ndarray:
    """P.2109 building entry loss per cell frequency, dB (``indoor``: the run's
    ``config.indoor``)."""
    ind = indoor
    return building_entry_loss_db(np.asarray(freq_mhz, float) / 1000.0, ind.probability_pct,
                                  ind.building_class, ind.elevation_deg)


def point_columns(res, tx: pd.DataFrame, n_rx: int, group, pairs, techs,
                  thresholds: dict, config=None) -> dict:
    """Indoor, SINR and margin columns for :func:`phusong.coverage.score_points`.

    ``rx_dbm_{tech}_indoor`` / ``covered_{tech}_indoor``: best level after P.2109 building
    entry loss; for 4G/5G ``sinr_db_{tech}`` (best server of the technology, NaN without one)
    and ``margin_db_{tech}`` (best minus second best of the serving operator, dB).
    ``config`` (:class:`phusong.config.Settings`, default the defaults) gives the indoor and
    interference inputs.
    """
    from phusong.config import DEFAULT_SETTINGS
    from phusong.coverage._engine import best_by_group

    config = config or DEFAULT_SETTINGS

    n_groups = len(pairs)
    bel = indoor_loss_db(tx["freq_mhz"].to_numpy(float), config.indoor)
    indoor, _ = best_by_group(res.rx_idx, res.cell_idx, res.rx_dbm - bel[res.cell_idx], n_rx,
                              group, n_groups)
    best, arg = best_by_group(res.rx_idx, res.cell_idx, res.rx_dbm, n_rx, group, n_groups)
    g_link = np.asarray(group)[res.cell_idx]
    others = arg[res.rx_idx, g_link] != res.cell_idx
    second, _ = best_by_group(res.rx_idx[others], res.cell_idx[others], res.rx_dbm[others],
                              n_rx, group, n_groups)
    key, n_keys = cell_keys(tx)
    k_link = key[res.cell_idx]
    on = k_link >= 0
    sums = np.zeros(n_rx * max(n_keys, 1), np.int64)
    np.add.at(sums, res.rx_idx[on] * max(n_keys, 1) + k_link[on], power_quanta(res.rx_dbm[on]))
    sums = sums.reshape(n_rx, max(n_keys, 1))
    cols = {}
    rows = np.arange(n_rx)

    def group_sinr(gb):
        top, cell = best[rows, gb], arg[rows, gb]
        k = np.where(cell >= 0, key[np.maximum(cell, 0)], -1)
        s = np.where(k >= 0, sums[rows, np.maximum(k, 0)], 0)
        return sinr_db(np.where(k >= 0, top, -np.inf), s, t,
                       interference=config.interference), top

    for t in techs:
        gi = np.array([i for i, (tt, _) in enumerate(pairs) if tt == t])
        cols[f"rx_dbm_{t}_indoor"] = indoor[:, gi].max(axis=1)
        cols[f"covered_{t}_indoor"] = cols[f"rx_dbm_{t}_indoor"] >= thresholds[t]
        if t not in SINR_TECHS:
            continue
        gb = gi[np.argmax(best[:, gi], axis=1)]
        cols[f"sinr_db_{t}"], top = group_sinr(gb)
        for i in gi:
            cols[f"sinr_db_{t}_{pairs[i][1]}"] = group_sinr(np.full(n_rx, i))[0]
        with np.errstate(invalid="ignore"):
            cols[f"margin_db_{t}"] = np.where(np.isfinite(top), top - second[rows, gb], np.nan)
    return cols


def require_sinr(cols: dict, techs,
                 sinr_min_db=settings.INTERFERENCE.sinr_min_db) -> None:
    """Clear 4G/5G covered flags (per technology and operator) where the SINR is below
    ``sinr_min_db`` (the run's ``config.interference.sinr_min_db``; in place; NaN SINR
    fails)."""
    need = sinr_min_db
    for t in techs:
        if t not in SINR_TECHS or t not in need:
            continue
        for name in [c for c in cols if c.startswith(f"covered_{t}")
                     and not c.endswith("_indoor")]:
            op = name[len(f"covered_{t}"):]
            sinr = cols[f"sinr_db_{t}{op}"]
            with np.errstate(invalid="ignore"):
                cols[name] = cols[name] & (sinr >= need[t])
