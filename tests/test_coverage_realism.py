"""Radio realism in the engine: P.2108 terminal clutter from land cover, reliability and
coverage probability, indoor (P.2109) and SINR."""

from __future__ import annotations

import math

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


def _bundle(landcover=True, hills=False):
    z = np.full((200, 200), 100.0, np.float32)
    if hills:  # irregular terrain: ITM's location variability grows with Δh
        i, j = np.mgrid[0:200, 0:200] * PX
        z = (100.0 + 80.0 * np.sin(j / 700.0) * np.cos(i / 900.0)).astype(np.float32)
    dem = Raster(z, Affine(PX, 0, X0, 0, -PX, Y0), "EPSG:32648", "m")
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


# ---- reliability ----------------------------------------------------------------------------


def test_margin_and_probability_hand_values():
    from phusong.coverage.reliability import coverage_probability, location_margin_db

    # z(0.90) = 1.281552, σ rural 8 dB → 10.2524 dB; z(0.95) = 1.644854 → 13.1588 dB
    assert location_margin_db(90.0, "rural") == pytest.approx(10.2524, abs=1e-4)
    assert location_margin_db(95.0, "rural") == pytest.approx(13.1588, abs=1e-4)
    assert location_margin_db(50.0, "urban") == 0.0
    # 10 dB above the threshold with σ 8: Φ(1.25) = 0.894350
    assert float(coverage_probability(-100.0, -110.0, 8.0)) == pytest.approx(0.89435, abs=1e-5)
    assert float(coverage_probability(-np.inf, -110.0, 8.0)) == 0.0


def test_reliability_shifts_empirical_levels_by_the_margin_and_itm_by_its_own():
    b = _bundle(landcover=False)
    med = score_villages(b, model="hata")
    p90 = score_villages(b, model="hata", reliability_pct=90.0)
    # Hata median minus z(0.9)·8 dB, float64: 1e-9
    np.testing.assert_allclose(p90["rx_dbm_2G"], med["rx_dbm_2G"] - 10.252418, atol=1e-5)
    hills = _bundle(landcover=False, hills=True)
    itm = {p: score_villages(hills, model="itm", reliability_pct=p)["rx_dbm_2G"].to_numpy()
           for p in (10.0, 50.0, 90.0)}
    # ITM's spread grows with Δh; a line-of-sight path held at the free-space floor stays put
    assert (itm[10.0] >= itm[50.0]).all() and (itm[50.0] >= itm[90.0]).all()
    assert (itm[50.0] - itm[90.0] > 5.0).sum() >= 2 and (itm[10.0] - itm[50.0] > 5.0).sum() >= 2


def test_coverage_probability_raster_and_bad_reliability(tmp_path):
    b = _bundle(landcover=False)
    run_bundle(b, tmp_path / "a", model="hata", resolution_m=200.0)
    run_bundle(b, tmp_path / "b", model="hata", resolution_m=200.0, reliability_pct=90.0)
    with rasterio.open(tmp_path / "a" / "best_dbm_2G.tif") as src:
        best = src.read(1)
    with rasterio.open(tmp_path / "a" / "coverage_prob_2G.tif") as src:
        prob50 = src.read(1)
    with rasterio.open(tmp_path / "b" / "coverage_prob_2G.tif") as src:
        prob90 = src.read(1)
    with rasterio.open(tmp_path / "b" / "best_dbm_2G.tif") as src:
        best90 = src.read(1)
    ok = np.isfinite(best)
    from scipy.special import ndtr

    # float32 rasters: 1e-5 dB / 1e-6 in probability
    np.testing.assert_allclose(best90[ok], best[ok] - 10.252418, atol=2e-4)
    np.testing.assert_allclose(prob50[ok], ndtr((best[ok] + 100.0) / 8.0), atol=1e-6)
    # the probability is of the median: the same whatever reliability the levels are given at
    np.testing.assert_allclose(prob90[ok], prob50[ok], atol=2e-5)
    assert 0.0 < prob50[ok].min() < prob50[ok].max() <= 1.0
    save_bundle(b, tmp_path / "bundle")
    r = CliRunner().invoke(main, ["coverage", str(tmp_path / "bundle"), "--out",
                                  str(tmp_path / "o"), "--reliability-pct", "100", "--quiet"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "between 0 and 100" in r.stderr


# ---- indoor and SINR ------------------------------------------------------------------------


def _two_cell_tx():
    """Two co-channel Viettel 4G omni cells 4 km apart, a VNPT cell and a Viettel cell on
    another band (neither interferes), as a transmitters table in WORK_CRS."""
    x = X0 + np.array([3000.0, 7000.0, 7000.0, 3000.0])
    return pd.DataFrame({
        "cell_id": ["A", "B", "other-operator", "other-band"], "site_id": ["SA", "SB", "SB", "SA"],
        "operator": ["Viettel", "Viettel", "VNPT", "Viettel"], "tech": ["4G"] * 4,
        "freq_mhz": [1842.5, 1842.5, 1842.5, 2140.0], "eirp_dbm": [57.0, 57.0, 57.0, 40.0],
        "height_m": [30.0] * 4, "x_m": x, "y_m": np.full(4, Y0 - 5000.0)})


def test_sinr_and_margin_of_two_cells_by_hand():
    from phusong.coverage import EngineOptions, score_points
    def fspl_db(d_km, f_mhz):  # ITU-R P.525
        return 32.45 + 20.0 * math.log10(f_mhz * d_km)

    dem = _bundle(landcover=False).dem
    rx_x = np.array([X0 + 4000.0])  # 1 km from A, 3 km from B
    rx_y = np.array([Y0 - 5000.0])
    s = score_points(_two_cell_tx(), rx_x, rx_y, dem, techs=["4G"],
                     opts=EngineOptions(model="fspl", diffraction="none"))
    # by hand: RSRP = 57 − 27.8 (RS offset) − FSPL(3-D distance, 1842.5 MHz)
    d_a = math.hypot(1000.0, 28.5) / 1000.0
    d_b = math.hypot(3000.0, 28.5) / 1000.0
    s_dbm = 57.0 - 27.8 - fspl_db(d_a, 1842.5)
    i_dbm = 57.0 - 27.8 - fspl_db(d_b, 1842.5)
    noise = -174.0 + 10.0 * math.log10(15e3) + 7.0        # −125.24 dBm per resource element
    sinr = s_dbm - 10.0 * math.log10(0.5 * 10 ** (i_dbm / 10.0) + 10 ** (noise / 10.0))
    assert s.loc[0, "rx_dbm_4G"] == pytest.approx(s_dbm, abs=1e-9)
    # 1e-6 dB: powers are summed as integers of 1e-16 mW (≈ 1e-7 relative here)
    assert s.loc[0, "sinr_db_4G"] == pytest.approx(sinr, abs=1e-6)
    # noise is 40 dB below the interferer: SINR ≈ 20 log10(3 km / 1 km) + 10 log10(1 / 0.5)
    assert s.loc[0, "sinr_db_4G"] == pytest.approx(12.55, abs=0.01)
    # the margin is to the second best Viettel 4G cell, B (the 2140 MHz cell on A, 17 dB
    # weaker in EIRP, is third; the VNPT cell is another operator's)
    other = 40.0 - 27.8 - fspl_db(d_a, 2140.0)
    assert other < i_dbm
    assert s.loc[0, "margin_db_4G"] == pytest.approx(s_dbm - i_dbm, abs=1e-9)


def test_indoor_levels_take_the_p2109_loss_of_each_cell():
    from phusong.coverage import EngineOptions, score_points
    from phusong.coverage.p2109 import building_entry_loss_db

    dem = _bundle(landcover=False).dem
    tx = _two_cell_tx()
    s = score_points(tx, [X0 + 4000.0], [Y0 - 5000.0], dem, techs=["4G"],
                     opts=EngineOptions(model="fspl", diffraction="none"))
    bel = float(building_entry_loss_db(1.8425, 50.0, "traditional"))  # median, ≈ 15.6 dB
    assert s.loc[0, "rx_dbm_4G_indoor"] == pytest.approx(s.loc[0, "rx_dbm_4G"] - bel, abs=1e-9)
    assert 14.0 < bel < 17.0
    assert s.loc[0, "covered_4G_indoor"] == (s.loc[0, "rx_dbm_4G_indoor"] >= -110.0)


def _two_site_bundle(cells):
    b = _bundle(landcover=False)
    b.layers["sites"] = gpd.GeoDataFrame(
        {"site_id": ["SA", "SB"], "operator": ["Viettel", "Viettel"], "height_m": [30.0, 30.0]},
        geometry=_ll([X0 + 3000, X0 + 7000], [Y0 - 5000, Y0 - 5000]), crs="EPSG:4326")
    b.layers["cells"] = pd.DataFrame(cells)
    return b


def test_raster_sinr_and_margin_from_the_single_cell_rasters(tmp_path):
    both = {"cell_id": ["A", "B"], "site_id": ["SA", "SB"], "tech": ["4G", "4G"],
            "freq_mhz": [1842.5, 1842.5], "eirp_dbm": [57.0, 57.0]}
    runs = {}
    for name, rows in (("ab", [0, 1]), ("a", [0]), ("b", [1])):
        cells = {k: [v[i] for i in rows] for k, v in both.items()}
        for threads in (1, 2):
            out = tmp_path / f"{name}{threads}"
            run_bundle(_two_site_bundle(cells), out, model="hata", resolution_m=200.0,
                       threads=threads, screen_margin_db=0)
            with rasterio.open(out / "best_dbm_4G.tif") as src:
                runs[name, threads] = {"best": src.read(1).astype(float)}
            if name == "ab":
                for what in ("sinr_db", "margin_db"):
                    with rasterio.open(out / f"{what}_4G.tif") as src:
                        runs[name, threads][what] = src.read(1)
    for what in ("best", "sinr_db", "margin_db"):  # identical for any number of threads
        np.testing.assert_array_equal(runs["ab", 1][what], runs["ab", 2][what])
    a, b, ab = runs["a", 1]["best"], runs["b", 1]["best"], runs["ab", 1]
    ok = np.isfinite(a) & np.isfinite(b)
    assert ok.sum() > 1000
    s, i = np.maximum(a, b)[ok], np.minimum(a, b)[ok]
    noise = -174.0 + 10.0 * math.log10(15e3) + 7.0
    expect = s - 10.0 * np.log10(0.5 * 10 ** (i / 10.0) + 10 ** (noise / 10.0))
    # float32 rasters and 1e-16 mW integer sums: ≤ 1e-4 dB
    np.testing.assert_allclose(ab["sinr_db"][ok], expect, atol=1e-4)
    np.testing.assert_allclose(ab["margin_db"][ok], (s - i), atol=1e-4)
    assert expect.min() < 3.5 and expect.max() > 20.0  # ≈ 3 dB on the mid line, high near sites


def test_require_sinr_clears_flags_below_the_minimum():
    from phusong.config import DEFAULT_SETTINGS, apply_sets
    from phusong.coverage import EngineOptions, score_points

    dem = _bundle(landcover=False).dem
    tx = _two_cell_tx().iloc[[0, 1]].reset_index(drop=True)  # A and B only, co-channel
    mid = ([X0 + 5000.0], [Y0 - 5000.0])  # equal powers: SINR = 10 log10(1 / 0.5) ≈ 3.01 dB
    opts = EngineOptions(model="fspl", diffraction="none")
    plain = score_points(tx, *mid, dem, techs=["4G"], opts=opts)
    assert plain.loc[0, "sinr_db_4G"] == pytest.approx(3.0103, abs=0.01)  # noise 40 dB down
    assert plain.loc[0, "covered_4G"] and plain.loc[0, "covered_any"]
    strict = apply_sets(DEFAULT_SETTINGS, ["interference.sinr_min_db.4G=5"])
    s = score_points(tx, *mid, dem, techs=["4G"], require_sinr=True,
                     opts=EngineOptions.of(strict, model="fspl", diffraction="none"))
    assert not s.loc[0, "covered_4G"] and not s.loc[0, "covered_4G_Viettel"]
    assert not s.loc[0, "covered_any"] and s.loc[0, "covered_4G_indoor"] == plain.loc[
        0, "covered_4G_indoor"]
    assert s.loc[0, "rx_dbm_4G"] == plain.loc[0, "rx_dbm_4G"]


def test_indoor_raster_is_the_best_level_less_the_p2109_loss(tmp_path):
    """``indoor_dbm_{tech}.tif``: the outdoor best less P.2109's loss at the serving cell's
    frequency, its covered share in the report; an operator on two bands is named where the
    raster is a lower bound."""
    from phusong.coverage.p2109 import building_entry_loss_db

    b = _bundle(landcover=False)
    rep = run_bundle(b, tmp_path / "a", model="hata", resolution_m=200.0)
    with rasterio.open(tmp_path / "a" / "best_dbm_2G.tif") as src:
        best = src.read(1)
    with rasterio.open(tmp_path / "a" / "indoor_dbm_2G.tif") as src:
        indoor, unit = src.read(1), src.tags(1)["unit"]
    ok = np.isfinite(best)
    bel = float(building_entry_loss_db(0.9475, 50.0, "traditional"))
    assert unit == "dBm" and 10.0 < bel < 20.0
    assert np.array_equal(np.isfinite(indoor), ok)
    np.testing.assert_allclose(indoor[ok], best[ok] - bel, atol=1e-4)  # float32 rasters
    assert rep["raster_covered_pct"]["2G_indoor"] == 100.0  # 57 dBm over 5 km of flat land
    # a threshold at the median outdoor level: half the cells covered outdoors, fewer indoors
    from phusong.config import DEFAULT_SETTINGS, apply_sets

    th = float(np.median(best[ok]))
    config = apply_sets(DEFAULT_SETTINGS, [f"thresholds_dbm.2G={th!r}"])
    pct = run_bundle(b, tmp_path / "m", model="hata", resolution_m=200.0,
                     config=config)["raster_covered_pct"]
    want = 100.0 * (indoor[ok] >= th).sum() / ok.sum()
    assert pct["2G_indoor"] == pytest.approx(want, abs=0.005)  # the report rounds to 0.01
    assert pct["2G_indoor"] < 40.0 < pct["2G"]
    assert rep["raster_indoor"]["lower_bound_for"] == []
    two = {"cell_id": ["A", "B"], "site_id": ["SA", "SA"], "tech": ["4G", "4G"],
           "freq_mhz": [1842.5, 2140.0], "eirp_dbm": [57.0, 57.0]}
    rep2 = run_bundle(_two_site_bundle(two), tmp_path / "b", model="hata", resolution_m=200.0)
    assert rep2["raster_indoor"]["lower_bound_for"] == ["4G Viettel"]
