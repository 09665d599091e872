"""build_twin and twin_stats: calibration within tolerance, provenance, determinism.

The whole province takes minutes (one coverage matrix of ~2,000 candidate sites, then the
engine again for the stats), so these tests build two districts (Cao Phong and Yên Thủy,
21 communes, ~210 villages — enough villages for the 0.3-point tolerance of any-mobile
coverage) with the site and BTS counts scaled by their share of households. The full province's
calibration is asserted by tests/test_demo.py, which runs the whole demo once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from phusong.bundle import LAYER_ORDER, load_bundle, save_bundle
from phusong.errors import DataError
from phusong.twin import build_twin, twin_stats

pytestmark = pytest.mark.slow

DISTRICTS = ["154", "158"]
NAMES = {"sites", "cells", "communes", "communes_with_site", "villages_any_mobile_pct",
         "villages_3g_pct", "villages_4g_pct", "commune_centres_mobile_pct",
         "commune_centres_fibre_pct", "households_fibre_available_pct", "population",
         "households", "route_km", "cable_km"}


@pytest.fixture(scope="module")
def twin0():
    return build_twin(seed=0, districts=DISTRICTS)


@pytest.fixture(scope="module")
def twin1():
    return build_twin(seed=1, districts=DISTRICTS)


def _by_name(stats: dict) -> dict:
    return {f["name"]: f for f in stats["figures"]}


def _assert_calibrated(stats: dict) -> None:
    figs = _by_name(stats)
    assert NAMES <= set(figs)
    bad = [f for f in stats["figures"] if f["ok"] is False]
    assert not bad, bad
    assert stats["all_ok"] is True
    # the tolerances of the issue, restated so a loosened TOLERANCES table fails here
    assert abs(figs["villages_any_mobile_pct"]["value"] - 99.6) <= 0.3
    assert abs(figs["villages_3g_pct"]["value"] - 91.0) <= 2.0
    assert abs(figs["villages_4g_pct"]["value"] - 81.0) <= 2.0
    assert figs["commune_centres_mobile_pct"]["value"] == 100.0
    assert figs["commune_centres_fibre_pct"]["value"] == 100.0
    assert figs["villages_5g_pct"]["value"] == 0.0
    assert abs(figs["sites"]["value"] / figs["sites"]["published"] - 1) <= 0.01
    assert abs(figs["cells"]["value"] / figs["cells"]["published"] - 1) <= 0.01
    assert figs["communes_with_site"]["value"] == figs["communes"]["value"]
    assert figs["population"]["value"] == figs["population"]["published"]


def test_calibrated_seed0_from_the_saved_bundle(twin0, tmp_path):
    """twin stats on the bundle as written to disk, with the engine (not the generator's
    own arithmetic)."""
    out = save_bundle(twin0, tmp_path / "twin")
    stats = twin_stats(load_bundle(out))
    _assert_calibrated(stats)
    assert stats["synthetic"] is True
    assert stats["label"] == {"vi": "Dữ liệu minh họa tổng hợp",
                              "en": "synthetic demonstration data"}
    # the generator's figures are the engine's figures
    cal = twin0.meta["calibration"]
    figs = _by_name(stats)
    for name in ("villages_any_mobile_pct", "villages_3g_pct", "villages_4g_pct"):
        assert figs[name]["value"] == pytest.approx(cal[name], abs=1e-3)  # meta rounds to 4 dp


def test_other_seed_differs_and_is_equally_calibrated(twin0, twin1):
    assert twin0.sites.geometry.to_wkb().tolist() != twin1.sites.geometry.to_wkb().tolist()
    assert twin0.roads.geometry.to_wkb().tolist() != twin1.roads.geometry.to_wkb().tolist()
    _assert_calibrated(twin_stats(twin1))


def test_layers_provenance_and_meta(twin0):
    assert set(twin0.layers) == set(LAYER_ORDER)
    assert twin0.dem.crs == "EPSG:32648"
    for name in list(twin0.layers) + ["dem", "landcover"]:
        p = twin0.provenance[name]
        assert p.synthetic is True and p.note, name
    assert "99.6 %" in twin0.provenance["sites"].note  # names its calibration target
    assert "2650" in twin0.provenance["cells"].note or "BTS" in twin0.provenance["cells"].note
    meta = twin0.meta
    assert meta["seed"] == 0 and meta["variant"] == "2022" and meta["model"] == "itm"
    assert meta["districts"] == DISTRICTS
    assert meta["calibration"]["bts"] == meta["targets"]["bts"]
    assert set(twin0.cells.tech) == {"2G", "3G", "4G"}  # no 5G in the 2022 baseline
    assert set(twin0.sites.backhaul) <= {"fibre", "microwave"}


def test_communes_2025_layer(twin0):
    """The twin's 2025 units: the units its communes belong to, households conserved, area
    conserved (the parts tile the communes), split units apportioned, partial ones flagged."""
    from phusong.communes import crosswalk_2025

    u, c = twin0.communes_2025, twin0.communes
    xw = crosswalk_2025()
    mine = xw[xw.commune_code.isin(set(c.commune_code))]
    assert list(u.unit_code) == sorted(set(mine.unit_code))
    assert int(u.households.sum()) == pytest.approx(int(c.households.sum()), abs=len(u))  # rounding
    assert int(u.population.sum()) == pytest.approx(int(c.population.sum()), abs=len(u))
    area = u.to_crs("EPSG:32648").area.sum() / c.to_crs("EPSG:32648").area.sum()
    assert area == pytest.approx(1.0, abs=1e-6)  # dissolve of a tiling; float noise only
    whole = xw.groupby("unit_code").commune_code.apply(set)
    for code, complete in zip(u.unit_code, u.complete, strict=True):
        assert complete == (whole[code] <= set(c.commune_code)), code
    p = twin0.provenance["communes_2025"]
    assert p.synthetic and "crosswalk" in p.note and "apportioned" in p.note


def test_same_seed_byte_identical_and_5g_variant(tmp_path):
    a = build_twin(seed=3, variant="5g", districts=["154"])
    b = build_twin(seed=3, variant="5g", districts=["154"])
    pa, pb = save_bundle(a, tmp_path / "a"), save_bundle(b, tmp_path / "b")
    files = sorted(p.name for p in Path(pa).iterdir())
    assert files == sorted(p.name for p in Path(pb).iterdir())
    assert {"bundle.toml", "layers.gpkg", "dem.tif", "landcover.tif"} <= set(files)
    for name in files:
        assert (Path(pa) / name).read_bytes() == (Path(pb) / name).read_bytes(), name
    five = a.cells[a.cells.tech == "5G"]
    assert len(five) > 0
    bts = a.cells[a.cells.tech != "5G"].drop_duplicates(["site_id", "tech"])
    assert len(bts) == a.meta["targets"]["bts"]  # a BTS is a (site, technology), any sectors
    figs = _by_name(twin_stats(a))
    assert figs["villages_5g_pct"]["published"] is None
    assert figs["villages_5g_pct"]["value"] > 0.0
    assert figs["bts_5g"]["value"] == five.site_id.nunique()
    assert figs["sector_cells"]["value"] == len(a.cells) - len(five)


def test_bad_arguments():
    with pytest.raises(DataError, match="variant"):
        build_twin(variant="4g")
    with pytest.raises(DataError, match="999"):
        build_twin(districts=["999"])
