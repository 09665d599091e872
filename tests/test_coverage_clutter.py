"""Terminal clutter from a WorldCover land-cover raster through ITU-R P.2108 §3.1."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import Point, box

from phusong.bundle import Bundle, Raster, save_bundle
from phusong.cli import main
from phusong.coverage import run_bundle, score_villages
from phusong.coverage.clutter import WORLDCOVER_CODES, clutter_table, prepare_clutter
from phusong.coverage.p2108 import height_gain_db
from phusong.crs import transform_points
from phusong.errors import CRSError, DataError

X0, Y0, PX = 600_000.0, 2_310_000.0, 50.0


def _ll(x, y):
    lon, lat = transform_points(x, y, "EPSG:32648", "EPSG:4326")
    return [Point(a, b) for a, b in zip(lon, lat, strict=True)]


def _landcover():
    """100 m WorldCover grid over the 10 km square: trees west, cropland east, a town block."""
    lc = np.full((100, 100), 40.0, np.float32)
    lc[:, :50] = 10.0
    lc[40:60, 70:90] = 50.0
    return Raster(lc, Affine(100.0, 0, X0, 0, -100.0, Y0), "EPSG:32648", "class")


def _bundle(landcover=True):
    dem = Raster(np.full((200, 200), 100.0, np.float32), Affine(PX, 0, X0, 0, -PX, Y0),
                 "EPSG:32648", "m")
    sites = gpd.GeoDataFrame({"site_id": ["S1"], "operator": ["Viettel"], "height_m": [30.0]},
                             geometry=_ll([X0 + 5000], [Y0 - 5000]), crs="EPSG:4326")
    cells = pd.DataFrame({"cell_id": ["C1"], "site_id": ["S1"], "tech": ["2G"],
                          "freq_mhz": [947.5], "eirp_dbm": [57.0]})
    vx = X0 + np.array([2000.0, 8000.0, 8000.0])  # trees, cropland, built-up
    vy = Y0 - np.array([5000.0, 2000.0, 5000.0])
    villages = gpd.GeoDataFrame(
        {"village_id": ["V0", "V1", "V2"], "commune_code": ["00001"] * 3,
         "households": [10, 20, 30], "population": [40, 80, 120]},
        geometry=_ll(vx, vy), crs="EPSG:4326")
    lon, lat = transform_points([X0, X0 + 10000], [Y0 - 10000, Y0], "EPSG:32648", "EPSG:4326")
    communes = gpd.GeoDataFrame(
        {"commune_code": ["00001"], "name": ["Xã A"], "type": ["Xã"], "district_code": ["001"],
         "district_name": ["Huyện A"], "population": [240], "households": [60]},
        geometry=[box(lon[0], lat[0], lon[1], lat[1])], crs="EPSG:4326")
    rasters = {"dem": dem} | ({"landcover": _landcover()} if landcover else {})
    return Bundle("clutter", layers={"communes": communes, "sites": sites, "cells": cells,
                                     "villages": villages}, rasters=rasters)


def test_villages_lose_the_p2108_loss_of_their_class():
    b = _bundle()
    with_c = score_villages(b, model="hata")
    without = score_villages(b, model="hata", clutter=False)
    diff = (without["rx_dbm_2G"] - with_c["rx_dbm_2G"]).to_numpy()
    trees = float(height_gain_db(0.9475, 1.5, 4, 15.0))   # P.2108 eq. 2a, R = 15 m
    town = float(height_gain_db(0.9475, 1.5, 3, 10.0))    # P.2108 eq. 2a, R = 10 m
    # float64 arithmetic on the same terms: 1e-9 dB
    np.testing.assert_allclose(diff, [trees, 0.0, town], atol=1e-9)
    assert 20.0 < trees < 25.0 and 15.0 < town < trees


def test_raster_subtracts_the_loss_of_each_pixel_class(tmp_path):
    b = _bundle()
    run_bundle(b, tmp_path / "c", model="hata", resolution_m=200.0, threads=2)
    run_bundle(b, tmp_path / "n", model="hata", resolution_m=200.0, threads=1, clutter=False)
    with rasterio.open(tmp_path / "c" / "best_dbm_2G.tif") as src:
        c, t = src.read(1), src.transform
    with rasterio.open(tmp_path / "n" / "best_dbm_2G.tif") as src:
        n = src.read(1)
    cx = t.c + (np.arange(c.shape[1]) + 0.5) * t.a
    cy = t.f + (np.arange(c.shape[0]) + 0.5) * t.e
    cmap = prepare_clutter(_landcover())
    k = cmap.classes_at(cx[None, :] + 0 * cy[:, None], cy[:, None] + 0 * cx[None, :])
    expect = clutter_table([947.5], 1.5)[k, 0]
    ok = np.isfinite(c) & np.isfinite(n)
    assert ok.sum() > 1000
    # float32 rasters of values near −60…−120 dBm: ≤ 1e-5 dB of rounding
    np.testing.assert_allclose((n - c)[ok], expect[ok], atol=2e-5)
    assert (expect[ok] > 0).any() and (expect[ok] == 0).any()


def test_landcover_in_degrees_is_reprojected_and_bad_rasters_refused():
    lc = _landcover()
    lon, lat = transform_points([X0, X0 + 10000], [Y0 - 10000, Y0], "EPSG:32648", "EPSG:4326")
    geo = Raster(np.where(np.arange(100)[None, :] < 50, 10.0, 40.0).astype(np.float32)
                 * np.ones((100, 1), np.float32),
                 Affine((lon[1] - lon[0]) / 100, 0, lon[0], 0, -(lat[1] - lat[0]) / 100,
                        lat[1]), "EPSG:4326", "class")
    m = prepare_clutter(geo)
    k = m.classes_at([X0 + 1000, X0 + 9000], [Y0 - 5000, Y0 - 5000])
    assert [WORLDCOVER_CODES[i] for i in k] == [10, 40]
    bad = Raster(lc.array.copy(), lc.transform, lc.crs)
    bad.array[0, :3] = [12.0, 255.0, 12.0]
    with pytest.raises(DataError, match=r"unknown class code\(s\) \[12, 255\]"):
        prepare_clutter(bad)
    with pytest.raises(CRSError):
        prepare_clutter(Raster(lc.array, lc.transform, ""))
    far = Raster(lc.array, Affine(100.0, 0, X0 + 500_000, 0, -100.0, Y0), "EPSG:32648")
    with pytest.raises(DataError, match="does not overlap"):
        prepare_clutter(far, area_work=box(X0, Y0 - 10000, X0 + 10000, Y0))


def test_cli_coverage_bad_landcover_is_one_line(tmp_path):
    b = _bundle()
    b.rasters["landcover"].array[5, 5] = 7.0
    save_bundle(b, tmp_path / "b")
    r = CliRunner().invoke(main, ["coverage", str(tmp_path / "b"), "--out", str(tmp_path / "o"),
                                  "--model", "hata", "--resolution-m", "0", "--quiet"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "[7]" in r.stderr
    assert not (tmp_path / "o").exists()
    r = CliRunner().invoke(main, ["coverage", str(tmp_path / "b"), "--out", str(tmp_path / "o"),
                                  "--model", "hata", "--resolution-m", "0", "--no-clutter"])
    assert r.exit_code == 0, r.output
