"""The point engine: candidate pairs from a k-d tree, work units, a local executor, reductions.

A work unit is a pure function of (a batch of (site, receiver) pairs, read-only context) that
returns ``(receiver index, cell index, rx_dbm)`` triples; units are independent and can run on
a thread pool today or dask tomorrow. Results are concatenated in unit order and reduced by
max with ties broken by the lowest cell index, so they do not depend on the number of threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from phusong import settings
from phusong.config import DEFAULT_SETTINGS, Settings
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
    p1812 : phusong.settings.P1812Settings
        Inputs of ``--model p1812`` the bundle does not carry (ΔN, N0, zone, clutter, p, pL).
    max_void_m : float or None
        Point engine: longest DEM void bridged along a path, m (``settings.MAX_VOID_BRIDGE_M``);
        a path with a longer one is flagged, not interpolated. None bridges any length.
    config : phusong.config.Settings
        The run's settings: thresholds, radio (sector pattern, RS offset, tower height),
        location σ, indoor, interference. Build with :meth:`of` to take the receiver height,
        k-factor, radii, reliability and P.1812 inputs from it as well.
    """

    model: str = settings.DEFAULT_MODEL
    diffraction: str = "bullington"
    environment: str = "rural"
    rx_height_m: float = settings.RADIO.rx_height_m
    k_factor: float = settings.RADIO.k_factor
    step_m: float | None = None
    batch_pairs: int = 20_000
    threads: int = 1
    max_radius_km: dict = field(default_factory=lambda: dict(DEFAULT_SETTINGS.max_radius_km))
    itm_profile_cap: int | None = ITM_PROFILE_CAP
    screen_margin_db: float | None = SCREEN_MARGIN_DB
    screen_factor: int = SCREEN_FACTOR
    screen_window: int = SCREEN_WINDOW
    #: terminal clutter (issue 17): a :class:`phusong.coverage.clutter.ClutterMap` or None
    clutter: object = None
    #: percentage of locations (issue 17): ITM's time and location percentage, or the lognormal
    #: margin z(p)·σ(environment) added to the empirical models' median loss
    reliability_pct: float = 50.0

    def margin_db(self) -> float:
        """Location margin added to empirical models' loss, dB (0 for ITM, P.1812 and at 50 %)."""
        if self.model in ("itm", "p1812") or self.reliability_pct == 50.0:
            return 0.0
        from phusong.coverage.reliability import location_margin_db

        return location_margin_db(self.reliability_pct, self.environment,
                                  self.config.location_sigma_db)
    #: ITU-R P.1812 inputs the bundle lacks (issue 19)
    p1812: settings.P1812Settings = settings.P1812
    #: P.1812 clutter heights and zones per land-cover pixel
    #: (:class:`phusong.coverage.p1812._surface.Surface`), or None for the settings' defaults
    p1812_surface: object = None

    def p1812_params(self) -> settings.P1812Settings:
        """:attr:`p1812` with the run's location percentage: pL = ``reliability_pct``."""
        from dataclasses import replace

        return replace(self.p1812, location_pct=float(self.reliability_pct))
    max_void_m: float | None = settings.MAX_VOID_BRIDGE_M
    config: Settings = DEFAULT_SETTINGS

    @classmethod
    def of(cls, config: Settings, **kw) -> EngineOptions:
        """Options whose radio fields (receiver height, k-factor, search radii, reliability,
        P.1812 inputs) come from ``config`` unless given in ``kw``."""
        base = {"rx_height_m": config.radio.rx_height_m, "k_factor": config.radio.k_factor,
                "max_radius_km": dict(config.max_radius_km),
                "reliability_pct": config.radio.reliability_pct, "p1812": config.p1812}
        given = {k: v for k, v in kw.items() if not (k in base and v is None)}
        return cls(**(base | given), config=config)

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
        from phusong.coverage.reliability import check_reliability

        check_reliability(self.reliability_pct)
        if self.model == "p1812":
            from phusong.coverage.p1812._engine import check_params

            check_params(self.p1812_params())
        if self.max_void_m is not None and not self.max_void_m >= 0:
            raise ModelError(f"max_void_m {self.max_void_m}: use ≥ 0 m (None bridges any void)")
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
    # antenna patterns (issue 17): index into ``patterns`` per cell, −1 = the legacy sector
    # pattern of sector_gain_db; with a pattern, ``tilt`` is the mechanical downtilt
    pattern: np.ndarray | None = None
    etilt: np.ndarray | None = None
    patterns: object = None  # PatternTable
    # P.2108 clutter loss per (land-cover class, cell), dB, when the options carry a map
    clutter_db: np.ndarray | None = None

    def with_patterns(self, tx: pd.DataFrame) -> TxSet:
        """This set with the antennas of ``tx`` (``antenna`` column, ``attrs["antennas"]``)."""
        from dataclasses import replace

        from phusong.coverage._antenna_kernel import PatternTable

        found = tx.attrs.get("antennas", {})
        if "antenna" not in tx.columns or not found:
            return self
        names = list(found)
        index = {n: k for k, n in enumerate(names)}
        pattern = np.array([index.get(n, -1) for n in tx["antenna"].fillna("").astype(str)],
                           dtype=np.int64)
        etilt = (tx["etilt_deg"].to_numpy(float) if "etilt_deg" in tx.columns
                 else np.full(len(tx), np.nan))
        return replace(self, pattern=pattern, etilt=etilt,
                       patterns=PatternTable.build([found[n] for n in names]))

    @classmethod
    def from_frame(cls, tx: pd.DataFrame, terrain: Terrain, opts: EngineOptions) -> TxSet:
        """Build from a :func:`transmitters` table (site key: ``site_id`` or the row)."""
        import pandas as pd  # here: a one-site run never builds from a table

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
            np.full(len(tx), opts.config.radio.tower_height_m))).to_numpy(float)
        radius = np.array([opts.max_radius_km[t] * 1000.0 for t in tx["tech"]])
        site_radius = np.zeros(len(uniq))
        np.maximum.at(site_radius, codes, radius)
        order = np.argsort(codes, kind="stable")
        ptr = np.zeros(len(uniq) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(codes, minlength=len(uniq)))
        sx = tx["x_m"].to_numpy(float)[first]
        sy = tx["y_m"].to_numpy(float)[first]

        # eirp, azimuth and tilt reach the raster kernels: always writable copies (pandas'
        # copy-on-write hands out a read-only view of a float64 column, another numba type
        # than a converted or filled array, so site_links compiled once more per mix)
        def get(c):
            return (tx[c].to_numpy(float, copy=True) if c in tx.columns
                    else np.full(len(tx), np.nan))

        return cls(sx, sy, _site_heights(tx, h[first], first, sx, sy, terrain, uniq), site_radius, ptr, order, codes, tx["freq_mhz"].to_numpy(
            float), tx["eirp_dbm"].to_numpy(float, copy=True), pilot_offset_db(tx["tech"].to_numpy(), opts.config.radio),
            get("azimuth_deg"), get("tilt_deg"), radius,
            terrain.inside(sx, sy)[codes]).with_patterns(tx).with_clutter(opts)

    def with_clutter(self, opts: EngineOptions) -> TxSet:
        """This set with the P.2108 loss table of ``opts.clutter`` (None: unchanged)."""
        from dataclasses import replace

        if opts.clutter is None:
            return self
        return replace(self, clutter_db=opts.clutter.table(self.freq, opts.rx_height_m))


def _site_heights(tx, h, first, sx, sy, terrain, names) -> np.ndarray:
    """Antenna heights above the DEM ground under each site, m.

    A site's own ``ground_m`` (surveyed elevation) is used: the antenna stands at
    ``ground_m + height_m`` above sea level, so its height above the DEM's ground there is
    ``height_m + ground_m − DEM``. Sites without ``ground_m`` stand on the DEM (unchanged).

    Raises
    ------
    DataError
        A site whose antenna would stand less than 0.5 m above the DEM's ground.
    """
    import pandas as pd

    if "ground_m" not in tx.columns:
        return h
    given = pd.to_numeric(tx["ground_m"], errors="coerce").to_numpy(float)[first]
    dem = terrain.sample(sx, sy)
    use = np.isfinite(given) & np.isfinite(dem)
    out = h + np.where(use, given - np.where(use, dem, 0.0), 0.0)
    low = out < 0.5
    if low.any():
        i = int(np.flatnonzero(low)[0])
        raise DataError(f"sites: site_id {names[i]!r}: ground_m {given[i]:g} + height_m "
                        f"{h[i]:g} puts the antenna {out[i]:.1f} m above the DEM's ground "
                        f"({dem[i]:.1f} m); check the ground_m datum (metres above sea level) "
                        f"or the site position ({int(low.sum())} site(s) affected)")
    return out


@dataclass
class LinkResult:
    """All (receiver, cell) links within radius: indices, received power (dBm), counts."""

    rx_idx: np.ndarray
    cell_idx: np.ndarray
    rx_dbm: np.ndarray
    stats: dict
    #: Receivers with at least one path left out (void longer than ``max_void_m``, no DEM
    #: height at all, or an ITM error code ≥ 1000): their coverage is not fully known.
    rx_flagged: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _pairs(txs: TxSet, rx_x, rx_y, rx_ok) -> tuple[np.ndarray, np.ndarray]:
    idx = np.flatnonzero(rx_ok)
    site_ok = np.zeros(len(txs.site_x), bool)
    site_ok[txs.cell_site[txs.usable]] = True
    if idx.size == 0 or not site_ok.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([rx_x[idx], rx_y[idx]]))
    sites = np.flatnonzero(site_ok)
    lists = tree.query_ball_point(np.column_stack([txs.site_x[sites], txs.site_y[sites]]),
                                  r=txs.site_radius_m[sites], return_sorted=True)
    counts = np.array([len(v) for v in lists], dtype=np.int64)
    ps = np.repeat(sites, counts)
    pr = idx[np.concatenate([np.asarray(v, np.int64) for v in lists])] if counts.sum() else (
        np.zeros(0, np.int64))
    return ps.astype(np.int64), pr.astype(np.int64)


def _unit(ps, pr, ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Work unit: links for the (site, receiver) paths ``ps``, ``pr`` (pure).

    Returns receiver and cell indices, rx_dbm and counts: ``flagged`` (paths left out for a
    void), ``bridged`` (paths interpolated across a void) and their longest ``void_m``,
    ``itm_error`` (paths ITM refused, code ≥ 1000) and ``rx_flagged`` (receivers of both).
    """
    txs, terrain, rx_x, rx_y, opts, serial = ctx
    prof, nv, step, dist, ok, void_m = pair_profiles(
        terrain, txs.site_x[ps], txs.site_y[ps], rx_x[pr], rx_y[pr], step_m=opts.step_m,
        max_void_m=opts.max_void_m, return_voids=True, serial=serial)
    info = {"flagged": int((~ok).sum()), "bridged": int(((void_m > 0) & ok).sum()),
            "void_m": float(void_m[ok].max()) if ok.any() else 0.0, "itm_error": 0,
            "rx_flagged": pr[~ok]}
    if info["flagged"]:
        keep = np.flatnonzero(ok)
        ps, pr, prof, nv, step, dist = ps[keep], pr[keep], prof[keep], nv[keep], step[keep], \
            dist[keep]
    n = len(ps)
    rows = np.arange(n)
    z_tx = prof[rows, 0]
    z_rx = prof[rows, nv - 1]
    htx = txs.site_h[ps]
    geom = (np.zeros((n, 5)) if opts.model in ("itm", "p1812") else
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
    if opts.model == "p1812":
        from phusong.coverage.p1812._engine import pair_losses

        flat, start, count = flat_profiles(prof, nv)
        loss = pair_losses(flat, start[cp], count[cp], step[cp], cf, htx[cp], opts.rx_height_m,
                           (txs.site_x[ps[cp]], txs.site_y[ps[cp]]),
                           (rx_x[pr[cp]], rx_y[pr[cp]]), opts.p1812_params(),
                           opts.p1812_surface)
    else:
        loss = model_loss_db(opts.model, opts.diffraction, freq_mhz=cf, distance_m=dist[cp],
                             geometry=geom[cp], tx_height_m=htx[cp],
                             rx_height_m=opts.rx_height_m, z_tx_m=z_tx[cp], z_rx_m=z_rx[cp],
                             environment=opts.environment,
                             itm_args=_itm_args(prof, nv, step, cp, opts),
                             serial=serial) + opts.margin_db()
    if opts.model == "itm":
        # ITM error codes ≥ 1000 come back as +inf (no signal): count them per path
        failed = np.unique(cp[np.isposinf(loss)])
        info["itm_error"] = int(len(failed))
        info["rx_flagged"] = np.concatenate([info["rx_flagged"], pr[failed]])
    loss = loss[inv]
    dx = rx_x[pr[rep]] - txs.site_x[ps[rep]]
    dy = rx_y[pr[rep]] - txs.site_y[ps[rep]]
    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    down = np.degrees(np.arctan2((z_tx[rep] + htx[rep]) - (z_rx[rep] + opts.rx_height_m),
                                 dist[rep]))
    gain = sector_gain_db(bearing, txs.azimuth[cell], down, txs.tilt[cell],
                          beamwidth_deg=opts.config.radio.sector_beamwidth_deg,
                          front_to_back_db=opts.config.radio.front_to_back_db)
    if txs.pattern is not None:
        _pattern_gain(txs, cell, bearing, down, gain)
    rx_dbm = txs.eirp[cell] - txs.offset[cell] + gain - loss
    if txs.clutter_db is not None:  # terminal clutter at the receiver (P.2108 §3.1)
        k = opts.clutter.classes_at(rx_x[pr[rep]], rx_y[pr[rep]])
        rx_dbm = rx_dbm - txs.clutter_db[k, cell]
    return pr[rep], cell, rx_dbm, info


def _pattern_gain(txs: TxSet, cell, bearing, down, gain) -> None:
    """Overwrite ``gain`` of the links whose cell has an antenna pattern (in place)."""
    from phusong.coverage._antenna_kernel import pattern_gains

    k = txs.pattern[cell]
    m = np.flatnonzero(k >= 0)
    if m.size:
        t, c = txs.patterns, cell[m]
        gain[m] = pattern_gains(t.h, t.v, t.tilt, t.cap, k[m], bearing[m], txs.azimuth[c],
                                down[m], txs.tilt[c], txs.etilt[c])


def _itm_args(prof, nv, step, cp, opts):
    if opts.model != "itm":
        return None
    flat, start, count = flat_profiles(prof, nv)
    if opts.reliability_pct != 50.0:
        return flat, start[cp], count[cp], step[cp], opts.reliability_pct
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
        ``cells_outside_dem``, ``paths``, ``paths_flagged_void`` (a void longer than
        ``opts.max_void_m``, or no DEM height at all: left out), ``paths_void_bridged`` and
        ``void_bridged_max_m`` (interpolated across a void, longest stretch), ``max_void_m``,
        ``paths_itm_error`` (ITM error code ≥ 1000: no loss), ``receivers_path_flagged``,
        ``links``; ``rx_flagged`` lists the receivers of the paths left out.
    """
    opts.check()
    terrain = dem if isinstance(dem, Terrain) else prepare_terrain(dem)
    rx_x = np.asarray(rx_x_m, float)
    rx_y = np.asarray(rx_y_m, float)
    rx_ok = terrain.inside(rx_x, rx_y) & np.isfinite(rx_x) & np.isfinite(rx_y)
    txs = TxSet.from_frame(tx, terrain, opts)
    ps, pr = _pairs(txs, rx_x, rx_y, rx_ok)
    bounds = list(range(0, len(ps), opts.batch_pairs)) + [len(ps)]
    chunks = [(ps[a:b], pr[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    if executor is not None and chunks:
        # dask workers: each task runs the serial kernels (a worker runs several tasks on its
        # threads at once, and numba's parallel kernels must not be launched concurrently)
        parts = executor.map_units(_unit, chunks, (txs, terrain, rx_x, rx_y, opts, True))
    elif opts.threads == 1 or len(chunks) <= 1:
        # one thread: the compiled kernels run parallel inside each unit (numba's threads)
        ctx = (txs, terrain, rx_x, rx_y, opts, False)
        parts = [_unit(a, b, ctx) for a, b in chunks]
    else:
        # several Python threads: each runs the serial kernels (they release the GIL), as the
        # raster engine does — numba's parallel kernels are never launched from two threads at
        # once, which the workqueue threading layer does not support
        ctx = (txs, terrain, rx_x, rx_y, opts, True)
        with ThreadPoolExecutor(max_workers=opts.threads,
                                thread_name_prefix="phusong-points") as pool:
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
        "paths_flagged_void": int(sum(p[3]["flagged"] for p in parts)),
        "paths_void_bridged": int(sum(p[3]["bridged"] for p in parts)),
        "void_bridged_max_m": round(max([p[3]["void_m"] for p in parts] or [0.0]), 1),
        "max_void_m": opts.max_void_m,
        "paths_itm_error": int(sum(p[3]["itm_error"] for p in parts)),
        "links": int(len(ri)),
    }
    flagged = np.unique(np.concatenate([np.zeros(0, np.int64)]
                                       + [p[3]["rx_flagged"] for p in parts]).astype(np.int64))
    stats["receivers_path_flagged"] = int(len(flagged))
    return LinkResult(ri[order], ci[order], db[order], stats, flagged)


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
