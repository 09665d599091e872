"""The interactive map without a browser: layers, languages, boundaries, raster, bad input."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from jinja2.utils import htmlsafe_json_dumps
from pyproj import Transformer

from phusong.bundle import Raster, write_raster
from phusong.errors import DataError, OutputError
from phusong.maps import build_map, save_map
from phusong.maps._example import XSS, example_bundle, example_gaps, write_example_plan


def js(text: str) -> str:
    """``text`` as it appears inside a JSON string written by the map's tojson (UTF-8, HTML-safe)."""
    return str(htmlsafe_json_dumps(text, ensure_ascii=False))[1:-1]


@pytest.fixture(scope="module")
def bundle():
    return example_bundle(hostile=True)


def test_self_contained_and_escaped(bundle, tmp_path):
    out = save_map(build_map(bundle, gaps=example_gaps(bundle)), tmp_path / "m.html")
    html = out.read_text(encoding="utf-8")
    remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?:[^"]+)"', html)
    assert remote == []  # Leaflet and markercluster are inlined
    assert "L.MarkerClusterGroup=L.FeatureGroup.extend" in html  # the inlined plugin
    assert XSS not in html  # never raw, anywhere in the page
    assert "\\u0026lt;script\\u0026gt;alert(1)" in html  # escaped, then JSON-encoded
    assert js("Dữ liệu minh họa tổng hợp / synthetic demonstration data") in html


def test_english_labels(bundle):
    html = build_map(bundle, gaps=example_gaps(bundle), lang="en").get_root().render()
    assert js("Fibre households (%)") in html and js("Villages") in html
    assert js("Hộ có cáp quang") not in html


def test_gaps_from_plan_folder(bundle, tmp_path):
    plan = write_example_plan(bundle, tmp_path / "plan")
    html = build_map(bundle, plan_dir=plan).get_root().render()
    assert js("Dân số có sóng 4G (%)") in html  # indicator read from gaps_communes.csv
    assert js("Trạm mới Ngọc Lương") in html and js("Trạm dự phòng Tân Hòa") not in html  # selected only


def test_plan_from_another_bundle_refused(bundle, tmp_path):
    other = example_bundle(name="other")
    plan = write_example_plan(bundle, tmp_path / "plan", fingerprint_of=other)
    with pytest.raises(DataError, match="plan made from bundle"):
        build_map(bundle, plan_dir=plan)


def test_gaps_on_other_boundaries_refused(bundle):
    gaps = example_gaps(bundle)["communes"].assign(unit_code=lambda d: "9" + d.unit_code)
    with pytest.raises(DataError, match="no unit_code matches"):
        build_map(bundle, gaps=gaps)


def test_2025_boundaries_from_bundle_layer(tmp_path):
    b = example_bundle()
    c = b.communes
    merged = gpd.GeoDataFrame(
        {"unit_code": ["90001", "90002"], "name": ["Phường Hòa Bình", "Xã Lạc Thủy"],
         "type": ["Phường", "Xã"]},
        geometry=[c.geometry.iloc[:2].union_all(), c.geometry.iloc[2:].union_all()],
        crs="EPSG:4326")
    b.layers["communes_2025"] = merged
    html = build_map(b, boundaries="2025", lang="en").get_root().render()
    assert js("Xã Lạc Thủy") in html and js("Boundaries 2025") in html
    with pytest.raises(DataError, match="boundaries"):
        build_map(b, boundaries="2019")


def test_coverage_raster_overlay(bundle, tmp_path):
    # a 20 × 30 RSRP grid in UTM 48N over the communes
    arr = np.linspace(-130, -60, 600, dtype="float32").reshape(20, 30)
    arr[0, :5] = np.nan
    t = Affine(500.0, 0, 531_000.0, 0, -500.0, 2_305_000.0)
    write_raster(Raster(arr, t, "EPSG:32648", "dBm"), tmp_path / "rsrp.tif")
    html = build_map(bundle, coverage_raster=tmp_path / "rsrp.tif").get_root().render()
    assert "L.imageOverlay" in html and "data:image/png;base64," in html
    bounds = re.search(r"L\.imageOverlay\(\s*\"data:[^\"]+\",\s*(\[\[[^\]]+\],\s*\[[^\]]+\]\])",
                       html).group(1)
    (s, w), (n, e) = eval(bounds)  # noqa: S307 - numbers written by folium
    west, south, east, north = Transformer.from_crs(
        "EPSG:32648", "EPSG:4326", always_xy=True).transform_bounds(
        531_000.0, 2_295_000.0, 546_000.0, 2_305_000.0, densify_pts=21)
    # 0.005° tolerance: the Web Mercator grid has whole pixels of about 500 m (0.0047°)
    for got, want in ((s, south), (w, west), (n, north), (e, east)):
        assert got == pytest.approx(want, abs=0.005)


def test_existing_file_refused(bundle, tmp_path):
    out = tmp_path / "m.html"
    out.write_text("old")
    with pytest.raises(OutputError, match="already exists"):
        save_map(build_map(bundle), out)
    assert out.read_text() == "old"
    save_map(build_map(bundle), out, overwrite=True)
    assert "leaflet" in out.read_text(encoding="utf-8")


def test_unknown_language(bundle):
    with pytest.raises(DataError, match="--lang"):
        build_map(bundle, lang="fr")


def test_with_planning_gap_tables():
    """The map takes compute_gaps' GapTables as they are (many _pct columns, mobile_4G flags)."""
    planning = pytest.importorskip("phusong.planning")
    b = example_bundle()
    v = example_gaps(b)["villages"].set_index("village_id")
    cov = v[[c for c in v.columns if c.startswith("covered_")]]
    g = planning.compute_gaps(b, cov, fibre=v["fibre_available"])
    html = build_map(b, gaps=g, lang="en").get_root().render()
    assert js("Gap to 2025 4G target (points)") in html
    assert js("2G households (%)") not in html  # curated indicators only
    assert re.search(TECH_4G_GREEN, html)  # villages coloured from GapTables.villages' mobile_4G
    m = build_map(b, gaps=g, indicators=["mobile_2G_households_pct"], lang="en")
    assert js("2G households (%)") in m.get_root().render()  # named in English too
    with pytest.raises(DataError, match="no indicator column"):
        build_map(b, gaps=g, indicators=["nope_pct"])


# a village marker in the 4G style (index 1 of TECH_COLOURS), its tooltip saying 4G
TECH_4G_GREEN = r'"_s":1,"_tip":"[^"]*: 4G"'


def test_split_commune_apportioned_between_its_2025_units():
    """A commune split between two 2025 units is cut into two parts of its shares' areas, each
    part on its own unit's side, instead of going whole to one unit."""
    from shapely.geometry import box

    from phusong.communes import crosswalk_2025, units_2025
    from phusong.maps._units import split_communes

    xw = crosswalk_2025()
    rows = xw[xw["commune_code"] == "04891"]  # Tiền Phong: half to 04828, half to 04891
    assert sorted(rows["unit_code"]) == ["04828", "04891"]
    c = gpd.GeoDataFrame({"commune_code": ["04891"]},
                         geometry=[box(105.25, 20.75, 105.40, 20.90)], crs="EPSG:4326")
    parts = split_communes(c, rows).to_crs("EPSG:32648").set_index("unit_code")
    whole = c.to_crs("EPSG:32648").geometry.iloc[0]
    # areas: shares 0.5 / 0.5 to 1e-6 of the area (bisection on the cut to far below that)
    assert parts.area.sum() == pytest.approx(whole.area, rel=1e-9)
    assert (parts.area / whole.area).tolist() == pytest.approx([0.5, 0.5], abs=1e-6)
    assert parts.geometry.iloc[0].intersection(parts.geometry.iloc[1]).area < 1e-6 * whole.area
    centres = units_2025().set_index("unit_code")
    pts = gpd.GeoSeries(gpd.points_from_xy(centres.loc[["04828", "04891"], "lon"],
                                           centres.loc[["04828", "04891"], "lat"]),
                        index=["04828", "04891"], crs="EPSG:4326").to_crs("EPSG:32648")
    for own, other in (("04828", "04891"), ("04891", "04828")):
        assert parts.geometry[own].distance(pts[own]) <= parts.geometry[other].distance(pts[own])



def test_a_village_of_unknown_coverage_is_drawn_unknown_not_uncovered(bundle):
    """A village the gap tables mark ``unknown`` (off the DEM, behind a flagged DEM void) and
    that nothing covers gets the map's grey "Unknown", not the red "none" of a village known
    to be uncovered (issue 18; main drew it red). A covered village stays covered."""
    gaps = example_gaps(bundle)
    vil = gaps["villages"].copy()
    none = vil.index[:2]  # two villages nothing covers
    vil.loc[none, ["covered_2G", "covered_4G", "covered_5G", "covered_any"]] = False
    vil["unknown"] = False
    vil.loc[none[0], "unknown"] = True
    named = bundle.villages.set_index("village_id")["name"]
    html = build_map(bundle, gaps={**gaps, "villages": vil}, lang="en").get_root().render()
    first, second = (named[vil.loc[i, "village_id"]] for i in none[:2])
    assert js(f"{first}: Unknown") in html
    assert js(f"{second}: Not covered") in html and js(f"{first}: Not covered") not in html
