"""The ``communes_2025`` layer: dissolved from the 2020 communes (the twin's layer and the maps'
fallback), imported from a user's file (``--communes-2025``), and used by the map and the
workbook when present, each saying which units it drew."""

from __future__ import annotations

import json

import geopandas as gpd
import openpyxl
import pytest
from click.testing import CliRunner
from shapely.geometry import Point, box

from phusong.bundle import Bundle, load_bundle, validate
from phusong.cli import main
from phusong.communes import commune_facts
from phusong.errors import DataError, SchemaError
from phusong.io.units_2025 import read_communes_2025
from phusong.maps._example import example_bundle, write_example_plan
from phusong.maps._units import SOURCE_LABELS, units, units_source
from phusong.twin.units_2025 import dissolve_2025

# Phường Thống Nhất (04828) = 04789 + 04819 + 04828 + half of Tiền Phong (04891);
# Xã Tiền Phong (04891) = 04888 + the other half of 04891 (crosswalk, NQ 1676).
CODES = ["04789", "04819", "04828", "04888", "04891"]
HALF = 0.004  # degrees: half-width of each synthetic commune square (no two overlap)


def _communes(codes=CODES) -> gpd.GeoDataFrame:
    f = commune_facts().set_index("commune_code").loc[codes].reset_index()
    return gpd.GeoDataFrame(
        {"commune_code": f.commune_code, "name": f.name, "type": f.type,
         "district_code": f.district_code, "district_name": f.district_name,
         "population": f.population, "households": f.households},
        geometry=[box(x - HALF, y - HALF, x + HALF, y + HALF)
                  for x, y in zip(f.lon, f.lat, strict=True)], crs="EPSG:4326")


def _bundle(layers: dict) -> Bundle:
    return validate(Bundle("u25", layers, {}, {}, "2020", {}))


def test_dissolve_apportions_the_split_commune():
    c = _communes()
    u = dissolve_2025(c).set_index("unit_code")
    hh = c.set_index("commune_code").households
    assert list(u.index) == ["04828", "04891"]
    assert u.loc["04828", "households"] == round(hh["04789"] + hh["04819"] + hh["04828"]
                                                 + 0.5 * hh["04891"])
    assert u.loc["04891", "households"] == round(hh["04888"] + 0.5 * hh["04891"])
    assert u.loc["04891", "communes_2020"] == "04888;04891×0.5"
    assert u["complete"].all() and set(u["type"]) == {"Phường", "Xã"}
    area = u.to_crs("EPSG:32648").area
    sq = c.to_crs("EPSG:32648").set_index("commune_code").area
    # half of 04891 in each unit; 1e-6 relative: the bisection's tolerance on the cut
    assert area["04891"] == pytest.approx(sq["04888"] + 0.5 * sq["04891"], rel=1e-6)
    assert area["04828"] == pytest.approx(sq.drop("04888").sum() - 0.5 * sq["04891"], rel=1e-6)
    part = gpd.GeoSeries([u.loc["04891", "geometry"]], crs=u.crs).to_crs("EPSG:32648")
    assert part.area.iloc[0] > 0
    # deterministic: the same input gives the same polygons, to the byte
    assert dissolve_2025(c).to_wkb().equals(dissolve_2025(c).to_wkb())


def test_dissolve_flags_partial_units_and_refuses_foreign_communes():
    u = dissolve_2025(_communes(["04789", "04891"])).set_index("unit_code")
    assert not u["complete"].any()  # 04828 lacks 04819/04828, 04891 lacks 04888
    foreign = _communes(["04789"]).assign(commune_code="99999")
    with pytest.raises(DataError, match="crosswalk.*99999"):
        dissolve_2025(foreign)


def test_units_use_the_layer_when_present_and_say_so():
    c = _communes()
    plain = _bundle({"communes": c})
    assert units_source(plain) == "derived"
    derived = units(plain, "2025").set_index("unit_code")
    layer = dissolve_2025(c)[["unit_code", "name", "type", "geometry"]]
    layer["geometry"] = layer.to_crs("EPSG:32648").buffer(100.0).to_crs(layer.crs)  # own
    with_layer = _bundle({"communes": c, "communes_2025": layer})
    assert units_source(with_layer) == "layer"
    got = units(with_layer, "2025").set_index("unit_code")
    area = got.to_crs("EPSG:32648").area
    assert area.gt(derived.to_crs("EPSG:32648").area).all()  # drawn from the layer
    # no counts in the layer: the crosswalk's apportionment, as derived
    assert got["households"].to_dict() == derived["households"].to_dict()
    layer["households"], layer["population"] = [10, 20], [30, 40]
    got = units(_bundle({"communes": c, "communes_2025": layer}), "2025").set_index("unit_code")
    assert got.loc["04891", "households"] == 20  # the layer's own figures win
    points = layer.assign(geometry=[Point(105.3, 20.8), Point(105.4, 20.8)])
    assert units_source(_bundle({"communes": c, "communes_2025": points})) == "derived"


def test_read_communes_2025_by_code_and_by_name(tmp_path):
    c = _communes()
    d = dissolve_2025(c)
    by_code = d[["geometry"]].assign(MA_XA=[int(x) for x in d.unit_code])  # codes lost zeros
    by_code.to_file(tmp_path / "code.geojson")
    got = read_communes_2025(tmp_path / "code.geojson", communes=c).data
    assert list(got.unit_code) == ["04828", "04891"]
    assert list(got.households) == list(d.households)
    by_name = d[["geometry"]].assign(TEN_XA=["phường thống nhất", "Tiền  Phong"])
    by_name.to_file(tmp_path / "name.geojson")
    imp = read_communes_2025(tmp_path / "name.geojson")
    assert list(imp.data.name) == ["Phường Thống Nhất", "Xã Tiền Phong"]
    assert "by name column 'TEN_XA'" in " ".join(imp.notes)
    assert "44 of the 46" in " ".join(imp.notes)


@pytest.mark.parametrize(("frame", "error", "match"), [
    (lambda d: d[["geometry"]].assign(unit_code=["04828", "12345"]), DataError,
     r"code\(s\) in column 'unit_code'.*\(2, '12345'\)"),
    (lambda d: d[["geometry"]].assign(name=["Phường Thống Nhất", "Xã Nowhere"]), DataError,
     r"row 2: 'Xã Nowhere'"),
    (lambda d: d[["geometry"]].assign(unit_code=["04828", "04828"]), DataError,
     r"04828.*more than once"),
    (lambda d: d[["geometry"]].assign(other=[1, 2]), SchemaError, "no code or name column"),
    (lambda d: d.assign(geometry=d.representative_point())[["unit_code", "geometry"]], Exception,
     "must be polygons"),
])
def test_read_communes_2025_bad_input(tmp_path, frame, error, match):
    d = dissolve_2025(_communes())
    frame(d).to_file(tmp_path / "bad.geojson")
    with pytest.raises(error, match=match):
        read_communes_2025(tmp_path / "bad.geojson")


def test_cli_import_communes_2025(tmp_path):
    c = _communes()
    c[["commune_code", "geometry"]].to_file(tmp_path / "xa.geojson")
    d = dissolve_2025(c)
    d[["unit_code", "name", "geometry"]].to_file(tmp_path / "xa2025.geojson")
    before = (tmp_path / "xa2025.geojson").read_bytes()
    r = CliRunner().invoke(main, ["data", "import", "--communes", str(tmp_path / "xa.geojson"),
                                  "--communes-2025", str(tmp_path / "xa2025.geojson"),
                                  "--out", str(tmp_path / "b"), "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["layers"]["communes_2025"] == 2
    b = load_bundle(tmp_path / "b")
    assert units_source(b) == "layer"
    assert list(b.communes_2025.households) == list(d.households)
    assert b.provenance["communes_2025"].source == "xa2025.geojson"
    assert (tmp_path / "xa2025.geojson").read_bytes() == before  # input untouched
    d[["geometry"]].assign(unit_code=["04828", "00001"]).to_file(tmp_path / "bad.geojson")
    r = CliRunner().invoke(main, ["data", "import", "--communes", str(tmp_path / "xa.geojson"),
                                  "--communes-2025", str(tmp_path / "bad.geojson"),
                                  "--out", str(tmp_path / "b2")])
    assert r.exit_code == 2
    lines = [x for x in r.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "bad.geojson" in lines[0] and "00001" in lines[0], r.output
    assert not (tmp_path / "b2").exists()


def _in_crosswalk(b: Bundle) -> Bundle:
    """The example bundle with its two communes outside the 2020→2025 crosswalk recoded to
    communes of Phường Thống Nhất, so its communes dissolve into 2025 units."""
    recode = {"05107": "04789", "05110": "04819"}
    layers = {k: (v.assign(commune_code=v["commune_code"].replace(recode))
                  if "commune_code" in v.columns else v) for k, v in b.layers.items()}
    return validate(Bundle(b.name, layers, b.rasters, b.provenance, b.boundaries, b.meta))


def _with_layer(b: Bundle) -> Bundle:
    layers = dict(b.layers)
    layers["communes_2025"] = dissolve_2025(b.communes)[["unit_code", "name", "type",
                                                        "households", "population", "geometry"]]
    return validate(Bundle(b.name, layers, b.rasters, b.provenance, b.boundaries, b.meta))


@pytest.mark.parametrize("with_layer", [False, True])
def test_map_and_workbook_say_which_units(tmp_path, with_layer):
    from phusong.maps import build_map, write_briefing

    b = _in_crosswalk(example_bundle())
    if with_layer:
        b = _with_layer(b)
    source = "layer" if with_layer else "derived"
    html = build_map(b, boundaries="2025", lang="en").get_root().render()
    assert SOURCE_LABELS[source][1] in html
    assert SOURCE_LABELS["derived" if with_layer else "layer"][1] not in html
    plan = write_example_plan(b, tmp_path / "plan")
    write_briefing(b, None, plan, tmp_path / "out")
    wb = openpyxl.load_workbook(tmp_path / "out" / "briefing.xlsx")
    ws = wb["Đơn vị 2025 | 2025 units"]
    text = " ".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v)
    assert SOURCE_LABELS[source][1] in text and SOURCE_LABELS[source][0] in text
