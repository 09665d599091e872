"""Drainage network of a coarse elevation grid, and valleys carved along it (private).

Routing: the minimum spanning tree of the grid graph (8 neighbours) whose edge weight is the
higher end's elevation, plus a virtual outlet joined to every border cell. The tree path from a
cell to the outlet is its minimax path — the route water takes once depressions have filled and
spilt over their lowest saddle — so no pit filling is needed. A small term in the lower end's
elevation makes each cell drain to its lowest neighbour (steepest descent) where it can.

Carving: channel centre lines (cells draining more than a threshold area, joined to their
receivers) are drawn on the fine grid with a smooth meander warp; the terrain is then lowered
to a valley surface ``floor + tan(side) × max(distance − half_floor_width, 0)``, with floors
from the filled elevation (never rising downstream) and wider, flatter floors on larger rivers.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

__all__ = ["route", "floors", "carve"]


def route(h: np.ndarray, rng: np.random.Generator):
    """Flow routing on grid ``h`` (m).

    Returns
    -------
    receiver : ndarray
        int64 flat index of the cell each cell drains to (−1: drains off the grid).
    acc : ndarray
        Cells draining through each cell (itself included), float64.
    order : ndarray
        Flat indices from the outlet upstream (each cell after its receiver).
    """
    ny, nx = h.shape
    n = ny * nx
    idx = np.arange(n).reshape(ny, nx)
    hf = h.ravel().astype(np.float64)
    src, dst = [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = idx[: ny - dy, max(-dx, 0) : nx - max(dx, 0)]
        b = idx[dy:, max(dx, 0) : nx - max(-dx, 0)]
        src.append(a.ravel())
        dst.append(b.ravel())
    u = np.concatenate(src)
    v = np.concatenate(dst)
    hi = np.maximum(hf[u], hf[v])
    lo = np.minimum(hf[u], hf[v])
    diag = np.concatenate([np.zeros(s.size) if k < 2 else np.ones(s.size)
                           for k, s in enumerate(src)])
    # Steepest descent among lower neighbours: prefer the lowest, diagonals by distance.
    weight = hi + 0.01 * lo + 0.001 * diag + rng.uniform(0.0, 1e-4, size=u.size)
    border = np.r_[idx[0, :], idx[-1, :], idx[1:-1, 0], idx[1:-1, -1]]
    u = np.r_[u, border]
    v = np.r_[v, np.full(border.size, n)]
    weight = np.r_[weight, hf[border] + 1e-3]
    weight = weight - weight.min() + 1.0  # csgraph: zero means "no edge"
    graph = coo_matrix((weight, (u, v)), shape=(n + 1, n + 1)).tocsr()
    tree = minimum_spanning_tree(graph)
    order, pred = breadth_first_order(tree, n, directed=False, return_predecessors=True)
    pred = pred[:n].astype(np.int64)
    pred[pred == n] = -1
    order = order[order != n].astype(np.int64)
    acc = np.ones(n)
    pl, al = pred.tolist(), acc.tolist()
    for c in order[::-1].tolist():  # upstream first: pass each cell's area to its receiver
        r = pl[c]
        if r >= 0:
            al[r] += al[c]
    return pred, np.asarray(al), order


def floors(h: np.ndarray, receiver: np.ndarray, order: np.ndarray, incision: np.ndarray,
           cell_m: float, *, min_gradient: float = 0.002) -> np.ndarray:
    """River-bed elevation per coarse cell, m, never rising downstream.

    The bed is the cell's elevation lowered by ``incision`` (m), but at least its receiver's
    bed plus ``min_gradient`` × the step: depressions fill with a gentle slope, not a lake.
    """
    ny, nx = h.shape
    target = (h.ravel() - incision.ravel()).tolist()
    bed = list(target)
    rl = receiver.tolist()
    for c in order.tolist():  # downstream first
        r = rl[c]
        if r >= 0:
            step = cell_m * (1.0 if abs(c - r) in (1, nx) else 1.4142)
            low = bed[r] + min_gradient * step
            if bed[c] < low:
                bed[c] = low
    return np.asarray(bed).reshape(ny, nx)


def carve(z: np.ndarray, *, block: int, receiver: np.ndarray, acc: np.ndarray, bed: np.ndarray,
          res_m: float, min_area_m2: float, side_tan: np.ndarray, warp: tuple) -> np.ndarray:
    """Lower fine terrain ``z`` (m) to valleys along the coarse network.

    Parameters
    ----------
    z : ndarray
        Fine terrain, m (modified copy returned).
    block : int
        Fine pixels per coarse cell side.
    receiver, acc
        From :func:`route` on the coarse grid.
    bed : ndarray
        River-bed elevation per coarse cell, m (:func:`floors`).
    res_m : float
        Fine pixel size, m.
    min_area_m2 : float
        Drainage area where a channel starts, m².
    side_tan : ndarray
        Valley side slope (tan) per fine pixel.
    warp : (ndarray, ndarray)
        Meander displacement (dx, dy) per fine pixel, m.

    Returns
    -------
    ndarray
        Carved terrain, m.
    """
    ny, nx = z.shape
    cny, cnx = bed.shape
    cell_area = (block * res_m) ** 2
    area = acc * cell_area
    chan = np.flatnonzero((area >= min_area_m2) & (receiver >= 0))
    if chan.size == 0:
        return z
    # Channel strength 0..1 on a log scale from the threshold to the largest river.
    strength = np.log(area[chan] / min_area_m2) / max(np.log(area.max() / min_area_m2), 1e-9)
    r0, c0 = np.divmod(chan, cnx)
    r1, c1 = np.divmod(receiver[chan], cnx)
    steps = 2 * block
    t = (np.arange(steps) + 0.5) / steps
    py = ((r0[:, None] + (r1 - r0)[:, None] * t) + 0.5) * block
    px = ((c0[:, None] + (c1 - c0)[:, None] * t) + 0.5) * block
    b = bed.ravel()
    floor = b[chan][:, None] + (b[receiver[chan]] - b[chan])[:, None] * t
    iy = np.clip(py.astype(int), 0, ny - 1)
    ix = np.clip(px.astype(int), 0, nx - 1)
    # Meander: move the centre line by the smooth warp at its position.
    py = py + warp[1][iy, ix] / res_m
    px = px + warp[0][iy, ix] / res_m
    iy = np.clip(np.round(py).astype(int), 0, ny - 1)
    ix = np.clip(np.round(px).astype(int), 0, nx - 1)
    lines = np.zeros((ny, nx), dtype=bool)
    line_floor = np.full((ny, nx), np.inf, dtype=np.float32)
    line_strength = np.zeros((ny, nx), dtype=np.float32)
    s = np.broadcast_to(strength[:, None], py.shape)
    lines[iy, ix] = True
    np.minimum.at(line_floor, (iy.ravel(), ix.ravel()), floor.ravel().astype(np.float32))
    np.maximum.at(line_strength, (iy.ravel(), ix.ravel()), s.ravel().astype(np.float32))
    dist, (ri, ci) = ndimage.distance_transform_edt(~lines, return_indices=True)
    dist_m = dist.astype(np.float32) * np.float32(res_m)
    f = line_floor[ri, ci]
    st = line_strength[ri, ci]
    half_width = 30.0 + 450.0 * st**2  # flat floors: tens of metres to ~1 km on big rivers
    valley = f + side_tan * (1.0 - 0.6 * st) * np.maximum(dist_m - half_width, 0.0)
    return np.minimum(z, valley)
