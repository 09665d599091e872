"""The raster's links do not depend on the receiver tiling (issue 16, the dask executor).

A ray point serves the grid cells nearest to it; with screening, one of them may want a band
another does not. The links of a grid cell must follow its own screening only: when they
followed the union over its ray point's cells, a cell on a tile's edge lost (on dask) the
weak co-channel links its neighbour across the edge had asked for, and the SINR sums and
second best differed from the whole-grid run's (the whole twin at 30 m: 3 cells of
``sinr_db_4G.tif``). These tests run without a cluster: the dask graph in this process.
"""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box

from phusong.coverage._engine import EngineOptions, TxSet
from phusong.coverage._grid_mask import AreaGrid
from phusong.coverage._raster import _SERIAL, _Acc, _site_unit, raster_links
from phusong.coverage._score import _groups
from phusong.coverage._terrain import prepare_terrain
from phusong.coverage.interference import cell_keys
from tests._synthetic import gaussian_hills_dem, sectorised_sites

X0, Y0 = 600_000.0, 2_320_000.0


class _InProcess:
    """The executor interface :func:`dask_raster_tiles` uses, run eagerly in this process."""

    tasks = 0

    def slots(self) -> int:
        return 2

    def scatter(self, data):
        return data

    def submit(self, fn, *args, priority=None, **kw):
        self.tasks += 1
        return fn(*args, **kw)

    def results(self, futures, description, watch=()):
        yield from enumerate(futures)


def _case(seed: int, side_m: float, n_sites: int, res_m: float, margin_db: float | None):
    rng = np.random.default_rng(seed)
    dem = gaussian_hills_dem(rng, side_m, 30.0, X0, Y0, 30, (800, 4000), (100, 600))
    tx = sectorised_sites(rng, n_sites, side_m, X0, Y0)
    terrain = prepare_terrain(dem)
    area = AreaGrid.over(box(X0, Y0 - side_m, X0 + side_m, Y0), res_m, terrain)
    g, pairs = _groups(tx)
    km = side_m / 1000.0
    radius = {"2G": 0.6 * km, "3G": 0.5 * km, "4G": 0.5 * km, "5G": 0.25 * km}
    opts = EngineOptions(model="itm", threads=1, max_radius_km=radius,
                         screen_margin_db=margin_db).check()
    txs = TxSet.from_frame(tx, terrain, opts)
    keys, n_keys = cell_keys(tx)
    return tx, terrain, area, np.asarray(g, np.int64), pairs, opts, txs, keys, n_keys


def test_a_site_links_the_same_on_any_tiling_of_the_grid():
    """One site unit per tile, with a screening that keeps each band on random coarse cells:
    every tile gets the whole grid's links (best, serving cell, co-channel sums, second best)
    bit for bit."""
    _, terrain, area, g, pairs, opts, txs, keys, n_keys = _case(1, 6000.0, 3, 30.0, None)
    _, grid = area.whole()
    step = float(min(area.resolution_m, terrain.step_m))
    rows, cols = grid.shape
    factor = 4
    kept = np.random.default_rng(101).random((8, -(-rows // factor), -(-cols // factor))) < 0.5

    def keep_fn(s, cells, cell_band_local, n_bands, window):
        r0, r1, c0, c1 = window
        ra, ca = np.arange(r0, r1) // factor, np.arange(c0, c1) // factor
        return kept[:n_bands][:, ra[:, None], ca[None, :]]

    sites = np.flatnonzero(np.bincount(txs.cell_site[txs.usable], minlength=len(txs.site_x)))

    def run(r0, r1, c0, c1):
        tile = grid.tile(r0, r1, c0, c1)
        acc = _Acc(len(pairs), tile.shape[0] * tile.shape[1], keys, n_keys)
        for s in sites:
            acc.add(_site_unit(int(s), (txs, terrain, tile, opts, step), acc.best, acc.arg, g,
                               keep_fn, _SERIAL, acc.sinr, acc.void))
        return acc

    whole = run(0, rows, 0, cols)
    shared = 0  # ray points evaluated by two tiles: the tile edges cut some of them
    for side in (64, 100):
        points = 0
        for r0 in range(0, rows, side):
            for c0 in range(0, cols, side):
                r1, c1 = min(rows, r0 + side), min(cols, c0 + side)
                acc = run(r0, r1, c0, c1)
                points += acc.points
                h, w = r1 - r0, c1 - c0
                for got, ref in ((acc.best, whole.best), (acc.arg, whole.arg),
                                 (acc.sinr[0], whole.sinr[0]), (acc.sinr[2], whole.sinr[2])):
                    np.testing.assert_array_equal(
                        got.reshape(-1, h, w), ref.reshape(-1, rows, cols)[:, r0:r1, c0:c1])
        shared += points - whole.points
    assert shared > 0, "the case must cut ray points shared by two tiles"


def test_screened_dask_graph_equals_the_whole_grid_run_bit_for_bit():
    """The dask executor's graph (per-tile screening, fine units in chains), run in this
    process on 32-cell tiles with a 1 dB screening margin (many sites near the threshold),
    gives the local whole-grid run's best, serving cell, co-channel sums and second best."""
    from phusong.coverage import _dask_raster as dr

    tx, terrain, area, g, pairs, opts, txs, keys, n_keys = _case(5, 6000.0, 24, 30.0, 1.0)
    _, grid = area.whole()
    extra: dict = {}
    best, arg, st = raster_links(txs, g, len(pairs), terrain, grid, opts, cell_key=keys,
                                 n_keys=n_keys, extra=extra)
    accs = {}
    finish = dr._finish

    def keep_acc(ctx, window, masks, acc, kw):
        accs[window] = acc
        return finish(ctx, window, masks, acc, kw)

    kw = {"techs": ["2G", "4G"], "pairs": pairs, "site_code": np.arange(len(tx)),
          "thresholds_dbm": {"2G": -100.0, "4G": -110.0}, "keys": keys}
    stats: dict = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dr, "_finish", keep_acc)
        tiles = list(dr.dask_raster_tiles(_InProcess(), txs, g, len(pairs), terrain, area, opts,
                                          32, stats, n_keys=n_keys, **kw))
    assert stats["tiles"] == len(tiles) == 49 and stats["screen_factor"] == 4
    # tiles cut ray points (each evaluated once per tile): more points than the whole grid
    assert stats["points_evaluated"] > st["points_evaluated"]
    rows, cols = grid.shape
    for (r0, r1, c0, c1), acc in accs.items():
        h, w = r1 - r0, c1 - c0
        for got, ref in ((acc.best, best), (acc.arg, arg), (acc.sinr[0], extra["power_sum_q"]),
                         (acc.sinr[2], extra["second_dbm"])):
            np.testing.assert_array_equal(got.reshape(-1, h, w), ref[:, r0:r1, c0:c1])
