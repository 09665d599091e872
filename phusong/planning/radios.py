"""The radios of candidate sites: band lists, transmitter rows and coverage per technology.

A candidate adds one or more radios, written ``"tech:band"`` and joined by ``;`` in its ``bands``
column (``"4G:B8;5G:n78;5G:n28"`` is a new site carrying 4G on B8, 5G on n78 and a 5G low band).
Each radio is one omni transmitter row (:func:`candidate_transmitters`) at the candidate's
height; a candidate covers a village *for a technology* when any of its radios of that
technology covers it (:func:`candidate_coverage`). Upgrades are modelled as omni cells at the
tower's height (an assumption: the real sectors follow the existing ones).

Examples
--------
>>> parse_bands("4G:B8;5G:n78")
[('4G', 'B8'), ('5G', 'n78')]
>>> main_band("4G:B8;5G:n78;5G:n28")
('5G', 'n78')
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from phusong import settings
from phusong.config import DEFAULT_SETTINGS, Settings
from phusong.planning import _plan_deps as deps

__all__ = ["parse_bands", "main_band", "five_g_bands", "candidate_transmitters",
           "candidate_coverage", "sample_ground"]


def five_g_bands(main: str | None, rules) -> list[str]:
    """The 5G bands a site gets: its main band, then the rules' low band (if any)."""
    if main is None:
        return []
    low = rules.low_band_5g
    return [main, *([low] if low and low != main else [])]


def parse_bands(bands: str) -> list[tuple[str, str]]:
    """``"4G:B8;5G:n78"`` → ``[("4G", "B8"), ("5G", "n78")]``."""
    return [tuple(p.split(":", 1)) for p in str(bands).split(";") if p]


def main_band(bands: str) -> tuple[str, str]:
    """The first band of the highest technology in ``bands``."""
    pairs = parse_bands(bands)
    top = max(settings.TECHS.index(t) for t, _ in pairs)
    return next(p for p in pairs if settings.TECHS.index(p[0]) == top)


def sample_ground(x_m, y_m, dem) -> np.ndarray:
    """DEM elevation under points in WORK_CRS, m; NaN without a DEM or off it.

    Sampled as :func:`phusong.coverage.transmitters` samples a site without ``ground_m``, so a
    candidate and the site it becomes (``plan apply``) stand on the same ground.
    """
    x_m, y_m = np.asarray(x_m, float), np.asarray(y_m, float)
    if dem is None or not len(x_m):
        return np.full(len(x_m), np.nan)
    from phusong.coverage._terrain import Terrain, prepare_terrain

    terrain = dem if isinstance(dem, Terrain) else prepare_terrain(dem)
    return np.asarray(terrain.sample(x_m, y_m), dtype=float)


def _band_rows(candidates) -> tuple[np.ndarray, list[str], list[str]]:
    """Candidate index, tech and band of every radio (``tech``/``band`` without ``bands``)."""
    if "bands" in candidates:
        lists = [parse_bands(b) if isinstance(b, str) and b else [(t, bd)] for b, t, bd in
                 zip(candidates["bands"], candidates["tech"], candidates["band"], strict=True)]
    else:
        lists = [[(t, b)] for t, b in zip(candidates["tech"], candidates["band"], strict=True)]
    idx = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
    pairs = [p for x in lists for p in x]
    return idx, [p[0] for p in pairs], [p[1] for p in pairs]


def candidate_transmitters(candidates, dem=None, config: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """One omni transmitter row per radio of each candidate (module doc).

    Parameters
    ----------
    candidates : DataFrame
        ``candidate_id``, ``operator``, ``tech``, ``band`` (and optional ``bands``), ``height_m``,
        ``x_m``, ``y_m`` (WORK_CRS, m); optional ``ground_m`` (m) used where given.
    dem : Raster, optional
        Ground elevation where ``ground_m`` is missing (nearest cell; NaN without one).
    config : phusong.config.Settings
        Band frequencies (``bands_mhz``) and EIRP (``radio.eirp_dbm``) of the radios.

    Returns
    -------
    DataFrame
        The layout of :func:`phusong.coverage.transmitters`; ``cell_id`` is the candidate id for a
        candidate's first radio and ``{id}:{tech}:{band}`` for the others; ``site_id`` is the
        candidate id.
    """
    idx, techs, bands = _band_rows(candidates)
    x = candidates["x_m"].to_numpy(float)
    y = candidates["y_m"].to_numpy(float)
    ground = sample_ground(x, y, dem)
    if "ground_m" in candidates:
        given = pd.to_numeric(candidates["ground_m"], errors="coerce").to_numpy(float)
        ground = np.where(np.isfinite(given), given, ground)
    cid = candidates["candidate_id"].astype(str).to_numpy()
    first = np.r_[True, idx[1:] != idx[:-1]] if len(idx) else np.zeros(0, bool)
    cell = [c if f else f"{c}:{t}:{b}" for c, f, t, b in zip(cid[idx], first, techs, bands,
                                                               strict=True)]
    n = len(idx)
    return pd.DataFrame({
        "cell_id": cell, "site_id": cid[idx],
        "operator": candidates["operator"].astype(str).to_numpy()[idx],
        "tech": np.asarray(techs, dtype=object), "band": np.asarray(bands, dtype=object),
        "freq_mhz": np.array([config.bands_mhz[t][b] for t, b in zip(techs, bands, strict=True)],
                             dtype=float),
        "eirp_dbm": np.full(n, config.radio.eirp_dbm),
        "azimuth_deg": np.full(n, np.nan), "tilt_deg": np.zeros(n),
        "height_m": candidates["height_m"].to_numpy(float)[idx], "x_m": x[idx], "y_m": y[idx],
        "ground_m": ground[idx]})


def candidate_coverage(candidates, x_m, y_m, dem, *, model: str = settings.DEFAULT_MODEL,
                       techs=("4G", "5G"), executor=None, clutter=None,
                       config: Settings = DEFAULT_SETTINGS) -> dict[str, sp.csr_matrix]:
    """Villages × candidates coverage per technology (module doc).

    Parameters
    ----------
    candidates : DataFrame
        As :func:`candidate_transmitters`.
    x_m, y_m : array_like
        Villages in WORK_CRS, m.
    dem : Raster
        Elevation.
    model : str
        Propagation model.
    techs : tuple of str
        Technologies to return (each gets a matrix, empty columns for candidates without it).
    executor : phusong.coverage.DaskExecutor, optional
        Compute the matrix on dask.distributed (identical result).
    clutter : phusong.coverage.clutter.ClutterMap, optional
        The bundle's terminal clutter (P.2108), as the existing network's scores have it.
    config : phusong.config.Settings
        The run's settings (thresholds, bands, radio: the reliability
        ``radio.reliability_pct`` a covered village holds for).

    Returns
    -------
    dict of str to scipy.sparse.csr_matrix
        ``{tech: bool (n_villages, n_candidates)}``.
    """
    n_v, n_c = len(np.asarray(x_m)), len(candidates)
    tx = candidate_transmitters(candidates, dem, config)
    empty = {t: sp.csr_matrix((n_v, n_c), dtype=bool) for t in techs}
    if not len(tx) or n_v == 0:
        return empty
    on = {} if executor is None else {"executor": executor}
    m = sp.csr_matrix(deps.coverage_matrix(tx, x_m, y_m, dem, model=model, clutter=clutter,
                                           config=config, **on), dtype=bool)
    idx = _band_rows(candidates)[0]
    out = {}
    for t in techs:
        rows = np.flatnonzero(tx["tech"].to_numpy() == t)
        if not len(rows):
            out[t] = empty[t]
            continue
        pick = sp.csr_matrix((np.ones(len(rows)), (rows, idx[rows])), shape=(len(tx), n_c))
        out[t] = sp.csr_matrix((m.astype(float) @ pick) > 0)
    return out
