"""The briefing map and workbook show what a plan assumed (``plan.json``): the fibre assumption
(POPs assumed at commune centres), the census households the villages represent, and the
inferred feeder routes (map layer off by default, labelled INFERRED). ``plan.json`` is read
defensively: absent keys or keys of another type give "not recorded", never an error."""

from __future__ import annotations

import json

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString

from phusong.maps import build_map, write_briefing
from phusong.maps._assumed import FEEDERS_LAYER_LABEL, census_coverage, fibre_assumption
from phusong.maps._example import example_bundle, write_example_plan

LABEL = ("ASSUMED: no fibre layer — a point of presence is assumed at every commune centre "
         "(Plan 785 §2.1)")
FEEDER = "INFERRED: likely feeder routes along roads"
CENSUS = {"census_households": 8000.0, "census_population": 30000.0, "households": 5000.0,
          "population": 19000.0, "households_unrepresented": 3000.0,
          "population_unrepresented": 11000.0, "households_represented_pct": 62.5}


def _assumed_plan(b, folder):
    """The example plan as a plan on assumed POPs with a 62.5 % village sample would be."""
    plan = write_example_plan(b, folder)
    meta = json.loads((plan / "plan.json").read_text(encoding="utf-8"))
    meta.update({
        "fibre_assumption": LABEL,
        "assumptions": [LABEL, "the villages represent 62.5 % of the 8,000 census households"],
        "census": CENSUS,
        "feeders_inferred": {"label": FEEDER, "provincial_pop": "POP-04792", "pops_reached": 3,
                             "pops_unreachable": 1, "unreachable": ["POP-05110"], "km": 12.5,
                             "indicative_cost_vnd": 4.0e9},
    })
    (plan / "plan.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    com = pd.read_csv(plan / "gaps_communes.csv", dtype={"unit_code": str})
    com["census_households"] = com["households"] * 2
    com["households_unrepresented"] = com["households"]
    com["households_represented_pct"] = 50.0
    com.to_csv(plan / "gaps_communes.csv", index=False, encoding="utf-8")
    feeders = gpd.GeoDataFrame(
        {"feeder_id": ["F1", "F2"], "length_m": [7000.0, 5500.0], "cost_vnd": [2e9, 2e9],
         "status": [FEEDER] * 2},
        geometry=[LineString([(105.32, 20.82), (105.37, 20.82)]),
                  LineString([(105.37, 20.82), (105.42, 20.83)])], crs="EPSG:4326")
    pyogrio.write_dataframe(feeders, plan / "plan.gpkg", layer="feeders_inferred",
                            driver="GPKG", geometry_type="LineString")
    return plan


def _groups(m):
    import folium

    return {c.layer_name: c for c in m._children.values() if isinstance(c, folium.FeatureGroup)}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_map_shows_fibre_assumption_census_and_inferred_feeders(tmp_path, lang):
    from phusong.maps._labels import esc

    b = example_bundle()
    m = build_map(b, plan_dir=_assumed_plan(b, tmp_path / "plan"), lang=lang)
    groups = _groups(m)
    name = FEEDERS_LAYER_LABEL[lang == "en"]
    assert "INFERRED" in name and name in groups
    assert groups[name].show is False  # off by default, one click away
    html = m.get_root().render()
    assert "phusong-assumed" in html and "phusong-census" in html
    if lang == "en":
        assert esc(LABEL) in html
        assert "villages represent 62.5 % of 8,000 census households" in html
        assert "3,000 unknown" in html
    else:
        # numbers as a Vietnamese reader writes them: decimal comma, thousands dot
        assert "GIẢ ĐỊNH" in html and "62,5 % của 8.000 hộ" in html and "3.000 hộ chưa rõ" in html
    assert esc(FEEDER) in html  # each feeder's tooltip carries the plan's INFERRED label


def test_map_without_assumptions_says_nothing_of_them(tmp_path):
    b = example_bundle()
    m = build_map(b, plan_dir=write_example_plan(b, tmp_path / "plan"), lang="en")
    assert FEEDERS_LAYER_LABEL[1] not in _groups(m)
    html = m.get_root().render()
    assert "phusong-assumed" not in html and "phusong-census" not in html


def _values(ws) -> list:
    return [v for row in ws.iter_rows(values_only=True) for v in row if v is not None]


def test_workbook_cover_assumptions_and_communes(tmp_path):
    b = example_bundle()
    write_briefing(b, None, _assumed_plan(b, tmp_path / "plan"), tmp_path / "out")
    wb = openpyxl.load_workbook(tmp_path / "out" / "briefing.xlsx")
    cover = wb["Bìa | Cover"]
    row = next(r for r in cover.iter_rows() if r[0].value == "Giả định cáp quang / Fibre "
                                                             "assumption")
    assert LABEL in row[1].value and row[1].font.color.rgb.endswith("B00000")
    text = " ".join(map(str, _values(cover)))
    assert "villages represent 62.5 % of 8,000 census households" in text
    assert "12.5 km" in text and "INFERRED" in text
    ws = wb["Giả định | Assumptions"]
    rows = [r for r in ws.iter_rows(min_row=3, values_only=True) if r[1]]
    by = {(r[0], r[1]): r[2] for r in rows}
    assert LABEL in by[("fibre", "fibre_assumption / giả định cáp quang")]
    assert by[("census", "households_represented_pct")] == pytest.approx(62.5, abs=1e-9)
    assert by[("census", "households_unrepresented")] == pytest.approx(3000.0, abs=1e-9)
    assert by[("feeders_inferred", "label")] == FEEDER
    # the fibre label is said once (its own row), the other assumption listed
    assert [v for (s, _), v in by.items() if s == "assumptions"] == [
        "the villages represent 62.5 % of the 8,000 census households"]
    com = wb["Xã | Communes"]
    heads = [c.value for c in com[2]]
    for h in ("Census households (2019)", "Unknown households (no village represents them)",
              "Census households the villages represent (%)"):
        assert h in heads
    j = heads.index("Census households the villages represent (%)")
    assert {r[j] for r in com.iter_rows(min_row=3, values_only=True) if r[1]} == {50.0}


@pytest.mark.parametrize("bad", [
    {"fibre_assumption": 5, "census": "62 %", "assumptions": "one text",
     "feeders_inferred": [1, 2]},
    {"fibre_assumption": "", "census": {"census_households": "many",
                                        "households_represented_pct": None},
     "assumptions": [None, 3], "feeders_inferred": None},
])
def test_plan_json_of_another_shape_is_read_defensively(tmp_path, bad):
    b = example_bundle()
    plan = write_example_plan(b, tmp_path / "plan")
    meta = json.loads((plan / "plan.json").read_text(encoding="utf-8"))
    meta.update(bad)
    (plan / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    assert fibre_assumption(meta) is None and census_coverage(meta) is None
    html = build_map(b, plan_dir=plan, lang="en").get_root().render()
    assert "phusong-assumed" not in html and "phusong-census" not in html
    write_briefing(b, None, plan, tmp_path / "out")
    wb = openpyxl.load_workbook(tmp_path / "out" / "briefing.xlsx")
    text = " ".join(map(str, _values(wb["Bìa | Cover"])))
    assert "Census coverage" in text and "not recorded in plan.json" in text
    sections = {r[0] for r in wb["Giả định | Assumptions"].iter_rows(min_row=3, values_only=True)}
    assert "census" not in sections and "assumptions" not in sections


def test_older_plan_without_keys_says_not_recorded(tmp_path):
    b = example_bundle()
    write_briefing(b, None, write_example_plan(b, tmp_path / "plan"), tmp_path / "out")
    wb = openpyxl.load_workbook(tmp_path / "out" / "briefing.xlsx")
    row = next(r for r in wb["Bìa | Cover"].iter_rows(values_only=True)
               if r[0] == "Giả định cáp quang / Fibre assumption")
    assert row[1] == "không ghi trong plan.json / not recorded in plan.json"


def test_units_2025_census_apportioned_and_unknown_kept_in_denominators():
    """Phường Thống Nhất (2025) gets half of Tiền Phong (04891): census and unknown households
    apportioned; shares divide by households + unknown as the gap tables do."""
    from phusong.communes import crosswalk_2025
    from phusong.maps._tables import units_2025_table
    from phusong.maps._targets import briefing_targets

    gaps = pd.DataFrame({
        "unit_code": ["04789", "04819", "04828", "04891", "04888"],
        "name": list("abcde"),
        "households": [1000, 2000, 3000, 800, 500],
        "population": [4000, 8000, 12000, 3200, 2000],
        "census_households": [1000, 2000, 4000, 1600, 500],
        "households_unrepresented": [0, 0, 1000, 800, 0],
        "households_represented_pct": [100.0, 100.0, 75.0, 50.0, 100.0],
        "fibre_households": [900, 1000, 3000, 0, 100],
        "fibre_households_pct": [90.0, 50.0, 60.0, 0.0, 20.0],
    })
    out = units_2025_table(gaps, crosswalk_2025(), briefing_targets(None), None)
    out = out.set_index("unit_code")
    assert out.loc["04828", "census_households"] == 1000 + 2000 + 4000 + 800
    assert out.loc["04828", "households_unrepresented"] == 1000 + 400
    assert out.loc["04891", "households_unrepresented"] == 400
    # 1e-9: float division of whole numbers
    assert out.loc["04828", "households_represented_pct"] == pytest.approx(
        100.0 * 6400 / 7800, abs=1e-9)
    assert out.loc["04828", "fibre_households_pct"] == pytest.approx(
        100.0 * 4900 / (6400 + 1400), abs=1e-9)
    assert out.loc["04891", "households_represented_pct"] == pytest.approx(
        100.0 * 900 / 1300, abs=1e-9)
