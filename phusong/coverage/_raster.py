"""Raster receivers: radial profiles per site, one ray serving every grid cell along it.

For each site, ``n_rays = ceil(2π R / resolution)`` rays are sampled every ``step`` metres out
to the site's radius R; the diffraction geometry of every ray sample taken as a receiver comes
from one O(n²) numba pass per ray (:func:`ray_geometry`). Every grid cell within R is then
served by its nearest ray sample (bearing and distance rounded), so the cost per site is that
of its rays, and the grid cells only pay a gather and the link budget.

Work units are single sites; partial results reduce into the grids by max with ties broken by
the lowest cell index, so results are identical for any number of threads.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from affine import Affine

from phusong.coverage._diffraction import ray_geometry
from phusong.coverage._engine import EngineOptions, TxSet
from phusong.coverage._link import model_loss_db, sector_gain_db
from phusong.coverage._terrain import Terrain
from phusong.errors import DataError

__all__ = ["Grid", "grid_over", "raster_links", "ray_profiles"]


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
    ang = np.arange(n_rays) * (2 * np.pi / n_rays)
    r = np.arange(n_s) * step_m
    z = terrain.sample(x_m + np.sin(ang)[:, None] * r, y_m + np.cos(ang)[:, None] * r)
    bad = np.flatnonzero(np.isnan(z).any(axis=1))
    idx = np.arange(n_s)
    for k in bad:
        ok = np.isfinite(z[k])
        z[k] = np.interp(idx, idx[ok], z[k, ok]) if ok.any() else np.nan_to_num(z[k, 0])
    return z


def _site_unit(s: int, ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Work unit: (flat grid index, cell index, rx_dbm) for one site (pure)."""
    txs, terrain, grid, opts, step = ctx
    res = grid.resolution_m
    R = float(txs.site_radius_m[s])
    sx, sy, htx = float(txs.site_x[s]), float(txs.site_y[s]), float(txs.site_h[s])
    t = grid.transform
    c0 = max(0, int(math.floor((sx - R - t.c) / res)))
    c1 = min(grid.shape[1], int(math.ceil((sx + R - t.c) / res)) + 1)
    r0 = max(0, int(math.floor((t.f - (sy + R)) / res)))
    r1 = min(grid.shape[0], int(math.ceil((t.f - (sy - R)) / res)) + 1)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), 0)
    if c1 <= c0 or r1 <= r0:
        return empty
    rr, cc = np.nonzero(grid.mask[r0:r1, c0:c1])
    rr += r0
    cc += c0
    gx = t.c + (cc + 0.5) * res
    gy = t.f - (rr + 0.5) * res
    dx, dy = gx - sx, gy - sy
    dist = np.hypot(dx, dy)
    near = dist <= R
    rr, cc, dx, dy, dist = rr[near], cc[near], dx[near], dy[near], dist[near]
    if rr.size == 0:
        return empty
    n_rays = max(16, int(math.ceil(2 * math.pi * R / res)))
    rays = ray_profiles(terrain, sx, sy, R, step, n_rays)
    n_s = rays.shape[1]
    geom = ray_geometry(rays, step, rays[0, 0], htx, opts.rx_height_m,
                        method=opts.diffraction if opts.diffraction else "none",
                        k_factor=opts.k_factor)
    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    k = np.rint(bearing / (360.0 / n_rays)).astype(np.int64) % n_rays
    j = np.clip(np.rint(dist / step).astype(np.int64), 1, n_s - 1)
    flat_rp = k * n_s + j
    d_rp = np.maximum(np.arange(n_s) * step, 1.0)
    z_rx = rays.ravel()[flat_rp]
    down = np.degrees(np.arctan2(rays[0, 0] + htx - (z_rx + opts.rx_height_m), dist))
    cells = txs.cell_order[txs.site_ptr[s]: txs.site_ptr[s + 1]]
    out_i, out_c, out_v = [], [], []
    loss_cache: dict[float, np.ndarray] = {}
    used = np.unique(flat_rp)
    for c in cells:
        f = float(txs.freq[c])
        if f not in loss_cache:
            full = np.full(n_rays * n_s, np.nan)
            g = geom.reshape(-1, 5)[used]
            full[used] = model_loss_db(
                opts.model, opts.diffraction, freq_mhz=np.full(len(used), f),
                distance_m=d_rp[used % n_s], geometry=g, tx_height_m=htx,
                rx_height_m=opts.rx_height_m, z_tx_m=rays[0, 0],
                z_rx_m=rays.ravel()[used], environment=opts.environment,
                itm_args=_itm_args(rays, used, n_s, step) if opts.model == "itm" else None)
            loss_cache[f] = full
        inr = dist <= txs.radius_m[c]
        gain = sector_gain_db(bearing[inr], txs.azimuth[c], down[inr], txs.tilt[c])
        v = txs.eirp[c] - txs.offset[c] + gain - loss_cache[f][flat_rp[inr]]
        out_i.append(rr[inr].astype(np.int64) * grid.shape[1] + cc[inr])
        out_c.append(np.full(int(inr.sum()), c, dtype=np.int64))
        out_v.append(v.astype(np.float32))
    return (np.concatenate(out_i), np.concatenate(out_c), np.concatenate(out_v),
            int(n_rays * n_s))


def _itm_args(rays, used, n_s, step):
    """Flat profiles tx → each used ray sample (a prefix of its ray, no copy) for ITM."""
    k, j = used // n_s, used % n_s
    flat = np.ascontiguousarray(rays, dtype=np.float64).reshape(-1)
    return flat, k * n_s, j + 1, np.full(len(used), float(step))


@numba.njit(cache=True, nogil=True)
def _reduce(best, arg, flat, group, cell, val):
    for i in range(flat.shape[0]):
        g = group[cell[i]]
        p = flat[i]
        v = val[i]
        if v > best[g, p] or (v == best[g, p] and cell[i] < arg[g, p]):
            best[g, p] = v
            arg[g, p] = cell[i]


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
    group = np.asarray(cell_group, np.int64)
    stats = {"sites": int(len(sites)), "ray_points": 0, "links": 0}

    def consume(part):
        flat, cell, val, npts = part
        _reduce(best, arg, flat, group, cell, val)
        stats["ray_points"] += npts
        stats["links"] += int(len(flat))
        if progress is not None:
            progress(1)

    if opts.threads == 1:
        for s in sites:
            consume(_site_unit(int(s), ctx))
    else:
        with ThreadPoolExecutor(max_workers=opts.threads) as pool:
            for part in pool.map(lambda s: _site_unit(int(s), ctx), sites):
                consume(part)
    stats["grid_cells"] = int(grid.mask.sum())
    return best.reshape(n_groups, rows, cols), arg.reshape(n_groups, rows, cols), stats
