"""The briefing pack (DESIGN §7): XLSX workbook, PNG charts, overview map, ``summary.json``.

The workbook has a cover sheet (scenario, provenance per layer, synthetic flag in Vietnamese
and English), per-commune gaps, the plan (sites, routes, costs in VND) and the assumptions and
targets; every table has a Vietnamese header row above an English one, frozen, with an
autofilter and number formats.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from phusong import __version__, settings
from phusong.atomic import atomic_dir
from phusong.bundle import Bundle, fingerprint
from phusong.maps._labels import SYNTHETIC_NOTICE, check_lang, indicator_label
from phusong.maps._plan import read_plan
from phusong.maps._units import gaps_tables
from phusong.maps.charts import province_figures, render_charts, targets_for

__all__ = ["write_briefing", "write_workbook", "summary", "COLUMN_LABELS"]

#: Column → (Vietnamese, English) header.
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "unit_code": ("Mã đơn vị", "Unit code"), "commune_code": ("Mã xã", "Commune code"),
    "district_code": ("Mã huyện", "District code"), "name": ("Tên", "Name"),
    "households": ("Số hộ", "Households"), "population": ("Dân số", "Population"),
    "villages": ("Số thôn", "Villages"), "candidate_id": ("Mã trạm đề xuất", "Candidate id"),
    "kind": ("Loại", "Kind"), "operator": ("Nhà mạng", "Operator"),
    "tech": ("Công nghệ", "Technology"), "cost_vnd": ("Chi phí (VND)", "Cost (VND)"),
    "households_new": ("Hộ được phủ mới", "Households newly covered"),
    "population_new": ("Dân số được phủ mới", "Persons newly covered"),
    "selected": ("Được chọn", "Selected"), "rank": ("Thứ tự", "Rank"),
    "route_id": ("Mã tuyến", "Route id"), "road_class": ("Cấp đường", "Road class"),
    "length_m": ("Chiều dài (m)", "Length (m)"), "purpose": ("Mục đích", "Purpose"),
    "households_passed": ("Hộ được kéo cáp qua", "Households passed"),
    "lon": ("Kinh độ", "Longitude"), "lat": ("Vĩ độ", "Latitude"),
    "indicator": ("Chỉ tiêu", "Indicator"), "denominator": ("Mẫu số", "Denominator"),
    "threshold_pct": ("Mục tiêu (%)", "Target (%)"), "year": ("Năm", "Year"),
    "origin": ("Nguồn", "Source"), "item": ("Hạng mục", "Item"), "value": ("Giá trị", "Value"),
    "unit": ("Đơn vị", "Unit"),
}
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")


def _header(col: str) -> tuple[str, str]:
    if col in COLUMN_LABELS:
        return COLUMN_LABELS[col]
    if col.endswith("_pct"):
        return indicator_label(col, "vi"), indicator_label(col, "en")
    return col, col


def _number_format(col: str, series: pd.Series) -> str | None:
    if col.endswith("_pct") or col in ("threshold_pct",):
        return "0.0"
    if col.endswith("_vnd") or col in ("households", "population", "households_new",
                                       "population_new", "households_passed", "length_m"):
        return "#,##0"
    if col in ("lon", "lat"):
        return "0.000000"
    if pd.api.types.is_float_dtype(series):
        return "#,##0.00"
    return None


def _table_sheet(wb: Workbook, title: str, df: pd.DataFrame) -> None:
    ws = wb.create_sheet(title)
    cols = list(df.columns)
    for j, col in enumerate(cols, start=1):
        vi, en = _header(col)
        for i, text in ((1, vi), (2, en)):
            c = ws.cell(row=i, column=j, value=text)
            c.font = Font(bold=True, italic=(i == 2))
            c.fill = _HEAD_FILL
            c.alignment = Alignment(wrap_text=True, vertical="top")
        fmt = _number_format(col, df[col])
        for i, v in enumerate(df[col].tolist(), start=3):
            if isinstance(v, float) and pd.isna(v):
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            c = ws.cell(row=i, column=j, value=v)
            if fmt:
                c.number_format = fmt
        width = max([len(str(vi)), len(str(en))] + [len(str(v)) for v in df[col].head(200)])
        ws.column_dimensions[get_column_letter(j)].width = min(max(10, width + 2), 45)
    ws.freeze_panes = "B3"
    last = get_column_letter(max(1, len(cols)))
    ws.auto_filter.ref = f"A2:{last}{max(2, len(df) + 2)}"


def _cover(wb: Workbook, bundle: Bundle, plan, lang: str) -> None:
    ws = wb.active
    ws.title = "Bìa | Cover"
    synthetic = bundle.synthetic or bool(plan.meta.get("synthetic"))
    rows = [
        ("Báo cáo phủ sóng di động và cáp quang", "Mobile and fibre coverage briefing"),
        ("Bộ dữ liệu / Bundle", bundle.name),
        ("Dấu vân tay / Fingerprint", fingerprint(bundle)),
        ("Ranh giới / Boundaries", bundle.boundaries),
        ("Dữ liệu tổng hợp? / Synthetic data?",
         ("CÓ — " + SYNTHETIC_NOTICE) if synthetic else "Không / No"),
        ("Phần mềm / Software", f"phusong {__version__}"),
        ("", ""),
        ("Kịch bản / Scenario", ""),
    ]
    for k, v in (plan.meta.get("scenario") or {}).items():
        rows.append((f"  {k}", json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list))
                     else v))
    for k, v in (plan.meta.get("budgets_vnd") or {}).items():
        rows.append((f"  Ngân sách / budget {k} (VND)", v))
    rows += [("", ""), ("Nguồn dữ liệu theo lớp / Data provenance per layer", "")]
    for r, (a, b) in enumerate(rows, start=1):
        ws.cell(row=r, column=1, value=a).font = Font(bold=(r == 1 or not a.startswith("  ")))
        c = ws.cell(row=r, column=2, value=b)
        if isinstance(b, (int, float)):
            c.number_format = "#,##0"
        if r == 5 and synthetic:
            c.font = Font(bold=True, color="B00000")
    r0 = len(rows) + 1
    head = [("Lớp", "Layer"), ("Nguồn", "Source"), ("Giấy phép", "Licence"),
            ("Tổng hợp", "Synthetic"), ("Ghi chú", "Note")]
    for j, (vi, en) in enumerate(head, start=1):
        ws.cell(row=r0, column=j, value=vi).font = Font(bold=True)
        ws.cell(row=r0 + 1, column=j, value=en).font = Font(bold=True, italic=True)
    for i, (layer, p) in enumerate(sorted(bundle.provenance.items()), start=r0 + 2):
        for j, v in enumerate((layer, p.source, p.licence, "có / yes" if p.synthetic
                               else "không / no", p.note), start=1):
            ws.cell(row=i, column=j, value=v)
    ws.column_dimensions["A"].width = 48
    ws.column_dimensions["B"].width = 60
    del lang


def _assumptions(costs=settings.COSTS, targets=settings.TARGETS) -> tuple[pd.DataFrame, ...]:
    c = pd.DataFrame([{"item": k, "value": v, "unit": "VND/km" if k.endswith("per_km") else
                       ("VND/USD" if k == "usd_vnd" else "VND")} for k, v in asdict(costs).items()])
    th = pd.DataFrame([{"item": f"threshold {t}", "value": v, "unit": "dBm"}
                       for t, v in settings.THRESHOLDS_DBM.items()])
    t = pd.DataFrame([asdict(x) for x in targets])
    return pd.concat([c, th], ignore_index=True), t


def write_workbook(bundle: Bundle, tables: dict, plan, path: Path, *, lang: str = "vi") -> Path:
    """Write the briefing workbook to ``path`` (caller makes it atomic)."""
    wb = Workbook()
    _cover(wb, bundle, plan, lang)
    if "communes" in tables:
        _table_sheet(wb, "Xã | Communes", tables["communes"])
    if "districts" in tables:
        _table_sheet(wb, "Huyện | Districts", tables["districts"])
    sites = plan.sites.sort_values(["selected", "rank"], ascending=[False, True], kind="stable")
    sdf = pd.DataFrame(sites.drop(columns="geometry"))
    sdf["lon"], sdf["lat"] = sites.geometry.x, sites.geometry.y
    _table_sheet(wb, "Trạm BTS | Sites", sdf)
    _table_sheet(wb, "Cáp quang | Fibre", pd.DataFrame(plan.routes.drop(columns="geometry")))
    costs, targets = _assumptions()
    _table_sheet(wb, "Giả định | Assumptions", costs)
    _table_sheet(wb, "Mục tiêu | Targets", targets)
    wb.save(path)
    return path


def summary(bundle: Bundle, tables: dict, plan) -> dict:
    """Headline figures of the briefing (JSON-ready)."""
    sel = plan.selected_sites
    figs = province_figures(tables)
    return {
        "bundle": bundle.name, "bundle_fingerprint": fingerprint(bundle),
        "synthetic": bool(bundle.synthetic or plan.meta.get("synthetic")),
        "notice": SYNTHETIC_NOTICE if bundle.synthetic else "",
        "scenario": plan.meta.get("scenario", {}),
        "province_pct": {k: round(v, 2) for k, v in figs.items()},
        "targets_pct": targets_for(),
        "plan": {
            "sites_selected": int(len(sel)),
            "sites_new": int((sel["kind"] == "new").sum()),
            "sites_upgrade": int((sel["kind"] == "upgrade").sum()),
            "sites_cost_vnd": float(sel["cost_vnd"].sum()),
            "households_newly_covered": int(sel["households_new"].sum()),
            "population_newly_covered": int(sel["population_new"].sum()),
            "fibre_routes": int(len(plan.routes)),
            "fibre_km": round(float(plan.routes["length_m"].sum()) / 1000.0, 3),
            "fibre_cost_vnd": float(plan.routes["cost_vnd"].sum()),
            "households_passed": int(plan.routes["households_passed"].sum()),
            "total_cost_vnd": float(sel["cost_vnd"].sum() + plan.routes["cost_vnd"].sum()),
        },
        "plan_totals": plan.meta.get("totals", {}),
    }


def write_briefing(bundle: Bundle, gaps, plan_dir: str | Path, out_dir: str | Path, *,
                   lang: str = "vi", overwrite: bool = False) -> list[Path]:
    """Write the briefing pack into the folder ``out_dir`` (atomically, as a whole).

    Parameters
    ----------
    bundle : Bundle
    gaps : GapTables-like, dict of DataFrame, DataFrame or None
        None: the plan folder's ``gaps_*.csv``.
    plan_dir : str or Path
        Plan folder from ``bundle`` (checked by fingerprint).
    out_dir : str or Path
        New folder; an existing one is refused unless ``overwrite``.
    lang : {"vi", "en"}
        Language of chart labels (the workbook is always bilingual).

    Returns
    -------
    list of Path
        ``briefing.xlsx``, the PNG charts, ``overview_map.png`` and ``summary.json``.
    """
    check_lang(lang)
    plan = read_plan(plan_dir, bundle)
    tables = gaps_tables(gaps, plan)
    out = Path(out_dir)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_workbook(bundle, tables, plan, tmp / "briefing.xlsx", lang=lang)
        pngs = render_charts(bundle, tables, plan, tmp, lang=lang)
        s = summary(bundle, tables, plan)
        s["files"] = ["briefing.xlsx"] + [p.name for p in pngs] + ["summary.json"]
        (tmp / "summary.json").write_text(json.dumps(s, ensure_ascii=False, indent=1),
                                          encoding="utf-8")
    return [out / name for name in s["files"]]
