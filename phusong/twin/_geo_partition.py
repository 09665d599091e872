"""Raster partition of the province into communes (private engine of :mod:`geography`).

On a grid in ``settings.WORK_CRS`` every commune *i* has a normalised distance
``rho_i(p)``: the distance from its centroid, divided per side (west/east/south/north) by its
extent (:mod:`._geo_grid`), so ``rho = 1`` on the ellipse inscribed in its box. Positions are
first displaced by a smooth random warp (seeded) so that boundaries meander like real ones.

- Province mask: ``min_i rho_i <= r``, smoothed and hole-filled, with ``r`` bisected so that
  the mask's area equals the sum of the area facts.
- Partition: each mask cell goes to ``argmin_i rho_i / s_i`` (a multiplicatively weighted
  Voronoi diagram in the normalised metric); the weights ``s_i`` are iterated until every
  commune's area approaches its fact. A cell outside a trusted box (by more than 10 %) is
  never given to that commune. Each commune is then made contiguous around its centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from phusong.twin._geo_grid import Extents
from phusong.twin._geo_noise import fbm

__all__ = ["Grid", "make_grid", "make_warp", "province_mask", "partition"]

#: Cells farther than this normalised distance from a centroid are never candidates.
RHO_MAX = 2.4
#: Trusted boxes are hard limits, with this slack (box norm).
BOX_SLACK = 1.1
#: Warp amplitude as a fraction of the local commune size sqrt(area), and its feature size.
WARP_FRACTION = 0.12
WARP_SCALE_M = 4_000.0
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
    cells, owners, rhos = [], [], []
    for i in range(len(ext)):
        c0, c1 = ext.x_m[i] - rho_max * ext.left_m[i], ext.x_m[i] + rho_max * ext.right_m[i]
        r0, r1 = ext.y_m[i] + rho_max * ext.up_m[i], ext.y_m[i] - rho_max * ext.down_m[i]
        j0 = max(int((c0 - grid.x0_m) // grid.res_m), 0)
        j1 = min(int((c1 - grid.x0_m) // grid.res_m) + 1, grid.nx)
        i0 = max(int((grid.y0_m - r0) // grid.res_m), 0)
        i1 = min(int((grid.y0_m - r1) // grid.res_m) + 1, grid.ny)
        if j1 <= j0 or i1 <= i0:
            continue
        wx = xs[None, j0:j1] + warp[0][i0:i1, j0:j1] - ext.x_m[i]
        wy = ys[i0:i1, None] + warp[1][i0:i1, j0:j1] - ext.y_m[i]
        u = wx / np.where(wx > 0, ext.right_m[i], ext.left_m[i])
        v = wy / np.where(wy > 0, ext.up_m[i], ext.down_m[i])
        rho = np.hypot(u, v)
        keep = rho <= rho_max
        if ext.trusted[i]:
            # The box is a fact: the true (unwarped) cell centre must lie inside it.
            bu = (xs[None, j0:j1] - ext.x_m[i]) / np.where(
                xs[None, j0:j1] > ext.x_m[i], ext.right_m[i], ext.left_m[i])
            bv = (ys[i0:i1, None] - ext.y_m[i]) / np.where(
                ys[i0:i1, None] > ext.y_m[i], ext.up_m[i], ext.down_m[i])
            keep &= np.maximum(np.abs(bu), np.abs(bv)) <= BOX_SLACK
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

    def mask_for(r: float) -> np.ndarray:
        m = ndimage.gaussian_filter((fmin <= r).astype(np.float32), sigma) >= 0.5
        m[rows, cols] = True
        m = ndimage.binary_fill_holes(m)
        lab, n = ndimage.label(m)
        if n > 1:
            # Keep the component holding most centroids; reach the others along straight links.
            keep = np.bincount(lab[rows, cols], minlength=n + 1)
            keep[0] = 0
            m = lab == int(np.argmax(keep))
        return m

    lo, hi = 0.3, RHO_MAX
    for _ in range(22):
        mid = 0.5 * (lo + hi)
        if mask_for(mid).sum() < target:
            lo = mid
        else:
            hi = mid
    return mask_for(0.5 * (lo + hi))


def partition(ext: Extents, grid: Grid, warp, mask: np.ndarray, *, iterations: int = 40,
              weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Label every mask cell with a commune index (−1 outside); returns (labels, weights)."""
    n = len(ext)
    cell, owner, rho = _pairs(ext, grid, warp, mask, RHO_MAX)
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(cell)]))
    ucell = cell[starts]
    s = np.ones(n) if weights is None else weights.copy()
    target = ext.area_m2 / grid.res_m**2
    rows, cols = grid.index(ext.x_m, ext.y_m)
    flat = mask.ravel()
    for it in range(iterations + 1):
        cost = rho / s[owner].astype(np.float32)
        gmin = np.minimum.reduceat(cost, starts)
        win = np.flatnonzero(cost <= gmin[group])
        first = win[np.r_[True, group[win][1:] != group[win][:-1]]]
        lab = np.full(grid.ny * grid.nx, -1, dtype=np.int32)
        lab[ucell] = owner[first]
        lab = _fill_unassigned(lab.reshape(grid.shape), mask)
        lab[rows, cols] = np.arange(n)
        if it == iterations:
            break
        area = np.bincount(lab.ravel()[flat], minlength=n).astype(float)
        ratio = np.where(area > 0, target / np.maximum(area, 1.0), 4.0)
        s = np.clip(s * np.clip(ratio, 0.25, 4.0) ** 0.35, 0.05, 20.0)
    lab = _contiguous(lab, mask, rows, cols)
    return lab, s


def _fill_unassigned(lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Give mask cells without a label the label of the nearest labelled cell."""
    hole = mask & (lab < 0)
    if hole.any():
        _, (ri, ci) = ndimage.distance_transform_edt(lab < 0, return_indices=True)
        lab = np.where(hole, lab[ri, ci], lab)
    lab[~mask] = -1
    return lab


def _contiguous(lab: np.ndarray, mask: np.ndarray, rows, cols) -> np.ndarray:
    """Keep each commune's component that holds its centroid; refill the rest from neighbours."""
    n = len(rows)
    for _ in range(6):
        # A 3×3 block around each centroid stays with its commune.
        for i in range(n):
            lab[max(rows[i] - 1, 0) : rows[i] + 2, max(cols[i] - 1, 0) : cols[i] + 2] = np.where(
                mask[max(rows[i] - 1, 0) : rows[i] + 2, max(cols[i] - 1, 0) : cols[i] + 2], i,
                lab[max(rows[i] - 1, 0) : rows[i] + 2, max(cols[i] - 1, 0) : cols[i] + 2])
        changed = False
        boxes = ndimage.find_objects(lab + 1)
        for i, box in enumerate(boxes):
            if box is None:
                continue
            comp, k = ndimage.label(lab[box] == i)
            if k <= 1:
                continue
            own = comp[rows[i] - box[0].start, cols[i] - box[1].start]
            orphan = (comp > 0) & (comp != own)
            lab[box][orphan] = -2
            changed = True
        if not changed:
            break
        lab = np.where(lab == -2, -1, lab)
        lab = _fill_unassigned(lab, mask)
    return lab
