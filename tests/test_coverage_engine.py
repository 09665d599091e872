"""Coverage engine: models vs published formulas, profiles, diffraction, best server, CLI."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import Point

from phusong import settings
from phusong.bundle import Bundle, Raster, write_raster
from phusong.cli import main
from phusong.coverage import (
    EngineOptions,
    bullington_db,
    cost231_db,
    coverage_matrix,
    deygout_db,
    fspl_db,
    hata_db,
    knife_edge_db,
    pair_profiles,
    prepare_terrain,
    rma_db,
    score_villages,
    sector_gain_db,
    transmitters,
    uma_db,
)
from phusong.coverage._engine import link_pairs
from phusong.crs import transform_points
from phusong.errors import CRSError, DataError, ModelError, ValidityWarning

X0, Y0, PX = 600_000.0, 2_310_000.0, 50.0


def _ll(x, y):
    lon, lat = transform_points(x, y, "EPSG:32648", "EPSG:4326")
    return [Point(a, b) for a, b in zip(lon, lat, strict=True)]


def tiny_bundle(*, ridge=True, z=None, cells=None):
    """10 km × 10 km flat DEM at 100 m with a 300 m N–S ridge at x = 606 km; two sites."""
    if z is None:
        z = np.full((200, 200), 100.0, dtype=np.float32)
        if ridge:
            z[:, 120:124] = 400.0
    dem = Raster(z, Affine(PX, 0, X0, 0, -PX, Y0), "EPSG:32648", "m")
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "operator": ["Viettel", "VNPT"], "height_m": [30.0, 40.0]},
        geometry=_ll([X0 + 2000, X0 + 8000], [Y0 - 5000, Y0 - 5000]), crs="EPSG:4326")
    if cells is None:
        cells = pd.DataFrame({
            "cell_id": ["C1", "C2", "C3", "C4"], "site_id": ["S1", "S1", "S2", "S2"],
            "tech": ["4G", "2G", "4G", "5G"], "freq_mhz": [1842.5, 947.5, 780.0, 2595.0],
            "eirp_dbm": [57.0, 57.0, 57.0, 60.0], "azimuth_deg": [90.0, np.nan, 270.0, np.nan],
            "tilt_deg": [2.0, np.nan, 2.0, np.nan]})
    vx = X0 + np.array([1000, 3000, 5000, 7000, 9500, 20000.0])
    vy = Y0 - np.array([5000, 4000, 6000, 5000, 5000, 5000.0])
    villages = gpd.GeoDataFrame(
        {"village_id": [f"V{i}" for i in range(6)], "commune_code": ["00001"] * 3 + ["00002"] * 3,
         "households": [100, 200, 300, 400, 500, 600],
         "population": [400, 800, 1200, 1600, 2000, 2400]},
        geometry=_ll(vx, vy), crs="EPSG:4326")
    return Bundle("tiny", layers={"sites": sites, "cells": cells, "villages": villages},
                  rasters={"dem": dem})


# ---- models vs hand-computed published formulas -------------------------------------------
# Hand values below were computed on paper from the cited formulas; tolerance 0.01 dB covers
# the rounding of the hand computation to 2 decimals.


def test_fspl_matches_p525():
    # 32.45 + 20 log10(900) + 20 log10(2) = 32.45 + 59.0849 + 6.0206
    assert fspl_db(2.0, 900.0)[0] == pytest.approx(97.5555, abs=0.01)


def test_hata_urban_and_rural_match_hata_1980():
    # f=900, hb=30, hm=1.5, d=5: a(hm)=(1.1*2.9542-0.7)*1.5-(1.56*2.9542-0.8)=0.01283;
    # L = 69.55+77.2826-20.4131-0.0128+(44.9-9.6750)*0.69897 = 151.0292
    assert hata_db(5.0, 900.0, 30.0, 1.5, "urban")[0] == pytest.approx(151.03, abs=0.01)
    # open: L - 4.78*2.9542^2 + 18.33*2.9542 - 40.94 = 151.0292 - 41.7179 + 54.1511 - 40.94
    assert hata_db(5.0, 900.0, 30.0, 1.5, "open")[0] == pytest.approx(122.52, abs=0.01)
    # suburban: L - 2*log10(900/28)^2 - 5.4 = 151.0292 - 2*1.50709^2 - 5.4 = 141.0865
    assert hata_db(5.0, 900.0, 30.0, 1.5, "suburban")[0] == pytest.approx(141.09, abs=0.01)


def test_cost231_matches_cost_report():
    # f=1800, hb=30, hm=1.5, d=2: a(hm)=(1.1*3.25527-0.7)*1.5-(1.56*3.25527-0.8)=0.04426;
    # L = 46.3+110.3537-20.4131-0.0443+35.225*0.30103 = 146.8001 (medium city, Cm = 0)
    assert cost231_db(2.0, 1800.0, 30.0, 1.5, "urban")[0] == pytest.approx(146.80, abs=0.01)


def test_rma_los_and_nlos_match_38901():
    # fc=2 GHz, hBS=35, hUT=1.5, d2D=1000, h=5, W=20; d3D=1000.5566; dBP=2π·35·1.5·2e9/c=2201 m
    # PL1 = 20log10(40π·1000.5566·2/3) + 0.47805·3.00024 - 0.70107 + 0.0013979·1000.5566
    #     = 98.4708 + 1.4343 - 0.7011 + 1.3987 = 100.6027
    d3 = math.hypot(1000.0, 33.5)
    h = 5.0
    pl1 = (20 * math.log10(40 * math.pi * d3 * 2 / 3) + min(0.03 * h**1.72, 10) * math.log10(d3)
           - min(0.044 * h**1.72, 14.77) + 0.002 * math.log10(h) * d3)
    assert pl1 == pytest.approx(100.60, abs=0.01)
    assert rma_db(1000.0, 2000.0, 35.0, 1.5, True)[0] == pytest.approx(pl1, abs=1e-9)
    # NLOS' = 161.04 - 7.1·1.30103 + 7.5·0.69897 - (24.37 - 3.7·0.020408)·1.54407
    #         + (43.42 - 3.1·1.54407)·0.000244 + 20·0.30103 - (3.2·1.24613² - 4.97)
    #       = 151.8029 + 5.2423 - 37.5123 + 0.0094 + 6.0206 + 0.0009 = 125.5638 > PL1
    assert rma_db(1000.0, 2000.0, 35.0, 1.5, False)[0] == pytest.approx(125.56, abs=0.01)


def test_uma_matches_38901():
    # fc=3.5, hBS=25, hUT=1.5, d2D=200: d'BP = 4·24·0.5·3.5e9/c = 560.4 m → PL1
    # d3D = 201.375; PL1 = 28 + 22·2.30401 + 20·0.54407 = 89.5696
    assert uma_db(200.0, 3500.0, 25.0, 1.5, True)[0] == pytest.approx(89.57, abs=0.01)
    # NLOS' = 13.54 + 39.08·2.30401 + 10.8814 - 0 = 114.4602 > LOS
    assert uma_db(200.0, 3500.0, 25.0, 1.5, False)[0] == pytest.approx(114.46, abs=0.01)


def test_knife_edge_matches_p526_table_values():
    # P.526-15 eq. 31 by hand: J(0) = 6.9 + 20 lg(1.00499 - 0.1) = 6.03 dB,
    # J(1) = 6.9 + 20 lg(1.34536 + 0.9) = 13.93 dB; J = 0 below v = -0.78
    assert knife_edge_db([0.0, 1.0, -1.0])[:2] == pytest.approx([6.03, 13.93], abs=0.01)
    assert knife_edge_db(-1.0)[0] == 0.0


def test_validity_warning_and_refusal():
    with pytest.warns(ValidityWarning, match="hata: frequency.*150–1500 MHz"):
        hata_db(5.0, 1800.0, 30.0, 1.5)
    with pytest.warns(ValidityWarning, match="hata: base height"):
        hata_db(5.0, 900.0, 20.0, 1.5)
    with pytest.raises(ModelError, match="cost231: frequency"):
        cost231_db(5.0, 100.0, 30.0, 1.5)
    with pytest.raises(ModelError, match="unknown model"):
        EngineOptions(model="okumura").check()


# ---- profiles and diffraction -------------------------------------------------------------


def _plane(a=0.01, b=-0.02, c=200.0, n=100):
    cols = X0 + (np.arange(n) + 0.5) * PX
    rows = Y0 - (np.arange(n) + 0.5) * PX
    z = (a * cols[None, :] + b * rows[:, None] + c - a * X0 - b * Y0).astype(np.float32)
    return Raster(z, Affine(PX, 0, X0, 0, -PX, Y0), "EPSG:32648", "m"), a, b, c


def test_profile_on_plane_is_exact():
    dem, a, b, c = _plane()
    t = prepare_terrain(dem)
    tx, ty, rx, ry = X0 + 500.0, Y0 - 600.0, X0 + 4000.0, Y0 - 3100.0
    prof, nv, step, dist, ok = pair_profiles(t, [tx], [ty], [rx], [ry], step_m=50.0)
    s = np.linspace(0, 1, nv[0])
    expect = a * (tx + s * (rx - tx) - X0) + b * (ty + s * (ry - ty) - Y0) + c
    # bilinear interpolation of a plane is exact; float32 storage gives ~1e-4 m
    np.testing.assert_allclose(prof[0, : nv[0]], expect, atol=1e-3)
    assert dist[0] == pytest.approx(math.hypot(3500.0, 2500.0))
    assert step[0] * (nv[0] - 1) == pytest.approx(dist[0])


def test_voids_are_filled_and_outside_flagged():
    z = np.full((100, 100), 100.0, dtype=np.float32)
    z[40:60, :] = np.nan  # a void band across every N-S path
    t = prepare_terrain(Raster(z, Affine(PX, 0, X0, 0, -PX, Y0), "EPSG:32648", "m"))
    prof, nv, *_rest, ok = pair_profiles(t, [X0 + 2500], [Y0 - 500], [X0 + 2500], [Y0 - 4500])
    assert ok.all() and np.isfinite(prof).all()
    np.testing.assert_allclose(prof[0, : nv[0]], 100.0)  # linear fill of a flat profile
    assert not t.inside([X0 - 10], [Y0 - 10])[0]


def _numpy_profiles(t, tx_x, tx_y, rx_x, rx_y, step):
    """pair_profiles as it was written in numpy before 2026-12-04 (the reference)."""
    dx, dy = rx_x - tx_x, rx_y - tx_y
    nv = np.maximum(np.ceil(np.hypot(dx, dy) / step).astype(np.int64) + 1, 2)
    k = np.arange(int(nv.max()), dtype=float)
    f = np.minimum(k[None, :] / (nv[:, None] - 1.0), 1.0)
    prof = t.sample(tx_x[:, None] + f * dx[:, None], tx_y[:, None] + f * dy[:, None])
    ok = np.ones(len(nv), bool)
    for r in np.flatnonzero(np.isnan(prof).any(axis=1)):
        good = np.isfinite(prof[r])
        if not good.any():
            ok[r] = False
            prof[r] = 0.0
            continue
        idx = np.arange(prof.shape[1])
        prof[r, ~good] = np.interp(idx[~good], idx[good], prof[r, good])
    return prof, nv, ok


def test_compiled_profiles_equal_the_numpy_reference_bit_for_bit():
    rng = np.random.default_rng(3)
    z = rng.normal(300.0, 80.0, (100, 100)).astype(np.float32)
    z[rng.random(z.shape) < 0.05] = np.nan  # scattered voids
    z[40:47, 10:90] = np.nan  # and a void band
    z[:, 95:] = np.nan  # a void margin: paths ending there are filled from inside
    t = prepare_terrain(Raster(z, Affine(PX, 0, X0, 0, -PX, Y0), "EPSG:32648", "m"))
    n = 400
    tx_x, tx_y = X0 + rng.uniform(-300, 5300, n), Y0 - rng.uniform(-300, 5300, n)
    rx_x, rx_y = X0 + rng.uniform(-300, 5300, n), Y0 - rng.uniform(-300, 5300, n)
    tx_x[0], tx_y[0], rx_x[0], rx_y[0] = X0 + 4900, Y0 - 100, X0 + 4950, Y0 - 4900  # all void
    ref, nv0, ok0 = _numpy_profiles(t, tx_x, tx_y, rx_x, rx_y, 37.0)
    prof, nv, _step, _dist, ok = pair_profiles(t, tx_x, tx_y, rx_x, rx_y, step_m=37.0)
    assert not ok[0] and ok[1:].any() and np.array_equal(ok, ok0) and np.array_equal(nv, nv0)
    # the same floating-point operations in the same order: identical bits, padding included
    assert np.array_equal(prof, ref)


def test_single_knife_edge_matches_j_of_v():
    # flat earth (huge k), 10 km path, 100 m edge at mid path, antennas 10 m: h = 90 m
    p = np.zeros((1, 101))
    p[0, 50] = 100.0
    lam = 299.792458 / 1000.0
    v = 90.0 * math.sqrt(2 * 10_000 / (lam * 5000 * 5000))
    expect = 6.9 + 20 * math.log10(math.sqrt((v - 0.1) ** 2 + 1) + v - 0.1)  # P.526 eq. 31
    # the single edge is found exactly by both methods (no sub-edges): 1e-9 dB is float noise
    for fn in (bullington_db, deygout_db):
        assert fn(p, 100.0, 10.0, 10.0, 1000.0, k_factor=1e9)[0] == pytest.approx(expect,
                                                                                   abs=1e-9)


def test_earth_bulge_obstructs_long_flat_path():
    # 60 km flat path, 10 m antennas: bulge d²/(8 k a) = 53.0 m at mid-path, 43 m above the ray:
    # v ≥ 43·sqrt(2·60 km / (0.3 m · 30 km · 30 km)) = 0.91 → J ≥ 13.7 dB
    p = np.zeros((1, 601))
    assert bullington_db(p, 100.0, 10.0, 10.0, 1000.0)[0] > 13.7
    # flat earth: the ray clears the ground by 10 m; only the mid-path Fresnel loss remains,
    # J(v) with v = -10·sqrt(2·60 km/(λ·30 km·30 km)) (1e-6 dB: float noise)
    v = -10.0 * math.sqrt(2 * 60_000 / (0.299792458 * 30_000**2))
    flat = bullington_db(p, 100.0, 10.0, 10.0, 1000.0, k_factor=1e12)[0]
    assert flat == pytest.approx(knife_edge_db(v)[0], abs=1e-6)


def test_dem_in_degrees_is_reprojected_and_no_crs_refused():
    lon0, lat0 = 105.3, 20.9
    z = np.full((60, 60), 50.0, dtype=np.float32)
    geo = Raster(z, Affine(1 / 1200, 0, lon0, 0, -1 / 1200, lat0), "EPSG:4326", "m")
    t = prepare_terrain(geo)
    x, y = transform_points([lon0 + 0.025], [lat0 - 0.025], "EPSG:4326", "EPSG:32648")
    assert t.sample(x, y)[0] == pytest.approx(50.0, abs=1e-4)  # constant survives bilinear
    with pytest.raises(CRSError, match="no CRS"):
        prepare_terrain(Raster(z, geo.transform, "", "m"))


# ---- link budget, best server ------------------------------------------------------------


def test_sector_pattern_values():
    # 3GPP: 12 (φ/65)² → 3 dB at 32.5°, capped at 25 dB behind; omni = 0
    g = sector_gain_db([0.0, 32.5, 65.0, 180.0, 90.0], [0.0, 0.0, 0.0, 0.0, np.nan])
    np.testing.assert_allclose(g, [0.0, -3.0, -12.0, -25.0, 0.0])
    # vertical: 12 ((θ - tilt)/10)² → 3 dB at 5° off tilt
    assert sector_gain_db(0.0, 0.0, 7.0, 2.0)[0] == pytest.approx(-3.0)


def test_score_villages_best_server_and_flags():
    b = tiny_bundle()
    s = score_villages(b, model="hata")
    assert list(s.index) == [f"V{i}" for i in range(6)]
    # V5 is outside the DEM: excluded, counted, never covered
    assert s.attrs["stats"]["receivers_outside_dem"] == 1
    assert not s.loc["V5", "in_dem"] and s.loc["V5", "rx_dbm_4G"] == -np.inf
    assert s.loc["V5", "site_4G"] is None and not s.loc["V5", "covered_any"]
    # V3 sits 1 km from S2 on the same side of the ridge: served by S2 (VNPT) on 4G
    assert s.loc["V3", "site_4G"] == "S2"
    assert s.loc["V3", "rx_dbm_4G"] == s.loc["V3", "rx_dbm_4G_VNPT"]
    # the ridge shadows S1's 2G from V3 (behind it) but not V1 (in front)
    assert s.loc["V1", "covered_2G"] and not s.loc["V3", "covered_2G"]
    assert (s["covered_4G"] == (s["rx_dbm_4G"] >= settings.THRESHOLDS_DBM["4G"])).all()
    # no 3G cells: -inf, not covered
    assert (s["rx_dbm_3G"] == -np.inf).all() and not s["covered_3G"].any()
    # hand link budget for V1 ↔ S1 on 2G (omni, line of sight, 2.236 km, 947.5 MHz):
    x = link_pairs(transmitters(b), [X0 + 3000], [Y0 - 4000], b.dem,
                   EngineOptions(model="fspl", diffraction="none"))
    d3 = math.hypot(math.hypot(1000, 1000), 30 - 1.5) / 1000
    c2 = int(np.flatnonzero(x.cell_idx == 1)[0])
    # 2G: no pilot offset, omni; fspl only. 1e-6 dB: float rounding.
    assert x.rx_dbm[c2] == pytest.approx(57.0 - (32.45 + 20 * math.log10(947.5 * d3)), abs=1e-6)


def test_ridge_lowers_signal_behind_it():
    s_flat = score_villages(tiny_bundle(ridge=False), model="hata", techs=["2G"])
    s_ridge = score_villages(tiny_bundle(), model="hata", techs=["2G"])
    assert s_ridge.loc["V3", "rx_dbm_2G"] < s_flat.loc["V3", "rx_dbm_2G"] - 20
    assert s_ridge.loc["V1", "rx_dbm_2G"] == pytest.approx(s_flat.loc["V1", "rx_dbm_2G"])


def test_models_run_on_bundle():
    b = tiny_bundle()
    for model in ("fspl", "cost231", "38901"):
        for diff in ("deygout", "bullington", "none"):
            with pytest.warns(ValidityWarning) if model == "cost231" else _nothing():
                s = score_villages(b, model=model, diffraction=diff, techs=["4G"])
            assert np.isfinite(s.loc["V0":"V4", "rx_dbm_4G"]).all()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_matrix_equals_dense_and_threads_identical():
    b = tiny_bundle()
    tx = transmitters(b)
    rng = np.random.default_rng(1)
    x = X0 + rng.uniform(0, 10_000, 300)
    y = Y0 - rng.uniform(0, 10_000, 300)
    m = coverage_matrix(tx, x, y, b.dem, model="hata")
    assert m.shape == (300, 4) and m.dtype == bool
    # dense brute force: every (receiver, cell) pair one at a time
    opts = EngineOptions(model="hata")
    dense = np.zeros((300, 4), bool)
    for i in range(0, 300, 37):
        for c in range(4):
            r = link_pairs(tx.iloc[[c]], x[i:i + 1], y[i:i + 1], b.dem, opts)
            th = settings.THRESHOLDS_DBM[tx["tech"].iloc[c]]
            dense[i, c] = bool(len(r.rx_dbm)) and r.rx_dbm[0] >= th
    np.testing.assert_array_equal(m.toarray()[::37], dense[::37])
    mm = coverage_matrix(tx, x, y, b.dem, model="hata", margins=True)
    assert (mm.data >= 0).all() and mm.nnz == m.nnz
    r1 = link_pairs(tx, x, y, b.dem, EngineOptions(model="hata", batch_pairs=50, threads=1))
    r2 = link_pairs(tx, x, y, b.dem, EngineOptions(model="hata", batch_pairs=50, threads=2))
    np.testing.assert_array_equal(r1.rx_dbm, r2.rx_dbm)
    np.testing.assert_array_equal(r1.cell_idx, r2.cell_idx)


def test_bad_bundles():
    b = tiny_bundle()
    b.layers["cells"] = pd.concat([b.cells, pd.DataFrame({
        "cell_id": ["C9"], "site_id": ["S9"], "tech": ["4G"], "freq_mhz": [1842.5],
        "eirp_dbm": [57.0]})], ignore_index=True)
    with pytest.raises(DataError, match="row 5, site_id 'S9' is not in sites"):
        transmitters(b)
    b = tiny_bundle()
    b.layers["sites"] = b.sites.iloc[:0]
    with pytest.raises(DataError, match="site list is empty"):
        score_villages(b, model="hata")
    with pytest.raises(DataError, match="no DEM"):
        score_villages(Bundle("x", layers=tiny_bundle().layers), model="hata")


def test_raster_run_and_site_rasters(tmp_path):
    from phusong.coverage import run_bundle

    b = tiny_bundle()
    from shapely.geometry import box
    b.layers["communes"] = gpd.GeoDataFrame(
        {"commune_code": ["00001", "00002"]},
        geometry=[box(*b"".join([]) or (0, 0, 0, 0)) for _ in range(2)], crs="EPSG:4326")
    lon, lat = transform_points([X0, X0 + 5000, X0 + 10000], [Y0 - 10000, Y0, Y0],
                                "EPSG:32648", "EPSG:4326")
    b.layers["communes"] = gpd.GeoDataFrame(
        {"commune_code": ["00001", "00002"]},
        geometry=[box(lon[0], lat[0], lon[1], lat[1]), box(lon[1], lat[0], lon[2], lat[2])],
        crs="EPSG:4326")
    rep = run_bundle(b, tmp_path / "out", model="hata", resolution_m=200.0, threads=2)
    assert rep["threads"] == 2
    import rasterio

    with rasterio.open(tmp_path / "out" / "best_dbm_4G.tif") as src:
        arr = src.read(1)
    assert np.isfinite(arr).sum() > 1000 and np.nanmax(arr) > -60
    com = pd.read_csv(tmp_path / "out" / "communes.csv", dtype={"commune_code": str})
    assert com["households"].tolist() == [600, 1500]
    assert (com["any_households"] <= com["households"]).all()
    assert rep["villages"]["receivers_outside_dem"] == 1
    # identical rasters with one thread
    rep1 = run_bundle(b, tmp_path / "one", model="hata", resolution_m=200.0, threads=1)
    with rasterio.open(tmp_path / "one" / "best_dbm_4G.tif") as src:
        np.testing.assert_array_equal(src.read(1), arr)
    assert rep1["raster"]["links"] == rep["raster"]["links"]


def test_run_bundle_screen_option_and_report(tmp_path):
    from shapely.geometry import box

    from phusong.coverage import run_bundle

    b = tiny_bundle()
    lon, lat = transform_points([X0, X0 + 10000], [Y0 - 10000, Y0], "EPSG:32648", "EPSG:4326")
    b.layers["communes"] = gpd.GeoDataFrame(
        {"commune_code": ["00001"]}, geometry=[box(lon[0], lat[0], lon[1], lat[1])],
        crs="EPSG:4326")
    rep = run_bundle(b, tmp_path / "a", model="hata", resolution_m=200.0, threads=2)
    assert rep["raster"]["screen_margin_db"] == 15.0
    rep0 = run_bundle(b, tmp_path / "b", model="hata", resolution_m=200.0, threads=2,
                      screen_margin_db=0)
    assert "screen_margin_db" not in rep0["raster"]
    assert rep0["raster"]["points_evaluated"] >= rep["raster"]["points_evaluated"]


# ---- CLI ---------------------------------------------------------------------------------


def _site_args(tmp_path, radius_km, resolution_m):
    """``phusong coverage site`` arguments for a Hata site in the tiny bundle's DEM (no --out)."""
    write_raster(tiny_bundle().dem, tmp_path / "dem.tif")
    lon, lat = transform_points([X0 + 5000], [Y0 - 5000], "EPSG:32648", "EPSG:4326")
    return ["coverage", "site", "--dem", str(tmp_path / "dem.tif"), "--lon", str(lon[0]),
            "--lat", str(lat[0]), "--height-m", "30", "--freq-mhz", "900", "--eirp-dbm", "57",
            "--radius-km", str(radius_km), "--resolution-m", str(resolution_m), "--model",
            "hata", "--json"]


def test_cli_site_ok_and_errors(tmp_path):
    args = _site_args(tmp_path, 3, 100)
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "s.tif")])
    assert r.exit_code == 0, r.output
    import json

    rep = json.loads(r.stdout)
    assert rep["receivers_evaluated"] > 2000 and rep["path_loss_db"]["median"] > 90
    bad = list(args)
    bad[bad.index("--lon") + 1] = "90.0"
    r = CliRunner().invoke(main, bad + ["--out", str(tmp_path / "t.tif")])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "outside the DEM" in r.stderr
    assert not (tmp_path / "t.tif").exists()
    r = CliRunner().invoke(main, ["coverage", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert r.exit_code == 2 and "not a phusong bundle" in r.stderr


@pytest.mark.realdata
def test_cli_site_on_srtm_tile(hoabinh, tmp_path):
    dem = hoabinh / "dem" / "srtm3_N21E105.tif"
    r = CliRunner().invoke(main, [
        "coverage", "site", "--dem", str(dem), "--lon", "105.5", "--lat", "21.3", "--height-m",
        "30", "--freq-mhz", "1842.5", "--eirp-dbm", "57", "--radius-km", "5",
        "--resolution-m", "90", "--model", "hata", "--out", str(tmp_path / "s.tif"), "--json"])
    assert r.exit_code == 0, r.output
    import json

    rep = json.loads(r.stdout)
    # π·5000²/90² ≈ 9,700 cells in the disk; mountains give a wide loss spread
    assert 9000 < rep["receivers_evaluated"] < 10_500
    assert rep["path_loss_db"]["p95"] - rep["path_loss_db"]["p05"] > 20


def test_default_model_is_itm_and_terrain_aware():
    assert settings.DEFAULT_MODEL == "itm"
    s_flat = score_villages(tiny_bundle(ridge=False), techs=["2G", "4G"])
    s_ridge = score_villages(tiny_bundle(), techs=["2G", "4G"])
    # behind the 300 m ridge ITM (diffraction mode) loses far more than on flat ground
    assert s_ridge.loc["V3", "rx_dbm_2G"] < s_flat.loc["V3", "rx_dbm_2G"] - 20
    assert np.isfinite(s_ridge.loc["V0":"V4", "rx_dbm_4G"]).all()
    assert s_ridge.loc["V3", "site_4G"] == "S2"



def test_sites_with_ground_elevation_column():
    # pandas 3 returns read-only arrays from to_numeric(...).to_numpy(): a ground_m column with
    # gaps must still be filled from the DEM (regression: "assignment destination is read-only")
    b = tiny_bundle()
    base = transmitters(b)
    sites = b.layers["sites"].copy()
    sites["ground_m"] = np.nan
    sites.loc[sites.index[0], "ground_m"] = 123.0
    b.layers["sites"] = sites
    got = transmitters(b)
    first = got["site_id"] == sites["site_id"].iloc[0]
    assert (got.loc[first, "ground_m"] == 123.0).all()
    # the others are sampled from the DEM exactly as without the column
    assert np.array_equal(got.loc[~first, "ground_m"].to_numpy(),
                          base.loc[~first, "ground_m"].to_numpy())


def test_cli_screen_margin_is_checked(tmp_path):
    r = CliRunner().invoke(main, ["coverage", str(tmp_path), "--out", str(tmp_path / "o"),
                                  "--screen-margin-db", "-3"])
    assert r.exit_code == 2 and "screen-margin-db" in r.output


def test_cli_threads_default_to_every_core_and_are_checked(tmp_path, monkeypatch):
    from phusong.cli._common import resolve_threads

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert resolve_threads(0) == 3 and resolve_threads(1) == 1
    monkeypatch.delattr("os.sched_getaffinity", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert resolve_threads(0) == 1
    monkeypatch.undo()
    import json

    args = _site_args(tmp_path, 2, 200)
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "a.tif")])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["threads"] == resolve_threads(0)
    r = CliRunner().invoke(main, args + ["--threads", "1", "--out", str(tmp_path / "b.tif")])
    assert r.exit_code == 0 and json.loads(r.stdout)["threads"] == 1
    r = CliRunner().invoke(main, args + ["--threads", "-1", "--out", str(tmp_path / "c.tif")])
    assert r.exit_code == 2 and "--threads" in r.output and not (tmp_path / "c.tif").exists()
