"""The briefing pack: workbook structure and headers, charts, summary, atomic folder."""

from __future__ import annotations

import json

import openpyxl
import pytest
from PIL import Image

from phusong.errors import DataError, OutputError
from phusong.maps._example import example_bundle, example_gaps, write_example_plan
from phusong.maps.briefing import SHEETS, write_briefing
from phusong.maps.charts import CHART_FILES, cost_curve, province_figures, targets_for


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    root = tmp_path_factory.mktemp("brief")
    b = example_bundle()
    plan = write_example_plan(b, root / "plan")
    files = write_briefing(b, None, plan, root / "out", lang="en")
    return b, plan, root / "out", files


def test_files(pack):
    _, _, out, files = pack
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["briefing.xlsx", "summary.json", *CHART_FILES])
    assert [p.name for p in files][0] == "briefing.xlsx"
    for name in CHART_FILES:
        with Image.open(out / name) as im:
            assert im.format == "PNG" and im.width > 500 and im.height > 250


def test_workbook(pack):
    b, _, out, _ = pack
    wb = openpyxl.load_workbook(out / "briefing.xlsx")
    # the example's communes are not all in the 2025 crosswalk: no 2025-units sheet
    assert wb.sheetnames == [n for n in SHEETS if n != "Đơn vị 2025 | 2025 units"]
    cover = [[c.value for c in row] for row in wb["Bìa | Cover"].iter_rows(max_col=2)]
    flat = " ".join(str(v) for row in cover for v in row if v is not None)
    assert "Dữ liệu minh họa tổng hợp / synthetic demonstration data" in flat
    assert "Ví dụ / example" in flat and "phusong.maps._example" in str(
        [[c.value for c in r] for r in wb["Bìa | Cover"].iter_rows()])
    assert "thiếu / short 44.00" in flat  # the missed target, on the cover
    ws = wb["Xã | Communes"]
    heads = [ws.cell(row=2, column=j).value for j in range(1, ws.max_column + 1)]
    assert heads == ["Unit code", "Name", "Households", "Population", "Fibre households (%)",
                     "4G population (%)", "5G population (%)",
                     "Gap fibre hh 85% 2025 (pts)", "Gap 4G pop. 100% 2025 (pts)",
                     "Gap 5G pop. 99% 2030 (pts)", "New BTS", "Upgrades", "New fibre (km)",
                     "Planned cost (VND)"]
    assert ws["A1"].value == "Mã đơn vị" and ws["E1"].value == "Hộ có cáp quang (%)"
    assert ws.freeze_panes == "B3" and ws.auto_filter.ref == "A2:N6"
    assert ws["A3"].value == "04792" and ws["E3"].number_format == "0.0"
    assert ws["C3"].number_format == "#,##0" and ws["N3"].number_format == "#,##0"
    rows = {r[0].value: [c.value for c in r] for r in ws.iter_rows(min_row=3, max_row=6)}
    # Ngọc Lương (05110, x 105.45–105.50): C001 (new, 3.825 bn) and both routes, whose
    # halfway points lie in it (R001 at x 105.45, R002 ≈ 105.455): 2.39 + 1.33 bn
    assert rows["05110"][10:12] == [1, 0]
    assert rows["05110"][12] == pytest.approx(11.45, abs=1e-9)  # km, float sum
    assert rows["05110"][13] == pytest.approx(3_825_000_000 + 2_390_000_000 + 1_330_000_000,
                                              abs=1)  # VND, float sum
    fib = rows["05110"][4]
    assert rows["05110"][7] == pytest.approx(max(0.0, 85.0 - fib), abs=1e-9)  # scenario's 85 %
    detail = wb["Chi tiết xã | Commune detail"]
    assert detail.max_column == len(example_gaps(b)["communes"].columns)
    dheads = [detail.cell(row=2, column=j).value for j in range(1, detail.max_column + 1)]
    assert "Villages with mobile (%)" not in dheads and "any mobile villages (%)" not in dheads
    assert all(h and "_" not in h for h in dheads), dheads  # every header translated
    sites = wb["Trạm BTS | Sites"]
    sh = {sites.cell(row=2, column=j).value: j for j in range(1, sites.max_column + 1)}
    cost = sites.cell(row=3, column=sh["Cost (VND)"])
    assert cost.value == 3_825_000_000 and cost.number_format == "#,##0"
    assert sites.cell(row=3, column=sh["Name"]).value == "Trạm mới Ngọc Lương"
    assert sites.max_row == 2 + 3  # the selected ones
    assert wb["Ứng viên | Candidates"].max_row == 2 + 4  # every candidate
    targets = wb["Mục tiêu | Targets"]
    assert targets["C1"].value == "Mục tiêu (%)" and targets.max_row == 2 + 3
    assert [targets.cell(row=r, column=3).value for r in (3, 4, 5)] == [85.0, 100.0, 99.0]


def test_print_setup(pack):
    _, _, out, _ = pack
    wb = openpyxl.load_workbook(out / "briefing.xlsx")
    for ws in wb.worksheets:
        ps = ws.page_setup
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ps.fitToWidth == 1 and str(ps.paperSize) == ws.PAPERSIZE_A4, ws.title
        if ws.title == "Bìa | Cover":
            assert ps.fitToHeight == 1  # the cover on one page
        elif ws.title not in ("Biểu đồ | Charts", "Chi phí đến 100% | Cost to 100%"):
            assert ps.fitToHeight == 0 and ws.print_title_rows == "$1:$2", ws.title
    assert wb["Chi tiết xã | Commune detail"].page_setup.orientation == "landscape"
    assert wb["Mục tiêu | Targets"].page_setup.orientation == "portrait"


def test_assumptions_are_the_scenarios(pack):
    """The assumptions sheet shows the scenario plan.json records, not the settings."""
    from phusong import settings

    _, _, out, _ = pack
    ws = openpyxl.load_workbook(out / "briefing.xlsx")["Giả định | Assumptions"]
    rows = {(r[0].value, r[1].value): (r[2].value, r[3].value, r[4].value)
            for r in ws.iter_rows(min_row=3) if r[0].value}
    assert rows[("costs", "new_site_vnd")][0] == 4_100_000_000
    assert settings.COSTS.new_site_vnd != 4_100_000_000  # … which is not the default
    assert rows[("planning_costs", "sharing_markup")][:2] == (0.35, "fraction")
    assert rows[("rules", "low_band_5g")][0] == "n28"
    assert rows[("bands_5g", "shared")][0] == "n28"
    assert rows[("budgets", "2025 mobile_vnd")][:2] == (9_000_000_000, "VND")
    assert "example.toml" in rows[("costs", "new_site_vnd")][2]
    # thresholds are not in this plan.json: taken from the settings, and said so
    assert "settings" in rows[("thresholds_dbm", "threshold 4G")][2]


def test_missed_targets_and_cost_curves(pack):
    _, _, out, _ = pack
    wb = openpyxl.load_workbook(out / "briefing.xlsx")
    ws = wb["Chưa đạt | Missed targets"]
    heads = [ws.cell(row=2, column=j).value for j in range(1, ws.max_column + 1)]
    row = dict(zip(heads, [c.value for c in ws[3]], strict=True))
    assert row["Shortfall (points)"] == 44.0 and row["Target (%)"] == 85.0
    assert row["What binds"] == "ngân sách / budget"
    assert row["Solver gap: 5G"] == 0.004 and ws.cell(row=3, column=heads.index(
        "Solver gap: 5G") + 1).number_format == "0.00%"
    cs = wb["Chi phí đến 100% | Cost to 100%"]
    assert len(cs._charts) == 1 and len(cs._images) == 1  # native chart and the PNG
    scatter = cs._charts[0]
    assert [s.tx.strRef is None and s.tx.v for s in scatter.series] == [
        "Dân số có sóng 4G / Population with 4G", "Hộ có cáp quang / Fibre households"]
    costs = [cs.cell(row=r, column=5).value for r in range(6, 13)]
    assert costs == pytest.approx([3.825, 7.65, 15.3, None, 20.0, 26.0, 39.0])  # bn VND
    # each level also as a share of the census (the example's villages are the census)
    assert cs.cell(row=5, column=10).value == "Level of the census (%)"
    assert [cs.cell(row=r, column=10).value for r in range(6, 13)] == pytest.approx(
        [90.0, 95.0, 99.0, 100.0, 90.0, 95.0, 100.0])
    ch = wb["Biểu đồ | Charts"]
    assert len(ch._charts) == 2 and len(ch._images) == 4  # 2 native, 4 other PNGs


def test_summary(pack):
    b, plan, out, _ = pack
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["synthetic"] is True and s["bundle"] == "example"
    p = s["plan"]
    assert (p["sites_selected"], p["sites_new"], p["sites_upgrade"]) == (3, 2, 1)
    assert p["sites_cost_vnd"] == 2 * 3_825_000_000 + 1_020_000_000
    assert p["households_newly_covered"] == 420 + 310 + 150
    # 6.25 + 5.2 km; 1e-9 tolerance: float sum of two lengths
    assert p["fibre_km"] == pytest.approx(11.45, abs=1e-9)
    gaps = example_gaps(b)
    fib = gaps["province"]["fibre_households_pct"].iloc[0]
    # 0.005 tolerance: summary rounds to 2 decimals
    assert s["province_pct"]["fibre_households_pct"] == pytest.approx(fib, abs=0.005)
    assert s["targets_pct"]["fibre_households_pct"] == 85.0  # the scenario's, from plan.json
    assert s["targets_from"] == "plan"
    assert s["missed_targets"][0]["shortfall_pct"] == 44.0


def test_province_figures_from_communes_alone():
    b = example_bundle()
    g = example_gaps(b)
    from_communes = province_figures({"communes": g["communes"]})
    from_province = province_figures({"province": g["province"]})
    for col in ("fibre_households_pct", "mobile_4G_population_pct", "mobile_any_villages_pct"):
        # 1e-9: the weighted mean of commune shares equals the pooled share up to rounding
        assert from_communes[col] == pytest.approx(from_province[col], abs=1e-9)


def test_targets_and_cost_curve(pack):
    b, plan, _, _ = pack
    assert targets_for(2025)["mobile_4G_population_pct"] == 100.0
    assert targets_for(2026) == {"fibre_households_pct": 100.0, "mobile_5G_population_pct": 100.0}
    from phusong.maps import read_plan

    cc = cost_curve(read_plan(plan, b))
    assert cc["candidate_id"].tolist() == ["C001", "C002", "C003"]  # rank order
    assert cc["cum_households"].tolist() == [420, 730, 880]


def test_bad_inputs(pack, tmp_path):
    b, plan, out, _ = pack
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(OutputError, match="already exists"):
        write_briefing(b, None, plan, out)
    assert sorted(p.name for p in out.iterdir()) == before
    with pytest.raises(DataError, match="plan made from bundle"):
        write_briefing(example_bundle(name="elsewhere"), None, plan, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(DataError, match="--lang"):
        write_briefing(b, None, plan, tmp_path / "y", lang="de")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="cannot create"):
        write_briefing(b, None, plan, blocker / "pack")


def test_units_2025_apportion_split_communes():
    """Phường Thống Nhất (2025) = three whole communes + half of Tiền Phong (04891): counts are
    apportioned by share and each share recomputed from the apportioned counts."""
    import pandas as pd

    from phusong.communes import crosswalk_2025
    from phusong.maps._tables import units_2025_table
    from phusong.maps._targets import briefing_targets

    gaps = pd.DataFrame({
        "unit_code": ["04789", "04819", "04828", "04891", "04888"],
        "name": ["a", "b", "c", "Tiền Phong", "e"],
        "households": [1000, 2000, 3000, 800, 500],
        "population": [4000, 8000, 12000, 3200, 2000],
        "fibre_households": [900, 1000, 3000, 0, 100],
        "fibre_households_pct": [90.0, 50.0, 100.0, 0.0, 20.0],
    })
    out = units_2025_table(gaps, crosswalk_2025(), briefing_targets(None), None)
    out = out.set_index("unit_code")
    assert out.loc["04828", "households"] == 1000 + 2000 + 3000 + 400
    assert out.loc["04891", "households"] == 500 + 400  # 04888 whole + half of 04891
    # pooled share of the apportioned counts; 1e-9: float division
    assert out.loc["04828", "fibre_households_pct"] == pytest.approx(
        100.0 * 4900 / 6400, abs=1e-9)
    assert out.loc["04891", "fibre_households_pct"] == pytest.approx(100.0 * 100 / 900, abs=1e-9)
    assert out.loc["04828", "gap_fibre_2025_pct"] == pytest.approx(
        80.0 - 100.0 * 4900 / 6400, abs=1e-9)


def test_plan_json_without_scenario_years_or_curves(tmp_path):
    """An older or foreign plan.json (no scenario, years or cost curves): the briefing is
    written, with the settings' defaults said to be defaults and no empty sheets."""
    b = example_bundle()
    plan = write_example_plan(b, tmp_path / "plan")
    meta = json.loads((plan / "plan.json").read_text(encoding="utf-8"))
    for key in ("scenario", "years", "cost_curves"):
        meta.pop(key)
    (plan / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    write_briefing(b, None, plan, tmp_path / "out")
    wb = openpyxl.load_workbook(tmp_path / "out" / "briefing.xlsx")
    assert "Năm | Years" not in wb.sheetnames and "Chưa đạt | Missed targets" not in wb.sheetnames
    assert "no cost curves" in wb["Chi phí đến 100% | Cost to 100%"]["A4"].value
    ws = wb["Giả định | Assumptions"]
    sources = {r[4].value for r in ws.iter_rows(min_row=3) if r[1].value}  # not the note
    assert sources == {"mặc định / settings defaults (plan.json records no scenario)"}
    t = wb["Mục tiêu | Targets"]
    assert t.max_row == 2 + 6 and t["F3"].value == "settings"
    s = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert s["targets_from"] == "settings" and s["missed_targets"] == []


@pytest.mark.parametrize("targets", [[{"indicator": "nope", "denominator": "households",
                                       "threshold_pct": 80, "year": 2025}], "x"])
def test_malformed_targets_in_plan_json(tmp_path, targets):
    """Targets plan.json records wrongly: one DataError naming the file, nothing written."""
    b = example_bundle()
    plan = write_example_plan(b, tmp_path / "plan")
    meta = json.loads((plan / "plan.json").read_text(encoding="utf-8"))
    meta["scenario"]["targets"] = targets
    (plan / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(DataError, match=r"plan\.json: scenario\.targets"):
        write_briefing(b, None, plan, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cover_says_when_a_time_limit_cut_the_plan(tmp_path):
    """A plan whose time limit cut steps (issue 18): the cover names the limit and the steps
    and warns that another machine may give another plan; without a cut, no such row."""
    b = example_bundle()
    plan = write_example_plan(b, tmp_path / "plan")
    meta = json.loads((plan / "plan.json").read_text(encoding="utf-8"))
    meta["time_limit"] = {"time_limit_s": 30.0, "stopped_by_time_limit": True,
                          "stopped": ["2025 mobile (5G)", "2025 fibre routes"], "seconds": 41.0}
    (plan / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    write_briefing(b, None, plan, tmp_path / "out")
    cover = openpyxl.load_workbook(tmp_path / "out" / "briefing.xlsx").worksheets[0]
    cells = {r[0].value: r[1].value for r in cover.iter_rows() if r[0].value}
    row = cells["Dừng do giới hạn thời gian / Stopped by time limit"]
    assert row.startswith("time_limit_s = 30.0 s: 2025 mobile (5G); 2025 fibre routes")
    assert "another machine may differ" in row
    meta["time_limit"]["stopped_by_time_limit"] = False
    (plan / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    write_briefing(b, None, plan, tmp_path / "out2")
    cover = openpyxl.load_workbook(tmp_path / "out2" / "briefing.xlsx").worksheets[0]
    assert not any("Stopped by time limit" in str(r[0].value) for r in cover.iter_rows())


@pytest.mark.parametrize(("col", "fmt"), [
    ("census_households", "#,##0"), ("households_unrepresented", "#,##0"),  # counts: no decimals
    ("households_represented_pct", "0.0"), ("fibre_households_pct_after", "0.0"),  # shares
    ("fibre_households_pct", "0.0"), ("fibre_km", "#,##0.0"), ("plan_cost_vnd", "#,##0"),
])
def test_number_formats_of_the_communes_sheet(col, fmt):
    # the demo's communes sheet showed census households with two decimals and the
    # after-the-plan shares as #,##0.00: counts read as whole numbers, shares with one decimal
    import pandas as pd

    from phusong.maps._sheets import number_format

    assert number_format(col, pd.Series([1234.5678])) == fmt
