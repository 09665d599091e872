"""Raster receivers: radial profiles per site, one ray serving every grid cell along it.

For each site, ``n_rays = ceil(2π R / resolution)`` rays (angular spacing = one grid cell at
the radius R) are sampled every ``step`` metres out to R. Every grid cell within R is served by
its nearest ray sample (bearing and distance rounded); only the ray samples that serve some
grid cell are evaluated, each once per site, whatever the number of cells (sectors, bands) of
the site:

* ITM: the frequency-independent profile analysis (horizons, Δh, effective heights) runs once
  per ray sample on the ray prefix, decimated to ``EngineOptions.itm_profile_cap`` intervals
  when longer; the frequency part once per band; both compiled and parallel over ray samples.
* empirical models: the diffraction geometry of every ray sample comes from one O(n²) numba
  pass per ray (:func:`ray_geometry`), the model per band in numpy.

The link budget (sector pattern, EIRP, pilot offset) and the best-server reduction run fused in
one compiled pass over the grid cells of the site. Sites run one after another, each kernel
parallel over its own outputs (ray samples, grid cells), and the reduction is max with ties to
the lowest cell index, so results are identical for any number of threads.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
from affine import Affine

from phusong import settings
from phusong.coverage._diffraction import ray_geometry
from phusong.coverage._engine import EngineOptions, TxSet
from phusong.coverage._itm_kernel import validate_inputs
from phusong.coverage._itm_rays import itm_ray_losses
from phusong.coverage._link import VERTICAL_BEAMWIDTH_DEG, VERTICAL_SLA_DB, model_loss_db
from phusong.coverage._raster_kernels import sample_rays, site_links, site_pixels
from phusong.coverage._terrain import Terrain
from phusong.errors import DataError, ValidityWarning

#: ITM warning bits that come from the inputs (heights, frequency, percentages).
_ITM_INPUT_BITS = 0x0001 | 0x0002 | 0x0004 | 0x2000

__all__ = ["Grid", "grid_over", "numba_threads", "raster_links", "ray_profiles"]


@dataclass(frozen=True)
class Grid:
    """A north-up receiver grid in WORK_CRS: transform, shape and the cells to evaluate."""

    transform: Affine
    shape: tuple[int, int]
    mask: np.ndarray  # True = evaluate

    @property
    def resolution_m(self) -> float:
        """Cell size, m."""
        return float(self.transform.a)


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
    if terrain is not None:
        cx = left + (np.arange(cols) + 0.5) * resolution_m
        cy = top - (np.arange(rows) + 0.5) * resolution_m
        mask &= terrain.inside(cx[None, :], cy[:, None])
    return Grid(t, (rows, cols), mask)


def ray_profiles(terrain: Terrain, x_m: float, y_m: float, radius_m: float, step_m: float,
                 n_rays: int) -> np.ndarray:
    """(n_rays, n_samples) ground heights along bearings ``k·360/n_rays`` from a point, m.

    Voids and samples off the DEM are filled along each ray from the nearest valid samples.
    """
    n_s = int(math.ceil(radius_m / step_m)) + 1
    return sample_rays(terrain.z, terrain.x0_m, terrain.y0_m, terrain.px_m, terrain.py_m,
                       float(x_m), float(y_m), float(step_m), int(n_rays), n_s)


@contextmanager
def numba_threads(n: int):
    """Run numba's parallel kernels on ``n`` threads (capped at numba's pool), then restore."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _itm_check(h_tx_m: float, rx_height_m: float, freq_mhz: float) -> tuple[int, int]:
    from phusong.coverage._link import ITM_DEFAULTS as D

    return validate_inputs(h_tx_m, rx_height_m, D["climate"], D["time_pct"], D["location_pct"],
                           D["situation_pct"], D["n0"], freq_mhz, D["polarization"],
                           D["epsilon"], D["sigma"], D["mdvar"])


def _site_unit(s: int, ctx, best, arg, group):
    """Work unit: one site's rays, losses and links, reduced into ``best``/``arg`` in place.

    Returns (ray points, ITM points evaluated, links, ITM warning bits).
    """
    txs, terrain, grid, opts, step = ctx
    res = grid.resolution_m
    R = float(txs.site_radius_m[s])
    sx, sy, htx = float(txs.site_x[s]), float(txs.site_y[s]), float(txs.site_h[s])
    t = grid.transform
    c0 = max(0, int(math.floor((sx - R - t.c) / res)))
    c1 = min(grid.shape[1], int(math.ceil((sx + R - t.c) / res)) + 1)
    r0 = max(0, int(math.floor((t.f - (sy + R)) / res)))
    r1 = min(grid.shape[0], int(math.ceil((t.f - (sy - R)) / res)) + 1)
    if c1 <= c0 or r1 <= r0:
        return 0, 0, 0, 0
    n_rays = max(16, int(math.ceil(2 * math.pi * R / res)))
    n_s = int(math.ceil(R / step)) + 1
    cells = np.ascontiguousarray(txs.cell_order[txs.site_ptr[s]: txs.site_ptr[s + 1]])
    bands, cell_band_local = np.unique(txs.freq[cells], return_inverse=True)
    f_radius = np.array([txs.radius_m[cells][cell_band_local == b].max()
                         for b in range(len(bands))])
    flat, dx, dy, uop, uk, uj, need, slot = site_pixels(
        grid.mask, float(t.c), float(t.f), res, r0, r1, c0, c1, sx, sy, R, n_rays, n_s, step,
        f_radius)
    if flat.size == 0:
        return 0, 0, 0, 0
    rays = ray_profiles(terrain, sx, sy, R, step, n_rays)
    loss = np.full((len(bands), len(uk)), np.inf)
    bits = 0
    if opts.model == "itm":
        from phusong.coverage._link import ITM_DEFAULTS as D

        for b, f in enumerate(bands):
            code, w = _itm_check(htx, opts.rx_height_m, float(f))
            bits |= int(w)
            if code != 0:
                need[b] = False  # invalid inputs: no signal on that band (ITM's flag mode)
        itm_ray_losses(rays, step, slot, need, bands.astype(float), htx, opts.rx_height_m,
                       int(opts.itm_profile_cap or 0), D["polarization"], D["epsilon"],
                       D["sigma"], D["n0"], D["climate"], D["time_pct"], D["location_pct"],
                       D["situation_pct"], D["mdvar"], loss)
    else:
        geom = ray_geometry(rays, step, rays[0, 0], htx, opts.rx_height_m,
                            method=opts.diffraction, k_factor=opts.k_factor)
        rp = uk * n_s + uj
        for b, f in enumerate(bands):
            sel = np.flatnonzero(need[b])
            loss[b, sel] = model_loss_db(
                opts.model, opts.diffraction, freq_mhz=np.full(len(sel), f),
                distance_m=np.maximum(uj[sel] * step, 1.0), geometry=geom.reshape(-1, 5)[rp[sel]],
                tx_height_m=htx, rx_height_m=opts.rx_height_m, z_tx_m=rays[0, 0],
                z_rx_m=rays.ravel()[rp[sel]], environment=opts.environment)
    n_eval = int(need.any(axis=0).sum())
    counts = np.zeros(len(flat), np.int64)
    cell_band = np.zeros(len(txs.freq), np.int64)
    cell_band[cells] = cell_band_local
    site_links(best, arg, flat, dx, dy, uop, uk, uj, rays, loss, htx, opts.rx_height_m, cells,
               cell_band, group, txs.radius_m, txs.eirp, txs.offset, txs.azimuth, txs.tilt,
               float(settings.RADIO.sector_beamwidth_deg), float(settings.RADIO.front_to_back_db),
               VERTICAL_BEAMWIDTH_DEG, VERTICAL_SLA_DB, counts)
    return int(n_rays * n_s), n_eval, int(counts.sum()), bits


def raster_links(txs: TxSet, cell_group: np.ndarray, n_groups: int, terrain: Terrain,
                 grid: Grid, opts: EngineOptions, progress=None):
    """Best rx_dbm and serving cell per (group, grid cell) over all sites.

    Returns
    -------
    best : ndarray
        (n_groups, rows, cols) float32, −inf where no link.
    arg : ndarray
        (n_groups, rows, cols) int64 cell index, −1 where none.
    stats : dict
        ``sites``, ``ray_points``, ``links``, ``grid_cells``, ``grid_cells_outside_dem``.
    """
    rows, cols = grid.shape
    best = np.full((n_groups, rows * cols), -np.inf, dtype=np.float32)
    arg = np.full((n_groups, rows * cols), -1, dtype=np.int64)
    step = float(opts.step_m or min(grid.resolution_m, terrain.step_m))
    sites = np.flatnonzero(np.bincount(txs.cell_site[txs.usable], minlength=len(txs.site_x)))
    ctx = (txs, terrain, grid, opts, step)
    group = np.ascontiguousarray(cell_group, np.int64)
    stats = {"sites": int(len(sites)), "ray_points": 0, "points_evaluated": 0, "links": 0}
    bits = 0
    with numba_threads(opts.threads):
        for s in sites:
            n_pts, n_eval, n_links, w = _site_unit(int(s), ctx, best, arg, group)
            stats["ray_points"] += n_pts
            stats["points_evaluated"] += n_eval
            stats["links"] += n_links
            bits |= w
            if progress is not None:
                progress(1)
    if bits & _ITM_INPUT_BITS:
        from phusong.coverage.itm import describe_warnings

        warnings.warn("ITM used near the limits of its validity on the raster: "
                      + "; ".join(describe_warnings(bits & _ITM_INPUT_BITS))
                      + " (results less reliable)", ValidityWarning, stacklevel=2)
    stats["grid_cells"] = int(grid.mask.sum())
    return best.reshape(n_groups, rows, cols), arg.reshape(n_groups, rows, cols), stats
