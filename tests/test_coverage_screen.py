"""Screening of the raster engine: coarse pass, then only the (site, group, cell) triples that
may matter. Compared with the exact run (every pair) on a small synthetic province."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import box

from phusong import settings
from phusong.bundle import Raster
from phusong.coverage._engine import EngineOptions, TxSet
from phusong.coverage._raster import grid_over, raster_links
from phusong.coverage._score import _groups
from phusong.coverage._terrain import prepare_terrain
from phusong.errors import ModelError

SIDE_M, PX_M, X0, Y0 = 24_000.0, 90.0, 600_000.0, 2_320_000.0


@pytest.fixture(scope="module")
def province():
    """A 24 km square of hills and valleys, 36 sites of 4 operators (2G omni + 4G 3 sectors),
    a 200 m grid."""
    rng = np.random.default_rng(11)
    n = int(SIDE_M / PX_M)
    yy, xx = np.mgrid[0:n, 0:n] * PX_M
    z = np.full((n, n), 250.0)
    for _ in range(30):
        cx, cy = rng.uniform(0, SIDE_M, 2)
        sx, sy = rng.uniform(800, 4000, 2)
        z += rng.uniform(100, 600) * np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))
    z += rng.normal(0, 3, z.shape)
    dem = Raster(z.astype(np.float32), Affine(PX_M, 0, X0, 0, -PX_M, Y0), "EPSG:32648", "m")
    rows = []
    for i in range(36):
        x, y = X0 + rng.uniform(1000, SIDE_M - 1000), Y0 - rng.uniform(1000, SIDE_M - 1000)
        op = settings.OPERATORS[i % 4]
        rows.append((f"S{i}", op, "2G", 947.5, 55.0, np.nan, np.nan, x, y))
        for az in (0.0, 120.0, 240.0):
            rows.append((f"S{i}", op, "4G", 1842.5, 57.0, az, 4.0, x, y))
    tx = pd.DataFrame(rows, columns=["site_id", "operator", "tech", "freq_mhz", "eirp_dbm",
                                     "azimuth_deg", "tilt_deg", "x_m", "y_m"])
    tx["height_m"] = 30.0
    tx["cell_id"] = [f"C{i}" for i in range(len(tx))]
    terrain = prepare_terrain(dem)
    grid = grid_over(box(X0, Y0 - SIDE_M, X0 + SIDE_M, Y0), 200.0, terrain)
    g, pairs = _groups(tx)
    radius = {"2G": 12.0, "3G": 10.0, "4G": 10.0, "5G": 5.0}  # km: many overlapping sites
    return tx, terrain, grid, g, pairs, radius


def _run(province, threads=2, **kw):
    tx, terrain, grid, g, pairs, radius = province
    opts = EngineOptions(model="itm", threads=threads, max_radius_km=radius, **kw).check()
    txs = TxSet.from_frame(tx, terrain, opts)
    return raster_links(txs, g, len(pairs), terrain, grid, opts)


@pytest.fixture(scope="module")
def exact(province):
    return _run(province, screen_margin_db=0)


@pytest.fixture(scope="module")
def screened(province):
    return _run(province)


def test_screen_with_an_unreachable_margin_is_the_exact_run(province, exact):
    best, arg, st = _run(province, screen_margin_db=1e6)
    np.testing.assert_array_equal(best, exact[0])
    np.testing.assert_array_equal(arg, exact[1])
    assert st["points_evaluated"] == exact[2]["points_evaluated"]
    assert "screen_points_evaluated" not in exact[2]


def test_screen_prunes_and_stays_close_to_the_exact_run(province, exact, screened):
    _, terrain, grid, _, pairs, _ = province
    b0, a0, st0 = exact
    b1, a1, st1 = screened
    # it must actually save work: the coarse pass (1/16 of the cells) plus the kept pairs
    assert st1["points_evaluated"] + st1["screen_points_evaluated"] < 0.8 * st0["points_evaluated"]
    # a kept pair is computed exactly as in the exact run: same serving cell, same value
    same = (a1 == a0) & (a0 >= 0)
    np.testing.assert_array_equal(b1[same], b0[same])
    # a screened-out pair can only win where the terrain reverses the order of two sites by
    # more than the margin within a coarse neighbourhood: rare, and below 0.5 % of the cells
    m = grid.mask
    for tech in ("2G", "4G"):
        gi = [i for i, (t, _) in enumerate(pairs) if t == tech]
        th = settings.THRESHOLDS_DBM[tech]
        top0, top1 = b0[gi].max(axis=0)[m], b1[gi].max(axis=0)[m]
        assert np.mean(top0 != top1) < 0.005
        assert np.mean((top0 >= th) != (top1 >= th)) < 0.002
        ops0, ops1 = (b0[gi] >= th).sum(axis=0)[m], (b1[gi] >= th).sum(axis=0)[m]
        assert np.mean(ops0 != ops1) < 0.005
    # screening never invents signal: every screened value is one the exact run also found
    assert np.all(b1 <= b0)


def test_screened_run_identical_with_one_and_two_threads(province, screened):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba was started with a single thread")
    best, arg, st = _run(province, threads=1)
    np.testing.assert_array_equal(best, screened[0])
    np.testing.assert_array_equal(arg, screened[1])
    assert st["points_evaluated"] == screened[2]["points_evaluated"]


@pytest.mark.parametrize("kw, msg", [({"screen_margin_db": -1.0}, "screen_margin_db"),
                                     ({"screen_factor": 1}, "screen_factor")])
def test_screen_options_are_checked(kw, msg):
    with pytest.raises(ModelError, match=msg):
        EngineOptions(**kw).check()
