"""Screening of the raster engine: coarse pass, then only the (site, group, cell) triples that
may matter. Compared with the exact run (every pair) on a small synthetic province."""

from __future__ import annotations

import numba
import numpy as np
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
from tests._synthetic import gaussian_hills_dem, sectorised_sites

SIDE_M, PX_M, X0, Y0 = 24_000.0, 90.0, 600_000.0, 2_320_000.0


@pytest.fixture(scope="module")
def province():
    """A 24 km square of hills and valleys, 64 sites of 4 operators (2G omni + 4G 3 sectors),
    a 200 m grid."""
    rng = np.random.default_rng(11)
    dem = gaussian_hills_dem(rng, SIDE_M, PX_M, X0, Y0, 30, (800, 4000), (100, 600))
    tx = sectorised_sites(rng, 64, SIDE_M, X0, Y0)
    terrain = prepare_terrain(dem)
    grid = grid_over(box(X0, Y0 - SIDE_M, X0 + SIDE_M, Y0), 200.0, terrain)
    g, pairs = _groups(tx)
    radius = {"2G": 14.0, "3G": 12.0, "4G": 12.0, "5G": 5.0}  # km: many overlapping sites
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
                                     ({"screen_factor": 1}, "screen_factor"),
                                     ({"screen_window": 4}, "screen_window")])
def test_screen_options_are_checked(kw, msg):
    with pytest.raises(ModelError, match=msg):
        EngineOptions(**kw).check()


def test_crop_dem_covers_the_disk_with_the_same_values():
    from phusong.coverage._terrain import crop_dem
    from phusong.crs import transform_points

    rng = np.random.default_rng(2)
    z = rng.uniform(0, 1500, (1201, 1201)).astype(np.float32)
    d = 1.0 / 1200
    dem = Raster(z, Affine(d, 0, 105.0 - d / 2, 0, -d, 22.0 + d / 2), "EPSG:4326", "m")
    x, y = transform_points([105.5], [21.3], "EPSG:4326", "EPSG:32648")
    cut = crop_dem(dem, float(x[0]), float(y[0]), 10_000.0)
    rows, cols = cut.array.shape
    assert rows * cols < 0.1 * z.size  # a 20 km window of a 110 km tile
    # every point of the disk lies inside the window, at least one pixel from its edge
    ang = np.linspace(0, 2 * np.pi, 72)
    lon, lat = transform_points(x[0] + 10_000 * np.sin(ang), y[0] + 10_000 * np.cos(ang),
                                "EPSG:32648", "EPSG:4326")
    col, row = ~cut.transform @ (lon, lat)
    assert col.min() >= 1 and row.min() >= 1 and col.max() <= cols - 1 and row.max() <= rows - 1
    # same elevation at the same place
    c0, r0 = (int(round(v)) for v in ~dem.transform @ (cut.transform.c, cut.transform.f))
    np.testing.assert_array_equal(cut.array, z[r0:r0 + rows, c0:c0 + cols])
    # a disk covering the whole tile, or a rotated grid, gives the DEM back
    assert crop_dem(dem, float(x[0]), float(y[0]), 200_000.0) is dem


def test_windowed_dem_read_is_the_crop_of_the_whole_read(tmp_path):
    """``coverage site`` reads only the disk's window of the DEM file: the same pixels and
    transform, bit for bit, as reading the whole file and cropping it (the old path)."""
    from phusong.coverage._terrain import crop_dem, dem_window
    from phusong.crs import transform_points
    from phusong.raster import read_raster, write_raster

    rng = np.random.default_rng(3)
    z = rng.uniform(0, 1500, (1201, 1201)).astype(np.float32)
    z[500:520, 600:640] = np.nan  # a void inside the window
    d = 1.0 / 1200
    path = tmp_path / "tile.tif"
    write_raster(Raster(z, Affine(d, 0, 105.0 - d / 2, 0, -d, 22.0 + d / 2), "EPSG:4326",
                        "m"), path)
    whole = read_raster(path)
    for lon, lat, r_m in ((105.5, 21.3, 10_000.0), (105.02, 21.97, 30_000.0),
                          (105.5, 21.3, 200_000.0), (107.5, 21.3, 10_000.0)):
        x, y = (float(v[0]) for v in transform_points([lon], [lat], "EPSG:4326",
                                                      "EPSG:32648"))
        cut = crop_dem(whole, x, y, r_m)
        win = read_raster(path, window=lambda t, crs, shape, x=x, y=y, r_m=r_m: dem_window(
            t, crs, shape, x, y, r_m))
        np.testing.assert_array_equal(win.array, cut.array)  # NaN voids in the same places
        assert win.transform == cut.transform and win.crs == cut.crs and win.unit == cut.unit


def test_predict_site_from_a_path_is_the_prediction_from_the_raster(tmp_path):
    """A DEM path (windowed read, as the CLI passes it) and the in-memory raster give the
    same grid bit for bit."""
    from phusong.coverage import predict_site
    from phusong.raster import read_raster, write_raster

    yy, xx = np.mgrid[0:601, 0:601]
    z = (300 + 200 * np.sin(xx / 40.0) * np.cos(yy / 55.0)).astype(np.float32)
    d = 1.0 / 1200
    path = tmp_path / "dem.tif"
    write_raster(Raster(z, Affine(d, 0, 105.25, 0, -d, 21.55), "EPSG:4326", "m"), path)
    kw = dict(height_m=30.0, freq_mhz=947.5, eirp_dbm=57.0, radius_km=4.0,
              resolution_m=100.0, model="hata")
    a, ta, ra = predict_site(read_raster(path), 105.5, 21.3, **kw)
    b, tb, rb = predict_site(str(path), 105.5, 21.3, **kw)
    np.testing.assert_array_equal(a, b)
    assert ta == tb and ra["receivers_evaluated"] == rb["receivers_evaluated"] > 4000


def test_predict_site_on_a_geographic_dem_sees_no_edge(tmp_path):
    from phusong.coverage import predict_site
    from phusong.coverage._terrain import prepare_terrain

    yy, xx = np.mgrid[0:601, 0:601]
    z = (300 + 200 * np.sin(xx / 40.0) * np.cos(yy / 55.0)).astype(np.float32)
    d = 1.0 / 1200
    dem = Raster(z, Affine(d, 0, 105.25, 0, -d, 21.55), "EPSG:4326", "m")
    rx, t, rep = predict_site(dem, 105.5, 21.3, height_m=30.0, freq_mhz=947.5, eirp_dbm=57.0,
                              radius_km=5.0, resolution_m=100.0, model="itm")
    assert rep["receivers_outside_dem"] == 0 and rep["receivers_evaluated"] > 7000
    # the same prediction with the whole DEM reprojected: same cells, values within the
    # bilinear resampling of two differently aligned reprojections (≤ 0.5 dB median)
    from shapely.geometry import Point

    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._raster import grid_over, raster_links
    from phusong.crs import transform_points

    terrain = prepare_terrain(dem)
    x, y = transform_points([105.5], [21.3], "EPSG:4326", "EPSG:32648")
    one = np.array([0])
    txs = TxSet(x, y, np.array([30.0]), np.array([5000.0]), np.array([0, 1]), one, one,
                np.array([947.5]), np.array([57.0]), np.zeros(1), np.array([np.nan]),
                np.array([np.nan]), np.array([5000.0]), np.array([True]))
    grid = grid_over(Point(x[0], y[0]).buffer(5000.0, 256), 100.0, terrain)
    best, _, _ = raster_links(txs, np.zeros(1, np.int64), 1, terrain, grid,
                              EngineOptions(model="itm"))
    full = np.where(np.isfinite(best[0]), best[0], np.nan)
    assert np.array_equal(np.isfinite(full), np.isfinite(rx))
    assert np.nanmedian(np.abs(full - rx)) < 0.5

