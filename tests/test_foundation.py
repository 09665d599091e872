"""Errors, settings overrides, CRS rules, layer schemas, bundle round trip, atomic writes."""

from __future__ import annotations

import hashlib
import os
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import Point, box

from phusong import settings
from phusong.atomic import atomic_dir, atomic_path
from phusong.bundle import (
    Bundle,
    Provenance,
    Raster,
    fingerprint,
    load_bundle,
    read_raster,
    save_bundle,
    validate,
)
from phusong.crs import looks_like_vn2000_metres, parse_crs, to_work, transform_points
from phusong.errors import (
    CRSError,
    DataError,
    InputFileError,
    OutputError,
    PhusongError,
    SchemaError,
)


def test_errors_inherit_builtins():
    assert issubclass(SchemaError, ValueError) and issubclass(SchemaError, PhusongError)
    assert issubclass(InputFileError, FileNotFoundError)
    assert issubclass(OutputError, OSError)


# --- CRS ---------------------------------------------------------------------------------------


def test_vn2000_worked_example():
    # FACTS §5: Hòa Bình city 105.3383 E, 20.8133 N → 9211 E 430,928 N 2,302,427 and
    # 3405 E 535,007 N 2,301,630 (pyproj default transformation); 1 m = rounding of the figures
    e, n = transform_points([105.3383], [20.8133], "EPSG:4326", "EPSG:9211")
    assert (e[0], n[0]) == pytest.approx((430_928, 2_302_427), abs=1.0)
    e, n = transform_points([105.3383], [20.8133], "EPSG:4326", "EPSG:3405")
    assert (e[0], n[0]) == pytest.approx((535_007, 2_301_630), abs=1.0)


def test_parse_crs_forms_and_unknown():
    assert parse_crs("9211") == parse_crs("EPSG:9211") == parse_crs(9211)
    with pytest.raises(CRSError, match="unknown CRS 'EPSG:99999'"):
        parse_crs("EPSG:99999")


def test_missing_crs_is_refused():
    g = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)])
    with pytest.raises(CRSError, match="sites: no CRS"):
        to_work(g, "sites")


def test_vn2000_metres_detection():
    assert looks_like_vn2000_metres([430_928.0], [2_302_427.0])
    assert not looks_like_vn2000_metres([105.3], [20.8])


# --- settings ----------------------------------------------------------------------------------


def test_overrides(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(
        '[costs]\nnew_site_vnd = 1.0e9\n[thresholds_dbm]\n"4G" = -105\n'
        '[[targets]]\nindicator = "fibre_available"\ndenominator = "households"\n'
        "threshold_pct = 90\nyear = 2027\n",
        encoding="utf-8",
    )
    from phusong.planning.scenario import load_scenario

    o = load_scenario(p).config
    assert o.source("costs.new_site_vnd") == "scenario"
    assert o.source("costs.upgrade_site_vnd") == "default"
    assert o.costs.new_site_vnd == 1e9 and o.costs.upgrade_site_vnd == settings.COSTS.upgrade_site_vnd
    assert o.thresholds_dbm["4G"] == -105 and o.thresholds_dbm["2G"] == -100
    assert o.targets[0].year == 2027 and len(o.targets) == 1


@pytest.mark.parametrize(
    ("text", "match"),
    [("[costs]\nbogus = 1\n", "unknown key"), ('[thresholds_dbm]\n"6G" = 1\n', "6G"),
     ("[costs\n", "not valid"), ("[[targets]]\nyear = 1\n", "targets")],
)
def test_bad_overrides(tmp_path, text, match):
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    from phusong.planning.scenario import load_scenario

    with pytest.raises(DataError, match=match):
        load_scenario(p)


# --- bundle ------------------------------------------------------------------------------------


def _bundle() -> Bundle:
    communes = gpd.GeoDataFrame(
        {"commune_code": ["04792", "04795"], "name": ["Phường Tân Hòa", "Phường Thịnh Lang"],
         "type": ["Phường"] * 2, "district_code": ["148"] * 2,
         "district_name": ["Thành phố Hòa Bình"] * 2, "population": [6958, 7000],
         "households": [1860, 1900]},
        geometry=[box(105.32, 20.84, 105.34, 20.87), box(105.34, 20.84, 105.36, 20.87)],
        crs="EPSG:4326",
    )
    villages = gpd.GeoDataFrame(
        {"village_id": ["v1"], "commune_code": ["04792"], "households": [10], "population": [40],
         "is_centre": [True]}, geometry=[Point(105.33, 20.85)], crs="EPSG:4326")
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "operator": ["Viettel", "VNPT"], "height_m": [30.0, 25.0]},
        geometry=[Point(105.33, 20.85), Point(105.35, 20.86)], crs="EPSG:4326")
    cells = pd.DataFrame(
        {"cell_id": ["C1", "C2"], "site_id": ["S1", "S2"], "tech": ["4G", "2G"],
         "freq_mhz": [1842.5, 947.5], "eirp_dbm": [57.0, 55.0], "azimuth_deg": [np.nan, 120.0]})
    dem = Raster(np.arange(12, dtype="float32").reshape(3, 4),
                 Affine(90, 0, 500_000, 0, -90, 2_310_000), "EPSG:32648", "m")
    dem.array[0, 0] = np.nan
    return Bundle("tiny", layers={"communes": communes, "villages": villages, "sites": sites,
                                  "cells": cells}, rasters={"dem": dem},
                  provenance={"communes": Provenance("test", "CC0", synthetic=True)},
                  meta={"seed": 1})


def test_round_trip_and_byte_identical(tmp_path):
    b = _bundle()
    save_bundle(b, tmp_path / "a")
    save_bundle(b, tmp_path / "b")
    for f in ("layers.gpkg", "bundle.toml", "dem.tif"):
        ha = hashlib.sha256((tmp_path / "a" / f).read_bytes()).hexdigest()
        hb = hashlib.sha256((tmp_path / "b" / f).read_bytes()).hexdigest()
        assert ha == hb, f
    back = load_bundle(tmp_path / "a")
    assert back.name == "tiny" and back.meta == {"seed": 1} and back.synthetic
    assert back.cells.cell_id.tolist() == ["C1", "C2"] and np.isnan(back.cells.azimuth_deg[0])
    assert back.villages.is_centre.dtype == bool
    assert np.isnan(back.dem.array[0, 0]) and back.dem.array[2, 3] == 11.0
    assert back.dem.crs == "EPSG:32648" and back.dem.unit == "m"
    assert fingerprint(back) == fingerprint(validate(b))
    assert fingerprint(back) != fingerprint(Bundle("other", layers=dict(back.layers)))


def test_existing_folder_refused_then_overwritten(tmp_path):
    save_bundle(_bundle(), tmp_path / "a")
    with pytest.raises(OutputError, match="already exists"):
        save_bundle(_bundle(), tmp_path / "a")
    save_bundle(_bundle(), tmp_path / "a", overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["a"]  # no temporary leftovers


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (lambda b: b.layers.__setitem__("sites", b.layers["sites"].drop(columns="operator")),
         SchemaError,
         r"sites: missing required column\(s\) \['operator'\]"),
        (lambda b: b.layers["sites"].__setitem__("operator", ["Viettel", "Foo"]), DataError,
         "sites: row 2, operator 'Foo' is unknown"),
        (lambda b: b.layers["cells"].__setitem__("tech", ["4G", "LTE"]), DataError,
         "cells: row 2, tech 'LTE' is unknown"),
        (lambda b: b.layers["sites"].__setitem__("site_id", ["S1", "S1"]), DataError,
         r"duplicate site_id \['S1'\]"),
        (lambda b: b.layers["cells"].__setitem__("site_id", ["S1", "S9"]), DataError,
         "row 2, site_id 'S9' is not in sites"),
        (lambda b: b.layers["sites"].__setitem__("height_m", ["30", "high"]), SchemaError,
         "row 2, column 'height_m': 'high' is not a number"),
        (lambda b: b.layers.__setitem__("sites", b.layers["sites"].iloc[:0]), DataError,
         "sites: the layer is empty"),
        (lambda b: b.layers.__setitem__("sites", b.layers["sites"].to_crs(32648)), CRSError,
         "stored in EPSG:32648"),
        (lambda b: b.layers.pop("communes"), DataError, "no communes layer"),
    ],
)
def test_validation_errors(tmp_path, mutate, error, match):
    b = _bundle()
    mutate(b)
    with pytest.raises(error, match=match):
        save_bundle(b, tmp_path / "x")
    assert not (tmp_path / "x").exists() and os.listdir(tmp_path) == []


def test_load_errors(tmp_path):
    with pytest.raises(InputFileError, match="not a phusong bundle"):
        load_bundle(tmp_path)
    with pytest.raises(InputFileError, match="no such raster"):
        read_raster(tmp_path / "none.tif")


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "f.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "d") as d:
            (d / "x").write_text("half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_unwritable_output(tmp_path):
    # a regular file where the output folder should be: works the same as root or not
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create the output folder"):
        with atomic_path(blocker / "sub" / "f.txt"):
            pass
    with pytest.raises(OutputError, match="cannot create the output folder"):
        save_bundle(_bundle(), blocker / "bundle")
    assert blocker.read_text() == "x"


def test_no_warnings_on_round_trip(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_bundle(_bundle(), tmp_path / "w")
        load_bundle(tmp_path / "w")


def test_public_api_resolves():
    import phusong

    missing = [n for n in phusong.__all__ if getattr(phusong, n, None) is None]
    assert not missing
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        phusong.nope  # noqa: B018
