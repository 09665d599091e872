"""Writing tables into the briefing workbook: bilingual headers, number formats, print setup.

Every table sheet has a Vietnamese header row above an English one (bold, frozen with the
first column, an autofilter on the English row), a number format per column (percent with one
decimal, counts and VND with thousands separators, km with one decimal) and a print setup: A4,
landscape when the table is wider than a portrait page, scaled to the page width (as many pages
down as needed), the two header rows repeated on every page, the sheet name and page numbers in
the header and footer.

Headers come from :data:`COLUMN_LABELS`, else are composed for the indicator columns of the gap
tables (``mobile_4G_Viettel_population_pct`` → "Dân số có sóng 4G Viettel (%)" / "4G Viettel
population (%)"), else from the targets (``gap_…``, ``meets_…``).

Examples
--------
>>> from phusong.maps._sheets import header
>>> header("mobile_4G_Viettel_population_pct")
('Dân số có sóng 4G Viettel (%)', '4G Viettel population (%)')
>>> header("district_name")
('Huyện', 'District')
"""

from __future__ import annotations

import re

import pandas as pd
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins

__all__ = ["COLUMN_LABELS", "header", "number_format", "table_sheet", "print_setup",
           "PORTRAIT_WIDTH"]

#: Column → (Vietnamese, English) header.
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "unit_code": ("Mã đơn vị", "Unit code"), "commune_code": ("Mã xã", "Commune code"),
    "district_code": ("Mã huyện", "District code"), "name": ("Tên", "Name"),
    "district_name": ("Huyện", "District"), "type": ("Loại đơn vị", "Unit type"),
    "households": ("Số hộ", "Households"), "population": ("Dân số", "Population"),
    "villages": ("Số thôn", "Villages"), "centres": ("Số trung tâm xã", "Commune centres"),
    "census_households": ("Số hộ (điều tra 2019)", "Census households (2019)"),
    "households_unrepresented": ("Số hộ chưa rõ (không thôn nào đại diện)",
                                 "Unknown households (no village represents them)"),
    "households_represented_pct": ("Hộ điều tra được thôn đại diện (%)",
                                   "Census households the villages represent (%)"),
    "candidate_id": ("Mã trạm đề xuất", "Candidate id"),
    "kind": ("Loại", "Kind"), "operator": ("Nhà mạng", "Operator"),
    "tech": ("Công nghệ", "Technology"), "band": ("Băng tần", "Band"),
    "bands": ("Các băng tần", "Bands"), "cost_vnd": ("Chi phí (VND)", "Cost (VND)"),
    "households_new": ("Hộ được phủ mới", "Households newly covered"),
    "population_new": ("Dân số được phủ mới", "Persons newly covered"),
    "selected": ("Được chọn", "Selected"), "rank": ("Thứ tự", "Rank"),
    "route_id": ("Mã tuyến", "Route id"), "road_class": ("Cấp đường", "Road class"),
    "road_id": ("Mã đoạn đường", "Road id"),
    "length_m": ("Chiều dài (m)", "Length (m)"), "purpose": ("Mục đích", "Purpose"),
    "households_passed": ("Hộ được kéo cáp qua", "Households passed"),
    "lon": ("Kinh độ", "Longitude"), "lat": ("Vĩ độ", "Latitude"),
    "indicator": ("Chỉ tiêu", "Indicator"), "denominator": ("Mẫu số", "Denominator"),
    "threshold_pct": ("Mục tiêu (%)", "Target (%)"), "year": ("Năm", "Year"),
    "origin": ("Nguồn", "Source"), "item": ("Hạng mục", "Item"), "value": ("Giá trị", "Value"),
    "unit": ("Đơn vị", "Unit"), "section": ("Nhóm", "Section"),
    "source": ("Nguồn giá trị", "Taken from"),
    "site_id": ("Mã trạm hiện có", "Existing site id"), "freq_mhz": ("Tần số (MHz)",
                                                                     "Frequency (MHz)"),
    "height_m": ("Độ cao anten (m)", "Antenna height (m)"),
    "ground_m": ("Độ cao mặt đất (m)", "Ground elevation (m)"),
    "x_m": ("X (m)", "X (m)"), "y_m": ("Y (m)", "Y (m)"),
    "road_m": ("Cách đường (m)", "Distance to road (m)"),
    "backhaul_m": ("Cách cáp quang (m)", "Distance to fibre (m)"),
    "site_cost_vnd": ("Chi phí trạm (VND)", "Site cost (VND)"),
    "power_cost_vnd": ("Chi phí điện (VND)", "Power cost (VND)"),
    "backhaul_cost_vnd": ("Chi phí truyền dẫn (VND)", "Backhaul cost (VND)"),
    "needs_backhaul": ("Cần truyền dẫn", "Needs backhaul"),
    "year_offered": ("Năm đề xuất", "Year offered"),
    "sites_new": ("Trạm BTS mới", "New BTS"), "sites_upgrade": ("Trạm nâng cấp", "Upgrades"),
    "sites_cost_vnd": ("Chi phí trạm BTS (VND)", "BTS cost (VND)"),
    "fibre_routes": ("Số tuyến cáp quang", "Fibre routes"),
    "fibre_km": ("Cáp quang mới (km)", "New fibre (km)"),
    "fibre_cost_vnd": ("Chi phí cáp quang (VND)", "Fibre cost (VND)"),
    "plan_cost_vnd": ("Tổng chi phí kế hoạch (VND)", "Planned cost (VND)"),
    "fibre_communes": ("Xã có cáp quang đến UBND", "Communes with fibre at the centre"),
    "villages_losing_service": ("Thôn mất sóng khi tắt 2G/3G",
                                "Villages losing service at switch-off"),
    "households_losing_service": ("Hộ mất sóng khi tắt 2G/3G",
                                  "Households losing service at switch-off"),
    "plan_year": ("Năm kế hoạch", "Plan year"),
    "target_year": ("Năm mục tiêu", "Target year"),
    "value_pct": ("Đạt được (%)", "Reached (%)"),
    "shortfall_pct": ("Còn thiếu (điểm %)", "Shortfall (points)"),
    "reachable_pct": ("Tối đa có thể đạt (%)", "Reachable at most (%)"),
    "binds": ("Nguyên nhân", "What binds"),
    "covered_pct": ("Tỷ lệ phủ (%)", "Covered (%)"), "pct": ("Mức mục tiêu (%)", "Level (%)"),
    "cost_bn_vnd": ("Chi phí (tỷ VND)", "Cost (bn VND)"),
    "lower_bound_bn_vnd": ("Cận dưới (tỷ VND)", "Lower bound (bn VND)"),
    "gap": ("Sai số tối ưu", "Optimality gap"),
    "marginal_vnd_per_household": ("Chi phí biên mỗi hộ (VND)", "Marginal cost per household (VND)"),
    "method": ("Phương pháp", "Method"), "reachable": ("Đạt được", "Reachable"),
    "curve": ("Chỉ tiêu", "Indicator"), "text": ("Nhận xét", "Remark"),
    "target_pct": ("Mục tiêu (%)", "Target (%)"),
    "census_pct": ("Mức theo điều tra dân số (%)", "Level of the census (%)"),
}

_PREFIX = {"fibre": ("cáp quang", "Fibre"), "mobile_any": ("sóng di động", "Any mobile"),
           "mobile_broadband": ("băng rộng di động", "Mobile broadband")}
_DENOM = {"households": ("Hộ", "households"), "population": ("Dân số", "population"),
          "villages": ("Thôn", "villages"), "communes": ("Xã", "communes")}
_INDICATOR = re.compile(r"^(fibre|mobile_any|mobile_broadband|mobile_(\w+?))_"
                        r"(households|population|villages|communes)(_pct)?$")

#: Sum of column widths (characters) that fits an A4 portrait page at 100 %.
PORTRAIT_WIDTH = 95
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")


def header(col: str, extra: dict[str, tuple[str, str]] | None = None) -> tuple[str, str]:
    """(Vietnamese, English) header of ``col``: ``extra`` first, then :data:`COLUMN_LABELS`,
    then composed for indicator columns; else the column name in both rows."""
    if extra and col in extra:
        return extra[col]
    if col in COLUMN_LABELS:
        return COLUMN_LABELS[col]
    m = _INDICATOR.match(col)
    if m:
        prefix, rest, denom, pct = m.group(1), m.group(2), m.group(3), m.group(4)
        if rest is not None:
            what = rest.replace("_", " ")
            vi_p, en_p = f"sóng {what}", what
        else:
            vi_p, en_p = _PREFIX[prefix]
        vi_d, en_d = _DENOM[denom]
        suffix = " (%)" if pct else ""
        return f"{vi_d} có {vi_p}{suffix}", f"{en_p} {en_d}{suffix}"
    return col, col


def number_format(col: str, series: pd.Series) -> str | None:
    """Excel number format of a column (None: general)."""
    if col.endswith(("_pct", "_pct_after")) or col in ("threshold_pct",):
        return "0.0"
    if col.endswith("_km"):
        return "#,##0.0"
    if col.endswith("_bn_vnd"):
        return "#,##0.00"
    if col.endswith("_vnd") or col in ("households", "population", "households_new",
                                       "population_new", "households_passed", "length_m",
                                       "census_households", "households_unrepresented"):
        return "#,##0"
    if _INDICATOR.match(col) and pd.api.types.is_numeric_dtype(series):
        return "#,##0"
    if col in ("lon", "lat"):
        return "0.000000"
    if col == "gap" or col.startswith("solver_gap_"):
        return "0.00%"
    if pd.api.types.is_float_dtype(series):
        return "#,##0.00"
    return None


def _cell_value(v):
    if v is None:
        return None
    if isinstance(v, float) and pd.isna(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, (list, tuple, dict)):
        return "; ".join(map(str, v)) if not isinstance(v, dict) else str(v)
    return v


def print_setup(ws, *, width_chars: float, title_rows: str | None = "1:2",
                one_page: bool = False) -> None:
    """A4, landscape when ``width_chars`` exceeds a portrait page, fitted to the page width
    (to one page in all when ``one_page``), ``title_rows`` repeated, name and page numbers."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if width_chars > PORTRAIT_WIDTH else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if one_page else 0
    if title_rows:
        ws.print_title_rows = title_rows
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6, header=0.3,
                                  footer=0.3)
    ws.oddHeader.left.text = "&A"
    ws.oddFooter.right.text = "&P / &N"


def table_sheet(wb, title: str, df: pd.DataFrame, *, extra: dict | None = None,
                max_width: int = 40, note: str | None = None):
    """Add sheet ``title`` with ``df`` under two header rows (module doc); returns it.

    ``note``: a line under the table (e.g. where its values come from)."""
    ws = wb.create_sheet(title)
    cols = list(df.columns)
    total = 0.0
    for j, col in enumerate(cols, start=1):
        vi, en = header(col, extra)
        for i, text in ((1, vi), (2, en)):
            c = ws.cell(row=i, column=j, value=text)
            c.font = Font(bold=True, italic=(i == 2))
            c.fill = _HEAD_FILL
            c.alignment = Alignment(wrap_text=True, vertical="top")
        fmt = number_format(col, df[col])
        for i, v in enumerate(df[col].tolist(), start=3):
            c = ws.cell(row=i, column=j, value=_cell_value(v))
            if fmt:
                c.number_format = fmt
        sample = [len(f"{v:,.1f}") if isinstance(v, float) else len(str(v))
                  for v in df[col].head(200)]
        head_w = max(len(w) for w in (vi + " " + en).split()) if (vi + en).strip() else 4
        width = min(max([10, head_w + 2, min(max(len(vi), len(en)), 18)] + [s + 2 for s in sample]),
                    max_width)
        ws.column_dimensions[get_column_letter(j)].width = width
        total += width
    ws.row_dimensions[1].height = 48
    ws.row_dimensions[2].height = 48
    ws.freeze_panes = "B3"
    last = get_column_letter(max(1, len(cols)))
    ws.auto_filter.ref = f"A2:{last}{max(2, len(df) + 2)}"
    if note:
        ws.cell(row=len(df) + 4, column=1, value=note).font = Font(italic=True, color="555555")
    print_setup(ws, width_chars=total)
    return ws
