"""P.1812 clutter heights and zones from land cover, the user's ITU maps and the CLI options."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from phusong import settings
from phusong.bundle import write_raster
from phusong.cli import main
from phusong.coverage import p1812_loss_db
from phusong.coverage._terrain import prepare_terrain
from phusong.coverage.clutter import prepare_clutter
from phusong.coverage.p1812._engine import pair_losses, prefix_ray_losses, ray_losses
from phusong.coverage.p1812._maps import GRID_SHAPE, read_p1812_maps
from phusong.coverage.p1812._surface import (
    Surface,
    surface_along_paths,
    surface_from_clutter,
)
from phusong.crs import transform_points
from phusong.errors import DataError, InputFileError, ModelError
from phusong.raster import Raster
from tests.test_coverage_raster import _rough_rays, _site_dem

X, Y = 600_000.0, 2_320_000.0
P = settings.P1812


def _landcover_and_dem():
    """100 m land cover (cropland) east of (X, Y): a 3 km × 4 km lake over x ∈ [3.5, 6.5) km
    (12 km², sea once ``sea_min_area_km2`` ≤ 12), built-up over [1.5, 2.5) km, a 0.16 km²
    pond around 8 km, forest over [8.5, 9.5) km; the ground is 50 m west of 5 km, 150 m
    east of it (coastal land needs ≤ 100 m)."""
    x0, y0, px = X - 1000.0, Y + 2000.0, 100.0
    cols, rows = 130, 40
    xc = x0 + (np.arange(cols) + 0.5) * px
    yc = y0 - (np.arange(rows) + 0.5) * px
    xx, yy = np.meshgrid(xc - X, yc - Y)
    lc = np.full((rows, cols), 40.0, np.float32)
    lc[(xx >= 1500) & (xx < 2500)] = 50
    lc[(xx >= 3500) & (xx < 6500)] = 80
    lc[(abs(xx - 8000) < 200) & (abs(yy) < 200)] = 80
    lc[(xx >= 8500) & (xx < 9500)] = 10
    dem = np.where(xx < 5000, 50.0, 150.0).astype(np.float32)
    t = Affine(px, 0, x0, 0, -px, y0)
    return Raster(lc, t, "EPSG:32648"), Raster(dem, t, "EPSG:32648", "m")


def _surface(**kw):
    lc, dem = _landcover_and_dem()
    return surface_from_clutter(prepare_clutter(lc), prepare_terrain(dem),
                                replace(P, sea_min_area_km2=10.0, **kw))


# the 11-point path X → X + 10 km: zones and R by P.1812 Tables 2 and 3, worked out by hand
ZONES = np.array([3, 3, 3, 3, 1, 1, 1, 4, 4, 4, 4])  # coastal (≤ 100 m, near sea) | sea | inland
R_M = np.array([0, 0, 10, 0, 0, 0, 0, 0, 0, 15, 0.0])  # built-up 10 m, pond 0 m, forest 15 m
H_M = np.array([50.0] * 5 + [150.0] * 6)


def test_table_heights_and_zones_per_pixel():
    s = _surface()
    r, z = surface_along_paths(s.clutter_m, s.zone, s.grid(), np.array([X]), np.array([Y]),
                               np.array([10_000.0]), np.array([0.0]), np.array([0]),
                               np.array([11]), 11)
    np.testing.assert_array_equal(z, ZONES)
    np.testing.assert_array_equal(r, R_M)
    # the 12 km² lake is inland water (zone 4) at the Recommendation's 7,854 km² sea size
    big = surface_from_clutter(prepare_clutter(_landcover_and_dem()[0]),
                               prepare_terrain(_landcover_and_dem()[1]), P)
    assert big.counts["sea"] == 0 and big.counts["coastal"] == 0
    # off the raster: the settings' defaults
    r, z = surface_along_paths(s.clutter_m, s.zone, s.grid(), np.array([X - 50_000.0]),
                               np.array([Y]), np.array([100.0]), np.array([0.0]),
                               np.array([0]), np.array([5]), 5)
    assert (z == P.zone).all() and (r == P.clutter_height_m).all()


def test_pair_losses_take_the_land_cover_per_point():
    s = _surface()
    kw = dict(time_pct=10.0, tx_height_m=30.0, rx_height_m=1.5, polarization="vertical",
              delta_n=P.delta_n, n0=P.n0)
    tx = (np.array([X]), np.array([Y]))
    rx = (np.array([X + 10_000.0]), np.array([Y]))
    got = pair_losses(H_M, [0], [11], 1000.0, 900.0, 30.0, 1.5, tx, rx,
                      replace(P, time_pct=10.0), s)
    tlon, tlat = transform_points(*tx, "EPSG:32648", "EPSG:4326")
    rlon, rlat = transform_points(*rx, "EPSG:32648", "EPSG:4326")
    d = np.arange(11.0)
    # land distance to the coast, by hand: 3 intervals + half the interval into the lake
    want, diag = p1812_loss_db([d], [H_M], 900.0, zones=[ZONES], clutter_heights_m=[R_M],
                               tx_lat=tlat, tx_lon=tlon, rx_lat=rlat, rx_lon=rlon,
                               dct_km=3.5, dcr_km=3.5, diagnostics=True, **kw)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)  # one kernel, same inputs
    # §3.6 by hand: the lake's section runs 4 − 0.5 … 6 + 0.5 km → ω = 3/10; the longest land
    # sections are 0 … 3.5 and 6.5 … 10 km; the inland one is 6.5 … 10 km
    assert diag["omega"][0] == pytest.approx(0.3, abs=1e-12)
    assert diag["dtm"][0] == pytest.approx(3.5, abs=1e-12)
    assert diag["dlm"][0] == pytest.approx(3.5, abs=1e-12)
    bare = pair_losses(H_M, [0], [11], 1000.0, 900.0, 30.0, 1.5, tx, rx,
                       replace(P, time_pct=10.0), None)
    assert got[0] != bare[0]


def _j(nu):
    return 6.9 + 20 * math.log10(math.sqrt((nu - 0.1) ** 2 + 1) + nu - 0.1) if nu > -0.78 else 0


def _lbulla(d, g, hts, hrs, ae, f_ghz):
    """Bullington loss of P.1812-6 eqs. (13)-(21), written out again for this test."""
    lam, dtot = 0.2998 / f_ghz, d[-1]
    di, gi = d[1:-1], g[1:-1] + 500.0 / ae * d[1:-1] * (d[-1] - d[1:-1])
    stim = np.max((gi - hts) / di)
    if stim < (hrs - hts) / dtot:
        nu = np.max((gi - (hts * (dtot - di) + hrs * di) / dtot)
                    * np.sqrt(0.002 * dtot / (lam * di * (dtot - di))))
    else:
        srim = np.max((gi - hrs) / (dtot - di))
        dbp = (hrs - hts + srim * dtot) / (stim + srim)
        nu = (hts + stim * dbp - (hts * (dtot - dbp) + hrs * dbp) / dtot) * math.sqrt(
            0.002 * dtot / (lam * dbp * (dtot - dbp)))
    luc = _j(float(nu))
    return luc + (1 - math.exp(-luc / 6)) * (10 + 0.02 * dtot)


def test_forest_next_to_the_receiver_raises_the_loss_by_the_hand_value():
    # flat ground at 0 m, 2 km, 100 m spacing, 30 m → 1.5 m, 900 MHz, ΔN 45: over open
    # ground Stim = −15.8 m/km (at 1.9 km) < the chord's −14.25: line of sight; a 15 m wood
    # (P.1812 Table 2 "trees/forest") on the last two intermediate points makes Stim −7.9:
    # the receiver is shadowed (eqs. (18)-(20))
    d = np.linspace(0.0, 2.0, 21)
    h = np.zeros(21)
    r_wood = np.where(d >= 1.75, 15.0, 0.0)
    r_wood[-1] = 0.0
    kw = dict(time_pct=50.0, tx_height_m=30.0, rx_height_m=1.5, polarization="vertical",
              zones=None, delta_n=45.0, n0=325.0, tx_lat=21.0, tx_lon=105.0, rx_lat=21.018,
              rx_lon=105.0, diagnostics=True)
    lb0, d0 = p1812_loss_db([d], [h], 900.0, clutter_heights_m=[np.zeros(21)], **kw)
    lb1, d1 = p1812_loss_db([d], [h], 900.0, clutter_heights_m=[r_wood], **kw)
    ae = 6371.0 * 157.0 / (157.0 - 45.0)
    want = _lbulla(d, r_wood, 30.0, 1.5, ae, 0.9) - _lbulla(d, np.zeros(21), 30.0, 1.5, ae, 0.9)
    # the smooth-Earth part of delta-Bullington does not see clutter: ΔLd50 = ΔLbulla
    assert d1["Ld50"][0] - d0["Ld50"][0] == pytest.approx(want, abs=1e-9)
    assert want > 15.0  # the wood shadows the receiver: ~20 dB more diffraction loss
    assert lb1[0] > lb0[0] + 10.0


def test_rays_with_land_cover_equal_the_kernel_on_each_prefix():
    # zones and clutter heights change along the rays (random 500 m pixels): the incremental
    # sections, dct/dcr and clutter give the path kernel's loss on each prefix (rounding only)
    rng = np.random.default_rng(7)
    n = 70
    zone = rng.choice(np.array([1, 3, 4], np.int8), size=(n, n), p=[0.3, 0.2, 0.5])
    clutter = rng.choice(np.array([0.0, 10.0, 15.0, 20.0]), size=(n, n))
    clutter[zone == 1] = 0.0
    zone[30:40, 30:40] = 0  # no data around the site: the defaults
    s = Surface(clutter, zone, X - 17_500.0, Y + 17_500.0, 500.0, 500.0, 5.0, 4, {})
    rays = _rough_rays(8, 160, seed=4)
    freqs = [150.0, 947.5, 3500.0]
    n_rays, n_s = rays.shape
    for params in (P, replace(P, time_pct=1.0, location_pct=90.0),
                   replace(P, time_pct=10.0, location_pct=20.0, sigma_l_db=4.0)):
        outs = []
        for fn in (ray_losses, prefix_ray_losses):
            out = np.full((len(freqs), n_rays * n_s), np.inf)
            fn(rays, np.full(n_rays, n_s - 1, np.int64), 90.0,
               np.arange(n_rays * n_s, dtype=np.int64),
               np.ones((len(freqs), n_rays * n_s), bool), freqs, 30.0, 1.5, X, Y, params, out,
               s)
            outs.append(out)
        done = np.isfinite(outs[1])
        np.testing.assert_array_equal(np.isfinite(outs[0]), done)
        np.testing.assert_allclose(outs[0][done], outs[1][done], rtol=0, atol=1e-9)


def test_location_percentage_uses_sigma_of_eq68():
    # σL of eq. (68) at 900 MHz, wa = 100 m, 1.5 m receiver in the open (R = 0):
    # (0.52 + 0.024·0.9)·100^0.28·0.85 = 1.6708 dB; pL = 90 % adds I-approximation × σL
    from phusong.coverage.p1812._kernel import inv_cum_norm

    h = 300.0 + np.cumsum(np.random.default_rng(1).normal(0, 20, 120))
    args = (h, [0], [120], 90.0, 900.0, 30.0, 1.5, (np.array([X]), np.array([Y])),
            (np.array([X + 119 * 90.0]), np.array([Y])))
    lb50 = pair_losses(*args, P)
    lb90 = pair_losses(*args, replace(P, location_pct=90.0))
    sigma = (0.52 + 0.024 * 0.9) * 100.0 ** 0.28 * 0.85
    assert lb90[0] - lb50[0] == pytest.approx(-inv_cum_norm(0.9) * sigma, abs=1e-9)


# ---- the user's ITU maps -----------------------------------------------------------------

def _write_maps(folder, shape=GRID_SHAPE):
    """Synthetic maps, linear in latitude and longitude (bilinear interpolation is exact)."""
    lat = 90.0 - 1.5 * np.arange(shape[0])[:, None]
    lon = 1.5 * np.arange(shape[1])[None, :]
    folder.mkdir(exist_ok=True)
    np.savetxt(folder / "DN50.TXT", 40.0 + 0.1 * lat + 0.01 * lon + 0 * lon, fmt="%.6f")
    np.savetxt(folder / "N050.TXT", 330.0 + 0.2 * lat - 0.05 * lon + 0 * lon, fmt="%.6f")


def test_maps_bilinear_at_the_path_centre(tmp_path):
    _write_maps(tmp_path / "m")
    maps = read_p1812_maps(tmp_path / "m")
    dn, n0 = maps.at(np.array([20.8, -33.0]), np.array([105.3, -70.2]))
    np.testing.assert_allclose(dn, [40 + 2.08 + 1.053, 40 - 3.3 + 2.898], atol=1e-9)
    np.testing.assert_allclose(n0, [330 + 4.16 - 5.265, 330 - 6.6 - 14.49], atol=1e-9)
    # in the engine: equal to giving the path-centre values as settings
    h = 300.0 + np.cumsum(np.random.default_rng(2).normal(0, 20, 60))
    tx = (np.array([X]), np.array([Y]))
    rx = (np.array([X]), np.array([Y + 59 * 90.0]))
    got = pair_losses(h, [0], [60], 90.0, 900.0, 30.0, 1.5, tx, rx, replace(P, maps=maps))
    clon, clat = transform_points([X], [Y + 59 * 45.0], "EPSG:32648", "EPSG:4326")
    dn_c, n0_c = 40 + 0.1 * clat[0] + 0.01 * clon[0], 330 + 0.2 * clat[0] - 0.05 * clon[0]
    want = pair_losses(h, [0], [60], 90.0, 900.0, 30.0, 1.5, tx, rx,
                       replace(P, delta_n=dn_c, n0=n0_c))
    # the great-circle centre and the UTM midpoint differ by < 1 m: ΔN moves by < 1e-7
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_maps_bad_input(tmp_path):
    with pytest.raises(InputFileError, match="no such folder"):
        read_p1812_maps(tmp_path / "none")
    (tmp_path / "a").mkdir()
    with pytest.raises(InputFileError, match="DN50.TXT: not found"):
        read_p1812_maps(tmp_path / "a")
    _write_maps(tmp_path / "b", shape=(120, 241))
    with pytest.raises(DataError, match="120 × 241") as exc:
        read_p1812_maps(tmp_path / "b")
    assert "\n" not in str(exc.value)


# ---- CLI ---------------------------------------------------------------------------------

def _site_args(tmp_path):
    dem, lon, lat = _site_dem()
    write_raster(dem, tmp_path / "dem.tif")
    return ["coverage", "site", "--dem", str(tmp_path / "dem.tif"), "--lon", str(lon), "--lat",
            str(lat), "--height-m", "30", "--eirp-dbm", "57", "--radius-km", "1.5",
            "--resolution-m", "100", "--freq-mhz", "900", "--json"], lon, lat


def test_cli_site_p1812_options(tmp_path):
    args, lon, lat = _site_args(tmp_path)
    _write_maps(tmp_path / "maps")
    r = CliRunner().invoke(main, args + ["--model", "p1812", "--time-pct", "10",
                                         "--polarization", "horizontal", "--reliability-pct",
                                         "90", "--p1812-maps", str(tmp_path / "maps"),
                                         "--out", str(tmp_path / "a.tif")])
    assert r.exit_code == 0, r.output + r.stderr
    rep = json.loads(r.stdout)["p1812"]
    assert rep["time_pct"] == 10.0 and rep["polarization"] == "horizontal"
    assert "ITU digital maps" in rep["delta_n_n0"]
    r50 = CliRunner().invoke(main, args + ["--model", "p1812", "--out", str(tmp_path / "b.tif")])
    assert r50.exit_code == 0
    # p = 10 %, pL = 90 %: more loss at 90 % of locations than the median (σL of eq. (68))
    assert json.loads(r.stdout)["path_loss_db"]["median"] != \
        json.loads(r50.stdout)["path_loss_db"]["median"]


@pytest.mark.parametrize("extra, words", [
    (["--model", "p1812", "--time-pct", "60"], "time percentage 60 % (path 0) is outside 1–50"),
    (["--model", "p1812", "--time-pct", "0.5"], "time percentage 0.5"),
    (["--model", "p1812", "--reliability-pct", "99.5"], "location percentage 99.5"),
    (["--model", "p1812", "--freq-mhz", "7000"], "frequency 7000 MHz"),
    (["--model", "itm", "--time-pct", "10"], "--time-pct: only for --model p1812"),
    (["--model", "p1812", "--p1812-maps", "MISSING"], "no such folder"),
    (["--model", "p1812", "--p1812-maps", "SHORT"], "120 × 241"),
    (["--model", "p1812", "--lon", "0.0"], "outside the DEM"),
])
def test_cli_p1812_bad_input_one_line(tmp_path, extra, words):
    args, _, _ = _site_args(tmp_path)
    _write_maps(tmp_path / "SHORT", shape=(120, 241))
    extra = [str(tmp_path / e) if e in ("MISSING", "SHORT") else e for e in extra]
    # the last --freq-mhz / --lon given wins in click
    r = CliRunner().invoke(main, args + extra + ["--out", str(tmp_path / "x.tif")])
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.tif").exists()


def test_zone_settings_refused():
    from phusong.coverage._engine import EngineOptions

    with pytest.raises(ModelError, match="zone code 2"):
        EngineOptions(model="p1812", p1812=replace(P, zone=2)).check()
    with pytest.raises(ModelError, match="location percentage 0.5"):
        EngineOptions(model="p1812", reliability_pct=0.5).check()


def test_cli_site_p1812_settings_and_landcover(tmp_path):
    """``--time-pct`` goes through the settings (``p1812.time_pct``, source ``--set``, winning
    over an earlier ``--set``), ``--set p1812.*`` reaches the model, and ``--landcover`` with
    ``--model p1812`` gives P.1812's clutter heights per profile point, not P.2108."""
    args, lon, lat = _site_args(tmp_path)
    step = 0.0005  # 200 × 200 pixels of 0.0005°: ± 11 km around the site, the disk is 1.5 km
    lc = np.full((200, 200), 10.0, np.float32)  # trees: R = 15 m (P.1812 Table 2)
    write_raster(Raster(lc, Affine(step, 0, lon - 100 * step, 0, -step, lat + 100 * step),
                        "EPSG:4326", "class"), tmp_path / "lc.tif")
    common = args + ["--model", "p1812", "--set", "p1812.time_pct=20", "--time-pct", "10",
                     "--set", "p1812.sigma_l_db=0"]
    r = CliRunner().invoke(main, common + ["--landcover", str(tmp_path / "lc.tif"), "--out",
                                           str(tmp_path / "a.tif")])
    assert r.exit_code == 0, r.output + r.stderr
    rep = json.loads(r.stdout)
    rec = rep["settings"]
    assert rec["values"]["p1812.time_pct"] == 10.0 and rec["from"]["p1812.time_pct"] == "--set"
    assert rec["values"]["p1812.sigma_l_db"] == 0.0 and rep["p1812"]["sigma_l_db"] == 0.0
    assert rep["p1812"]["time_pct"] == 10.0
    assert "P.1812" in rep["clutter"] and "land cover" in rep["p1812"]["clutter_zones"]
    r0 = CliRunner().invoke(main, common + ["--out", str(tmp_path / "b.tif")])
    assert r0.exit_code == 0, r0.output + r0.stderr
    rep0 = json.loads(r0.stdout)
    assert rep0["clutter"] is None and "settings defaults" in rep0["p1812"]["clutter_zones"]
    # 15 m of trees at every point, the receiver's included, adds loss (> 1 dB: well above
    # float32 rounding of the rasters)
    assert rep["path_loss_db"]["median"] > rep0["path_loss_db"]["median"] + 1.0
