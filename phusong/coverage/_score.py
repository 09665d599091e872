"""Public scoring: villages (best server per operator and technology) and the coverage matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from phusong import settings
from phusong.config import DEFAULT_SETTINGS, Settings
from phusong.coverage._engine import EngineOptions, best_by_group, link_pairs
from phusong.coverage._link import transmitters
from phusong.coverage._terrain import prepare_terrain
from phusong.crs import transform_points
from phusong.errors import DataError

__all__ = ["score_villages", "score_points", "coverage_matrix"]


def _groups(tx: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str]]]:
    pairs = [(t, o) for t in settings.TECHS for o in settings.OPERATORS]
    lookup = {p: i for i, p in enumerate(pairs)}
    ops = tx["operator"] if "operator" in tx.columns else pd.Series([""] * len(tx))
    bad = ~ops.isin(settings.OPERATORS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"transmitters: row {row + 1}, operator {ops.iloc[row]!r} is unknown; "
                        f"use one of {list(settings.OPERATORS)}")
    g = np.array([lookup[(t, o)] for t, o in zip(tx["tech"], ops, strict=True)], dtype=np.int64)
    return g, pairs


def score_points(tx: pd.DataFrame, x_m, y_m, dem, *, techs=None,
                 opts: EngineOptions | None = None,
                 thresholds_dbm: dict | None = None,
                 require_sinr: bool = False, executor=None) -> pd.DataFrame:
    """Best server per (technology, operator) at arbitrary receiver points.

    Parameters
    ----------
    tx : pandas.DataFrame
        :func:`transmitters` table (needs ``operator``).
    x_m, y_m : array_like
        Receivers in WORK_CRS, m.
    dem : Raster or Terrain
        Elevation.
    techs : sequence of str, optional
        Technologies reported (default all of ``settings.TECHS``).
    opts : EngineOptions, optional
        Model, diffraction, threads…
    thresholds_dbm : dict, optional
        Covered thresholds per technology over ``opts.config.thresholds_dbm`` (the run's
        settings).
    require_sinr : bool
        4G/5G count as covered only where the SINR also reaches
        ``opts.config.interference.sinr_min_db``.
    executor : phusong.coverage.DaskExecutor, optional
        Run on dask.distributed (identical result).

    Returns
    -------
    pandas.DataFrame
        Columns as :func:`score_villages` (positional index); counts in ``.attrs["stats"]``
        (plus ``receivers_unknown``).
    """
    opts = (opts or EngineOptions()).check()
    techs = list(techs or settings.TECHS)
    unknown = [t for t in techs if t not in settings.TECHS]
    if unknown:
        raise DataError(f"techs {unknown} unknown; use {list(settings.TECHS)}")
    th = dict(opts.config.thresholds_dbm) | dict(thresholds_dbm or {})
    terrain = prepare_terrain(dem) if not hasattr(dem, "step_m") else dem
    x = np.asarray(x_m, float)
    y = np.asarray(y_m, float)
    g, pairs = _groups(tx)
    res = link_pairs(tx, x, y, terrain, opts, executor=executor)
    best, arg = best_by_group(res.rx_idx, res.cell_idx, res.rx_dbm, len(x), g, len(pairs))
    site_ids = tx["site_id"].to_numpy() if "site_id" in tx.columns else np.arange(len(tx))
    cols: dict[str, np.ndarray] = {}
    any_cov = np.zeros(len(x), bool)
    for t in techs:
        gi = [i for i, (tt, _) in enumerate(pairs) if tt == t]
        sub = best[:, gi]
        cols[f"rx_dbm_{t}"] = sub.max(axis=1)
        cols[f"covered_{t}"] = cols[f"rx_dbm_{t}"] >= th[t]
        any_cov |= cols[f"covered_{t}"]
        for k, i in enumerate(gi):
            op = pairs[i][1]
            cols[f"rx_dbm_{t}_{op}"] = sub[:, k]
            cols[f"covered_{t}_{op}"] = sub[:, k] >= th[t]
        # serving site: best over operators, ties to the first operator in settings order
        has = np.isfinite(sub).any(axis=1)
        which = np.argmax(sub, axis=1)
        cell = arg[np.arange(len(x)), np.asarray(gi)[which]]
        cols[f"site_{t}"] = pd.Series(
            np.where(has, site_ids[np.maximum(cell, 0)].astype(object), None), dtype=object)
    from phusong.coverage import interference  # indoor, SINR (issue 17)

    cols |= interference.point_columns(res, tx, len(x), g, pairs, techs, th, opts.config)
    if require_sinr:
        interference.require_sinr(cols, techs, opts.config.interference.sinr_min_db)
        any_cov = np.logical_or.reduce([cols[f"covered_{t}"] for t in techs])
    cols["covered_any"] = any_cov
    cols["in_dem"] = terrain.inside(x, y) & np.isfinite(x) & np.isfinite(y)
    flagged = np.zeros(len(x), bool)
    flagged[res.rx_flagged] = True
    cols["unknown"] = ~cols["in_dem"] | (flagged & ~any_cov)
    out = pd.DataFrame(cols)  # site_* stay object Series: None, not NaN
    out.attrs["stats"] = res.stats | {"receivers_unknown": int(cols["unknown"].sum())}
    return out


def score_villages(bundle, *, model: str = settings.DEFAULT_MODEL, techs=None,
                   diffraction: str = "bullington", threads: int = 1,
                   rx_height_m: float | None = None,
                   thresholds_dbm: dict | None = None, clutter: bool = True,
                   reliability_pct: float | None = None,
                   require_sinr: bool = False, executor=None,
                   config: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """Best received power, serving site and covered flags for every village of a bundle.

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        Needs ``villages``, ``sites``, ``cells`` and ``dem``.
    model : str
        ``itm`` (default), ``hata``, ``cost231``, ``38901`` or ``fspl``.
    techs : sequence of str, optional
        Technologies (default all).
    diffraction : str
        Knife-edge method for empirical models: ``deygout``, ``bullington`` or ``none``.
    threads : int
        Worker threads (results do not depend on it).
    rx_height_m : float, optional
        Receiver height, m (default ``config.radio.rx_height_m``).
    thresholds_dbm : dict, optional
        Overrides of ``config.thresholds_dbm``.
    clutter : bool
        Add P.2108 terminal clutter from the bundle's ``landcover.tif`` when it has one.
    reliability_pct : float, optional
        Percentage of locations the levels and flags hold for (default
        ``config.radio.reliability_pct``, 50 = medians).
    require_sinr : bool
        4G/5G covered only where the SINR also reaches ``config.interference.sinr_min_db``.
    executor : phusong.coverage.DaskExecutor, optional
        Run on dask.distributed (identical result).
    config : phusong.config.Settings
        The run's settings (thresholds, radio, location σ, indoor, interference).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``village_id`` in the order of ``bundle.villages``: ``rx_dbm_{tech}`` (−inf
        when nothing in range), ``rx_dbm_{tech}_{operator}``, ``covered_{tech}``,
        ``covered_{tech}_{operator}``, ``covered_any``, ``site_{tech}`` (site_id or None),
        ``in_dem`` (False: village outside the DEM, excluded, never covered) and ``unknown``
        (True: outside the DEM, or not covered while some path to it was left out — a DEM void
        longer than ``settings.MAX_VOID_BRIDGE_M`` or an ITM error — so "not covered" is not
        known; gap tables and plans count these villages apart). Counts (receivers outside the
        DEM, flagged paths, bridged voids, ITM errors…) in ``.attrs["stats"]``.
    """
    villages = bundle.villages
    if villages is None or len(villages) == 0:
        raise DataError("villages: the bundle has no villages to score")
    terrain = prepare_terrain(bundle.dem)
    tx = transmitters(bundle, terrain=terrain)
    x, y = transform_points(villages.geometry.x, villages.geometry.y,
                            villages.crs.to_string(), settings.WORK_CRS)
    from phusong.coverage.clutter import bundle_clutter

    opts = EngineOptions.of(config, model=model, diffraction=diffraction, threads=threads,
                            rx_height_m=rx_height_m,
                            clutter=bundle_clutter(bundle, enabled=clutter),
                            reliability_pct=reliability_pct)
    out = score_points(tx, x, y, terrain, techs=techs, opts=opts, thresholds_dbm=thresholds_dbm,
                       require_sinr=require_sinr, executor=executor)
    out.index = pd.Index(villages["village_id"].to_numpy(), name="village_id")
    return out


def coverage_matrix(transmitters_df: pd.DataFrame, x_m, y_m, dem, *,
                    model: str = settings.DEFAULT_MODEL,
                    rx_height_m: float | None = None,
                    threshold_dbm: float | None = None, margins: bool = False,
                    diffraction: str = "bullington", threads: int = 1,
                    clutter=None, reliability_pct: float | None = None,
                    executor=None, config: Settings = DEFAULT_SETTINGS) -> sparse.csr_matrix:
    """Sparse receivers × transmitters matrix of covered flags (or margins).

    Parameters
    ----------
    transmitters_df : pandas.DataFrame
        One row per transmitter (cells or candidate sites): tech, freq_mhz, eirp_dbm, x_m, y_m,
        optional site_id (rows sharing it share profiles), height_m, azimuth_deg, tilt_deg.
    x_m, y_m : array_like
        Receivers in WORK_CRS, m.
    dem : Raster or Terrain
        Elevation.
    model, diffraction, rx_height_m, threads
        As :func:`score_villages`.
    threshold_dbm : float, optional
        One threshold for all; default each row's technology threshold
        (``config.thresholds_dbm``).
    margins : bool
        Store ``rx_dbm − threshold`` (dB, ≥ 0; explicit zeros kept) instead of True.
    clutter : phusong.coverage.clutter.ClutterMap, optional
        P.2108 terminal clutter per receiver (:func:`~phusong.coverage.clutter.bundle_clutter`
        of the bundle the receivers belong to), as :func:`score_villages` adds it.
    reliability_pct : float, optional
        Percentage of locations the flags hold for (50 = medians), as :func:`score_villages`;
        default ``config.radio.reliability_pct``.
    executor : phusong.coverage.DaskExecutor, optional
        Run on dask.distributed (identical result).
    config : phusong.config.Settings
        The run's settings (thresholds, radio).

    Returns
    -------
    scipy.sparse.csr_matrix
        (n_receivers, n_transmitters); bool, or float64 with ``margins``. Receivers outside the
        DEM have empty rows.
    """
    tx = transmitters_df.reset_index(drop=True)
    opts = EngineOptions.of(config, model=model, diffraction=diffraction, threads=threads,
                            rx_height_m=rx_height_m, clutter=clutter,
                            reliability_pct=reliability_pct).check()
    x = np.asarray(x_m, float)
    res = link_pairs(tx, x, y_m, dem, opts, executor=executor)
    th = (np.full(len(tx), float(threshold_dbm)) if threshold_dbm is not None else
          tx["tech"].map(dict(config.thresholds_dbm)).to_numpy(float))
    margin = res.rx_dbm - th[res.cell_idx]
    keep = margin >= 0
    shape = (len(x), len(tx))
    data = margin[keep] if margins else np.ones(int(keep.sum()), bool)
    m = sparse.csr_matrix((data, (res.rx_idx[keep], res.cell_idx[keep])), shape=shape)
    return m
