"""The raster engine on dask.distributed: site batches × receiver tiles, reduced per tile.

The graph mirrors :func:`phusong.coverage._raster.raster_links` unit for unit:

1. **Site batches.** Usable sites are ordered by the receiver tile holding them (row, column),
   then by index, and cut into batches of about ``total / (4 × worker threads)`` site-cells
   (a site costs the grid cells of its disk, ``π R² / resolution²``), at most
   :data:`UNIT_SITE_CELLS`: spatially compact, a few units per worker thread.
2. **The grid mask per tile.** The grid is cut into receiver tiles (:func:`tile_windows`); a
   tile whose box misses the area or the DEM, or that no site reaches, is not scheduled: the
   client finishes it (nodata) itself, with its mask. A scheduled tile's masks (the area's
   cells, those on the DEM) and its footprint's coarse mask are tasks of their own
   (:class:`AreaGrid`: rasterised per 256-cell block, so equal to the local run's whole-grid
   mask bit for bit).
3. **Screening** (when the local run screens), per tile: for every batch with sites near the
   tile, one task runs them on the tile's coarse footprint (its coarse cells and a halo of the
   screening filters' reach, :func:`footprint`, :func:`coarse_site`); their reference-best
   parts fold, one task after the other, into the tile's reference best, and their coarse
   values (:func:`_values_part`, without the best) wait for their fine unit.
4. **Fine units, in chains.** For every batch with sites reaching the tile, one task runs
   those sites on the tile (:meth:`Grid.tile`: cell centres from the whole grid's indices, so
   values equal the whole grid's), screened with the batch's coarse values. Each unit adds its
   sites to a copy of the previous unit's accumulator: a tile's units form
   ``⌈2 × worker threads / tiles scheduled⌉`` chains, so a worker holds one fold per chain it
   runs rather than every finished unit (no task changes its inputs: a re-run after a lost
   worker gives the same bytes).
5. **Reduce.** A tile's chains merge (max, ties to the lowest cell index: any order, any
   partition gives the same arrays), then one task turns them into the tile's output rasters
   (:func:`tile_outputs`), which the client writes as they arrive.

Priorities run a tile's work before the next tile's. The DEM reaches the workers by path
(a shared folder; or scattered once with ``--scheduler`` and no ``--shared-dir``,
:mod:`._dask_exec`), the transmitters scattered once. Peak memory per worker follows
:func:`memory_rule` (bounded by the tile and the batch, not by the grid or the number of
sites), measured by ``benchmarks/profile_dask_memory.py``. **No process holds the whole grid**:
the client keeps a few numbers per tile and the one tile it is writing; the output rasters,
``unknown.tif`` included, are written tile by tile (:func:`write_coverage_rasters`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine

from phusong.coverage._dask_exec import resolve_terrain
from phusong.coverage._grid_mask import AreaGrid, coarse_frame, coarse_mask_window
from phusong.coverage._raster import (
    _ITM_INPUT_BITS,
    _SERIAL,
    Grid,
    _Acc,
    _Screen,
    _site_unit,
    _window,
    coarse_site,
)
from phusong.coverage._tiles import tile_outputs

__all__ = ["UNIT_SITE_CELLS", "WORKER_BASE_MIB", "SITE_CELL_BYTES", "SCREEN_TILES", "site_batches",
           "footprint", "coarse_part_bytes", "memory_rule", "dask_raster_tiles"]

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
    coarse_transform: Affine | None  # the screening's coarse grid (None: no screening)
    coarse_shape: tuple[int, int] | None
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

def _coarse_tile(ctx: _Ctx, terrain, txs, fh, cmask, sites, wanted) -> dict:
    """The screening's coarse pass of a batch on one tile's coarse footprint ``fh``.

    Runs every site of ``sites`` (those whose coarse window meets ``fh``) on its part of
    ``fh`` (mask ``cmask``), folds the reference-best contributions into an
    ``(n_groups, fh rows, fh cols)`` array, and keeps the values of the sites flagged in
    ``wanted`` (those the tile's fine unit runs).
    """
    terrain = resolve_terrain(terrain)
    r0, r1, c0, c1 = fh
    tile = Grid(ctx.coarse_transform, (r1 - r0, c1 - c0), cmask, (r0, c0))
    best = np.full((ctx.n_groups, r1 - r0, c1 - c0), -np.inf, np.float32)
    values, points = {}, 0
    for s, want in zip(sites, wanted, strict=True):
        res, val, inner = coarse_site(int(s), txs, terrain, tile, ctx.opts, ctx.step, ctx.group,
                                      _SERIAL, shape_all=ctx.coarse_shape)
        points += res[1]
        if val is None:
            continue
        a0, b0, gs, v, _ = val
        for i, g in enumerate(gs):
            w = best[g, a0 - r0:a0 - r0 + v.shape[1], b0 - c0:b0 - c0 + v.shape[2]]
            np.maximum(w, inner[i], out=w)
        if want:
            values[int(s)] = val
    return {"values": values, "best": best, "points": points}


def _tile_masks(area: AreaGrid, window) -> tuple[np.ndarray, np.ndarray]:
    """The tile's ``(area, evaluated)`` masks (:meth:`AreaGrid.masks`), on a worker."""
    return area.masks(window)


def _coarse_masks(area: AreaGrid, factor: int, window: int, fh) -> np.ndarray:
    """The coarse mask of a tile's footprint (:func:`coarse_mask_window`), on a worker."""
    return coarse_mask_window(area, factor, window, fh)


def _best_part(part: dict) -> np.ndarray:
    return part["best"]


def _values_part(part: dict) -> dict:
    """The coarse values of a part, without its reference best: the fine unit holds these
    until it runs, while the best is folded into the tile's and released at once."""
    return part["values"]


def _max_into(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(a, b)  # a new array: a task never changes its inputs (re-runs stay exact)


def _fine_unit(ctx: _Ctx, terrain, txs, window, masks, sites, coarse_values, fh, cbest,
               prev: _Acc | None = None) -> _Acc:
    """A batch's sites on one tile (``masks``: :func:`_tile_masks`; ``coarse_values``: the
    batch's :func:`_values_part`, None without screening), added to a copy of ``prev`` (the
    chain's fold so far) or to a new accumulator: a chain of units holds one accumulator,
    whatever its length."""
    terrain = resolve_terrain(terrain)
    mask = masks[1]
    r0, r1, c0, c1 = window
    tile = Grid(ctx.transform, (r1 - r0, c1 - c0), mask, (r0, c0))
    keep_fn = None
    if coarse_values is not None:
        keep_fn = _Screen.from_parts(ctx.opts, ctx.group, coarse_values,
                                     _Shifted(cbest, fh[0], fh[2])).keep
    acc = _new_acc(ctx, tile.shape[0] * tile.shape[1]) if prev is None else _copy(prev)
    for s in sites:
        acc.add(_site_unit(int(s), (txs, terrain, tile, ctx.opts, ctx.step), acc.best, acc.arg,
                           ctx.group, keep_fn, _SERIAL, acc.sinr, acc.void))
    return acc


def _copy(acc: _Acc) -> _Acc:
    out = _Acc.__new__(_Acc)
    out.__dict__.update(acc.__dict__)
    out.best, out.arg, out.void = acc.best.copy(), acc.arg.copy(), acc.void.copy()
    if acc.sinr[0].shape[0] > 0:
        out.sinr = (acc.sinr[0].copy(), acc.sinr[1], acc.sinr[2].copy())
    return out


def _new_acc(ctx: _Ctx, n_cells: int) -> _Acc:
    """An empty accumulator over ``n_cells`` (with the SINR sums when ``ctx`` asks for them)."""
    return _Acc(ctx.n_groups, n_cells, ctx.keys, ctx.n_keys)


def _merge(a: _Acc, b: _Acc) -> _Acc:
    a = _copy(a)  # never change an input in place (re-runs stay exact)
    a.merge(b)
    return a


def _finish(ctx: _Ctx, window, masks, acc, kw) -> dict:
    """The tile's output rasters (:func:`tile_outputs`), its cells off the DEM
    (``"_off_dem"``) and its counts (``"_stats"``)."""
    area, mask = masks
    r0, r1, c0, c1 = window
    h, w = r1 - r0, c1 - c0
    if acc is None:
        acc = _new_acc(ctx, h * w)
    sinr = None
    if acc.sinr[0].shape[0] > 0:
        sinr = (acc.sinr[0].reshape(-1, h, w), acc.sinr[2].reshape(ctx.n_groups, h, w))
    out = tile_outputs(acc.best.reshape(ctx.n_groups, h, w), acc.arg.reshape(ctx.n_groups, h, w),
                       mask, opts=ctx.opts, sinr=sinr, void=acc.void.reshape(h, w), **kw)
    out["_off_dem"] = area & ~mask
    out["_stats"] = (acc.ray_points, acc.points, acc.links, acc.bits, int(acc.void.sum()),
                     int(mask.sum()))
    return out


#: Resident memory of a worker process before any unit: Python, numpy, scipy, dask and the
#: numba kernels loaded from their cache, MiB (measured: 300–420 MiB on Linux x86-64,
#: ``benchmarks/profile_dask_memory.py``; the rule's fixed term).
WORKER_BASE_MIB = 450
#: Bytes per grid cell of a site's window on a tile, whatever its bands (the cell's index,
#: offsets, distance, bearing, ray point, link count, screening flags; ``memory_rule``).
SITE_CELL_BYTES = 96
#: Tiles whose coarse parts a worker may hold at once (``memory_rule``).
SCREEN_TILES = 2
#: Reference-best arrays of a tile's footprint held at once besides one per coarse part
#: waiting for the fold (the tile's and the fold running; ``memory_rule``).
SCREEN_BESTS = 2


def memory_rule(tile_cells: int, n_groups: int, n_keys: int, terrain, txs, opts, grid: Grid,
                batch_sites: int, screen_bytes: int) -> dict:
    """The memory a worker needs, MiB, by term: the bound its peak resident set should stay
    under (``benchmarks/profile_dask_memory.py`` measures the peak against it).

    * ``base``: the process (:data:`WORKER_BASE_MIB`);
    * ``dem`` and ``transmitters``: the prepared DEM (memory-mapped from the shared folder, or
      scattered) and the transmitters, once per worker;
    * ``accumulators``: four tile accumulators of ``tile_cells × (n_groups × 12 + 1 + n_keys × 8 +
      n_groups × 4)`` bytes (best, serving cell, the DEM-void flag; with SINR the co-channel
      sums and second best): a unit running holds its chain's fold and its own copy, and a worker may hold
      two finished folds waiting for their next unit or merge (chains, not a pool of units);
    * ``site``: one site's working set on a tile: its rays and their slots
      (``2 × ⌈2πR/res⌉ × ⌈R/step⌉ × 8`` bytes for the largest radius) and the per-cell arrays
      of the tile (:data:`SITE_CELL_BYTES` + 12 bytes per band of the site: ``tile_cells ×
      (SITE_CELL_BYTES + 12 × bands)``, the most bands of a site);
    * ``screening``: :data:`SCREEN_TILES` tiles' screening, ``screen_bytes`` each (the
      largest tile's: :func:`coarse_part_bytes` summed over its batches, plus
      a reference best of its footprint per coarse part and :data:`SCREEN_BESTS` more: the
      parts' bests fold one after the other, and parts finishing out of order on several
      workers wait for their turn; measured: up to 10 of 72 waiting): every site reaching the tile
      keeps its coarse values on the tile's footprint until the tile's reference best is
      complete and the site's fine unit has run, so a tile holds them all at once; a worker
      may hold the tile whose chain it runs and the next one, whose coarse parts it computes
      meanwhile.

    So the peak per worker is ``base + dem + transmitters + O(tile × (groups, keys)) +
    O(sites reaching a tile × tile / factor²)``: bounded by the tile and the sites around it
    (density × (tile side + 2 radii)²), not by the grid or the number of sites.
    """
    mib = 2.0 ** 20
    acc = tile_cells * (n_groups * 12 + 1 + (n_keys * 8 + n_groups * 4 if n_keys else 0))
    r_max = float(np.max(txs.site_radius_m)) if len(txs.site_radius_m) else 0.0
    step = float(opts.step_m or min(grid.resolution_m, terrain.step_m))
    rays = 2 * math.ceil(2 * math.pi * r_max / grid.resolution_m) * math.ceil(r_max / step) * 8
    bands = _max_bands(txs)
    terms = {"base": float(WORKER_BASE_MIB), "dem": terrain.z.nbytes / mib,
             "transmitters": _nbytes(txs) / mib, "accumulators": 4 * acc / mib,
             "site": (rays + tile_cells * (SITE_CELL_BYTES + 12 * bands)) / mib,
             "screening": SCREEN_TILES * screen_bytes / mib}
    terms = {k: round(v, 1) for k, v in terms.items()}
    return {"terms_mib": terms, "per_worker_mib": round(sum(terms.values()), 1),
            "unit_accumulator_mib": round(acc / mib, 1), "batch_sites": int(batch_sites),
            "screen_tile_mib": round(screen_bytes / mib, 1), "screen_tile_bytes": int(screen_bytes)}


def _max_bands(txs) -> int:
    """The most distinct frequencies of one site (its bands in a unit)."""
    if len(txs.site_x) == 0:
        return 0
    return max(len(np.unique(txs.freq[txs.cell_order[txs.site_ptr[s]:txs.site_ptr[s + 1]]]))
               for s in range(len(txs.site_x)))


def _nbytes(obj) -> int:
    """Bytes of the numpy arrays an object holds (its attributes, one level deep)."""
    fields = getattr(obj, "__dataclass_fields__", None) or vars(obj)
    total = 0
    for name in fields:
        v = getattr(obj, name, None)
        if isinstance(v, np.ndarray):
            total += v.nbytes
    return total


# -- the graph (client side) ------------------------------------------------------------------

def _chain(ex, parts, fn, every: list, priority: float):
    """Fold ``parts`` left to right with ``fn`` (one task each): a worker holds at most the
    running fold and the next part, whatever the number of parts (the parts are submitted
    with decreasing priorities, so they finish in this order)."""
    if not parts:
        return None
    acc = parts[0]
    for p in parts[1:]:
        acc = ex.submit(fn, acc, p, priority=priority)
        every.append(acc)
    return acc


def _order(j: int, n: int) -> float:
    """A priority bonus in (0, 0.5] decreasing with ``j`` (of ``n``): the ``j``-th part of a
    fold runs before the ``j + 1``-th (ties would run in any order and keep every part
    alive until the first one runs)."""
    return 0.5 * (1.0 - j / max(n, 1))


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


def coarse_part_bytes(cwins: np.ndarray, n_gs: np.ndarray, fh) -> int:
    """Bytes of the coarse values one :func:`_coarse_tile` result keeps on footprint ``fh``
    for its fine unit (:func:`_values_part`): float32, each site's groups ``n_gs`` × its
    coarse window ``cwins`` (rows ``r0, r1``, columns ``c0, c1``) within ``fh``.

    >>> int(coarse_part_bytes(np.array([[0, 10, 5, 20]]), np.array([2]), (2, 12, 0, 10)))
    320
    """
    r0, r1, c0, c1 = fh
    h = np.clip(np.minimum(cwins[:, 1], r1) - np.maximum(cwins[:, 0], r0), 0, None)
    w = np.clip(np.minimum(cwins[:, 3], c1) - np.maximum(cwins[:, 2], c0), 0, None)
    return int((n_gs * h * w).sum()) * 4


def footprint(win, factor: int, halo: int, coarse_shape) -> tuple[int, int, int, int]:
    """Coarse rows and columns a fine tile ``win`` screens with: the coarse cells holding its
    cells and ``halo`` more on every side (the screening filters' reach), clipped to the grid.

    >>> footprint((0, 512, 512, 1024), 4, 2, (300, 300))
    (0, 130, 126, 258)
    """
    r0, r1, c0, c1 = win
    return (max(0, r0 // factor - halo), min(coarse_shape[0], (r1 - 1) // factor + 1 + halo),
            max(0, c0 // factor - halo), min(coarse_shape[1], (c1 - 1) // factor + 1 + halo))


def dask_raster_tiles(ex, txs, cell_group, n_groups: int, terrain, area: AreaGrid, opts,
                      side: int, stats: dict, *, n_keys: int = 0, **kw):
    """Yield ``(window, tile_outputs)`` of every tile of ``area``'s grid, computed on ``ex``.

    Same values as :func:`raster_links` + :func:`tile_outputs` on the whole grid (module
    docstring); each tile's outputs also hold ``"_off_dem"`` (its cells of the area off the
    DEM). No whole-grid array is made: the masks are computed per tile, on the workers (tiles
    scheduled) or here (the others, one at a time). ``stats`` is filled as
    :func:`raster_links` fills its own, plus ``tiles``, ``tile_side``, ``batches``, ``tasks``
    and the memory rule's terms (:func:`memory_rule`), once the last tile is yielded.
    """
    import shapely

    step = float(opts.step_m or min(area.resolution_m, terrain.step_m))
    sites = np.flatnonzero(np.bincount(txs.cell_site[txs.usable], minlength=len(txs.site_x)))
    group = np.ascontiguousarray(cell_group, np.int64)
    slots = ex.slots()
    grid = Grid(area.transform, area.shape, None)  # geometry only: no mask
    batches = site_batches(txs, sites, grid, side, slots)
    screen = bool(opts.screen_margin_db) and len(sites) > 1
    factor = int(opts.screen_factor)
    coarse = Grid(*coarse_frame(area.transform, area.shape, factor), None) if screen else None
    keys = kw.get("keys")
    keys = None if keys is None or n_keys <= 0 else np.ascontiguousarray(keys, np.int64)
    n_keys = int(n_keys) if keys is not None else 0
    ctx_f = ex.scatter(_Ctx(area.transform, opts, step, group, n_groups,
                            coarse.transform if screen else None,
                            coarse.shape if screen else None, keys, n_keys))
    terrain_f = ex.scatter(terrain)
    txs_f = ex.scatter(txs)
    area_f = ex.scatter(area)
    fine_wins = [_windows(grid, txs, b) for b in batches]
    if screen:
        halo = max(int(opts.screen_window) // 2, 1)
        cwins = [_windows(coarse, txs, b) for b in batches]
    tiles = area.check_tiles(side)
    # a tile whose box misses the area or the DEM, or that no site reaches, has nothing to
    # compute: it is not scheduled and the client finishes it (nodata) itself
    shapely.prepare(area.polygon)
    live, reaches = [], {}
    for i, win in enumerate(tiles):
        reach = [b[_overlaps(bw, win)] for b, bw in zip(batches, fine_wins, strict=True)]
        if any(len(f) for f in reach) and area.may_hold_cells(win):
            live.append(i)
            reaches[i] = reach
    # fine units of a tile fold in chains (each unit adds its batch to a copy of the fold
    # so far): a chain holds one accumulator; enough chains per tile to keep every worker
    # thread busy when the tiles are few
    n_chains = max(1, math.ceil(2 * slots / max(1, len(live))))
    finals, final_tile, every, max_sites, max_held = [], [], [], 0, 0
    n_gs = np.zeros(len(txs.site_x), np.int64)  # groups of each site (its coarse values)
    for s in sites:
        n_gs[s] = len(np.unique(group[txs.cell_order[txs.site_ptr[s]:txs.site_ptr[s + 1]]]))
    for i in live:
        win = tiles[i]
        prio = 8.0 * (len(tiles) - i)  # a tile's work before the next tile's: bounded memory
        masks = ex.submit(_tile_masks, area_f, win, priority=prio + 6)
        every.append(masks)
        units = []
        reach = reaches[i]
        cparts = [None] * len(batches)
        fh = cbest = None
        if screen:
            fh = footprint(win, factor, halo, coarse.shape)
            cmask = ex.submit(_coarse_masks, area_f, factor, int(opts.screen_window), fh,
                              priority=prio + 6)
            every.append(cmask)
            # bytes the tile's screening holds: the coarse values of every site reaching it
            # (until its fine unit runs), a reference best per part (waiting for the fold)
            # and SCREEN_BESTS more (the tile's, the fold running)
            one_best = n_groups * (fh[1] - fh[0]) * (fh[3] - fh[2]) * 4
            held = SCREEN_BESTS * one_best
            for j, (b, cw) in enumerate(zip(batches, cwins, strict=True)):
                near = b[_overlaps(cw, fh) | np.isin(b, reach[j])]
                if len(near):
                    max_sites = max(max_sites, len(near))
                    held += coarse_part_bytes(cw[np.isin(b, reach[j])], n_gs[reach[j]],
                                              fh) + one_best
                    cparts[j] = ex.submit(_coarse_tile, ctx_f, terrain_f, txs_f, fh, cmask,
                                          near.astype(np.int64), np.isin(near, reach[j]),
                                          priority=prio + 1 + _order(j, len(batches)))
            max_held = max(max_held, held)
            every += [p for p in cparts if p is not None]
            bparts = [ex.submit(_best_part, p, priority=prio + 2.5)
                      for p in cparts if p is not None]
            every += bparts
            cbest = _chain(ex, bparts, _max_into, every, prio + 2.5)
            cparts = [None if p is None else ex.submit(_values_part, p, priority=prio + 2.5)
                      for p in cparts]
            every += [p for p in cparts if p is not None]
        jobs = [j for j, fine in enumerate(reach) if len(fine)]
        k = min(n_chains, len(jobs))
        for c in range(k):  # chain c: the c-th contiguous share of the tile's batches
            acc = None
            for j in jobs[c * len(jobs) // k:(c + 1) * len(jobs) // k]:
                max_sites = max(max_sites, len(reach[j]))
                acc = ex.submit(_fine_unit, ctx_f, terrain_f, txs_f, win, masks,
                                reach[j].astype(np.int64), cparts[j], fh, cbest, acc,
                                priority=prio + 3 + _order(j, len(batches)))
                every.append(acc)
            units.append(acc)
        finals.append(ex.submit(_finish, ctx_f, win, masks,
                                _chain(ex, units, _merge, every, prio + 4), kw,
                                priority=prio + 5))
        final_tile.append(i)
    empty = _Ctx(area.transform, opts, step, group, n_groups, None, None, keys, n_keys)
    cells = 0
    for i in sorted(set(range(len(tiles))) - set(live)):
        out = _finish(empty, tiles[i], area.masks(tiles[i]), None, kw)
        cells += out.pop("_stats")[5]
        yield tiles[i], out
    pts = ray = links = bits = void = 0
    for i, out in ex.results(finals, "coverage raster (tasks)", watch=every):
        r, p, n, w, v, m = out.pop("_stats")
        ray, pts, links, bits, void = ray + r, pts + p, links + n, bits | w, void + v
        cells += m
        yield tiles[final_tile[i]], out
    stats |= {"sites": int(len(sites)), "ray_points": ray, "points_evaluated": pts,
              "links": links, "cells_void_flagged": void, "grid_cells": cells,
              "tiles": len(tiles),
              "tiles_scheduled": len(live), "tile_side": int(side), "batches": len(batches),
              "chains_per_tile": n_chains, "tasks": ex.tasks,
              "itm_bits": bits & _ITM_INPUT_BITS}
    tile_cells = max((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in tiles) if tiles else 0
    stats["memory_rule"] = memory_rule(tile_cells, n_groups, n_keys, terrain, txs, opts, area,
                                       max_sites, max_held if screen else 0)
    if screen:
        stats |= {"screen_factor": factor,
                  "screen_margin_db": float(opts.screen_margin_db)}
