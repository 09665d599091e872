"""ITU-R P.1812 in the coverage engine: pairs, rays, villages, candidate matrix and the CLI."""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from phusong import settings
from phusong.bundle import write_raster
from phusong.cli import main
from phusong.coverage import (
    EngineOptions,
    coverage_matrix,
    p1812_loss_db,
    predict_site,
    score_villages,
    transmitters,
)
from phusong.coverage._engine import link_pairs
from phusong.coverage.p1812._engine import (
    pair_losses,
    prefix_ray_losses,
    ray_losses,
    site_lat_slope,
)
from phusong.coverage.p1812._kernel import loss_batch
from phusong.crs import transform_points
from phusong.errors import ModelError
from tests.test_coverage_engine import X0, Y0, tiny_bundle
from tests.test_coverage_raster import _rough_rays, _site_dem

STEP_M, H_TX, H_RX = 90.0, 30.0, 1.5
P = settings.P1812


def _kernel_on_prefixes(rays, freqs, sx, sy):
    """The per-path kernel on every ray prefix ``rays[k, :j + 1]`` (j ≥ 4), one call each."""
    n_rays, n_s = rays.shape
    lat0, dlat = site_lat_slope(sx, sy)
    paths, phis, keys = [], [], []
    for k in range(n_rays):
        north = math.cos(k * 2 * math.pi / n_rays)
        for j in range(4, n_s):
            paths.append(rays[k, :j + 1])
            phis.append(lat0 + dlat * 0.5 * j * STEP_M * north)
            keys.append(k * n_s + j)
    out = {}
    for f in freqs:
        flat = np.concatenate(paths)
        count = np.array([len(p) for p in paths])
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        d = np.concatenate([np.arange(c) * STEP_M / 1000 for c in count])
        n = len(paths)
        one = np.ones(n)
        lb, _ = loss_batch(d, flat, np.zeros(len(flat)), np.full(len(flat), 4, np.int64),
                           start, count, one * f / 1000, one * P.time_pct,
                           one * P.location_pct, one * H_TX, one * H_RX,
                           np.full(n, 2, np.int64), np.array(phis), one * P.delta_n,
                           one * P.n0, one * P.coast_km, one * P.coast_km, one * 0.0,
                           np.zeros(n, bool), False)
        out[f] = dict(zip(keys, lb, strict=True))
    return out


def _rays_out(fn, rays, freqs, params=P):
    n_rays, n_s = rays.shape
    slot = np.arange(n_rays * n_s, dtype=np.int64)
    need = np.ones((len(freqs), n_rays * n_s), bool)
    out = np.full((len(freqs), n_rays * n_s), np.inf)
    fn(rays, np.full(n_rays, n_s - 1, np.int64), STEP_M, slot, need, freqs, H_TX, H_RX,
       600_000.0, 2_320_000.0, params, out)
    return out


@pytest.mark.parametrize("params", [
    P,
    settings.P1812Settings(time_pct=10.0, clutter_height_m=12.0),  # both radii, clutter
    settings.P1812Settings(time_pct=1.0, zone=1, location_pct=90.0, sigma_l_db=5.0),  # sea
    settings.P1812Settings(zone=3, polarization="horizontal"),
])
def test_incremental_rays_equal_the_kernel_on_each_prefix(params):
    # hulls, running maxima and concave optima find the same points as the path kernel's
    # scans; the values are re-evaluated there, so only rounding separates the two (1e-9 dB)
    for seed in (4, 5):
        rays = _rough_rays(8, 160, seed=seed)
        rays[1] = 300.0  # flat ground: every point ties with earth curvature only
        rays[2, :] = np.linspace(500.0, 100.0, 160)  # a steady slope down from the site
        freqs = [150.0, 947.5, 3500.0]
        inc = _rays_out(ray_losses, rays, freqs, params)
        ref = _rays_out(prefix_ray_losses, rays, freqs, params)
        done = np.isfinite(ref)
        np.testing.assert_array_equal(np.isfinite(inc), done)
        np.testing.assert_allclose(inc[done], ref[done], rtol=0, atol=1e-9)


def test_rays_equal_the_kernel_on_each_prefix():
    rays = _rough_rays(6, 120, seed=4)
    n_rays, n_s = rays.shape
    freqs = [780.0, 3500.0]
    sx, sy = 600_000.0, 2_320_000.0
    out = _rays_out(prefix_ray_losses, rays, freqs)
    ref = _kernel_on_prefixes(rays, freqs, sx, sy)
    for b, f in enumerate(freqs):
        keys = np.array(list(ref[f]))
        # the same kernel; distances j·(step/1000) vs (j·step)/1000 differ in the last bit
        np.testing.assert_allclose(out[b, keys], np.array(list(ref[f].values())), rtol=0,
                                   atol=1e-9)
    assert np.isfinite(out.reshape(2, n_rays, n_s)[:, :, 1:]).all()  # short prefixes (j < 4) are resampled, not skipped


def test_pairs_equal_the_public_function():
    rng = np.random.default_rng(3)
    profiles = [300.0 + np.cumsum(rng.normal(0.0, 15.0, n)) for n in rng.integers(5, 200, 30)]
    flat = np.concatenate(profiles)
    count = np.array([len(p) for p in profiles])
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    tx = (np.full(30, 600_000.0), np.full(30, 2_320_000.0))
    bearing = rng.uniform(0, 2 * np.pi, 30)
    rx = (tx[0] + np.sin(bearing) * (count - 1) * STEP_M,
          tx[1] + np.cos(bearing) * (count - 1) * STEP_M)
    got = pair_losses(flat, start, count, STEP_M, 1842.5, H_TX, H_RX, tx, rx, P)
    tlon, tlat = transform_points(*tx, "EPSG:32648", "EPSG:4326")
    rlon, rlat = transform_points(*rx, "EPSG:32648", "EPSG:4326")
    want = p1812_loss_db([np.arange(c) * STEP_M / 1000 for c in count], profiles, 1842.5,
                         time_pct=P.time_pct, tx_height_m=H_TX, rx_height_m=H_RX,
                         polarization=P.polarization, zones=P.zone, clutter_heights_m=0.0,
                         delta_n=P.delta_n, n0=P.n0, tx_lat=tlat, tx_lon=tlon, rx_lat=rlat,
                         rx_lon=rlon)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)  # one kernel: rounding only


def test_raster_identical_with_one_and_two_threads_and_close_to_points():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba was started with a single thread")
    dem, lon, lat = _site_dem()
    kw = dict(height_m=30.0, freq_mhz=1842.5, eirp_dbm=57.0, radius_km=4.0, resolution_m=90.0,
              model="p1812")
    one, t, rep1 = predict_site(dem, lon, lat, threads=1, **kw)
    two, _, _ = predict_site(dem, lon, lat, threads=2, **kw)
    np.testing.assert_array_equal(one, two)
    assert rep1["receivers_evaluated"] > 5000 and rep1["model"] == "p1812"
    x, y = transform_points([lon], [lat], "EPSG:4326", "EPSG:32648")
    rows, cols = np.nonzero(np.isfinite(one))
    cx = t.c + (cols + 0.5) * t.a
    cy = t.f + (rows + 0.5) * t.e
    pick = np.arange(0, len(rows), 40)
    tx = pd.DataFrame({"site_id": ["S"], "tech": ["2G"], "freq_mhz": [1842.5],
                       "eirp_dbm": [57.0], "x_m": x, "y_m": y, "height_m": [30.0]})
    res = link_pairs(tx, cx[pick], cy[pick], dem, EngineOptions(model="p1812"))
    assert len(res.rx_dbm) == len(pick)
    # the raster serves each cell from its nearest ray sample (≤ half a cell and half a ray
    # spacing away) and samples at 90 m, the point engine the exact path at the DEM pixel:
    # a few dB apart, as for ITM
    diff = np.abs(one[rows[pick], cols[pick]] - res.rx_dbm[np.argsort(res.rx_idx)])
    assert np.median(diff) < 3.0


def test_villages_and_candidate_matrix_with_p1812():
    b = tiny_bundle()
    s = score_villages(b, model="p1812", techs=["2G", "4G"])
    assert np.isfinite(s.loc["V0":"V4", "rx_dbm_4G"]).all()
    flat = score_villages(tiny_bundle(ridge=False), model="p1812", techs=["2G"])
    # V3 (x = 607 km) sits just behind the 300 m ridge from S1 but S2 (x = 608 km) serves it
    # from the same side; V2 (x = 605 km) lies between S1 and the ridge: the ridge can only
    # lower signals, never raise them
    assert (s["rx_dbm_2G"] <= flat["rx_dbm_2G"] + 1e-9).all()
    tx = transmitters(b)
    rng = np.random.default_rng(1)
    x = X0 + rng.uniform(0, 10_000, 120)
    y = Y0 - rng.uniform(0, 10_000, 120)
    m = coverage_matrix(tx, x, y, b.dem, model="p1812")
    assert m.shape == (120, 4) and m.nnz > 0
    r1 = link_pairs(tx, x, y, b.dem, EngineOptions(model="p1812", batch_pairs=50, threads=1))
    r2 = link_pairs(tx, x, y, b.dem, EngineOptions(model="p1812", batch_pairs=50, threads=2))
    np.testing.assert_array_equal(r1.rx_dbm, r2.rx_dbm)


def test_engine_refuses_inputs_outside_p1812():
    b = tiny_bundle()
    tx = transmitters(b)
    bad = tx.assign(freq_mhz=np.where(tx["tech"] == "5G", 6500.0, tx["freq_mhz"]))
    with pytest.raises(ModelError, match="frequency 6500 MHz"):
        link_pairs(bad, [X0 + 7000.0], [Y0 - 5000.0], b.dem, EngineOptions(model="p1812"))
    opts = EngineOptions(model="p1812", p1812=settings.P1812Settings(time_pct=60.0))
    with pytest.raises(ModelError, match="time percentage 60"):
        link_pairs(tx, [X0 + 3000.0], [Y0 - 5000.0], b.dem, opts)


def test_cli_site_with_p1812(tmp_path):
    dem, lon, lat = _site_dem()
    write_raster(dem, tmp_path / "dem.tif")
    args = ["coverage", "site", "--dem", str(tmp_path / "dem.tif"), "--lon", str(lon), "--lat",
            str(lat), "--height-m", "30", "--eirp-dbm", "57", "--radius-km", "2",
            "--resolution-m", "100", "--model", "p1812", "--json"]
    r = CliRunner().invoke(main, args + ["--freq-mhz", "900", "--out", str(tmp_path / "a.tif")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "a.tif").exists()
    r = CliRunner().invoke(main, args + ["--freq-mhz", "7000", "--out",
                                         str(tmp_path / "b.tif")])
    assert r.exit_code == 2 and "30–6000 MHz" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b.tif").exists()


def test_cli_bundle_coverage_with_p1812(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    from phusong.bundle import save_bundle

    b = tiny_bundle()
    lon, lat = transform_points([X0, X0 + 5000, X0 + 10000], [Y0 - 10000, Y0, Y0],
                                "EPSG:32648", "EPSG:4326")
    b.layers["communes"] = gpd.GeoDataFrame(
        {"commune_code": ["00001", "00002"], "name": ["A", "B"], "type": ["xã", "xã"],
         "district_code": ["148", "148"], "district_name": ["X", "X"],
         "population": [2400, 6000], "households": [600, 1500]},
        geometry=[box(lon[0], lat[0], lon[1], lat[1]), box(lon[1], lat[0], lon[2], lat[2])],
        crs="EPSG:4326")
    save_bundle(b, tmp_path / "b")
    r = CliRunner().invoke(main, ["coverage", str(tmp_path / "b"), "--out", str(tmp_path / "o"),
                                  "--model", "p1812", "--resolution-m", "250", "--json",
                                  "--quiet"])
    assert r.exit_code == 0, r.output + r.stderr
    import json

    rep = json.loads(r.stdout)
    assert rep["villages"]["receivers"] == 6
    assert (tmp_path / "o" / "best_dbm_4G.tif").exists()
