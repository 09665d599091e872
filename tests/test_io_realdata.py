"""Import of the real Hòa Bình files in ../shared/data/hoabinh (skipped when absent)."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner

from phusong.bundle import load_bundle
from phusong.cli import main
from phusong.communes import crosswalk_2025
from phusong.errors import CoverageWarning, DataError, RepairWarning
from phusong.io import ImportSpec, import_bundle, read_opencellid

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def bundle(hoabinh, tmp_path_factory):
    out = tmp_path_factory.mktemp("real") / "hoabinh"
    spec = ImportSpec(communes=hoabinh / "communes_151.geojson",
                      roads=hoabinh / "osm2018" / "roads_province.gpkg",
                      dem=hoabinh / "dem" / "srtm3_N21E105.tif",
                      licences={"roads": "ODbL 1.0", "dem": "public domain"})
    # the one SRTM tile (21-22° N) misses the south of the province (20.3-21.1° N): the import
    # says so, naming the communes (issue 18)
    with pytest.warns(CoverageWarning, match=r"DEM covers less than 99% of \d+ commune"):
        import_bundle(spec, out)
    return load_bundle(out)


def test_real_communes(bundle, hoabinh):
    com = bundle.communes
    assert len(com) == 151 and com.commune_code.is_unique
    area_km2 = com.to_crs("EPSG:32648").area.sum() / 1e6
    # SOURCES.md: 4,575 km² computed in UTM 48N; the issue allows 1 %
    assert area_km2 == pytest.approx(4575, rel=0.01)
    assert int(com.population.sum()) == 854_131
    src = gpd.read_file(hoabinh / "communes_151.geojson").set_index("gso_code")
    joined = com.set_index("commune_code")["population"]
    assert (src.loc[joined.index, "pop2019_census_apportioned"].astype(int) == joined).all()
    cw = crosswalk_2025()
    assert set(com.commune_code) <= set(cw.commune_code)
    assert cw[cw.commune_code.isin(com.commune_code)].unit_code.nunique() == 46


def test_real_roads_and_dem(bundle):
    roads = bundle.roads
    assert len(roads) == 1586
    # SOURCES.md: 1,760 km of province roads (rounded to 10 km)
    assert roads.to_crs("EPSG:32648").length.sum() / 1000 == pytest.approx(1760, abs=10)
    assert set(roads.road_class) == {"commune"}  # the file carries no class: noted
    assert "without a known class" in bundle.provenance["roads"].note
    dem = bundle.dem
    assert dem.shape == (1201, 1201)
    assert int(np.isnan(dem.array).sum()) == 1539  # SOURCES.md: 1,539 voids
    assert bundle.provenance["dem"].licence == "public domain"
    assert not bundle.synthetic


def test_real_opencellid_sample(hoabinh, tmp_path):
    path = hoabinh / "bts" / "opencellid_sample_vietnam.csv"
    sites, cells = read_opencellid(path, extent=None)
    assert len(cells.data) == 102
    assert set(sites.data.operator) == {"Viettel", "VNPT", "MobiFone"}
    assert set(cells.data.tech) == {"2G", "4G"}
    with pytest.raises(DataError, match=r"of 102 rows outside the province extent"):
        read_opencellid(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept, _ = read_opencellid(path, drop_outside=True)
    assert any(issubclass(w.category, RepairWarning) for w in caught)
    assert len(kept.data) < len(sites.data)
    out = tmp_path / "b"
    args = ["data", "import", "--communes", hoabinh / "communes_151.geojson",
            "--opencellid", path, "--out", out]
    refused = CliRunner().invoke(main, [str(a) for a in args])
    assert refused.exit_code == 2 and "outside the province extent" in refused.stderr
    assert not out.exists()
    ok = CliRunner().invoke(main, [str(a) for a in args + ["--extent", "none"]])
    assert ok.exit_code == 0, ok.stderr
    b = load_bundle(out)
    assert len(b.cells) == 102
    assert b.provenance["cells"].licence == "CC BY-SA 4.0 (OpenCelliD)"


def test_real_communes_join_by_name(hoabinh, tmp_path):
    # Join the real polygons by name only (no code column): all 151 must match, including the
    # two units the file spells differently (Mi Hòa / Mỵ Hòa, Săm Khóe / Xăm Khòe: aliases)
    from phusong.io import read_communes

    src = gpd.read_file(hoabinh / "communes_151.geojson")
    src = src[["name", "district_name", "geometry"]]
    path = tmp_path / "by_name.gpkg"
    src.to_file(path, driver="GPKG")
    got = read_communes(path, name_column="name", district_column="district_name").data
    assert len(got) == 151 and got.commune_code.is_unique
