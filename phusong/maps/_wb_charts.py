"""Charts inside the briefing workbook: native spreadsheet charts (openpyxl) over small data
tables on the same sheet — so a planner can restyle them, copy them into slides, or change a
value and see the chart follow — and the PNG renderings beside them (as printed).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.drawing.image import Image as XLImage
from openpyxl.styles import Font

from phusong.maps._labels import SYNTHETIC_NOTICE, indicator_label, label
from phusong.maps._sheets import print_setup
from phusong.maps._tables import CURVE_NAMES

__all__ = ["charts_sheet", "curves_sheet", "CHARTS_TITLE", "CURVES_TITLE"]

CHARTS_TITLE = "Biểu đồ | Charts"
CURVES_TITLE = "Chi phí đến 100% | Cost to 100%"
_PX_PER_COL = 64  # default column width in pixels (8.43 characters)


def _both(key: str) -> str:
    return f"{label(key, 'vi')} / {label(key, 'en')}"


def _axes(chart, x_title: str, y_title: str) -> None:
    chart.x_axis.title = x_title
    chart.y_axis.title = y_title
    chart.x_axis.delete = False  # openpyxl ≥ 3.1 hides axes unless told
    chart.y_axis.delete = False
    chart.legend.position = "b"


def _image(ws, path: Path | None, anchor: str, width_px: int = 560) -> None:
    if path is None or not Path(path).is_file():
        return
    img = XLImage(str(path))
    scale = width_px / img.width
    img.width, img.height = int(img.width * scale), int(img.height * scale)
    ws.add_image(img, anchor)


def _write_rows(ws, top: int, heads: list[str], rows: list[list]) -> int:
    for j, h in enumerate(heads, start=1):
        ws.cell(row=top, column=j, value=h).font = Font(bold=True)
    for i, r in enumerate(rows, start=top + 1):
        for j, v in enumerate(r, start=1):
            c = ws.cell(row=i, column=j, value=v)
            if isinstance(v, float):
                c.number_format = "0.0"
    return top + len(rows)


def charts_sheet(wb, figs: dict[str, float], targets: dict[str, float],
                 districts: pd.DataFrame | None, pngs: dict[str, Path], synthetic: bool):
    """Sheet :data:`CHARTS_TITLE`: coverage by technology against the targets and fibre by
    district, as native bar charts over their data, with the PNG charts below them.

    Parameters
    ----------
    figs : dict
        Province ``_pct`` figures (:func:`phusong.maps.charts.province_figures`).
    targets : dict
        Indicator column → target share, percent (the first due target).
    districts : DataFrame or None
        ``name`` and ``fibre_households_pct`` per district.
    pngs : dict
        PNG file name → path (those present are embedded).
    """
    ws = wb.create_sheet(CHARTS_TITLE)
    ws["A1"] = "Biểu đồ (dữ liệu bên dưới, biểu đồ gốc của bảng tính và ảnh PNG) / " \
               "Charts (data below; native spreadsheet charts and the PNG images)"
    ws["A1"].font = Font(bold=True)
    if synthetic:
        ws["A2"] = SYNTHETIC_NOTICE
        ws["A2"].font = Font(bold=True, color="B00000")
    cols = [c for c in ("mobile_2G_population_pct", "mobile_3G_population_pct",
                        "mobile_4G_population_pct", "mobile_5G_population_pct",
                        "fibre_households_pct") if c in figs]
    top = 4
    rows = [[indicator_label(c, "vi").replace(" (%)", "") + " / "
             + indicator_label(c, "en").replace(" (%)", ""), float(figs[c]),
             float(targets[c]) if c in targets else None] for c in cols]
    last = _write_rows(ws, top, ["Chỉ tiêu / Indicator", _both("value") + " (%)",
                                 _both("target") + " (%)"], rows)
    ws.column_dimensions["A"].width = 42
    ws.column_dimensions["B"].width = 16
    ws.column_dimensions["C"].width = 16
    if rows:
        ch = BarChart()
        ch.type = "col"
        ch.title = _both("chart_tech")
        ch.add_data(Reference(ws, min_col=2, max_col=3, min_row=top, max_row=last),
                    titles_from_data=True)
        ch.set_categories(Reference(ws, min_col=1, min_row=top + 1, max_row=last))
        ch.y_axis.scaling.min, ch.y_axis.scaling.max = 0, 100
        _axes(ch, "", _both("share_pct"))
        ch.width, ch.height = 18, 8.5
        ws.add_chart(ch, "E4")
    top2 = max(last + 3, 22)
    if districts is not None and len(districts):
        d = districts.sort_values("fibre_households_pct")
        rows = [[str(n), float(v)] for n, v in zip(d["name"], d["fibre_households_pct"],
                                                   strict=True)]
        last2 = _write_rows(ws, top2, ["Huyện / District",
                                       indicator_label("fibre_households_pct", "vi") + " / "
                                       + indicator_label("fibre_households_pct", "en")], rows)
        ch = BarChart()
        ch.type = "bar"
        ch.title = _both("chart_fibre_district")
        ch.add_data(Reference(ws, min_col=2, min_row=top2, max_row=last2), titles_from_data=True)
        ch.set_categories(Reference(ws, min_col=1, min_row=top2 + 1, max_row=last2))
        ch.x_axis.scaling.min, ch.x_axis.scaling.max = 0, 100
        _axes(ch, "", _both("share_pct"))
        ch.width, ch.height = 18, 9
        ws.add_chart(ch, f"E{top2}")
        top2 = last2
    img_row = max(top2 + 3, 44)
    for k, (_, path) in enumerate(sorted(pngs.items())):
        _image(ws, path, f"{'A' if k % 2 == 0 else 'E'}{img_row + (k // 2) * 24}")
    print_setup(ws, width_chars=140, title_rows=None)
    return ws


def curves_sheet(wb, curves: pd.DataFrame, png: Path | None, year, synthetic: bool):
    """Sheet :data:`CURVES_TITLE`: the cost of each indicator's level (90 … 100 %) as a native
    scatter chart (cost, bn VND, against the share covered) over the curves' table, and the PNG.

    ``curves`` is :func:`phusong.maps._tables.curves_table`; an empty one writes a line saying
    the plan has no cost curves.
    """
    from phusong.maps._sheets import header, number_format

    ws = wb.create_sheet(CURVES_TITLE)
    title = (f"Chi phí để đạt 90 / 95 / 99 / 99,5 / 100 % (mạng lưới đầu năm {year}) / "
             f"Cost to reach 90 / 95 / 99 / 99.5 / 100 % (network at the start of {year})")
    ws["A1"] = title
    ws["A1"].font = Font(bold=True)
    if synthetic:
        ws["A2"] = SYNTHETIC_NOTICE
        ws["A2"].font = Font(bold=True, color="B00000")
    if not len(curves):
        ws["A4"] = "Kế hoạch không có đường chi phí / the plan has no cost curves (plan.json)"
        print_setup(ws, width_chars=80, title_rows=None)
        return ws
    cols = ["curve", "target_pct", "reachable", "covered_pct", "cost_bn_vnd",
            "lower_bound_bn_vnd", "gap", "marginal_vnd_per_household", "method", "census_pct"]
    top = 4
    for j, col in enumerate(cols, start=1):
        vi, en = header(col)
        ws.cell(row=top, column=j, value=vi).font = Font(bold=True)
        ws.cell(row=top + 1, column=j, value=en).font = Font(bold=True, italic=True)
    blocks = []
    r = top + 2
    for key, g in curves.groupby("key", sort=False):
        start = r
        for _, row in g.iterrows():
            for j, col in enumerate(cols, start=1):
                v = row[col]
                v = None if (isinstance(v, float) and pd.isna(v)) else v
                c = ws.cell(row=r, column=j, value=v)
                fmt = number_format(col, g[col])
                if fmt and col != "curve":
                    c.number_format = fmt
            r += 1
        blocks.append((key, start, r - 1))
    widths = [34, 10, 9, 11, 13, 13, 10, 16, 30, 14]
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[chr(64 + j)].width = w
    ch = ScatterChart()
    ch.title = "Chi phí theo mức phủ / Cost by level covered"
    ch.style = 13
    for key, a, b in blocks:
        vi, en = CURVE_NAMES.get(key, (key, key))
        s = Series(Reference(ws, min_col=5, min_row=a, max_row=b),
                   Reference(ws, min_col=4, min_row=a, max_row=b), title=f"{vi} / {en}")
        s.marker.symbol = "circle"
        ch.series.append(s)
    ch.x_axis.scaling.min = 85
    ch.x_axis.scaling.max = 100
    _axes(ch, "Tỷ lệ phủ / covered (%)", "Chi phí / cost (tỷ VND / bn VND)")
    ch.width, ch.height = 20, 10
    anchor = r + 2
    ws.add_chart(ch, f"A{anchor}")
    _image(ws, png, f"A{anchor + 22}", width_px=640)
    print_setup(ws, width_chars=150, title_rows=None)
    return ws
