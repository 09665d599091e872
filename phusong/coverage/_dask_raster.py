"""The raster engine on dask.distributed: site batches × receiver tiles, reduced per tile.

The graph mirrors :func:`phusong.coverage._raster.raster_links` unit for unit:

1. **Site batches.** Usable sites are ordered by the receiver tile holding them (row, column),
   then by index, and cut into batches of about ``total / (4 × worker threads)`` site-cells
   (a site costs the grid cells of its disk, ``π R² / resolution²``), at most
   :data:`UNIT_SITE_CELLS`: spatially compact, a few units per worker thread.
2. **Screening** (when the local run screens): one task per batch runs its sites on the coarse
   grid (:func:`coarse_site`); per batch, one task takes the max of the coarse values of every
   batch whose windows overlap its own into the reference best over its window.
3. **Fine units.** For every tile and every batch with sites reaching it, one task runs those
   sites on the tile (:meth:`Grid.tile`: cell centres from the whole grid's indices, so values
   equal the whole grid's), screened with its batch's coarse values.
4. **Reduce.** A tile's units merge pairwise (max, ties to the lowest cell index: any order,
   any partition gives the same arrays), then one task turns them into the tile's output
   rasters (:func:`tile_outputs`), which the client writes as they arrive.

The prepared DEM and the transmitters reach the workers once (:meth:`DaskExecutor.scatter`).
A fine unit holds one tile's accumulators (2 × ``n_groups × side² × 12`` bytes in a merge);
the coarse pass is not bounded that way yet: a batch's result keeps every site's coarse window
(values and reference part) and a reference-best task gathers the results of every batch
overlapping its own (measured: 2.4–2.9 GiB per worker on a district of the twin at 30 m,
``benchmarks/bench_dask.py``). The client holds the grid's mask (1 byte per cell) and the
coarse grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine

from phusong.coverage._raster import (
    _ITM_INPUT_BITS,
    _SERIAL,
    Grid,
    _Acc,
    _Screen,
    _site_unit,
    _window,
    coarse_grid,
    coarse_site,
)
from phusong.coverage._tiles import tile_outputs, tile_windows

__all__ = ["UNIT_SITE_CELLS", "site_batches", "dask_raster_tiles"]

#: Upper bound of one batch's work, site-cells (grid cells within the sites' radii).
UNIT_SITE_CELLS = 20_000_000


@dataclass(frozen=True)
class _Ctx:
    """What every unit reads besides the DEM and the transmitters (small)."""

    transform: Affine
    opts: object
    step: float
    group: np.ndarray
    n_groups: int
    coarse: Grid | None
    keys: np.ndarray | None = None  # co-channel key per cell (SINR), None: no SINR
    n_keys: int = 0


class _Shifted:
    """A window of the coarse reference best, indexed with coarse-grid rows and columns."""

    def __init__(self, arr: np.ndarray, r0: int, c0: int):
        self.arr, self.r0, self.c0 = arr, r0, c0

    def __getitem__(self, key):
        g, rs, cs = key
        return self.arr[g, rs.start - self.r0: rs.stop - self.r0,
                        cs.start - self.c0: cs.stop - self.c0]


def site_batches(txs, sites: np.ndarray, grid: Grid, side: int, slots: int) -> list[np.ndarray]:
    """Batches of sites (module docstring, rule 1), each sorted by site index."""
    if len(sites) == 0:
        return []
    t, res = grid.transform, grid.resolution_m
    tr = np.floor((t.f - txs.site_y[sites]) / (side * res))
    tc = np.floor((txs.site_x[sites] - t.c) / (side * res))
    order = sites[np.lexsort((sites, tc, tr))]
    cost = math.pi * (txs.site_radius_m[order] / res) ** 2
    target = min(max(cost.sum() / (4 * max(1, slots)), 1.0), UNIT_SITE_CELLS)
    batches, start, acc = [], 0, 0.0
    for i, c in enumerate(cost):
        acc += c
        if acc >= target:
            batches.append(np.sort(order[start:i + 1]))
            start, acc = i + 1, 0.0
    if start < len(order):
        batches.append(np.sort(order[start:]))
    return batches


# -- tasks (pure; run on the workers) ---------------------------------------------------------

def _coarse_batch(ctx: _Ctx, terrain, txs, sites) -> dict:
    values, inner, points = {}, {}, 0
    for s in sites:
        res, v, inn = coarse_site(int(s), txs, terrain, ctx.coarse, ctx.opts, ctx.step,
                                  ctx.group, _SERIAL)
        points += res[1]
        if v is not None:
            values[int(s)], inner[int(s)] = v, inn
    return {"values": values, "inner": inner, "points": points}


def _coarse_best(n_groups: int, region, *parts) -> _Shifted:
    r0, r1, c0, c1 = region
    best = np.full((n_groups, r1 - r0, c1 - c0), -np.inf, np.float32)
    for p in parts:
        for s, (vr0, vc0, gs, v) in p["values"].items():
            inn = p["inner"][s]
            a0, a1 = max(r0, vr0), min(r1, vr0 + v.shape[1])
            b0, b1 = max(c0, vc0), min(c1, vc0 + v.shape[2])
            if a1 <= a0 or b1 <= b0:
                continue
            for i, g in enumerate(gs):
                w = best[g, a0 - r0:a1 - r0, b0 - c0:b1 - c0]
                np.maximum(w, inn[i, a0 - vr0:a1 - vr0, b0 - vc0:b1 - vc0], out=w)
    return _Shifted(best, r0, c0)


def _fine_unit(ctx: _Ctx, terrain, txs, window, mask, sites, coarse_part, cbest) -> _Acc:
    r0, r1, c0, c1 = window
    tile = Grid(ctx.transform, (r1 - r0, c1 - c0), mask, (r0, c0))
    keep_fn = None
    if coarse_part is not None:
        vals = {int(s): coarse_part["values"][int(s)] for s in sites
                if int(s) in coarse_part["values"]}
        keep_fn = _Screen.from_parts(ctx.opts, ctx.group, vals, cbest).keep
    acc = _new_acc(ctx, tile.shape[0] * tile.shape[1])
    for s in sites:
        acc.add(_site_unit(int(s), (txs, terrain, tile, ctx.opts, ctx.step), acc.best, acc.arg,
                           ctx.group, keep_fn, _SERIAL, acc.sinr, acc.void))
    return acc


def _new_acc(ctx: _Ctx, n_cells: int) -> _Acc:
    """An empty accumulator over ``n_cells`` (with the SINR sums when ``ctx`` asks for them)."""
    return _Acc(ctx.n_groups, n_cells, ctx.keys, ctx.n_keys)


def _merge(a: _Acc, b: _Acc) -> _Acc:
    a.merge(b)
    return a


def _finish(ctx: _Ctx, window, mask, acc, kw) -> dict:
    r0, r1, c0, c1 = window
    h, w = r1 - r0, c1 - c0
    if acc is None:
        acc = _new_acc(ctx, h * w)
    sinr = None
    if acc.sinr[0].shape[0] > 0:
        sinr = (acc.sinr[0].reshape(-1, h, w), acc.sinr[2].reshape(ctx.n_groups, h, w))
    out = tile_outputs(acc.best.reshape(ctx.n_groups, h, w), acc.arg.reshape(ctx.n_groups, h, w),
                       mask, opts=ctx.opts, sinr=sinr, void=acc.void.reshape(h, w), **kw)
    out["_stats"] = (acc.ray_points, acc.points, acc.links, acc.bits, int(acc.void.sum()))
    return out


# -- the graph (client side) ------------------------------------------------------------------

def _union(wins):
    wins = [w for w in wins if w[1] > w[0] and w[3] > w[2]]
    if not wins:
        return None
    return (min(w[0] for w in wins), max(w[1] for w in wins), min(w[2] for w in wins),
            max(w[3] for w in wins))


def _tree(ex, parts, every: list):
    while len(parts) > 1:
        nxt = [ex.submit(_merge, parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        every += nxt
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0] if parts else None


def _windows(grid: Grid, txs, sites) -> np.ndarray:
    """(n, 4) windows ``r0, r1, c0, c1`` of ``sites`` on ``grid`` (empty: r1 ≤ r0)."""
    return np.array([_window(grid, float(txs.site_x[s]), float(txs.site_y[s]),
                             float(txs.site_radius_m[s])) for s in sites],
                    np.int64).reshape(-1, 4)


def _overlaps(wins: np.ndarray, win) -> np.ndarray:
    """Which non-empty windows of ``wins`` overlap ``win``."""
    r0, r1, c0, c1 = win
    return ((wins[:, 1] > wins[:, 0]) & (wins[:, 3] > wins[:, 2]) & (wins[:, 0] < r1)
            & (r0 < wins[:, 1]) & (wins[:, 2] < c1) & (c0 < wins[:, 3]))


def _coarse_tasks(ex, ctx_f, terrain_f, txs_f, txs, coarse, batches, n_groups):
    """Coarse units and per-batch reference bests (futures; None where a batch has none)."""
    regions = [_union(_windows(coarse, txs, b).tolist()) for b in batches]
    parts = [ex.submit(_coarse_batch, ctx_f, terrain_f, txs_f, b) for b in batches]
    has = np.array([r is not None for r in regions])
    boxes = np.array([r if r is not None else (0, 0, 0, 0) for r in regions],
                     np.int64).reshape(-1, 4)
    bests = []
    for reg in regions:
        if reg is None:
            bests.append(None)
            continue
        deps = [parts[i] for i in np.flatnonzero(has & _overlaps(boxes, reg))]
        bests.append(ex.submit(_coarse_best, n_groups, reg, *deps))
    return parts, bests


def dask_raster_tiles(ex, txs, cell_group, n_groups: int, terrain, grid: Grid, opts,
                      side: int, stats: dict, *, n_keys: int = 0, **kw):
    """Yield ``(window, tile_outputs)`` of every tile of ``grid``, computed on ``ex``.

    Same values as :func:`raster_links` + :func:`tile_outputs` on the whole grid (module
    docstring). ``stats`` is filled as :func:`raster_links` fills its own, plus ``tiles``,
    ``tile_side``, ``batches``, ``tasks`` and ``unit_accumulator_mib`` (one unit's best/serving
    arrays over a tile: a merge holds two), once the last tile is yielded.
    """
    step = float(opts.step_m or min(grid.resolution_m, terrain.step_m))
    sites = np.flatnonzero(np.bincount(txs.cell_site[txs.usable], minlength=len(txs.site_x)))
    group = np.ascontiguousarray(cell_group, np.int64)
    batches = site_batches(txs, sites, grid, side, ex.slots())
    screen = bool(opts.screen_margin_db) and len(sites) > 1
    coarse = coarse_grid(grid, opts) if screen else None
    keys = kw.get("keys")
    keys = None if keys is None or n_keys <= 0 else np.ascontiguousarray(keys, np.int64)
    ctx_f = ex.scatter(_Ctx(grid.transform, opts, step, group, n_groups, coarse, keys,
                            int(n_keys) if keys is not None else 0))
    terrain_f = ex.scatter(terrain)
    txs_f = ex.scatter(txs)
    if screen:
        cparts, cbests = _coarse_tasks(ex, ctx_f, terrain_f, txs_f, txs, coarse, batches,
                                       n_groups)
    else:
        cparts = cbests = [None] * len(batches)
    fine_wins = [_windows(grid, txs, b) for b in batches]
    tiles = tile_windows(grid.shape, side)
    finals, every = [], [p for p in list(cparts) + list(cbests) if p is not None]
    for win in tiles:
        r0, r1, c0, c1 = win
        mask = np.ascontiguousarray(grid.mask[r0:r1, c0:c1])
        units = []
        if mask.any():
            for b, bw, cp, cb in zip(batches, fine_wins, cparts, cbests, strict=True):
                reach = b[_overlaps(bw, win)]
                if len(reach):
                    units.append(ex.submit(_fine_unit, ctx_f, terrain_f, txs_f, win, mask,
                                           reach.astype(np.int64), cp, cb))
        every += units
        finals.append(ex.submit(_finish, ctx_f, win, mask, _tree(ex, units, every), kw))
    pts = ray = links = bits = void = 0
    for i, out in ex.results(finals, "coverage raster (tasks)", watch=every):
        r, p, n, w, v = out.pop("_stats")
        ray, pts, links, bits, void = ray + r, pts + p, links + n, bits | w, void + v
        yield tiles[i], out
    stats |= {"sites": int(len(sites)), "ray_points": ray, "points_evaluated": pts,
              "links": links, "cells_void_flagged": void,
              "grid_cells": int(grid.mask.sum()), "tiles": len(tiles),
              "tile_side": int(side), "batches": len(batches), "tasks": ex.tasks,
              "unit_accumulator_mib": round(n_groups * side * side * 12 / 2**20, 1),
              "itm_bits": bits & _ITM_INPUT_BITS}
    if screen:
        stats |= {"screen_factor": int(opts.screen_factor),
                  "screen_margin_db": float(opts.screen_margin_db)}
