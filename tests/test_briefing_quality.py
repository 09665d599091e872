"""The briefing shows the data quality of a plan (issue 18 Build 1): the engine's counts on
the existing network (paths ITM refused, DEM voids left out or bridged and the longest,
villages off the DEM), the villages of unknown coverage and the existing sites inside no
commune, from ``plan.json``; a recorded zero reads 0, a figure not recorded says so."""

from __future__ import annotations

import json

import openpyxl

from phusong.maps import write_briefing
from phusong.maps._example import example_bundle, write_example_plan
from phusong.maps._quality import NOT_RECORDED, QUALITY_HEADING

COUNTS = {"paths": 10, "paths_itm_error": 3, "paths_flagged_void": 0, "paths_void_bridged": 2,
          "void_bridged_max_m": 120.0, "max_void_m": 500.0, "receivers_outside_dem": 0}


def _quality_rows(ws) -> dict:
    """Cover rows of the data-quality block: English label (without its note) → value."""
    rows = [r for r in ws.iter_rows()]
    i = next(k for k, r in enumerate(rows) if r[0].value == " / ".join(QUALITY_HEADING))
    out = {}
    for r in rows[i + 1:]:
        if not str(r[0].value or "").startswith("  "):
            break
        out[r[0].value.split(" / ", 1)[1].split(" (")[0]] = r[1]
    return out


def test_briefing_of_a_plan_with_itm_errors_voids_and_a_site_outside(monkeypatch, tmp_path):
    from phusong.bundle import validate
    from phusong.planning import make_plan
    from tests._synthetic import disc_engine, site_outside_communes, synthetic_bundle

    disc_engine(monkeypatch, COUNTS)
    b, sid = site_outside_communes(validate(synthetic_bundle(3, 6, seed=4)))
    plan = make_plan(b).write(tmp_path / "plan")
    write_briefing(b, None, plan, tmp_path / "out")
    q = _quality_rows(openpyxl.load_workbook(tmp_path / "out" / "briefing.xlsx")["Bìa | Cover"])
    assert q["Paths ITM refused"].value == 3
    assert q["Paths ITM refused"].font.color.rgb.endswith("B00000")  # not zero: in red
    assert q["Paths left out behind a long DEM void"].value == 0  # a zero, not a blank
    assert q["Paths bridged across a DEM void"].value == 2
    # exact: the engine's figure as plan.json recorded it
    assert q["Longest void bridged"].value == 120
    assert q["Villages off the DEM"].value == 0
    assert q["Villages of unknown coverage"].value == 0
    assert q["Existing sites inside no commune"].value == 1
    cover_text = " ".join(str(r[0].value) for r in
                          openpyxl.load_workbook(tmp_path / "out" / "briefing.xlsx")
                          ["Bìa | Cover"].iter_rows() if r[0].value)
    assert f"Existing sites inside no commune ({sid})" in cover_text
    assert "long DEM void (> 500 m)" in cover_text
    s = json.loads((tmp_path / "out" / "summary.json").read_text("utf-8"))["data_quality"]
    assert s["paths_itm_error"] == 3 and s["paths_flagged_void"] == 0
    assert s["sites_outside_communes"] == 1 and s["void_bridged_max_m"] == 120


def test_briefing_of_a_plan_without_the_figures_says_not_recorded(tmp_path):
    b = example_bundle()
    write_briefing(b, None, write_example_plan(b, tmp_path / "plan"), tmp_path / "out")
    q = _quality_rows(openpyxl.load_workbook(tmp_path / "out" / "briefing.xlsx")["Bìa | Cover"])
    assert q["Paths ITM refused"].value == NOT_RECORDED
    assert q["Existing sites inside no commune"].value == NOT_RECORDED
    s = json.loads((tmp_path / "out" / "summary.json").read_text("utf-8"))["data_quality"]
    assert s["paths_itm_error"] is None and s["sites_outside_communes"] is None
