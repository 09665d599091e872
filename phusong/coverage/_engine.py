"""The point engine: candidate pairs from a k-d tree, work units, a local executor, reductions.

A work unit is a pure function of (a batch of (site, receiver) pairs, read-only context) that
returns ``(receiver index, cell index, rx_dbm)`` triples; units are independent and can run on
a thread pool today or dask tomorrow. Results are concatenated in unit order and reduced by
max with ties broken by the lowest cell index, so they do not depend on the number of threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from phusong import settings
from phusong.coverage._diffraction import path_geometry
from phusong.coverage._itm_adapter import flat_profiles
from phusong.coverage._link import (
    MODELS,
    model_loss_db,
    pilot_offset_db,
    sector_gain_db,
)
from phusong.coverage._terrain import Terrain, pair_profiles, prepare_terrain
from phusong.errors import DataError, ModelError

__all__ = ["EngineOptions", "TxSet", "LinkResult", "link_pairs", "best_by_group",
           "ITM_PROFILE_CAP"]

#: Default cap on profile intervals per ITM path in the raster engine (see EngineOptions).
ITM_PROFILE_CAP = 32
#: Default screening of the raster engine (see EngineOptions): margin (dB), coarse factor and
#: window (coarse cells per side); chosen with benchmarks/bench_coverage_province.py.
SCREEN_MARGIN_DB = 15.0
SCREEN_FACTOR = 4
SCREEN_WINDOW = 5


@dataclass(frozen=True)
class EngineOptions:
    """Engine knobs (all have defaults from ``settings``).

    Attributes
    ----------
    model : str
        One of :data:`phusong.coverage._link.MODELS`.
    diffraction : str
        ``deygout`` | ``bullington`` | ``none`` (empirical models only).
    environment : str
        Hata environment (``rural`` for Hòa Bình).
    rx_height_m : float
        Receiver antenna height above ground, m.
    k_factor : float
        Effective earth-radius factor.
    step_m : float or None
        Profile spacing, m (None = DEM pixel).
    batch_pairs : int
        (site, receiver) paths per work unit; bounds memory (~ batch × path samples × 8 B).
    threads : int
        Worker threads of the local executor.
    max_radius_km : dict
        Per-technology search radius, km.
    itm_profile_cap : int or None
        Raster engine with ITM: on a path longer than this many profile intervals, the terrain
        irregularity Δh is taken with the resampling density of this many (ITM itself never
        uses fewer than 35 points, so caps below 32 change nothing); horizons and effective
        heights stay exact. Bounds the work per ray point; 0 or None keeps every sample. On
        SRTM3 terrain, 32 costs a median 0.10-0.15 dB and a P95 0.8-1.1 dB against full
        profiles at 30-50 km (``benchmarks/bench_coverage_splat.py``).
    screen_margin_db : float or None
        Raster engine with several sites: screening margin, dB. Every site is first run on a
        grid ``screen_factor`` times coarser; a (site, operator × technology) pair is then
        only computed on the fine cells where, on some coarse cell of the
        ``screen_window × screen_window`` block around them, it came within this margin of
        that operator × technology's best site (or had no coarse value nearby). A pair left
        out could only matter where it beats a site that was more than the margin stronger
        at every coarse sample around. 0 or None computes every pair.
    screen_factor : int
        Coarse grid of the screening, in fine cells per coarse cell side (≥ 2).
    screen_window : int
        Coarse cells per side of the screening block (odd, ≥ 1).
    """

    model: str = settings.DEFAULT_MODEL
    diffraction: str = "bullington"
    environment: str = "rural"
    rx_height_m: float = settings.RADIO.rx_height_m
    k_factor: float = settings.RADIO.k_factor
    step_m: float | None = None
    batch_pairs: int = 20_000
    threads: int = 1
    max_radius_km: dict = field(default_factory=lambda: dict(settings.MAX_RADIUS_KM))
    itm_profile_cap: int | None = ITM_PROFILE_CAP
    screen_margin_db: float | None = SCREEN_MARGIN_DB
    screen_factor: int = SCREEN_FACTOR
    screen_window: int = SCREEN_WINDOW

    def check(self) -> EngineOptions:
        """Raise :class:`ModelError` for an unknown model/diffraction or bad sizes."""
        if self.model not in MODELS:
            raise ModelError(f"unknown model {self.model!r}; use one of {', '.join(MODELS)}")
        if self.diffraction not in ("deygout", "bullington", "none"):
            raise ModelError(f"unknown diffraction {self.diffraction!r}; use deygout, "
                             "bullington or none")
        if self.threads < 1 or self.batch_pairs < 1:
            raise ModelError("threads and batch_pairs must be ≥ 1")
        if self.itm_profile_cap and self.itm_profile_cap < 8:
            raise ModelError(f"itm_profile_cap {self.itm_profile_cap}: use ≥ 8 intervals, or 0 "
                             "for full profiles")
        if self.screen_margin_db is not None and self.screen_margin_db < 0:
            raise ModelError(f"screen_margin_db {self.screen_margin_db}: use ≥ 0 dB (0 or None "
                             "computes every site at every cell)")
        if self.screen_factor < 2:
            raise ModelError(f"screen_factor {self.screen_factor}: use ≥ 2")
        if self.screen_window < 1 or self.screen_window % 2 == 0:
            raise ModelError(f"screen_window {self.screen_window}: use an odd number ≥ 1")
        if not 0.5 <= self.rx_height_m <= 3000:
            raise ModelError(f"receiver height {self.rx_height_m} m outside 0.5–3000 m")
        return self


@dataclass(frozen=True)
class TxSet:
    """Transmitters as arrays, grouped by site (a profile serves every cell of its site)."""

    site_x: np.ndarray
    site_y: np.ndarray
    site_h: np.ndarray
    site_radius_m: np.ndarray
    site_ptr: np.ndarray  # CSR: cells of site s are cell_order[site_ptr[s]:site_ptr[s+1]]
    cell_order: np.ndarray
    cell_site: np.ndarray
    freq: np.ndarray
    eirp: np.ndarray
    offset: np.ndarray
    azimuth: np.ndarray
    tilt: np.ndarray
    radius_m: np.ndarray
    usable: np.ndarray  # cell's site lies on the DEM

    @classmethod
    def from_frame(cls, tx: pd.DataFrame, terrain: Terrain, opts: EngineOptions) -> TxSet:
        """Build from a :func:`transmitters` table (site key: ``site_id`` or the row)."""
        if len(tx) == 0:
            raise DataError("transmitters: the list is empty; supply at least one cell")
        for col in ("tech", "freq_mhz", "eirp_dbm", "x_m", "y_m"):
            if col not in tx.columns:
                raise DataError(f"transmitters: missing column {col!r}")
        unknown = ~tx["tech"].isin(settings.TECHS)
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise DataError(f"transmitters: row {row + 1}, tech {tx['tech'].iloc[row]!r} is "
                            f"unknown; use one of {list(settings.TECHS)}")
        key = tx["site_id"].astype(str) if "site_id" in tx.columns else pd.Series(
            np.arange(len(tx)).astype(str))
        codes, uniq = pd.factorize(key, sort=False)
        first = np.unique(codes, return_index=True)[1]
        h = (tx["height_m"] if "height_m" in tx.columns else pd.Series(
            np.full(len(tx), settings.RADIO.tower_height_m))).to_numpy(float)
        radius = np.array([opts.max_radius_km[t] * 1000.0 for t in tx["tech"]])
        site_radius = np.zeros(len(uniq))
        np.maximum.at(site_radius, codes, radius)
        order = np.argsort(codes, kind="stable")
        ptr = np.zeros(len(uniq) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(codes, minlength=len(uniq)))
        sx = tx["x_m"].to_numpy(float)[first]
        sy = tx["y_m"].to_numpy(float)[first]

        def get(c):
            return tx[c].to_numpy(float) if c in tx.columns else np.full(len(tx), np.nan)

        return cls(sx, sy, h[first], site_radius, ptr, order, codes, tx["freq_mhz"].to_numpy(
            float), tx["eirp_dbm"].to_numpy(float), pilot_offset_db(tx["tech"].to_numpy()),
            get("azimuth_deg"), get("tilt_deg"), radius,
            terrain.inside(sx, sy)[codes])


@dataclass
class LinkResult:
    """All (receiver, cell) links within radius: indices, received power (dBm), counts."""

    rx_idx: np.ndarray
    cell_idx: np.ndarray
    rx_dbm: np.ndarray
    stats: dict


def _pairs(txs: TxSet, rx_x, rx_y, rx_ok) -> tuple[np.ndarray, np.ndarray]:
    idx = np.flatnonzero(rx_ok)
    site_ok = np.zeros(len(txs.site_x), bool)
    site_ok[txs.cell_site[txs.usable]] = True
    if idx.size == 0 or not site_ok.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tree = cKDTree(np.column_stack([rx_x[idx], rx_y[idx]]))
    sites = np.flatnonzero(site_ok)
    lists = tree.query_ball_point(np.column_stack([txs.site_x[sites], txs.site_y[sites]]),
                                  r=txs.site_radius_m[sites], return_sorted=True)
    counts = np.array([len(v) for v in lists], dtype=np.int64)
    ps = np.repeat(sites, counts)
    pr = idx[np.concatenate([np.asarray(v, np.int64) for v in lists])] if counts.sum() else (
        np.zeros(0, np.int64))
    return ps.astype(np.int64), pr.astype(np.int64)


def _unit(ps, pr, ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Work unit: links for the (site, receiver) paths ``ps``, ``pr`` (pure)."""
    txs, terrain, rx_x, rx_y, opts = ctx
    prof, nv, step, dist, ok = pair_profiles(terrain, txs.site_x[ps], txs.site_y[ps], rx_x[pr],
                                             rx_y[pr], step_m=opts.step_m)
    flagged = int((~ok).sum())
    if flagged:
        keep = np.flatnonzero(ok)
        ps, pr, prof, nv, step, dist = ps[keep], pr[keep], prof[keep], nv[keep], step[keep], \
            dist[keep]
    n = len(ps)
    rows = np.arange(n)
    z_tx = prof[rows, 0]
    z_rx = prof[rows, nv - 1]
    htx = txs.site_h[ps]
    geom = (np.zeros((n, 5)) if opts.model == "itm" else
            path_geometry(prof, nv, step, htx, opts.rx_height_m, method=opts.diffraction,
                          k_factor=opts.k_factor))
    counts = txs.site_ptr[ps + 1] - txs.site_ptr[ps]
    rep = np.repeat(rows, counts)
    within = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts)
    cell = txs.cell_order[txs.site_ptr[ps][rep] + within]
    sel = dist[rep] <= txs.radius_m[cell]
    rep, cell = rep[sel], cell[sel]
    # one loss per (path, frequency): sectors of a site share it
    fkey = np.unique(txs.freq[cell], return_inverse=True)
    combo, inv = np.unique(rep * len(fkey[0]) + fkey[1], return_inverse=True)
    cp = combo // len(fkey[0])
    cf = fkey[0][combo % len(fkey[0])]
    loss = model_loss_db(opts.model, opts.diffraction, freq_mhz=cf, distance_m=dist[cp],
                         geometry=geom[cp], tx_height_m=htx[cp], rx_height_m=opts.rx_height_m,
                         z_tx_m=z_tx[cp], z_rx_m=z_rx[cp], environment=opts.environment,
                         itm_args=_itm_args(prof, nv, step, cp, opts))[inv]
    dx = rx_x[pr[rep]] - txs.site_x[ps[rep]]
    dy = rx_y[pr[rep]] - txs.site_y[ps[rep]]
    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    down = np.degrees(np.arctan2((z_tx[rep] + htx[rep]) - (z_rx[rep] + opts.rx_height_m),
                                 dist[rep]))
    gain = sector_gain_db(bearing, txs.azimuth[cell], down, txs.tilt[cell])
    rx_dbm = txs.eirp[cell] - txs.offset[cell] + gain - loss
    return pr[rep], cell, rx_dbm, flagged


def _itm_args(prof, nv, step, cp, opts):
    if opts.model != "itm":
        return None
    flat, start, count = flat_profiles(prof, nv)
    return flat, start[cp], count[cp], step[cp]


def link_pairs(tx: pd.DataFrame, rx_x_m, rx_y_m, dem, opts: EngineOptions, *,
               executor=None) -> LinkResult:
    """Received power of every (receiver, cell) link within the cell's technology radius.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transmitters (see :func:`phusong.coverage.transmitters`).
    rx_x_m, rx_y_m : array_like
        Receivers in WORK_CRS, m.
    dem : Raster or Terrain
        Elevation.
    opts : EngineOptions
        Model and batching.
    executor : phusong.coverage.DaskExecutor, optional
        Run the batches on dask.distributed instead of local threads (same result).

    Returns
    -------
    LinkResult
        Links sorted by (receiver, cell) and counts: ``receivers``, ``receivers_outside_dem``,
        ``cells_outside_dem``, ``paths``, ``paths_flagged_void``, ``links``.
    """
    opts.check()
    terrain = dem if isinstance(dem, Terrain) else prepare_terrain(dem)
    rx_x = np.asarray(rx_x_m, float)
    rx_y = np.asarray(rx_y_m, float)
    rx_ok = terrain.inside(rx_x, rx_y) & np.isfinite(rx_x) & np.isfinite(rx_y)
    txs = TxSet.from_frame(tx, terrain, opts)
    ps, pr = _pairs(txs, rx_x, rx_y, rx_ok)
    ctx = (txs, terrain, rx_x, rx_y, opts)
    bounds = list(range(0, len(ps), opts.batch_pairs)) + [len(ps)]
    chunks = [(ps[a:b], pr[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    if executor is not None and chunks:
        parts = executor.map_units(_unit, chunks, ctx)
    elif opts.threads == 1 or len(chunks) <= 1:
        parts = [_unit(a, b, ctx) for a, b in chunks]
    else:
        with ThreadPoolExecutor(max_workers=opts.threads) as pool:
            parts = list(pool.map(lambda c: _unit(c[0], c[1], ctx), chunks))
    if parts:
        ri = np.concatenate([p[0] for p in parts])
        ci = np.concatenate([p[1] for p in parts])
        db = np.concatenate([p[2] for p in parts])
    else:
        ri, ci, db = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    order = np.lexsort((ci, ri))
    stats = {
        "receivers": int(len(rx_x)),
        "receivers_outside_dem": int((~rx_ok).sum()),
        "cells_outside_dem": int((~txs.usable).sum()),
        "paths": int(len(ps)),
        "paths_flagged_void": int(sum(p[3] for p in parts)),
        "links": int(len(ri)),
    }
    return LinkResult(ri[order], ci[order], db[order], stats)


def best_by_group(rx_idx, cell_idx, rx_dbm, n_rx: int, cell_group, n_groups: int):
    """Best power and serving cell per (receiver, group), ties to the lowest cell index.

    Returns
    -------
    (ndarray, ndarray)
        ``best_dbm`` (n_rx, n_groups), −inf where no link; ``best_cell`` int, −1 where none.
    """
    best = np.full((n_rx, n_groups), -np.inf)
    arg = np.full((n_rx, n_groups), -1, dtype=np.int64)
    if len(rx_idx) == 0:
        return best, arg
    g = np.asarray(cell_group)[cell_idx]
    key = rx_idx * n_groups + g
    order = np.lexsort((cell_idx, -rx_dbm, key))
    k = key[order]
    first = np.ones(len(k), bool)
    first[1:] = k[1:] != k[:-1]
    sel = order[first]
    best.flat[key[sel]] = rx_dbm[sel]
    arg.flat[key[sel]] = cell_idx[sel]
    return best, arg
