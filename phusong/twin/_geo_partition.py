"""Raster partition of the province into communes (private engine of :mod:`geography`).

On a grid in ``settings.WORK_CRS`` every commune *i* has a normalised distance
``rho_i(p)``: the distance from its centroid, divided per side (west/east/south/north) by its
extent (:mod:`._geo_grid`), so ``rho = 1`` on the ellipse inscribed in its box. Positions are
first displaced by a smooth random warp (seeded) so that boundaries meander like real ones.

- Province mask: ``min_i rho_i``, smoothed, thresholded at ``r`` and hole-filled, with ``r``
  bisected so that the mask's area equals the sum of the area facts.
- Partition: each mask cell goes to ``argmin_i rho_i - w_i`` (an additively weighted Voronoi
  diagram in the normalised metric). The weights ``w_i`` follow gradient ascent on the dual of
  the area-constrained assignment (semi-discrete optimal transport), so every commune's area
  approaches its fact. A cell outside a trusted box (by more than 10 %) never goes to that
  commune; a disc around each centroid always does (its *core*); each commune keeps only the
  piece holding its centroid (the rest goes to the nearest neighbour), and the weights see the
  areas after that rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from phusong.twin._geo_grid import Extents
from phusong.twin._geo_noise import fbm

__all__ = ["Grid", "make_grid", "make_warp", "province_mask", "partition"]

#: Cells farther than this normalised distance from a centroid are never candidates.
RHO_MAX = 2.4
#: Cost of cell p for commune i is rho_i(p) ** COST_POWER − w_i (additive weights).
COST_POWER = 1.0
#: Radius of the disc around each centroid that always stays with its unit, × sqrt(area).
CORE_FRACTION = 0.2
#: Trusted boxes are hard limits, widened by this factor about their centre.
BOX_SLACK = 1.1
#: Warp amplitude as a fraction of the local commune size sqrt(area), and its feature size.
WARP_FRACTION = 0.08
WARP_SCALE_M = 2_500.0
#: Smoothing of the province outline (Gaussian sigma), m.
OUTLINE_SIGMA_M = 1_500.0


@dataclass(frozen=True)
class Grid:
    """A north-up grid in WORK_CRS: top-left corner ``(x0_m, y0_m)``, square cells ``res_m``."""

    x0_m: float
    y0_m: float
    res_m: float
    ny: int
    nx: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre x (cols) and y (rows) coordinate vectors, m."""
        xs = self.x0_m + (np.arange(self.nx) + 0.5) * self.res_m
        ys = self.y0_m - (np.arange(self.ny) + 0.5) * self.res_m
        return xs, ys

    def index(self, x_m: np.ndarray, y_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of the cells holding points (clipped to the grid)."""
        col = np.clip(((np.asarray(x_m) - self.x0_m) // self.res_m).astype(int), 0, self.nx - 1)
        row = np.clip(((self.y0_m - np.asarray(y_m)) // self.res_m).astype(int), 0, self.ny - 1)
        return row, col


def make_grid(ext: Extents, res_m: float) -> Grid:
    """A grid holding every commune's extent twice over, aligned to ``res_m``."""
    pad = 2.0
    x0 = np.floor(np.min(ext.x_m - pad * ext.left_m) / res_m) * res_m
    x1 = np.ceil(np.max(ext.x_m + pad * ext.right_m) / res_m) * res_m
    y0 = np.floor(np.min(ext.y_m - pad * ext.down_m) / res_m) * res_m
    y1 = np.ceil(np.max(ext.y_m + pad * ext.up_m) / res_m) * res_m
    return Grid(float(x0), float(y1), float(res_m), int(round((y1 - y0) / res_m)),
                int(round((x1 - x0) / res_m)))


def make_warp(ext: Extents, grid: Grid, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random displacement (dx, dy) per cell, m, scaled by the local commune size."""
    xs, ys = grid.centres()
    px = WARP_SCALE_M / grid.res_m
    dx = fbm(grid.shape, rng, base_px=px, octaves=3)
    dy = fbm(grid.shape, rng, base_px=px, octaves=3)
    # Local size: sqrt(area) of the nearest centroid, on a coarse lattice then upsampled.
    step = max(1, int(1_000.0 / grid.res_m))
    gx, gy = np.meshgrid(xs[::step], ys[::step])
    _, near = cKDTree(np.c_[ext.x_m, ext.y_m]).query(np.c_[gx.ravel(), gy.ravel()])
    size = np.sqrt(ext.area_m2)[near].reshape(gx.shape)
    size = ndimage.gaussian_filter(size, 2.0)
    size = np.repeat(np.repeat(size, step, 0), step, 1)[: grid.ny, : grid.nx]
    amp = (WARP_FRACTION * size).astype(np.float32)
    return dx * amp, dy * amp


def _pairs(ext: Extents, grid: Grid, warp, mask: np.ndarray | None, rho_max: float):
    """Candidate (cell, commune, rho) triples, sorted by cell."""
    xs, ys = grid.centres()
    sx, sy = ext.x_m, ext.y_m
    left, right, down, up = ext.sides(sx, sy)
    box = ext.box_m
    reach = 4.0 * max(float(np.abs(warp[0]).max()), float(np.abs(warp[1]).max()), 0.0)
    cells, owners, rhos = [], [], []
    for i in range(len(ext)):
        c0, c1 = sx[i] - rho_max * left[i], sx[i] + rho_max * right[i]
        r0, r1 = sy[i] + rho_max * up[i], sy[i] - rho_max * down[i]
        if ext.trusted[i]:
            pw = (BOX_SLACK - 1.0) * (box[i, 2] - box[i, 0]) / 2.0
            ph = (BOX_SLACK - 1.0) * (box[i, 3] - box[i, 1]) / 2.0
            lim = (box[i, 0] - pw, box[i, 1] - ph, box[i, 2] + pw, box[i, 3] + ph)
            c0, c1 = max(c0, lim[0] - reach), min(c1, lim[2] + reach)
            r0, r1 = min(r0, lim[3] + reach), max(r1, lim[1] - reach)
        j0 = max(int((c0 - grid.x0_m) // grid.res_m), 0)
        j1 = min(int((c1 - grid.x0_m) // grid.res_m) + 1, grid.nx)
        i0 = max(int((grid.y0_m - r0) // grid.res_m), 0)
        i1 = min(int((grid.y0_m - r1) // grid.res_m) + 1, grid.ny)
        if j1 <= j0 or i1 <= i0:
            continue
        px = xs[None, j0:j1] + warp[0][i0:i1, j0:j1]
        py = ys[i0:i1, None] + warp[1][i0:i1, j0:j1]
        wx, wy = px - sx[i], py - sy[i]
        u = wx / np.where(wx > 0, right[i], left[i])
        v = wy / np.where(wy > 0, up[i], down[i])
        rho = np.hypot(u, v)
        keep = rho <= rho_max
        if ext.trusted[i]:
            # The box is a fact: the (warped, so that its edges meander) cell lies inside it.
            keep &= (px >= lim[0]) & (px <= lim[2]) & (py >= lim[1]) & (py <= lim[3])
        if mask is not None:
            keep &= mask[i0:i1, j0:j1]
        rr, cc = np.nonzero(keep)
        cells.append(((rr + i0) * grid.nx + cc + j0).astype(np.int64))
        owners.append(np.full(len(rr), i, dtype=np.int32))
        rhos.append(rho[keep].astype(np.float32))
    cell = np.concatenate(cells)
    order = np.argsort(cell, kind="stable")
    return cell[order], np.concatenate(owners)[order], np.concatenate(rhos)[order]


def province_mask(ext: Extents, grid: Grid, warp) -> np.ndarray:
    """Boolean mask of the province: the smoothed union of ``rho <= r``, area = sum of facts."""
    cell, _, rho = _pairs(ext, grid, warp, None, RHO_MAX)
    fmin = np.full(grid.ny * grid.nx, np.inf, dtype=np.float32)
    np.minimum.at(fmin, cell, rho)
    fmin = fmin.reshape(grid.shape)
    target = float(ext.area_m2.sum()) / grid.res_m**2
    sigma = OUTLINE_SIGMA_M / grid.res_m
    rows, cols = grid.index(ext.x_m, ext.y_m)

    # Smoothing the distance field (not the mask) keeps the bisection to cheap thresholds.
    field = ndimage.gaussian_filter(np.minimum(fmin, RHO_MAX + 0.5), sigma)
    field[rows, cols] = 0.0

    def mask_for(r: float) -> np.ndarray:
        m = ndimage.binary_fill_holes(field <= r)
        lab, n = ndimage.label(m)
        if n > 1:
            # Drop islands without a centroid (a subset of districts may be several pieces).
            keep = np.zeros(n + 1, dtype=bool)
            keep[lab[rows, cols]] = True
            keep[0] = False
            m = keep[lab]
        return m

    lo, hi = 0.0, RHO_MAX + 0.5
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if np.count_nonzero(field <= mid) < target:
            lo = mid
        else:
            hi = mid
    # Holes filled and stray islands dropped change the area a little: one more correction.
    r = 0.5 * (lo + hi)
    for _ in range(3):
        m = mask_for(r)
        miss = target - m.sum()
        if abs(miss) < 1e-3 * target:
            break
        band = np.count_nonzero((field > r - 0.01) & (field <= r + 0.01)) / 0.02
        r += miss / max(band, 1.0)
    return mask_for(r)


def partition(ext: Extents, grid: Grid, warp, mask: np.ndarray, *, iterations: int = 40,
              weights: np.ndarray | None = None, step: float = 0.3):
    """Label every mask cell with a commune index (−1 outside).

    Parameters
    ----------
    ext, grid, warp, mask
        Extents, grid, warp (dx, dy per cell, m) and the province mask.
    iterations : int
        Weight iterations (area matching by gradient ascent on the dual).
    weights : ndarray, optional
        Starting additive weights (default 0).
    step : float
        First step of the weight updates (normalised-distance units), decreasing as 1/t.

    Returns
    -------
    (labels, weights)
        int32 grid of commune indices (−1 outside the mask) and the final weights.
    """
    n = len(ext)
    w = np.zeros(n) if weights is None else weights.copy()
    target = ext.area_m2 / grid.res_m**2
    rows, cols = grid.index(ext.x_m, ext.y_m)
    cores = _cores(ext, grid, mask)
    flat = mask.ravel()
    cell, owner, rho = _pairs(ext, grid, warp, mask, RHO_MAX)
    base = rho**COST_POWER
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(cell)]))
    ucell = cell[starts]
    warm = min(10, iterations // 3)
    best, best_err = None, np.inf
    for it in range(iterations + 1):
        cost = base - w[owner].astype(np.float32)
        gmin = np.minimum.reduceat(cost, starts)
        win = np.flatnonzero(cost <= gmin[group])
        first = win[np.r_[True, group[win][1:] != group[win][:-1]]]
        lab = np.full(grid.ny * grid.nx, -1, dtype=np.int32)
        lab[ucell] = owner[first]
        lab = _fill_unassigned(lab.reshape(grid.shape), mask)
        lab.ravel()[cores[0]] = cores[1]
        if it >= warm or it == iterations:
            # Areas as they will be once each unit keeps only its centroid's component.
            lab = _contiguous(lab, mask, rows, cols, cores)
        area = np.bincount(lab.ravel()[flat], minlength=n).astype(float)
        dev = np.abs(area / target - 1.0)
        err = float(dev.max() + dev.mean())
        if (it >= warm or it == iterations) and err < best_err:
            # The contiguity rule makes the areas jump now and then: keep the best iterate.
            best, best_err = (lab, w.copy()), err
        if it == iterations:
            break
        # Gradient ascent on the dual of the area-constrained assignment (concave without the
        # contiguity rule); the decreasing steps restart once that rule applies.
        t = it if it < warm else it - warm
        w += step / (1.0 + t / 20.0) * np.clip(1.0 - area / target, -1.0, 1.0)
    assert best is not None
    return best


def _fill_unassigned(lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Give mask cells without a label the label of the nearest labelled cell."""
    hole = mask & (lab < 0)
    if hole.any():
        _, (ri, ci) = ndimage.distance_transform_edt(lab < 0, return_indices=True)
        lab = np.where(hole, lab[ri, ci], lab)
    lab[~mask] = -1
    return lab


def _cores(ext: Extents, grid: Grid, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells every commune keeps whatever its weight: a disc around its centroid.

    A centroid lies inside its unit, away from the boundary; the disc's radius is
    :data:`CORE_FRACTION` × sqrt(area), at most 0.45 × the distance to the nearest other
    centroid (so discs never overlap), at least the centroid's own cell.
    """
    xs, ys = grid.centres()
    nn, _ = cKDTree(np.c_[ext.x_m, ext.y_m]).query(np.c_[ext.x_m, ext.y_m], k=2)
    radius = np.minimum(CORE_FRACTION * np.sqrt(ext.area_m2), 0.45 * nn[:, 1])
    rows, cols = grid.index(ext.x_m, ext.y_m)
    cells, owners = [], []
    for i in range(len(ext)):
        k = int(np.ceil(radius[i] / grid.res_m)) + 1
        i0, i1 = max(rows[i] - k, 0), min(rows[i] + k + 1, grid.ny)
        j0, j1 = max(cols[i] - k, 0), min(cols[i] + k + 1, grid.nx)
        d = np.hypot(xs[None, j0:j1] - ext.x_m[i], ys[i0:i1, None] - ext.y_m[i])
        rr, cc = np.nonzero((d <= radius[i]) & mask[i0:i1, j0:j1])
        flat = np.r_[(rr + i0) * grid.nx + cc + j0, rows[i] * grid.nx + cols[i]]
        cells.append(np.unique(flat))
        owners.append(np.full(len(cells[-1]), i, dtype=np.int32))
    return np.concatenate(cells), np.concatenate(owners)


def _components(lab: np.ndarray) -> np.ndarray:
    """Connected pieces (4-neighbour) of equal labels, all communes at once: id per cell."""
    ny, nx = lab.shape
    idx = np.arange(ny * nx).reshape(ny, nx)
    h = (lab[:, 1:] == lab[:, :-1]) & (lab[:, 1:] >= 0)
    v = (lab[1:, :] == lab[:-1, :]) & (lab[1:, :] >= 0)
    src = np.r_[idx[:, :-1][h], idx[:-1, :][v]]
    dst = np.r_[idx[:, 1:][h], idx[1:, :][v]]
    graph = coo_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(ny * nx, ny * nx))
    return connected_components(graph, directed=False)[1].reshape(ny, nx)


def _contiguous(lab: np.ndarray, mask: np.ndarray, rows, cols, cores) -> np.ndarray:
    """Keep each commune's piece that holds its centroid; refill the rest from neighbours."""
    for _ in range(6):
        lab.ravel()[cores[0]] = cores[1]
        comp = _components(lab)
        own = comp[rows, cols]
        orphan = (lab >= 0) & (comp != own[np.maximum(lab, 0)])
        if not orphan.any():
            break
        lab = _fill_unassigned(np.where(orphan, -1, lab), mask)
    return lab
