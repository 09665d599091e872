"""Raster receivers: radial profiles per site, one ray serving every grid cell along it.

For each site, ``n_rays = ceil(2π R / resolution)`` rays (angular spacing = one grid cell at
the radius R) are sampled every ``step`` metres out to R. Every grid cell within R is served by
its nearest ray sample (bearing and distance rounded); only the ray samples that serve some
grid cell are evaluated, each once per site, whatever the number of cells (sectors, bands) of
the site:

* ITM: the frequency-independent profile analysis (horizons, Δh, effective heights) runs once
  per ray sample on the ray prefix, decimated to ``EngineOptions.itm_profile_cap`` intervals
  when longer; the frequency part once per band; both compiled and parallel over ray samples.
* empirical models: the diffraction geometry of every used ray sample comes from one numba
  pass per ray (:func:`ray_geometry`: O(n log n) for Bullington and none, the hull walked
  over every sample and queried at the used ones; O(n²) for Deygout),
  the model, knife-edge loss and location margin per band and used sample from one compiled
  pass (:mod:`._empirical_kernel`).

The link budget (sector pattern, EIRP, pilot offset) and the best-server reduction run fused in
one compiled pass over the grid cells of the site. Sites run one after another, each kernel
parallel over its own outputs (ray samples, grid cells), and the reduction is max with ties to
the lowest cell index, so results are identical for any number of threads.
"""

from __future__ import annotations

import functools
import math
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numba
import numpy as np
from affine import Affine

from phusong.coverage._diffraction import METHODS, ray_geometry
from phusong.coverage._empirical_kernel import (
    ENV_CODES,
    MODEL_CODES,
    ray_model_losses,
    ray_model_losses_serial,
)
from phusong.coverage._engine import EngineOptions, TxSet
from phusong.coverage._itm_kernel import validate_inputs
from phusong.coverage._itm_rays import itm_ray_losses, itm_ray_losses_serial
from phusong.coverage._link import VERTICAL_BEAMWIDTH_DEG, VERTICAL_SLA_DB, model_loss_db
from phusong.coverage._raster_kernels import (
    sample_rays,
    sample_rays_serial,
    screen_keep,
    site_links,
    site_links_serial,
    site_pixels,
)
from phusong.coverage._raster_malloc import reuse_freed_memory
from phusong.coverage._terrain import Terrain
from phusong.errors import DataError, ValidityWarning

#: ITM warning bits that come from the inputs (heights, frequency, percentages).
_ITM_INPUT_BITS = 0x0001 | 0x0002 | 0x0004 | 0x2000

__all__ = ["Grid", "coarse_grid", "coarse_site", "grid_over", "numba_threads", "on_dem",
           "raster_links", "ray_profiles", "warn_itm_bits"]


@dataclass(frozen=True)
class Grid:
    """A north-up receiver grid in WORK_CRS: transform, shape and the cells to evaluate."""

    transform: Affine
    shape: tuple[int, int]
    mask: np.ndarray  # True = evaluate
    #: Rows and columns of a parent grid above and left of this one (a tile, see :meth:`tile`);
    #: ``transform`` is then the parent's, so cell centres are computed exactly as there.
    offset: tuple[int, int] = (0, 0)

    @property
    def resolution_m(self) -> float:
        """Cell size, m."""
        return float(self.transform.a)

    def tile(self, r0: int, r1: int, c0: int, c1: int, mask: np.ndarray | None = None) -> Grid:
        """Rows ``r0:r1`` and columns ``c0:c1`` of this grid (its mask, or ``mask`` of that
        tile's shape); cell values computed on it equal those of the whole grid."""
        m = self.mask[r0:r1, c0:c1] if mask is None else mask
        return Grid(self.transform, (r1 - r0, c1 - c0), np.ascontiguousarray(m),
                    (self.offset[0] + r0, self.offset[1] + c0))


def grid_over(polygon_work, resolution_m: float, terrain: Terrain | None = None) -> Grid:
    """Grid of ``resolution_m`` cells covering a polygon (WORK_CRS), cells inside it masked in.

    Cells off the DEM are masked out (they are counted by the callers).
    """
    from rasterio.features import geometry_mask

    if resolution_m <= 0:
        raise DataError(f"resolution {resolution_m} m: must be positive")
    left, bottom, right, top = polygon_work.bounds
    cols = max(1, int(math.ceil((right - left) / resolution_m)))
    rows = max(1, int(math.ceil((top - bottom) / resolution_m)))
    if rows * cols > 60_000_000:
        raise DataError(f"grid of {rows}×{cols} cells at {resolution_m} m is too large; "
                        "use a coarser --resolution-m")
    t = Affine(resolution_m, 0, left, 0, -resolution_m, top)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # rasterio's Affine `*`
        mask = geometry_mask([polygon_work], out_shape=(rows, cols), transform=t, invert=True,
                             all_touched=False)
    grid = Grid(t, (rows, cols), mask)
    return grid if terrain is None else on_dem(grid, terrain)


def on_dem(grid: Grid, terrain: Terrain) -> Grid:
    """``grid`` with the cells whose centre is off the DEM masked out."""
    rows, cols = grid.shape
    t = grid.transform
    cx = t.c + (np.arange(cols) + 0.5) * t.a
    cy = t.f + (np.arange(rows) + 0.5) * t.e
    return Grid(t, grid.shape, grid.mask & terrain.inside(cx[None, :], cy[:, None]))


def ray_profiles(terrain: Terrain, x_m: float, y_m: float, radius_m: float, step_m: float,
                 n_rays: int) -> np.ndarray:
    """(n_rays, n_samples) ground heights along bearings ``k·360/n_rays`` from a point, m.

    Voids and samples off the DEM are filled along each ray from the nearest valid samples,
    whatever their length (the engine leaves out what lies behind a long one: ``_site_unit``).
    """
    n_s = int(math.ceil(radius_m / step_m)) + 1
    return sample_rays(terrain.z, terrain.x0_m, terrain.y0_m, terrain.px_m, terrain.py_m,
                       float(x_m), float(y_m), float(step_m), int(n_rays), n_s,
                       np.full(int(n_rays), n_s - 1, np.int64), math.inf)[0]


@contextmanager
def numba_threads(n: int):
    """Run numba's parallel kernels on ``n`` threads (capped at numba's pool), then restore."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _itm_check(h_tx_m: float, rx_height_m: float, freq_mhz: float,
               reliability_pct: float = 50.0) -> tuple[int, int]:
    from phusong.coverage._link import ITM_DEFAULTS as D

    return validate_inputs(h_tx_m, rx_height_m, D["climate"], reliability_pct, reliability_pct,
                           D["situation_pct"], D["n0"], freq_mhz, D["polarization"],
                           D["epsilon"], D["sigma"], D["mdvar"])


@dataclass(frozen=True)
class _Kernels:
    """The compiled kernels a work unit calls: parallel over rays/cells (one site at a time)
    or serial (several sites at once, one per thread)."""

    sample: object
    itm: object
    links: object
    emp: object


_PARALLEL = _Kernels(sample_rays, itm_ray_losses, site_links, ray_model_losses)
#: The ``sn`` tuple of :func:`site_links` when no SINR is wanted.
_NO_SINR = (np.zeros((0, 1), np.int64), np.zeros(1, np.int64), np.zeros((0, 1), np.float32))
_SERIAL = _Kernels(sample_rays_serial, itm_ray_losses_serial, site_links_serial,
                   ray_model_losses_serial)


def _window(grid: Grid, sx: float, sy: float, R: float) -> tuple[int, int, int, int]:
    """Rows ``r0:r1`` and columns ``c0:c1`` of the grid within ``R`` of ``(sx, sy)`` (of the
    tile, for a tile: indices relative to its offset)."""
    t, res = grid.transform, grid.resolution_m
    ro, co = grid.offset
    c0 = max(0, int(math.floor((sx - R - t.c) / res)) - co)
    c1 = min(grid.shape[1], int(math.ceil((sx + R - t.c) / res)) + 1 - co)
    r0 = max(0, int(math.floor((t.f - (sy + R)) / res)) - ro)
    r1 = min(grid.shape[0], int(math.ceil((t.f - (sy - R)) / res)) + 1 - ro)
    return r0, r1, c0, c1


def _site_unit(s, ctx, best, arg, group, keep_fn=None, kern=_PARALLEL, sinr=_NO_SINR,
               void=None):
    """Work unit: one site's rays, losses and links, reduced into ``best``/``arg`` in place.

    ``keep_fn(s, cells, cell_band_local, n_bands, window)`` may return, per band of the site,
    the grid cells of ``window`` where the band is wanted (screening); None wants all. A grid
    cell gets a band's links only where it wants that band itself (whatever the other cells
    its ray point serves want), so its links never depend on the grid or tile around it.
    Grid cells behind a DEM void longer than ``opts.max_void_m`` along their ray get no link
    from this site (as the point engine leaves such paths out) and are set True in ``void``
    (flat bool over the grid, when given). Returns (ray points, ITM points evaluated, links,
    ITM warning bits). ``ctx`` is ``(txs, terrain, grid, opts, step)``, optionally with a set
    of the model checks already done in this run (:func:`_model_checks`) as a sixth item.
    """
    txs, terrain, grid, opts, step, *checked = ctx
    res = grid.resolution_m
    R = float(txs.site_radius_m[s])
    sx, sy, htx = float(txs.site_x[s]), float(txs.site_y[s]), float(txs.site_h[s])
    t = grid.transform
    r0, r1, c0, c1 = _window(grid, sx, sy, R)
    if c1 <= c0 or r1 <= r0:
        return 0, 0, 0, 0
    n_rays = max(16, int(math.ceil(2 * math.pi * R / res)))
    n_s = int(math.ceil(R / step)) + 1
    cells = np.ascontiguousarray(txs.cell_order[txs.site_ptr[s]: txs.site_ptr[s + 1]])
    bands, cell_band_local = np.unique(txs.freq[cells], return_inverse=True)
    f_radius = np.array([txs.radius_m[cells][cell_band_local == b].max()
                         for b in range(len(bands))])
    ro, co = grid.offset
    keep = None if keep_fn is None else keep_fn(s, cells, cell_band_local, len(bands),
                                                (r0 + ro, r1 + ro, c0 + co, c1 + co))
    use_keep = keep is not None
    if keep is None:
        keep = np.zeros((len(bands), 0, 0), np.bool_)
    flat, dx, dy, dist, brg, uop, uk, uj, need, slot, last, want = site_pixels(
        grid.mask, float(t.c), float(t.f), res, r0, r1, c0, c1, sx, sy, R, n_rays, n_s, step,
        f_radius, keep, use_keep, ro, co)
    if flat.size == 0:
        return 0, 0, 0, 0
    if opts.model not in ("itm", "p1812") and opts.diffraction == "deygout":
        last[:] = n_s - 1  # Deygout's ray geometry (O(n²)) walks whole rays
    max_void = math.inf if opts.max_void_m is None else float(opts.max_void_m)
    rays, bad = kern.sample(terrain.z, terrain.x0_m, terrain.y0_m, terrain.px_m, terrain.py_m,
                            sx, sy, float(step), int(n_rays), n_s, last, max_void)
    flagged = uj >= bad[uk]  # ray points behind a long void: left out, not bridged
    if flagged.any():
        need[:, flagged] = False
        if void is not None:
            void[flat[flagged[uop]]] = True
    loss = np.full((len(bands), len(uk)), np.inf)
    bits = 0
    if opts.model == "itm":
        from phusong.coverage._link import ITM_DEFAULTS as D

        for b, f in enumerate(bands):
            code, w = _itm_check(htx, opts.rx_height_m, float(f), opts.reliability_pct)
            bits |= int(w)
            if code != 0:
                need[b] = False  # invalid inputs: no signal on that band (ITM's flag mode)
        kern.itm(rays, last, step, slot, need, bands.astype(float), htx, opts.rx_height_m,
                 int(opts.itm_profile_cap or 0), D["polarization"], D["epsilon"], D["sigma"],
                 D["n0"], D["climate"], opts.reliability_pct, opts.reliability_pct,
                 D["situation_pct"],
                 D["mdvar"], loss)
    elif opts.model == "p1812":
        from phusong.coverage.p1812 import _engine as p1812

        run = p1812.ray_losses if kern is _PARALLEL else p1812.ray_losses_serial
        run(rays, last, step, slot, need, bands.astype(float), htx, opts.rx_height_m, sx, sy,
            opts.p1812_params(), loss, opts.p1812_surface)
    else:
        geom = ray_geometry(rays, step, rays[0, 0], htx, opts.rx_height_m,
                            method=opts.diffraction, k_factor=opts.k_factor,
                            min_freq_mhz=float(bands.min()), last=last, slot=slot)
        _model_checks(opts, bands, need, uk, uj, step, geom, rays, htx,
                      checked[0] if checked else None)
        kern.emp(geom, rays, uk, uj, need, bands.astype(float), MODEL_CODES[opts.model],
                 METHODS[opts.diffraction], ENV_CODES.get(opts.environment, -1), float(step),
                 htx, float(opts.rx_height_m), float(opts.margin_db()), loss)
    n_eval = int(need.any(axis=0).sum())
    counts = np.zeros(len(flat), np.int64)
    cell_band = np.zeros(len(txs.freq), np.int64)
    cell_band[cells] = cell_band_local
    by_cfg, cfg = _gain_configs(txs, cells)
    kern.links(best, arg, flat, dx, dy, dist, brg, uop, uk, uj, rays, loss, htx,
               opts.rx_height_m, by_cfg, cfg, cell_band, group, txs.radius_m, txs.eirp,
               txs.offset, txs.azimuth, txs.tilt, float(opts.config.radio.sector_beamwidth_deg),
               float(opts.config.radio.front_to_back_db), VERTICAL_BEAMWIDTH_DEG, VERTICAL_SLA_DB,
               counts, _antenna_args(txs), _clutter_args(txs, opts, sx, sy), sinr, want)
    return int((last[last >= 0] + 1).sum()), n_eval, int(counts.sum()), bits


def _model_checks(opts, bands, need, uk, uj, step, geom, rays, htx, done=None) -> None:
    """The reference model (:func:`model_loss_db`) on one wanted sample per band: its validity
    warnings and errors depend only on the band and the antenna heights, so the compiled
    evaluation of the whole band warns and refuses exactly as the reference would.

    The base height enters the checks clipped to the model's own range, so they depend on the
    model, diffraction, environment, band and receiver height only: with ``done`` (a set kept
    for one run) each of those is checked once per run, not once per site (the same warning,
    which Python's default filter shows once anyway)."""
    for b, f in enumerate(bands):
        sel = np.flatnonzero(need[b])
        if sel.size == 0:
            continue
        key = (opts.model, opts.diffraction, opts.environment, float(f),
               float(opts.rx_height_m))
        if done is not None and key in done:
            continue
        k, j = int(uk[sel[0]]), int(uj[sel[0]])
        model_loss_db(opts.model, opts.diffraction, freq_mhz=np.array([float(f)]),
                      distance_m=np.array([max(j * step, 1.0)]), geometry=geom[sel[0]][None],
                      tx_height_m=htx, rx_height_m=opts.rx_height_m, z_tx_m=rays[0, 0],
                      z_rx_m=np.array([rays[k, j]]), environment=opts.environment)
        if done is not None:
            done.add(key)


def _gain_configs(txs, cells) -> tuple[np.ndarray, np.ndarray]:
    """``cells`` ordered by antenna configuration, and the configuration number of each.

    Cells of one site with the same pattern, azimuth, mechanical tilt and (with a pattern)
    electrical tilt, compared bit for bit, have the same gain towards every grid cell:
    :func:`site_links` computes it once per configuration.
    """
    pat = (np.full(len(cells), -1, np.int64) if txs.pattern is None
           else np.asarray(txs.pattern[cells], np.int64))
    et = (np.zeros(len(cells)) if txs.etilt is None
          else np.where(pat >= 0, np.asarray(txs.etilt[cells], np.float64), 0.0))
    rows = list(zip(pat.tolist(),
                    np.asarray(txs.azimuth[cells], np.float64).view(np.int64).tolist(),
                    np.asarray(txs.tilt[cells], np.float64).view(np.int64).tolist(),
                    et.view(np.int64).tolist(), strict=True))
    # configurations numbered in the order of their (signed int64) rows, as
    # np.unique(axis=0) numbers them; a site has a handful of cells, so plain tuples
    rank = {r: i for i, r in enumerate(sorted(set(rows)))}
    cfg = np.array([rank[r] for r in rows], np.int64)
    order = np.argsort(cfg, kind="stable")
    return np.ascontiguousarray(cells[order]), np.ascontiguousarray(cfg[order], np.int64)


@functools.cache
def _empty_table():
    """The empty :class:`PatternTable` (built once: ≈ 0.2 ms, and every site asks for it)."""
    from phusong.coverage._antenna_kernel import PatternTable

    return PatternTable.empty()


def _antenna_args(txs) -> tuple:
    """The ``ant`` tuple of :func:`site_links`: patterns per cell (−1 = legacy sector)."""
    if txs.pattern is None:
        t = _empty_table()
        return (np.full(len(txs.freq), -1, np.int64), np.full(len(txs.freq), np.nan), t.h,
                t.v, t.tilt, t.cap, t.back, t.vlow)
    t = txs.patterns
    return (txs.pattern, txs.etilt, t.h, t.v, t.tilt, t.cap, t.back, t.vlow)


def _clutter_args(txs, opts, sx: float, sy: float) -> tuple:
    """The ``clut`` tuple of :func:`site_links` (a one-row table = no clutter)."""
    if txs.clutter_db is None:
        return (np.zeros((1, 1), np.int8), np.zeros(6), np.zeros((1, len(txs.freq))))
    m = opts.clutter
    return (m.index, np.array([m.x0_m, m.y0_m, m.px_m, m.py_m, sx, sy]), txs.clutter_db)


class _Acc:
    """One worker's best/arg over the grid and its counters."""

    def __init__(self, n_groups: int, n_cells: int, cell_key=None, n_keys: int = 0):
        self.best = np.full((n_groups, n_cells), -np.inf, dtype=np.float32)
        self.arg = np.full((n_groups, n_cells), -1, dtype=np.int64)
        self.ray_points = self.points = self.links = self.bits = 0
        #: cells some site's ray reaches only across a void longer than ``max_void_m``
        self.void = np.zeros(n_cells, np.bool_)
        self.sinr = _NO_SINR
        if cell_key is not None and n_keys > 0:  # co-channel sums and second best (issue 17)
            self.sinr = (np.zeros((n_keys, n_cells), np.int64), cell_key,
                         np.full((n_groups, n_cells), -np.inf, np.float32))

    def __sizeof__(self) -> int:  # what dask's memory manager counts for a held result
        return int(self.best.nbytes + self.arg.nbytes + self.void.nbytes + self.sinr[0].nbytes
                   + self.sinr[2].nbytes) + 256

    def add(self, unit_result) -> None:
        n_pts, n_eval, n_links, w = unit_result
        self.ray_points += n_pts
        self.points += n_eval
        self.links += n_links
        self.bits |= w

    def merge(self, other: _Acc) -> None:
        """Fold another worker in: max, ties to the lowest cell index (order-independent)."""
        take = (other.best > self.best) | ((other.best == self.best) & (other.arg >= 0)
                                           & ((self.arg < 0) | (other.arg < self.arg)))
        if self.sinr[0].shape[0] > 0:  # integer sums and max/min: order-free as well
            self.sinr[0][...] += other.sinr[0]
            np.maximum(np.maximum(self.sinr[2], other.sinr[2]),
                       np.minimum(self.best, other.best), out=self.sinr[2])
        self.best[take] = other.best[take]
        self.arg[take] = other.arg[take]
        self.void |= other.void
        self.ray_points += other.ray_points
        self.points += other.points
        self.links += other.links
        self.bits |= other.bits


def _for_sites(sites, work, n_workers: int, make_acc, progress=None) -> _Acc:
    """Run ``work(site, acc, kernels)`` over the sites and merge the workers' accumulators.

    One worker: the serial kernels, on the calling thread (numba's parallel kernels would
    cost a compilation of their own on the first run and numba's thread pool, for nothing).
    One site on several workers: the kernels run parallel inside the site (threads from
    numba). Several sites and workers: each worker thread takes the next site and runs the
    serial kernels on its own accumulator (they release the GIL); the max/lowest-index
    reduction makes the merge order-free. Serial and parallel kernels give the same results.
    """
    if n_workers <= 1 or len(sites) < 2:
        acc = make_acc()
        kern = _SERIAL if n_workers <= 1 else _PARALLEL
        for s in sites:
            work(int(s), acc, kern)
            if progress is not None:
                progress(1)
        return acc
    it = iter(sites)
    lock = threading.Lock()

    def worker(_):
        acc = make_acc()
        while True:
            with lock:
                s = next(it, None)
            if s is None:
                return acc
            work(int(s), acc, _SERIAL)
            if progress is not None:
                with lock:
                    progress(1)

    with ThreadPoolExecutor(n_workers, thread_name_prefix="phusong-raster") as ex:
        accs = list(ex.map(worker, range(n_workers)))
    for other in accs[1:]:
        accs[0].merge(other)
    return accs[0]


def raster_links(txs: TxSet, cell_group: np.ndarray, n_groups: int, terrain: Terrain,
                 grid: Grid, opts: EngineOptions, progress=None, *, cell_key=None,
                 n_keys: int = 0, extra: dict | None = None):
    """Best rx_dbm and serving cell per (group, grid cell) over all sites.

    With several sites and ``opts.screen_margin_db`` set, the sites are first run on a grid
    ``opts.screen_factor`` times coarser, and each (site, group) then only computes the fine
    cells where it may be the group's best (see :class:`_Screen` and
    :class:`phusong.coverage.EngineOptions`).

    Returns
    -------
    best : ndarray
        (n_groups, rows, cols) float32, −inf where no link.
    arg : ndarray
        (n_groups, rows, cols) int64 cell index, −1 where none.
    stats : dict
        ``sites``, ``ray_points``, ``points_evaluated``, ``links``, ``grid_cells``; with
        screening also ``screen_factor``, ``screen_margin_db``, ``screen_points_evaluated``
        (coarse pass) and ``screen_seconds``.

    With ``cell_key`` (co-channel key per cell, −1 = none; see
    :func:`phusong.coverage.interference.cell_keys`) and a dict ``extra``, also fills
    ``extra["power_sum_q"]`` ((n_keys, rows, cols) int64 sums of 1e-16 mW) and
    ``extra["second_dbm"]`` ((n_groups, rows, cols) float32 second best per group). With
    screening, the sums hold the cells screened in (each cell left out is more than the
    margin below the best nearby).
    """
    rows, cols = grid.shape
    step = float(opts.step_m or min(grid.resolution_m, terrain.step_m))
    sites = np.flatnonzero(np.bincount(txs.cell_site[txs.usable], minlength=len(txs.site_x)))
    group = np.ascontiguousarray(cell_group, np.int64)
    stats = {"sites": int(len(sites))}
    keep_fn = None
    checked: set = set()  # the model checks done in this run (_model_checks)
    # one thread runs only serial kernels (see _for_sites): numba's pool is not started;
    # each site's arrays reuse the memory the previous site freed (no page faults)
    with (numba_threads(opts.threads) if opts.threads > 1 else nullcontext(),
          reuse_freed_memory()):
        if opts.screen_margin_db and len(sites) > 1:
            t0 = time.perf_counter()
            screen = _Screen(txs, terrain, grid, opts, step, group, n_groups, sites, checked)
            keep_fn = screen.keep
            stats |= {"screen_factor": int(opts.screen_factor),
                      "screen_margin_db": float(opts.screen_margin_db),
                      "screen_points_evaluated": screen.points,
                      "screen_seconds": round(time.perf_counter() - t0, 3)}
        ctx = (txs, terrain, grid, opts, step, checked)

        def work(s, acc, kern):
            acc.add(_site_unit(s, ctx, acc.best, acc.arg, group, keep_fn, kern, acc.sinr,
                               acc.void))

        keys = None if cell_key is None or extra is None else np.ascontiguousarray(
            cell_key, np.int64)
        acc = _for_sites(sites, work, opts.threads,
                         lambda: _Acc(n_groups, rows * cols, keys, n_keys), progress)
    stats |= {"ray_points": acc.ray_points, "points_evaluated": acc.points,
              "links": acc.links}
    warn_itm_bits(acc.bits, stacklevel=3)
    stats["grid_cells"] = int(grid.mask.sum())
    stats["cells_void_flagged"] = int(acc.void.sum())
    if extra is not None:
        extra["void"] = acc.void.reshape(rows, cols)
    if extra is not None and acc.sinr[0].shape[0] > 0:
        extra["power_sum_q"] = acc.sinr[0].reshape(-1, rows, cols)
        extra["second_dbm"] = acc.sinr[2].reshape(n_groups, rows, cols)
    return (acc.best.reshape(n_groups, rows, cols), acc.arg.reshape(n_groups, rows, cols),
            stats)


def coarse_grid(grid: Grid, opts) -> Grid:
    """The screening's coarse grid: ``opts.screen_factor`` times coarser than ``grid``, every
    coarse cell of the ``screen_window`` block around a fine cell of the mask masked in."""
    from scipy import ndimage  # here: one-site runs never screen

    f = int(opts.screen_factor)
    rows, cols = grid.shape
    rc, cc = -(-rows // f), -(-cols // f)
    pad = np.zeros((rc * f, cc * f), bool)
    pad[:rows, :cols] = grid.mask
    mask = pad.reshape(rc, f, cc, f).any(axis=(1, 3))
    half = max(1, int(opts.screen_window) // 2)
    mask = ndimage.binary_dilation(mask, np.ones((2 * half + 1, 2 * half + 1), bool))
    t = grid.transform
    return Grid(Affine(t.a * f, 0, t.c, 0, t.e * f, t.f), (rc, cc), mask)


def coarse_site(s, txs, terrain, coarse: Grid, opts, step, group, kern=_PARALLEL, *,
                shape_all: tuple[int, int] | None = None, checked: set | None = None):
    """Site ``s`` on its own window of the coarse grid (a pure work unit of the screening).

    ``coarse`` may be a tile of the coarse grid (:meth:`Grid.tile`, with its offset), whose
    whole grid has ``shape_all`` (default: ``coarse.shape``): the site then runs only on the part
    of its window inside the tile, with the values it has there on its whole window (cell
    centres from the window's own indices).

    Returns ``(unit result, (r0, c0, groups, values, window) or None, inner)``: the site's rx per
    group of its own on coarse rows ``r0:`` and columns ``c0:`` (its window, or the part of it
    in the tile), its whole window ``(wr0, wr1, wc0, wc1)`` on the coarse grid, and the same
    values kept only where the site surely reaches every fine cell of the coarse cell and its
    neighbours (what enters the reference best).
    """
    t = coarse.transform
    res_c = coarse.resolution_m
    reach = 1.5 * math.sqrt(2.0) * res_c
    sx, sy = float(txs.site_x[s]), float(txs.site_y[s])
    whole = Grid(t, shape_all or coarse.shape, coarse.mask)
    wr0, wr1, wc0, wc1 = _window(whole, sx, sy, float(txs.site_radius_m[s]))
    tr0, tc0 = coarse.offset
    r0, r1 = max(wr0, tr0), min(wr1, tr0 + coarse.shape[0])
    c0, c1 = max(wc0, tc0), min(wc1, tc0 + coarse.shape[1])
    if r1 <= r0 or c1 <= c0:
        return (0, 0, 0, 0), None, None
    # the site runs on its own window of the coarse grid (origin at the window's corner, the
    # part in the tile through the offset), into arrays of its own groups only (small,
    # whatever the province and the number of groups)
    sub = Grid(Affine(res_c, 0, t.c + wc0 * res_c, 0, -res_c, t.f - wr0 * res_c),
               (r1 - r0, c1 - c0),
               np.ascontiguousarray(coarse.mask[r0 - tr0:r1 - tr0, c0 - tc0:c1 - tc0]),
               (r0 - wr0, c0 - wc0))
    cells = txs.cell_order[txs.site_ptr[s]: txs.site_ptr[s + 1]]
    gs, local_g = np.unique(group[cells], return_inverse=True)
    local = np.zeros(len(group), np.int64)
    local[cells] = local_g
    b = np.full((len(gs), sub.shape[0] * sub.shape[1]), -np.inf, np.float32)
    a = np.full(b.shape, -1, np.int64)
    ctx = (txs, terrain, sub, opts, step) + (() if checked is None else (checked,))
    res = _site_unit(s, ctx, b, a, local, None, kern)
    v = b.reshape(len(gs), r1 - r0, c1 - c0)
    # the reference best only takes a site where it surely reaches every fine cell of
    # the coarse cell and its neighbours: a site strong at the edge of its radius must
    # not screen out the sites that serve just beyond it
    ys = t.f - (np.arange(r0, r1) + 0.5) * res_c
    xs = t.c + (np.arange(c0, c1) + 0.5) * res_c
    dist = np.hypot(xs[None, :] - sx, ys[:, None] - sy)
    inner = np.empty_like(v)
    for i, g in enumerate(gs):
        r_g = float(txs.radius_m[cells[group[cells] == g]].min())
        inner[i] = np.where(dist <= r_g - reach, v[i], -np.inf)
    return res, (r0, c0, gs, v, (wr0, wr1, wc0, wc1)), inner


def warn_itm_bits(bits: int, stacklevel: int = 2) -> None:
    """Warn (:class:`ValidityWarning`) when ITM's input warning bits are among ``bits``."""
    if bits & _ITM_INPUT_BITS:
        from phusong.coverage.itm import describe_warnings

        warnings.warn("ITM used near the limits of its validity on the raster: "
                      + "; ".join(describe_warnings(bits & _ITM_INPUT_BITS))
                      + " (results less reliable)", ValidityWarning, stacklevel=stacklevel)


class _Screen:
    """Coarse pass of the screening: every site's best rx per group on a coarse grid, and the
    fine cells where each (site, band) may matter.

    Site ``s`` of group ``g`` is kept at a fine cell when, on some coarse cell of the
    ``window × window`` block centred on the one holding it, ``rx_s ≥ best_g − margin``, or
    when it has no coarse value on the 3 × 3 block (nothing is known, so nothing is dropped).
    ``best_g`` only counts a site on coarse cells it reaches with a 3 × 3 block to spare
    (within its radius minus 1.5 coarse cell diagonals), so a site is never screened out by
    one that cannot reach the cell. A wide window matters more than a wide margin: ITM at
    100 m flips between line of sight and shadow from cell to cell, and a site is only
    dropped when none of its coarse samples nearby comes close to the best.
    """

    def __init__(self, txs, terrain, grid: Grid, opts, step, group, n_groups, sites,
                 checked: set | None = None):
        self.coarse = coarse_grid(grid, opts)
        self._setup(opts, group, {}, np.full((n_groups,) + self.coarse.shape, -np.inf,
                                             np.float32))
        lock = threading.Lock()

        def work(s, acc, kern):
            res, values, inner = coarse_site(s, txs, terrain, self.coarse, opts, step, group,
                                             kern, checked=checked)
            acc.add(res)
            if values is None:
                return
            r0, c0, gs, v, _ = values
            with lock:
                self.values[s] = values
                for i, g in enumerate(gs):
                    w = self.best[g, r0:r0 + v.shape[1], c0:c0 + v.shape[2]]  # a view
                    np.maximum(w, inner[i], out=w)

        acc = _for_sites(sites, work, opts.threads, lambda: _Acc(0, 0))
        self.points = acc.points

    def _setup(self, opts, group, values, best) -> None:
        self.factor, self.margin = int(opts.screen_factor), float(opts.screen_margin_db)
        self.window = int(opts.screen_window)
        self.group = group
        self.values: dict[int, tuple] = values
        self.best = best

    @classmethod
    def from_parts(cls, opts, group, values: dict, best) -> _Screen:
        """A screen from coarse values computed elsewhere (:func:`coarse_site` per site) and
        the reference best over the coarse cells ``keep`` reads (an array indexed with
        coarse-grid rows and columns, e.g. a window of it that translates its indices)."""
        self = cls.__new__(cls)
        self._setup(opts, group, values, best)
        self.points = 0
        return self

    def keep(self, s, cells, cell_band_local, n_bands, window):
        """(n_bands, r1 − r0, c1 − c0) bool: fine cells of ``window`` where band b is wanted."""
        r0, r1, c0, c1 = window
        out = np.ones((n_bands, r1 - r0, c1 - c0), bool)
        if s not in self.values:
            return out
        # v covers coarse rows cr0: and columns cc0: (the site's window, or the part of it
        # a tile needs: its cells and a halo of the filters' reach); (wr0, wr1, wc0, wc1) is
        # the site's whole window, beyond which every fine cell is kept
        cr0, cc0, gs, v, (wr0, wr1, wc0, wc1) = self.values[s]
        h, w = v.shape[1:]
        ra = np.arange(r0, r1) // self.factor
        ca = np.arange(c0, c1) // self.factor
        rin = (ra >= wr0) & (ra < wr1)
        cin = (ca >= wc0) & (ca < wc1)
        ri, ci = np.clip(ra - cr0, 0, h - 1), np.clip(ca - cc0, 0, w - 1)
        outside = ~(rin[:, None] & cin[None, :])
        grp = self.group[cells]
        band_of = np.zeros((len(gs), n_bands), bool)  # group i serves band b at this site
        for b in range(n_bands):
            band_of[:, b] = np.isin(gs, grp[cell_band_local == b])
        ref = np.stack([self.best[int(g), cr0:cr0 + h, cc0:cc0 + w] for g in gs])
        screen_keep(np.ascontiguousarray(v), np.ascontiguousarray(ref), self.window // 2,
                    self.margin, band_of, ri, ci, outside, out)
        return out
