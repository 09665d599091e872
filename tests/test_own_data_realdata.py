"""The README's "Your own data" example, run as written on the real layers of ../shared.

The operator files are generated here (never read from ../shared): a 151-row site list in
Excel with Vietnamese columns and VN-2000 TM-3 X/Y (one 4G site near each commune's
administrative centre, operators in turn) and a POP list with one POP per commune centre. The
commands are read from the README block between ``own-data:begin`` and ``own-data:end`` and run
in process (click's runner) in a temporary folder, with ``$DATA`` a folder of links to the real
files plus the generated ones. Skipped without ../shared.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import warnings
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pyproj import Transformer

from phusong.cli import main
from phusong.communes import commune_facts

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: 2019 census totals of the province (FACTS §1; data/communes facts).
CENSUS_PEOPLE, CENSUS_HOUSEHOLDS = 854_131, 220_630


def readme_commands() -> list[list[str]]:
    """The README example's commands, as argument lists (``phusong`` dropped)."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    block = re.search(r"<!-- own-data:begin -->\s*```\n(.*?)```\s*<!-- own-data:end -->", text,
                      re.S)
    assert block, "README has no own-data block"
    joined = block.group(1).replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        if line.strip():
            args = shlex.split(os.path.expandvars(line))
            assert args[0] == "phusong", line
            out.append(args[1:])
    return out


def _centres(hoabinh):
    com = gpd.read_file(hoabinh / "communes_151.geojson")
    f = commune_facts().set_index("commune_code").loc[com["gso_code"]]
    pts = gpd.GeoSeries(gpd.points_from_xy(f["lon"], f["lat"]), crs="EPSG:4326")
    inside = com.geometry.contains(pts).to_numpy()
    centre = gpd.GeoSeries(np.where(inside, pts, com.geometry.representative_point()),
                           crs="EPSG:4326")
    return com["gso_code"].to_numpy(), centre


def make_operator_files(hoabinh, data) -> None:
    """tram.xlsx (151 sites, VN-2000 X/Y, Vietnamese columns) and pops.geojson (151 POPs)."""
    codes, centre = _centres(hoabinh)
    rng = np.random.default_rng(13)
    tx = Transformer.from_crs("EPSG:4326", "EPSG:9211", always_xy=True)
    east, north = tx.transform(centre.x + rng.uniform(-0.01, 0.01, len(codes)),
                               centre.y + rng.uniform(-0.01, 0.01, len(codes)))
    ops = np.array(["Viettel", "VNPT", "MobiFone"])
    pd.DataFrame({"MA_TRAM": [f"HBH{i:04d}" for i in range(len(codes))],
                  "NHA_MANG": ops[np.arange(len(codes)) % 3],
                  "TOA_DO_X": np.round(north, 1), "TOA_DO_Y": np.round(east, 1),
                  "DO_CAO": 30.0, "CONG_NGHE": "LTE", "TAN_SO": 1842.5, "EIRP": 60.0}
                 ).to_excel(data / "tram.xlsx", index=False)
    feats = [{"type": "Feature", "properties": {"id": f"POP-{c}", "featureType": "node",
                                                "type": ["pop"]},
              "geometry": {"type": "Point", "coordinates": [p.x, p.y]}}
             for c, p in zip(codes, centre, strict=True)]
    (data / "pops.geojson").write_text(json.dumps({"type": "FeatureCollection",
                                                   "features": feats}), encoding="utf-8")


def make_data_folder(hoabinh, data):
    """``data``: links to the real layers the README uses plus the generated operator files."""
    (data / "osm2018").mkdir(parents=True)
    (data / "dem").mkdir()
    for rel in ("communes_151.geojson", "osm2018/places_bbox.geojson",
                "osm2018/roads_province.gpkg", "dem/srtm30plus_bbox_75arcsec.tif"):
        (data / rel).symlink_to(hoabinh / rel)
    make_operator_files(hoabinh, data)
    return data


@pytest.fixture(scope="module")
def run(hoabinh, tmp_path_factory):
    """Run the README commands as written; returns the work folder and each command's output."""
    work = tmp_path_factory.mktemp("own")
    data = make_data_folder(hoabinh, work / "data")
    os.environ["DATA"] = str(data)
    try:
        commands = readme_commands()
    finally:
        del os.environ["DATA"]
    before = {p: p.stat().st_mtime_ns for p in hoabinh.rglob("*") if p.is_file()}
    outputs = {}
    cwd = os.getcwd()
    os.chdir(work)
    try:
        with warnings.catch_warnings():
            # the real inputs warn (villages outside the communes, a fragmented road graph);
            # the commands print them, the test checks the outputs
            warnings.simplefilter("ignore")
            for args in commands:
                r = CliRunner().invoke(main, args)
                assert r.exit_code == 0, (args, r.output, r.stderr, r.exception)
                key = " ".join(args[:2]) if args[0] in ("data",) else args[0]
                key += "_2025" if "2025" in args else ""
                outputs[key] = r.output
    finally:
        os.chdir(cwd)
    assert before == {p: p.stat().st_mtime_ns for p in hoabinh.rglob("*") if p.is_file()}
    return work, outputs


def test_readme_pipeline_writes_every_output(run):
    work, out = run
    assert (work / "hoabinh" / "bundle.toml").is_file()
    assert (work / "coverage" / "villages.csv").is_file()
    for f in ("plan.json", "plan.gpkg", "villages_plan.csv", "gaps_province.csv"):
        assert (work / "plan" / f).is_file()
    html = (work / "map.html").read_text(encoding="utf-8")
    assert "<html" in html.lower() and len(html) > 10_000
    with zipfile.ZipFile(work / "plan_vn2000.zip") as z:
        names = z.namelist()
    assert any(n.endswith(".prj") for n in names) and any(n.endswith(".cpg") for n in names)
    for f in ("briefing.xlsx", "summary.json"):
        assert (work / "briefing" / f).is_file()
    assert "valid villages" in out["data validate"]
    assert "census: villages carry" in out["data import"]


def test_every_unit_listed_with_the_census(run):
    work, _ = run
    for folder, units in (("gaps2020", 151), ("gaps2025", 46)):
        c = pd.read_csv(work / folder / "gaps_communes.csv")
        assert len(c) == units and c["unit_code"].is_unique
        assert (c["census_households"] > 0).all()
        # fractions of the 3 split units sum back exactly (halves of integers): 1e-6 absolute
        assert c["census_households"].sum() == pytest.approx(CENSUS_HOUSEHOLDS, abs=1e-6)
        assert c["census_population"].sum() == pytest.approx(CENSUS_PEOPLE, abs=1e-6)
        # units without villages show their census as unrepresented, not as served
        empty = c[c["villages"] == 0]
        assert len(empty) > 0
        assert (empty["households_represented_pct"] == 0).all()
        assert (empty["households_unrepresented"] == empty["census_households"]).all()
        assert (empty["fibre_households_pct"] == 0).all()
        assert (c["fibre_communes_pct"] == 100).all()  # a POP in every commune


def test_census_totals_in_every_province_table(run):
    work, _ = run
    tables = [work / "gaps2020" / "gaps_province.csv", work / "gaps2025" / "gaps_province.csv",
              work / "plan" / "gaps_province.csv", *sorted((work / "plan" / "years").glob(
                  "*/gaps_province.csv"))]
    assert len(tables) == 5  # two gap runs, the plan's baseline and its 2025 and 2030 years
    for t in tables:
        p = pd.read_csv(t).iloc[0]
        # sums of integer census figures (the 2025 split units in halves): 1e-6 absolute
        assert p["census_population"] == pytest.approx(CENSUS_PEOPLE, abs=1e-6), t
        assert p["census_households"] == pytest.approx(CENSUS_HOUSEHOLDS, abs=1e-6), t
        assert p["households"] + p["households_unrepresented"] == pytest.approx(
            CENSUS_HOUSEHOLDS, abs=1e-6), t
        assert p["fibre_communes_pct"] == 100.0, t
        assert p["communes"] in (151, 46), t


def test_plan_states_what_it_assumed(run):
    work, out = run
    plan = json.loads((work / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["fibre_assumption"] is None  # a POP list was given
    census = plan["census"]
    assert census["census_households"] == CENSUS_HOUSEHOLDS
    assert census["census_population"] == CENSUS_PEOPLE
    # 39 communes hold an OSM place and carry their whole census (--villages-scale census)
    assert 0 < census["households_represented_pct"] < 100
    assert any("represent" in a for a in plan["assumptions"])
    assert plan["feeders_inferred"]["label"].startswith("INFERRED")
    f = plan["feeders_inferred"]
    assert f["pops_reached"] + f["pops_unreachable"] == 150 and f["km"] > 0
    assert "represent" in out["plan"] and "feeders (inferred)" in out["plan"]
    first = plan["years"][0]
    assert first["province_pct"]["fibre_communes_pct"] == 100.0


def test_without_a_fibre_layer_pops_are_assumed(run, tmp_path):
    work, _ = run
    from phusong.bundle import load_bundle, save_bundle

    b = load_bundle(work / "hoabinh")
    b.layers.pop("fibre_nodes")
    b.provenance.pop("fibre_nodes")
    save_bundle(b, tmp_path / "nofibre")
    r = CliRunner().invoke(main, ["gaps", str(tmp_path / "nofibre"), "--out",
                                  str(tmp_path / "g"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "ASSUMED" in r.output
    head = json.loads((tmp_path / "g" / "gaps.json").read_text(encoding="utf-8"))
    assert head["assumptions"] and head["assumptions"][0].startswith("ASSUMED")
    assert head["figures_pct"]["fibre_communes_pct"] == 100.0
    r = CliRunner().invoke(main, ["plan", str(tmp_path / "nofibre"), "--out",
                                  str(tmp_path / "p"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "ASSUMED: no fibre layer" in r.output
    plan = json.loads((tmp_path / "p" / "plan.json").read_text(encoding="utf-8"))
    assert plan["fibre_assumption"].startswith("ASSUMED")
    assert plan["assumptions"][0] == plan["fibre_assumption"]
    for year in plan["years"]:
        assert year["province_pct"]["fibre_communes_pct"] == 100.0
    r = CliRunner().invoke(main, ["map", str(tmp_path / "nofibre"), "--plan", str(tmp_path / "p"),
                                  "--out", str(tmp_path / "m.html")])
    assert r.exit_code == 0, r.output  # the plan refers to the bundle as given
