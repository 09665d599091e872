"""Antennas in the engine: named patterns on cells, the 3-D gain towards every receiver
(point and raster engines), the site CLI, and bad antenna references."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import Point, box

from phusong.bundle import Bundle, Raster, load_bundle, save_bundle, write_raster
from phusong.cli import main
from phusong.coverage import EngineOptions, link_pairs, transmitters
from phusong.coverage._antenna_kernel import PatternTable, pattern_gains
from phusong.coverage._run import predict_site
from phusong.coverage.antenna import gain_db, parametric_3gpp
from phusong.coverage.msi import read_msi, sampled, write_msi
from phusong.crs import transform_points
from phusong.errors import DataError

X0, Y0, PX = 600_000.0, 2_310_000.0, 50.0


def _ll(x, y):
    lon, lat = transform_points(x, y, "EPSG:32648", "EPSG:4326")
    return [Point(a, b) for a, b in zip(lon, lat, strict=True)]


def _bundle(antenna="3gpp-65"):
    """Flat 10 km DEM, one site in the middle with an omni cell and a sector cell."""
    dem = Raster(np.full((200, 200), 100.0, np.float32), Affine(PX, 0, X0, 0, -PX, Y0),
                 "EPSG:32648", "m")
    sites = gpd.GeoDataFrame({"site_id": ["S1"], "operator": ["Viettel"], "height_m": [30.0]},
                             geometry=_ll([X0 + 5000], [Y0 - 5000]), crs="EPSG:4326")
    cells = pd.DataFrame({
        "cell_id": ["omni", "sector"], "site_id": ["S1", "S1"], "tech": ["2G", "2G"],
        "freq_mhz": [947.5, 947.5], "eirp_dbm": [57.0, 57.0], "azimuth_deg": [np.nan, 90.0],
        "tilt_deg": [np.nan, 3.0], "antenna": ["", antenna], "etilt_deg": [np.nan, 2.0]})
    return Bundle("antennas", layers={"sites": sites, "cells": cells}, rasters={"dem": dem})


def test_compiled_kernel_matches_reference_gain():
    rng = np.random.default_rng(11)
    n = 2000
    b, az, th = rng.uniform(0, 360, n), rng.uniform(0, 360, n), rng.uniform(-30, 60, n)
    mt, et = rng.uniform(-5, 12, n), rng.uniform(0, 10, n)
    par = parametric_3gpp()
    msi = sampled(par, name="sampled")  # a 1° MSI-like pattern, piecewise linear
    table = PatternTable.build([par, msi])
    for k, ant in enumerate((par, msi)):
        got = pattern_gains(table.h, table.v, table.tilt, table.cap, np.full(n, k), b, az, th,
                            mt, et)
        ref = gain_db(ant, b, az, th, mt, et)
        # parametric: the 0.1° table errs by ≤ 12 (0.05/10)² = 3e-4 dB on the parabolas and
        # by ≤ slope × 0.1°/4 where a cap starts (A_m at φ = 93.8°: 0.53 dB/° → 0.013 dB);
        # the 1° cut is reproduced exactly by the 0.1° table (its knots are on it)
        assert np.max(np.abs(got - ref)) < (0.015 if k == 0 else 1e-9)


def test_point_engine_applies_pattern_towards_each_receiver():
    b = _bundle()
    tx = transmitters(b)
    assert set(tx.attrs["antennas"]) == {"3gpp-65"}
    ang = np.radians(np.arange(0, 360, 30.0))
    rx_x = X0 + 5000 + 1500 * np.sin(ang)
    rx_y = Y0 - 5000 + 1500 * np.cos(ang)
    res = link_pairs(tx, rx_x, rx_y, b.dem, EngineOptions(model="fspl", diffraction="none"))
    omni = res.rx_dbm[res.cell_idx == 0]
    sector = res.rx_dbm[res.cell_idx == 1]
    # flat ground: the receiver is atan(28.5 / 1500) below the antenna in every direction
    down = math.degrees(math.atan2(28.5, 1500.0))
    ref = gain_db(parametric_3gpp(), np.degrees(ang), 90.0, down, 3.0, 2.0)
    # 1e-3 dB: the compiled table's interpolation of the parametric curve, away from the caps
    # (see above); the back lobe is on the cap itself
    np.testing.assert_allclose(sector - omni, ref, atol=1e-3)
    assert np.argmax(sector - omni) == 3  # boresight east
    # the back lobe (west) is the front-to-back below the front
    assert (sector - omni)[9] == pytest.approx(-25.0, abs=1e-9)


def test_raster_back_lobe_is_front_to_back_below_front():
    b = _bundle()
    lon, lat = transform_points([X0 + 5000], [Y0 - 5000], "EPSG:32648", "EPSG:4326")
    ant = parametric_3gpp()
    out = {}
    for threads in (1, 2):
        out[threads] = predict_site(b.dem, lon[0], lat[0], height_m=30.0, freq_mhz=947.5,
                                    eirp_dbm=57.0, radius_km=3.0, resolution_m=100.0,
                                    model="fspl", diffraction="none", threads=threads,
                                    antenna=ant, azimuth_deg=90.0)
    np.testing.assert_array_equal(out[1][0], out[2][0])  # identical for any thread count
    rx, t, rep = out[1]
    assert rep["antenna"]["name"] == "3gpp-65"
    cx = t.c + (np.arange(rx.shape[1]) + 0.5) * t.a - (X0 + 5000)
    cy = t.f + (np.arange(rx.shape[0]) + 0.5) * t.e - (Y0 - 5000)
    r = int(np.argmin(np.abs(cy)))
    east = int(np.argmin(np.abs(cx - 2050.0)))
    west = int(np.argmin(np.abs(cx + 2050.0)))
    assert cx[east] == pytest.approx(-cx[west], abs=1e-6)  # mirror cells: same path loss
    theta = math.degrees(math.atan2(28.5, math.hypot(cx[east], cy[r])))
    front = -12.0 * (theta / 10.0) ** 2  # vertical pattern only, boresight azimuth
    # φ off boresight by atan(cy/cx) on the mirror row: A_H = 12 (φ/65)²
    phi = math.degrees(math.atan2(abs(cy[r]), cx[east]))
    front -= 12.0 * (phi / 65.0) ** 2
    # 1e-3 dB: parametric table interpolation; float32 raster adds ≤ 1e-5 relative
    assert float(rx[r, east] - rx[r, west]) == pytest.approx(front + 25.0, abs=2e-3)


def test_bundle_antennas_folder_and_unknown_antenna(tmp_path):
    b = _bundle(antenna="panel_a")
    lon, lat = transform_points([X0, X0 + 10000], [Y0 - 10000, Y0], "EPSG:32648", "EPSG:4326")
    b.layers["communes"] = gpd.GeoDataFrame(
        {"commune_code": ["00001"], "name": ["Xã A"], "type": ["Xã"], "district_code": ["001"],
         "district_name": ["Huyện A"], "population": [1000], "households": [250]},
        geometry=[box(lon[0], lat[0], lon[1], lat[1])], crs="EPSG:4326")
    save_bundle(b, tmp_path / "b")
    (tmp_path / "b" / "antennas").mkdir()
    write_msi(sampled(parametric_3gpp(90.0), name="panel A"), tmp_path / "b" / "antennas" /
              "panel_a.msi")
    tx = transmitters(load_bundle(tmp_path / "b"))
    assert tx.attrs["antennas"]["panel_a"].name == "panel A"
    b2 = _bundle(antenna="missing_panel")
    with pytest.raises(DataError, match=r"row 2 \(sector\).*'missing_panel'"):
        transmitters(b2)


def test_cli_site_with_antenna_and_errors(tmp_path):
    b = _bundle()
    write_raster(b.dem, tmp_path / "dem.tif")
    write_msi(sampled(parametric_3gpp(), name="panel"), tmp_path / "panel.msi")
    lon, lat = transform_points([X0 + 5000], [Y0 - 5000], "EPSG:32648", "EPSG:4326")
    args = ["coverage", "site", "--dem", str(tmp_path / "dem.tif"), "--lon", str(lon[0]),
            "--lat", str(lat[0]), "--height-m", "30", "--freq-mhz", "900", "--eirp-dbm", "57",
            "--radius-km", "2", "--resolution-m", "100", "--model", "fspl", "--json"]
    r = CliRunner().invoke(main, args + ["--antenna", str(tmp_path / "panel.msi"),
                                         "--azimuth-deg", "90", "--tilt-deg", "4", "--out",
                                         str(tmp_path / "s.tif")])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["antenna"]["tilt_deg"] == 4.0
    r = CliRunner().invoke(main, args + ["--azimuth-deg", "90", "--out",
                                         str(tmp_path / "t.tif")])
    assert r.exit_code == 2 and "need --antenna" in r.output
    (tmp_path / "bad.msi").write_text("NAME x\nGAIN 10 dBi\nHORIZONTAL 360\n0 0\n")
    r = CliRunner().invoke(main, args + ["--antenna", str(tmp_path / "bad.msi"), "--out",
                                         str(tmp_path / "u.tif")])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "incomplete" in r.stderr
    assert not (tmp_path / "u.tif").exists()
    assert read_msi(tmp_path / "panel.msi").gain_dbi == pytest.approx(16.0, abs=1e-9)


def test_importer_maps_operator_antenna_columns(tmp_path):
    from phusong.io import read_sites

    p = tmp_path / "cells.csv"
    p.write_text("site_id,cell_id,operator,tech,lat,lon,azimuth,mechanical_tilt,electrical_tilt,"
                 "antenna_model,band\n"
                 "S1,S1-1,Viettel,4G,20.81,105.33,0,4,6,K742215,B3\n"
                 "S1,S1-2,Viettel,4G,20.81,105.33,120,2,,3gpp-65,B3\n", encoding="utf-8")
    _, cells = read_sites(p)
    c = cells.data
    assert c["antenna"].tolist() == ["K742215", "3gpp-65"]
    assert c["tilt_deg"].tolist() == [4.0, 2.0]
    assert c["etilt_deg"].iloc[0] == 6.0 and np.isnan(c["etilt_deg"].iloc[1])


def _import_inputs(d):
    """Communes, a site list with antenna columns, a WorldCover raster and an antennas folder."""
    import rasterio as rio

    from phusong.communes import commune_facts

    d.mkdir()
    codes = ["04792", "04795"]
    f = commune_facts().set_index("commune_code").loc[codes]
    geoms = [box(x - 0.004, y - 0.004, x + 0.004, y + 0.004)
             for x, y in zip(f.lon, f.lat, strict=True)]
    gpd.GeoDataFrame({"MA_XA": codes}, geometry=geoms, crs="EPSG:4326").to_file(
        d / "xa.geojson")
    lat, lon = f.lat.iloc[0], f.lon.iloc[0]
    (d / "cells.csv").write_text(
        "site_id,cell_id,operator,tech,lat,lon,azimuth,mechanical_tilt,antenna_model\n"
        f"S1,S1-1,Viettel,4G,{lat},{lon},0,2,panel\nS1,S1-2,Viettel,4G,{lat},{lon},120,2,"
        "3gpp-65\n", encoding="utf-8")
    (d / "antennas").mkdir()
    write_msi(sampled(parametric_3gpp(), name="panel"), d / "antennas" / "panel.msi")
    x0, y0 = f.lon.min() - 0.02, f.lat.max() + 0.02
    arr = np.full((100, 100), 40, np.uint8)
    arr[:50] = 10
    with rio.open(d / "lc.tif", "w", driver="GTiff", height=100, width=100, count=1,
                  dtype="uint8", crs="EPSG:4326", nodata=0,
                  transform=Affine(0.001, 0, x0, 0, -0.001, y0)) as dst:
        dst.write(arr, 1)
    return d


def test_cli_import_landcover_and_antennas(tmp_path):
    d = _import_inputs(tmp_path / "in")
    base = ["data", "import", "--communes", str(d / "xa.geojson"), "--sites",
            str(d / "cells.csv"), "--landcover", str(d / "lc.tif"), "--antennas",
            str(d / "antennas"), "--quiet"]
    r = CliRunner().invoke(main, base + ["--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    b = load_bundle(tmp_path / "b")
    assert (tmp_path / "b" / "antennas" / "panel.msi").is_file()
    assert set(np.unique(b.rasters["landcover"].array[np.isfinite(
        b.rasters["landcover"].array)])) == {10.0, 40.0}
    assert b.cells["antenna"].tolist() == ["panel", "3gpp-65"]
    # bad inputs: one line, exit 2, no bundle left
    (d / "cells_bad.csv").write_text((d / "cells.csv").read_text().replace(",panel", ",nope"),
                                     encoding="utf-8")
    (d / "antennas_bad").mkdir()
    (d / "antennas_bad" / "x.msi").write_text("NAME x\nGAIN 10 dBi\nHORIZONTAL 360\n0 0\n")
    import rasterio as rio

    with rio.open(d / "lc.tif") as src:
        arr, prof = src.read(1), src.profile
    arr[0, 0] = 7
    with rio.open(d / "lc_bad.tif", "w", **prof) as dst:
        dst.write(arr, 1)
    cases = {"unknown antenna": (["--sites", str(d / "cells_bad.csv")], "'nope'"),
             "malformed pattern": (["--antennas", str(d / "antennas_bad")], "incomplete"),
             "unknown class": (["--landcover", str(d / "lc_bad.tif")], "[7]")}
    for case, (swap, message) in cases.items():
        args = list(base)
        args[args.index(swap[0]) + 1] = swap[1]
        r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "bad")])
        assert r.exit_code == 2, (case, r.output)
        assert r.stderr.count("\n") == 1 and message in r.stderr, (case, r.stderr)
        assert not (tmp_path / "bad").exists(), case


def test_cli_site_honours_landcover_and_reliability(tmp_path):
    """``coverage site --landcover --reliability-pct``: the east half of the disk in trees
    loses exactly P.2108's loss at 900 MHz, and 90 % of locations costs z(0.9)·σ everywhere."""
    from phusong.coverage.clutter import WORLDCOVER_CODES, clutter_table
    from phusong.coverage.reliability import location_margin_db
    from phusong.raster import read_raster

    b = _bundle()
    write_raster(b.dem, tmp_path / "dem.tif")
    # WorldCover in its own CRS (EPSG:4326): trees east of the site, cropland west
    lon, lat = transform_points([X0 + 5000], [Y0 - 5000], "EPSG:32648", "EPSG:4326")
    lon0, lat0 = float(lon[0]), float(lat[0])
    lc = np.full((400, 400), 40.0, np.float32)
    lc[:, 200:] = 10.0
    step = 0.0005
    write_raster(Raster(lc, Affine(step, 0, lon0 - 200 * step, 0, -step, lat0 + 200 * step),
                        "EPSG:4326", "class"), tmp_path / "lc.tif")
    args = ["coverage", "site", "--dem", str(tmp_path / "dem.tif"), "--lon", str(lon0),
            "--lat", str(lat0), "--height-m", "30", "--freq-mhz", "900", "--eirp-dbm", "57",
            "--radius-km", "2", "--resolution-m", "100", "--model", "hata", "--json"]

    def run(name, *extra):
        r = CliRunner().invoke(main, [*args, *extra, "--out", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout), read_raster(tmp_path / name)

    rep0, base = run("a.tif")
    rep1, clut = run("b.tif", "--landcover", str(tmp_path / "lc.tif"))
    rep2, rel = run("c.tif", "--reliability-pct", "90")
    assert rep0["clutter"] is None and rep1["clutter"] and rep0["location_margin_db"] == 0.0
    d = (base.array - clut.array)[np.isfinite(base.array)]
    trees = clutter_table([900.0], 1.5)[WORLDCOVER_CODES.index(10), 0]
    # cropland (open) adds nothing, trees P.2108's 22.6 dB (float32 rasters: 1e-3 dB)
    assert np.isclose(d, 0.0, atol=1e-3).sum() > 100 and np.isclose(d, trees, atol=1e-3).sum() > 100
    assert np.isclose(d, 0.0, atol=1e-3).sum() + np.isclose(d, trees, atol=1e-3).sum() == d.size
    m = location_margin_db(90.0, "rural")
    assert rep2["location_margin_db"] == pytest.approx(m, abs=1e-12)
    assert np.allclose((base.array - rel.array)[np.isfinite(base.array)], m, atol=1e-3)
    for bad, msg in (("100", "between 0 and 100"), ("0", "between 0 and 100")):
        r = CliRunner().invoke(main, [*args, "--reliability-pct", bad, "--out",
                                      str(tmp_path / "x.tif")])
        assert r.exit_code == 2 and msg in r.stderr and r.stderr.count("\n") == 1
    far = Raster(lc, Affine(step, 0, lon0 + 1.0, 0, -step, lat0 + 200 * step), "EPSG:4326",
                 "class")
    write_raster(far, tmp_path / "far.tif")
    r = CliRunner().invoke(main, [*args, "--landcover", str(tmp_path / "far.tif"), "--out",
                                  str(tmp_path / "x.tif")])
    assert r.exit_code == 2 and "does not overlap the site's disk" in r.stderr
    assert not (tmp_path / "x.tif").exists()
