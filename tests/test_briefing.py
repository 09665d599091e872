"""The briefing pack: workbook structure and headers, charts, summary, atomic folder."""

from __future__ import annotations

import json

import openpyxl
import pytest
from PIL import Image

from phusong.errors import DataError, OutputError
from phusong.maps._example import example_bundle, example_gaps, write_example_plan
from phusong.maps.briefing import write_briefing
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
    assert wb.sheetnames == ["Bìa | Cover", "Xã | Communes", "Huyện | Districts",
                             "Trạm BTS | Sites", "Cáp quang | Fibre", "Giả định | Assumptions",
                             "Mục tiêu | Targets"]
    cover = [[c.value for c in row] for row in wb["Bìa | Cover"].iter_rows(max_col=2)]
    flat = " ".join(str(v) for row in cover for v in row if v is not None)
    assert "Dữ liệu minh họa tổng hợp / synthetic demonstration data" in flat
    assert "Ví dụ / example" in flat and "phusong.maps._example" in str(
        [[c.value for c in r] for r in wb["Bìa | Cover"].iter_rows()])
    ws = wb["Xã | Communes"]
    assert ws["A1"].value == "Mã đơn vị" and ws["A2"].value == "Unit code"
    assert ws["F1"].value == "Hộ có cáp quang (%)" and ws["F2"].value == "Fibre households (%)"
    assert ws.freeze_panes == "B3" and ws.auto_filter.ref == "A2:J6"
    assert ws["A3"].value == "04792" and ws["F3"].number_format == "0.0"
    assert ws["C3"].number_format == "#,##0"
    sites = wb["Trạm BTS | Sites"]
    heads = {sites.cell(row=2, column=j).value: j for j in range(1, sites.max_column + 1)}
    cost = sites.cell(row=3, column=heads["Cost (VND)"])
    assert cost.value == 3_825_000_000 and cost.number_format == "#,##0"
    assert sites.cell(row=3, column=heads["Name"]).value == "Trạm mới Ngọc Lương"
    assert sites.max_row == 2 + 4
    targets = wb["Mục tiêu | Targets"]
    assert targets["C1"].value == "Mục tiêu (%)" and targets.max_row == 2 + 6


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
    assert s["targets_pct"]["fibre_households_pct"] == 80.0


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
