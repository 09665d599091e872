"""Least-cost routing on a coarsened DEM grid (private helper of the twin's roads).

The DEM (any resolution, WORK_CRS) is block-averaged to cells of about ``target_res_m``; every
cell is a node joined to its 8 neighbours. Moving between two cells costs

    d × (1 + (slope / slope_ref)²) × (1 + z_mean / z_ref) × noise × outside

with ``d`` the step length (m), ``slope`` the rise over run, ``z_mean`` the mean height of the two
cells above the grid minimum, ``noise`` a seeded smooth field in [0.9, 1.1] (so two seeds give
two different but equally plausible networks) and ``outside`` = 4 off the province. Steep and
high ground is expensive, so least-cost paths follow valleys, as mountain roads do. Paths come
from scipy's sparse-graph Dijkstra (a 100 × 100 km province at 270 m is ~140,000 nodes, a
fraction of a second per search).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from rasterio.features import geometry_mask
from scipy import ndimage, sparse
from scipy.sparse.csgraph import dijkstra

from phusong.bundle import Raster
from phusong.errors import DataError

__all__ = ["CostGrid", "build_cost_grid", "search", "trace_path", "chains", "simplify_xy"]

SLOPE_REF = 0.12  # rise/run at which the slope term doubles the cost
Z_REF_M = 900.0  # height above the lowest cell at which the elevation term doubles the cost
OUTSIDE_FACTOR = 4.0


@dataclass
class CostGrid:
    """A routing grid.

    Attributes
    ----------
    z : ndarray
        Coarse heights (rows × cols), m; NaN where the DEM has no data.
    x0_m, y0_m : float
        Top-left corner in WORK_CRS, m.
    res_m : float
        Cell size, m.
    graph : scipy.sparse.csr_matrix
        Symmetric edge costs between cell ids ``row * cols + col``.
    """

    z: np.ndarray
    x0_m: float
    y0_m: float
    res_m: float
    graph: sparse.csr_matrix

    @property
    def cols(self) -> int:
        """Number of columns."""
        return self.z.shape[1]

    def xy(self, cell) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates of cell ids, m."""
        cell = np.asarray(cell)
        r, c = np.divmod(cell, self.cols)
        return self.x0_m + (c + 0.5) * self.res_m, self.y0_m - (r + 0.5) * self.res_m

    def cell_of(self, x_m, y_m) -> np.ndarray:
        """Id of the nearest valid cell to each point (points off the grid snap inwards)."""
        rows, cols = self.z.shape
        c = np.clip(((np.asarray(x_m) - self.x0_m) / self.res_m).astype(int), 0, cols - 1)
        r = np.clip(((self.y0_m - np.asarray(y_m)) / self.res_m).astype(int), 0, rows - 1)
        ids = r * cols + c
        bad = ~np.isfinite(self.z.ravel()[ids])
        if bad.any():
            valid = np.flatnonzero(np.isfinite(self.z.ravel()))
            vx, vy = self.xy(valid)
            from scipy.spatial import cKDTree

            _, k = cKDTree(np.c_[vx, vy]).query(np.c_[np.asarray(x_m)[bad], np.asarray(y_m)[bad]])
            ids[bad] = valid[k]
        return ids


def build_cost_grid(dem: Raster, *, inside=None, seed: int = 0,
                    target_res_m: float = 270.0) -> CostGrid:
    """Coarsen ``dem`` and build the 8-neighbour cost graph.

    Parameters
    ----------
    dem : Raster
        North-up elevation in a metric CRS (the twin's DEM is in WORK_CRS), m.
    inside : shapely geometry, optional
        Area where roads run at normal cost (the province); elsewhere costs × 4.
    seed : int
        Seed of the smooth ±10 % cost noise.
    target_res_m : float
        Approximate routing cell size, m.

    Returns
    -------
    CostGrid
    """
    a = dem.transform
    if a.b != 0 or a.d != 0 or a.e >= 0:
        raise DataError("dem: the twin's roads need a north-up raster without rotation")
    px = float(abs(a.a))
    f = max(1, int(round(target_res_m / px)))
    arr = np.asarray(dem.array, dtype=float)
    rows, cols = arr.shape[0] // f, arr.shape[1] // f
    if rows < 2 or cols < 2:
        raise DataError(f"dem: {arr.shape} pixels is too small to route roads on")
    block = arr[: rows * f, : cols * f].reshape(rows, f, cols, f)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(block).sum(axis=(1, 3))
        z = np.where(finite > 0, np.nansum(np.nan_to_num(block), axis=(1, 3)) / np.maximum(finite, 1),
                     np.nan)
    res = px * f
    x0, y0 = float(a.c), float(a.f)
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal((rows, cols)), 4.0)
    noise = 1.0 + 0.1 * noise / max(float(np.abs(noise).max()), 1e-9)
    zmin = float(np.nanmin(z))
    out = np.ones((rows, cols))
    if inside is not None:
        from affine import Affine

        tr = Affine(res, 0, x0, 0, -res, y0)
        outside_mask = geometry_mask([inside], out_shape=(rows, cols), transform=tr)
        out[outside_mask] = OUTSIDE_FACTOR
    cellw = noise * out
    ids = np.arange(rows * cols).reshape(rows, cols)
    src, dst, w = [], [], []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        r0, r1 = 0, rows - dr
        c0, c1 = max(0, -dc), cols - max(0, dc)
        za = z[r0:r1, c0:c1]
        zb = z[r0 + dr : r1 + dr, c0 + dc : c1 + dc]
        d = res * np.hypot(dr, dc)
        with np.errstate(invalid="ignore"):
            slope = np.abs(zb - za) / d
            zm = 0.5 * (za + zb) - zmin
            cost = d * (1 + (slope / SLOPE_REF) ** 2) * (1 + zm / Z_REF_M)
            cost = cost * 0.5 * (cellw[r0:r1, c0:c1] + cellw[r0 + dr : r1 + dr, c0 + dc : c1 + dc])
        ok = np.isfinite(cost)
        src.append(ids[r0:r1, c0:c1][ok])
        dst.append(ids[r0 + dr : r1 + dr, c0 + dc : c1 + dc][ok])
        w.append(cost[ok])
    s, t, c = np.concatenate(src), np.concatenate(dst), np.concatenate(w)
    n = rows * cols
    g = sparse.coo_matrix((np.r_[c, c], (np.r_[s, t], np.r_[t, s])), shape=(n, n)).tocsr()
    return CostGrid(z, x0, y0, res, g)


def search(grid: CostGrid, sources) -> tuple[np.ndarray, np.ndarray]:
    """Multi-source Dijkstra: (cost to the nearest source, predecessor) per cell."""
    sources = np.unique(np.asarray(sources, dtype=np.int64))
    dist, pred, _ = dijkstra(grid.graph, directed=True, indices=sources,
                             return_predecessors=True, min_only=True)
    return dist, pred


def trace_path(pred: np.ndarray, target: int) -> list[int]:
    """Cells from ``target`` back to its source along ``pred`` (``target`` first)."""
    path = [int(target)]
    seen = 0
    while pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
        seen += 1
        if seen > pred.size:  # pragma: no cover - a predecessor cycle would be a scipy bug
            raise RuntimeError("predecessor cycle")
    return path


def chains(edges: dict[tuple[int, int], int], forced: set[int]) -> list[tuple[list[int], int]]:
    """Split a set of grid edges into maximal chains of one class between junctions.

    Parameters
    ----------
    edges : dict
        ``(a, b)`` with ``a < b`` → class rank.
    forced : set of int
        Cells that must end a chain (stub attachment points, hubs).

    Returns
    -------
    list of (cells, rank)
        Deterministic order (sorted by first edge).
    """
    adj: dict[int, list[int]] = {}
    for a, b in sorted(edges):
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)

    def rank(a, b):
        return edges[(a, b) if a < b else (b, a)]

    stops = set(forced)
    for n, nb in adj.items():
        if len(nb) != 2 or rank(n, nb[0]) != rank(n, nb[1]):
            stops.add(n)
    used: set[tuple[int, int]] = set()
    out: list[tuple[list[int], int]] = []
    for start in sorted(adj):
        if start not in stops:
            continue
        for nxt in adj[start]:
            key = (min(start, nxt), max(start, nxt))
            if key in used:
                continue
            cells, prev, cur = [start], start, nxt
            used.add(key)
            while True:
                cells.append(cur)
                if cur in stops:
                    break
                a, b = adj[cur]
                step = b if a == prev else a
                k2 = (min(cur, step), max(cur, step))
                if k2 in used:
                    break
                used.add(k2)
                prev, cur = cur, step
            out.append((cells, rank(start, nxt)))
    for a, b in sorted(edges):  # closed loops without any stop
        if (a, b) not in used:
            cells, prev, cur = [a], a, b
            used.add((a, b))
            while cur != a:
                cells.append(cur)
                x, y = adj[cur]
                step = y if x == prev else x
                used.add((min(cur, step), max(cur, step)))
                prev, cur = cur, step
            cells.append(a)
            out.append((cells, edges[(a, b)]))
    return out


def simplify_xy(x: np.ndarray, y: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Douglas–Peucker simplification of a polyline, end points kept; (n, 2) array."""
    line = shapely.LineString(np.c_[x, y])
    return shapely.get_coordinates(shapely.simplify(line, tolerance_m, preserve_topology=False))
