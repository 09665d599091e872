"""Operator exports read back with GDAL's ogrinfo: diacritics, CRS, counts, attributes."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import zipfile

import pyogrio
import pytest

from phusong.errors import CRSError, DataError, OutputError, PhusongWarning
from phusong.maps._example import example_bundle, write_example_plan
from phusong.maps.export import dbf_field_names, export_plan

pytestmark = pytest.mark.gdal


@pytest.fixture(scope="module")
def bundle():
    return example_bundle()


@pytest.fixture(scope="module")
def plan(bundle, tmp_path_factory):
    return write_example_plan(bundle, tmp_path_factory.mktemp("p") / "plan")


def summary_of(exe: str, path: str) -> str:
    return subprocess.run([exe, "-al", "-so", path], capture_output=True, text=True,
                          check=True).stdout


def ogrinfo_features(exe: str, path: str) -> str:
    return subprocess.run([exe, "-al", "-q", path], capture_output=True, text=True,
                          check=True).stdout


def test_shapefile_zip_vn2000(ogrinfo, bundle, plan, tmp_path):
    out = tmp_path / "plan.zip"
    rep = export_plan(bundle, plan, "shp", out, crs="EPSG:9211")
    names = set(zipfile.ZipFile(out).namelist())
    for layer in ("candidate_sites", "fibre_routes"):
        assert {f"{layer}.{e}" for e in ("shp", "shx", "dbf", "prj", "cpg")} <= names
        assert zipfile.ZipFile(out).read(f"{layer}.cpg").decode().strip() == "UTF-8"
    sites = ogrinfo_features(ogrinfo, f"/vsizip/{out}/candidate_sites.shp")
    summary = summary_of(ogrinfo, f"/vsizip/{out}/candidate_sites.shp")
    assert "Feature Count: 4" in summary
    assert 'ID["EPSG",9211]' in summary
    assert "Trạm mới Ngọc Lương" in sites and "Nâng cấp Hòa Bình" in sites
    assert "commune_co (String) = 05110" in sites  # leading zero kept, name cut to 10
    assert "cost_vnd (Real) = 3825000000" in sites
    routes = summary_of(ogrinfo, f"/vsizip/{out}/fibre_routes.shp")
    assert "Feature Count: 2" in routes and "Geometry: Line String" in routes
    dic = list(csv.DictReader(io.StringIO(zipfile.ZipFile(out).read("field_dictionary.csv")
                                          .decode("utf-8"))))
    full = {(d["layer"], d["full_name"]): d["short_name"] for d in dic}
    assert full[("candidate_sites", "households_new")] == "households"
    assert full[("fibre_routes", "households_passed")] == "households"
    assert all(len(d["short_name"]) <= 10 for d in dic)
    assert rep.counts == {"candidate_sites": 4, "fibre_routes": 2}
    assert "synthetic demonstration data" in zipfile.ZipFile(out).read("README.txt").decode()


def test_dbf_collisions_are_deterministic_and_listed(ogrinfo, bundle, tmp_path):
    plan = write_example_plan(bundle, tmp_path / "plan")
    gpkg = plan / "plan.gpkg"
    sites = pyogrio.read_dataframe(gpkg, layer="candidate_sites")
    sites["households_new_2030"] = sites["households_new"] * 2
    sites["households_new_2035"] = sites["households_new"] * 3
    pyogrio.write_dataframe(sites, gpkg, layer="candidate_sites", driver="GPKG")
    out = tmp_path / "x.zip"
    export_plan(bundle, plan, "shp", out)
    dic = list(csv.DictReader(io.StringIO(zipfile.ZipFile(out).read("field_dictionary.csv")
                                          .decode("utf-8"))))
    rows = {d["full_name"]: d for d in dic if d["layer"] == "candidate_sites"}
    assert rows["households_new"]["short_name"] == "households"
    assert rows["households_new_2030"]["short_name"] == "househol_1"
    assert rows["households_new_2035"]["short_name"] == "househol_2"
    assert rows["households_new_2035"]["collision"] == "True"
    feats = ogrinfo_features(ogrinfo, f"/vsizip/{out}/candidate_sites.shp")
    assert "househol_2 (Integer64) = 1260" in feats  # 420 households × 3
    assert dbf_field_names(["Abcdefghijk", "abcdefghijX"]) == {"Abcdefghijk": "Abcdefghij",
                                                               "abcdefghijX": "abcdefgh_1"}


@pytest.mark.parametrize("crs, code", [("EPSG:4326", 4326), ("32648", 32648), (3405, 3405),
                                       ("EPSG:9211", 9211)])
def test_geopackage_crs(ogrinfo, bundle, plan, tmp_path, crs, code):
    out = tmp_path / "plan.gpkg"
    export_plan(bundle, plan, "gpkg", out, crs=crs)
    text = summary_of(ogrinfo, str(out))
    assert text.count(f'ID["EPSG",{code}]') == 3  # every layer: communes, sites, routes
    assert "Feature Count: 4" in text and "Feature Count: 2" in text
    assert "households_passed: Integer64" in text  # full names in a GeoPackage


def test_kml_names_and_descriptions(ogrinfo, bundle, plan, tmp_path):
    out = tmp_path / "plan.kml"
    with pytest.warns(PhusongWarning, match="KML is always EPSG:4326"):
        rep = export_plan(bundle, plan, "kml", out, crs="EPSG:9211")
    assert rep.crs == "EPSG:4326" and rep.notes
    text = out.read_text(encoding="utf-8")
    assert "<name>Trạm mới Ngọc Lương</name>" in text
    assert "<name>R001</name>" in text and "Kéo cáp quang đến UBND xã" in text
    info = summary_of(ogrinfo, str(out))
    assert 'ID["EPSG",4326]' in info and "Feature Count: 4" in info


def test_csv_lonlat_and_vn2000(bundle, plan, tmp_path):
    out = tmp_path / "sites.csv"
    rep = export_plan(bundle, plan, "csv", out, crs="EPSG:9211")
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 4 and rows[0]["name"] == "Trạm mới Ngọc Lương"
    r = rows[0]
    # VN-2000 TM-3 106°00' of (105.47 E, 20.83 N); X is the northing. Reference values from
    # pyproj (EPSG:4326 → EPSG:9211); 0.01 m tolerance = the CSV's 2-decimal rounding
    assert float(r["vn2000_x_m"]) == pytest.approx(2304224.89, abs=0.01)
    assert float(r["vn2000_y_m"]) == pytest.approx(444643.04, abs=0.01)
    assert (float(r["lon"]), float(r["lat"])) == (105.47, 20.83)
    routes = list(csv.DictReader(io.StringIO(rep.paths[1].read_text(encoding="utf-8-sig"))))
    assert len(routes) == 2 and routes[0]["wkt"].startswith("LINESTRING (")


def test_bad_inputs(bundle, plan, tmp_path):
    with pytest.raises(CRSError, match="unknown CRS"):
        export_plan(bundle, plan, "gpkg", tmp_path / "a.gpkg", crs="EPSG:999999")
    with pytest.raises(DataError, match="unknown export format"):
        export_plan(bundle, plan, "dxf", tmp_path / "a.dxf")
    existing = tmp_path / "b.gpkg"
    existing.write_text("keep")
    with pytest.raises(OutputError, match="already exists"):
        export_plan(bundle, plan, "gpkg", existing)
    assert existing.read_text() == "keep"
    other = example_bundle(name="another province")
    with pytest.raises(DataError, match="plan made from bundle"):
        export_plan(other, plan, "gpkg", tmp_path / "c.gpkg")
    assert not (tmp_path / "c.gpkg").exists()


def test_output_folder_cannot_be_made(bundle, plan, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="cannot create the output folder"):
        export_plan(bundle, plan, "shp", blocker / "x.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_unwritable_folder_leaves_nothing(bundle, plan, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("this user can write into a read-only folder (root)")
        with pytest.raises(OutputError, match="not writable"):
            export_plan(bundle, plan, "shp", ro / "x.zip")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_every_format_carries_the_plan_settings(bundle, tmp_path):
    """The settings a plan was made with (values and where each came from) travel into every
    export: settings.csv in the zip, GeoPackage dataset metadata, a table beside KML/CSV."""
    import json

    from phusong.config import DEFAULT_SETTINGS, apply_sets

    plan = write_example_plan(bundle, tmp_path / "plan")
    meta = json.loads((plan / "plan.json").read_text(encoding="utf-8"))
    meta["scenario"]["settings"] = apply_sets(DEFAULT_SETTINGS,
                                              ["thresholds_dbm.4G=-99"]).record()
    (plan / "plan.json").write_text(json.dumps(meta), encoding="utf-8")

    def check(rows):
        row = {r["key"]: r for r in rows}["thresholds_dbm.4G"]
        assert float(row["value"]) == -99.0 and row["from"] == "--set" and row["unit"] == "dBm"
        assert {r["from"] for r in rows} == {"default", "--set"}

    zipped = export_plan(bundle, plan, "shp", tmp_path / "p.zip")
    z = zipfile.ZipFile(zipped.paths[0])
    check(list(csv.DictReader(io.StringIO(z.read("settings.csv").decode("utf-8")))))
    assert "thresholds_dbm.4G = -99.0 dBm (--set)" in z.read("README.txt").decode("utf-8")
    gpkg = export_plan(bundle, plan, "gpkg", tmp_path / "p.gpkg")
    check(json.loads(pyogrio.read_info(gpkg.paths[0], layer="communes")[
        "dataset_metadata"]["PHUSONG_SETTINGS"]))
    for fmt in ("kml", "csv"):
        rep = export_plan(bundle, plan, fmt, tmp_path / f"p.{fmt}")
        assert rep.paths[-1] == tmp_path / "p_settings.csv"
        check(list(csv.DictReader(io.StringIO(rep.paths[-1].read_text(encoding="utf-8-sig")))))
        rep.paths[-1].unlink()
