"""The briefing pack (DESIGN §7): XLSX workbook, PNG charts, overview map, ``summary.json``.

The workbook, every table with a Vietnamese header row above an English one, frozen, with an
autofilter, number formats and a print setup (A4, landscape where wide, fitted to the page
width, header rows repeated; the cover on one page):

- **Bìa | Cover**: bundle, provenance per layer, synthetic flag, scenario, headline figures,
  the data quality of the existing network's scoring (paths ITM refused, DEM voids left out
  or bridged, villages off the DEM or unknown, sites outside every commune; in red when not
  zero) and the targets missed;
- **Xã | Communes**: the columns a planner reads (name, district, households, population,
  fibre / 4G / 5G %, the gap to each target of the plan's scenario, the plan's sites, fibre
  and cost in the commune); **Huyện | Districts** the same per district; **Đơn vị 2025 | 2025
  units** the same for the 2025 units (split communes apportioned by the crosswalk);
- **Năm | Years** (money, actions, figures per plan year), **Chưa đạt | Missed targets**
  (shortfall, what binds, the solver's gap per step), **Chi phí đến 100% | Cost to 100%**
  (the cost curves, native chart and PNG), **Biểu đồ | Charts** (native charts and PNGs);
- **Trạm BTS | Sites** (selected), **Cáp quang | Fibre**, **Giả định | Assumptions** and
  **Mục tiêu | Targets** (from the scenario the plan used), **Chi tiết xã | Commune detail**
  (every column of the gap table) and **Ứng viên | Candidates** (every candidate).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from phusong import __version__
from phusong.atomic import atomic_dir
from phusong.bundle import Bundle, fingerprint
from phusong.maps._actions import unit_actions
from phusong.maps._assumed import (
    FEEDERS_LAYER_LABEL,
    FIBRE_ASSUMPTION_LABEL,
    census_coverage,
    census_text,
    feeders_summary,
    fibre_assumption,
    fibre_assumption_text,
)
from phusong.maps._labels import SYNTHETIC_NOTICE, check_lang, indicator_label
from phusong.maps._plan import read_plan
from phusong.maps._quality import NOT_RECORDED, QUALITY_HEADING, data_quality
from phusong.maps._sheets import COLUMN_LABELS, print_setup, table_sheet
from phusong.maps._tables import (
    YEAR_HEADERS,
    assumptions_table,
    curves_table,
    district_actions,
    missed_table,
    planner_table,
    target_headers,
    targets_table,
    units_2025_table,
    years_table,
)
from phusong.maps._targets import briefing_targets
from phusong.maps._units import SOURCE_LABELS, gaps_tables, units, units_source
from phusong.maps._wb_charts import charts_sheet, curves_sheet
from phusong.maps.charts import (
    CHART_FILES,
    district_fibre,
    plan_targets_for,
    province_figures,
    render_charts,
)

__all__ = ["write_briefing", "write_workbook", "summary", "COLUMN_LABELS", "SHEETS"]

#: Sheet names, in order (those without data are left out).
SHEETS = ("Bìa | Cover", "Xã | Communes", "Huyện | Districts", "Đơn vị 2025 | 2025 units",
          "Năm | Years", "Chưa đạt | Missed targets", "Chi phí đến 100% | Cost to 100%",
          "Biểu đồ | Charts", "Trạm BTS | Sites", "Cáp quang | Fibre", "Giả định | Assumptions",
          "Mục tiêu | Targets", "Chi tiết xã | Commune detail", "Ứng viên | Candidates")
_SITE_COLUMNS = ("candidate_id", "year", "kind", "operator", "tech", "band", "commune_code",
                 "name", "cost_vnd", "households_new", "population_new", "rank")


def _cover(wb: Workbook, bundle: Bundle, plan, tables: dict, targets) -> None:
    ws = wb.active
    ws.title = SHEETS[0]
    synthetic = bundle.synthetic or bool(plan.meta.get("synthetic"))
    sc = plan.meta.get("scenario") if isinstance(plan.meta.get("scenario"), dict) else {}
    rows: list[tuple[str, object]] = [
        ("Báo cáo phủ sóng di động và cáp quang", "Mobile and fibre coverage briefing"),
        ("Bộ dữ liệu / Bundle", bundle.name),
        ("Dấu vân tay / Fingerprint", fingerprint(bundle)),
        ("Ranh giới / Boundaries", bundle.boundaries),
        ("Dữ liệu tổng hợp? / Synthetic data?",
         ("CÓ — " + SYNTHETIC_NOTICE) if synthetic else "Không / No"),
        ("Phần mềm / Software", f"phusong {__version__}"),
        ("Kịch bản / Scenario", str(sc.get("name", "—"))),
        ("  Tệp / file", str(sc.get("source", "—"))),
        ("  Mục tiêu tối ưu / objective", str(sc.get("objective", "—"))),
    ]
    budgets = sc.get("budgets") if isinstance(sc.get("budgets"), dict) else None
    if budgets:
        for year, b in budgets.items():
            for k, v in (b or {}).items():
                rows.append((f"  Ngân sách / budget {year} {k.removesuffix('_vnd')} (VND)", v))
    else:
        for k, v in (plan.meta.get("budgets_vnd") or {}).items():
            rows.append((f"  Ngân sách / budget {k} (VND)", v))
    tl = plan.meta.get("time_limit") if isinstance(plan.meta.get("time_limit"), dict) else {}
    if tl.get("stopped_by_time_limit"):
        rows.append(("Dừng do giới hạn thời gian / Stopped by time limit",
                     f"time_limit_s = {tl.get('time_limit_s')} s: "
                     + "; ".join(map(str, tl.get("stopped") or []))
                     + " — kết quả có thể khác trên máy khác / another machine may differ"))
    vi, en = fibre_assumption_text(plan.meta)
    rows.append((f"{FIBRE_ASSUMPTION_LABEL[0]} / {FIBRE_ASSUMPTION_LABEL[1]}", f"{vi} / {en}"))
    assumed_row = len(rows) if fibre_assumption(plan.meta) is not None else None
    census = census_text(plan.meta)
    rows.append(("Điều tra dân số / Census coverage",
                 f"{census[0]} / {census[1]}" if census else
                 "không ghi trong plan.json / not recorded in plan.json"))
    rows.append((f"{QUALITY_HEADING[0]} / {QUALITY_HEADING[1]}", ""))
    flagged = set()
    for q in data_quality(plan.meta):
        label = f"  {q['vi']} / {q['en']}" + (f" ({q['note']})" if q["note"] else "")
        rows.append((label, NOT_RECORDED if q["value"] is None else q["value"]))
        if q["problem"]:
            flagged.add(len(rows))
    feeders = feeders_summary(plan.meta)
    if feeders is not None and isinstance(feeders.get("km"), int | float):
        rows.append((f"{FEEDERS_LAYER_LABEL[0]} / {FEEDERS_LAYER_LABEL[1]}",
                     f"{float(feeders['km']):,.1f} km — chỉ để tham khảo, không tính vào kế "
                     "hoạch / drawn only, not counted in the plan"))
    figs = province_figures(tables)
    rows.append(("Hiện trạng toàn tỉnh / Province today", ""))
    for c in ("fibre_households_pct", "mobile_4G_population_pct", "mobile_5G_population_pct"):
        if c in figs:
            rows.append((f"  {indicator_label(c, 'vi')} / {indicator_label(c, 'en')}",
                         round(figs[c], 1)))
    totals = plan.meta.get("totals") if isinstance(plan.meta.get("totals"), dict) else {}
    if "cost_vnd" in totals:
        rows.append(("Tổng chi phí kế hoạch / Plan cost (VND)", totals["cost_vnd"]))
    missed = missed_table(plan.meta)
    if len(missed):
        last = missed[missed["plan_year"] == missed["plan_year"].max()]
        rows.append((f"Mục tiêu chưa đạt cuối kế hoạch / Targets missed at the end "
                     f"({int(last['plan_year'].iloc[0])})", len(last)))
        def num(v, fmt: str) -> str:
            return format(float(v), fmt) if isinstance(v, int | float) and pd.notna(v) else "?"

        for _, m in last.iterrows():
            rows.append((f"  {m['indicator']} {num(m['threshold_pct'], 'g')}% "
                         f"({m['target_year']})",
                         f"{num(m['value_pct'], '.2f')}% — thiếu / short "
                         f"{num(m['shortfall_pct'], '.2f')} — {m['binds']}"))
    rows += [("", ""), ("Nguồn dữ liệu theo lớp / Data provenance per layer", "")]
    for r, (a, b) in enumerate(rows, start=1):
        ws.cell(row=r, column=1, value=a).font = Font(bold=(r == 1 or not a.startswith("  ")))
        c = ws.cell(row=r, column=2, value=b)
        if isinstance(b, float) and b > 1000:
            c.number_format = "#,##0"
        elif isinstance(b, float):
            c.number_format = "0.0"
        if (r == 5 and synthetic) or r == assumed_row or r in flagged:
            c.font = Font(bold=True, color="B00000")
    r0 = len(rows) + 1
    head = [("Lớp", "Layer"), ("Nguồn", "Source"), ("Giấy phép", "Licence"),
            ("Tổng hợp", "Synthetic"), ("Ghi chú", "Note")]
    for j, (vi, en) in enumerate(head, start=1):
        ws.cell(row=r0, column=j, value=vi).font = Font(bold=True)
        ws.cell(row=r0 + 1, column=j, value=en).font = Font(bold=True, italic=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for i, (layer, p) in enumerate(sorted(bundle.provenance.items()), start=r0 + 2):
        for j, v in enumerate((layer, p.source, p.licence, "có / yes" if p.synthetic
                               else "không / no", p.note), start=1):
            ws.cell(row=i, column=j, value=v).alignment = wrap
    for r in range(1, r0):
        ws.cell(row=r, column=1).alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(row=r, column=2).alignment = Alignment(horizontal="left", wrap_text=True,
                                                       vertical="top")
    # every text wraps inside the five columns: nothing spills right of the printed page
    widths = dict(zip("ABCDE", (50, 48, 16, 10, 48), strict=True))
    for col, w in widths.items():
        ws.column_dimensions[col].width = w
    for row in ws.iter_rows(min_row=1, max_row=ws.max_row):  # heights of wrapped rows
        lines = max((math.ceil(len(str(c.value)) / (widths[c.column_letter] * 0.95))
                     for c in row if c.value is not None and c.column_letter in widths),
                    default=1)
        if lines > 1:
            ws.row_dimensions[row[0].row].height = 13.5 * lines
    print_setup(ws, width_chars=sum((50, 48, 16, 10, 48)), title_rows=None, one_page=True)


def _sites_table(plan) -> pd.DataFrame:
    sites = plan.selected_sites
    cols = [c for c in _SITE_COLUMNS if c in sites.columns]
    sdf = pd.DataFrame(sites[cols])
    sdf["lon"], sdf["lat"] = sites.geometry.x.round(6), sites.geometry.y.round(6)
    return sdf


def write_workbook(bundle: Bundle, tables: dict, plan, path: Path, *, lang: str = "vi",
                   pngs: dict[str, Path] | None = None) -> Path:
    """Write the briefing workbook to ``path`` (caller makes it atomic).

    ``pngs``: chart file name → path, embedded beside the native charts when given."""
    del lang  # the workbook is always bilingual
    pngs = pngs or {}
    targets = briefing_targets(plan)
    extra = {**target_headers(targets), **YEAR_HEADERS}
    synthetic = bundle.synthetic or bool(plan.meta.get("synthetic"))
    wb = Workbook()
    _cover(wb, bundle, plan, tables, targets)
    boundaries = "2025" if plan.meta.get("boundaries") == "2025" else "2020"
    com = tables.get("communes")
    if com is not None:
        u = units(bundle, boundaries) if boundaries == "2020" or \
            bundle.communes_2025 is not None else None
        acts = unit_actions(u, plan) if u is not None else None
        after = _after(plan)
        table_sheet(wb, SHEETS[1], planner_table(com, acts, targets,
                                                 after=after.get("communes")), extra=extra,
                    note="Hiện trạng và mức thiếu: trước kế hoạch; hạng mục và chi phí: toàn bộ "
                         "kế hoạch / figures and gaps: before the plan; actions and cost: the "
                         "whole plan")
        dis = tables.get("districts")
        if dis is not None and acts is not None and boundaries == "2020":
            table_sheet(wb, SHEETS[2], planner_table(
                dis, district_actions(acts, bundle.communes), targets, key="district_code",
                after=after.get("districts")), extra=extra)
        elif dis is not None:
            table_sheet(wb, SHEETS[2], planner_table(dis, None, targets, key="district_code"),
                        extra=extra)
        if boundaries == "2020":
            u25 = _units_2025(bundle, com, plan, targets)
            if u25 is not None:
                src = SOURCE_LABELS[units_source(bundle)]
                table_sheet(wb, SHEETS[3], u25, extra=extra,
                            note="Xã chia cho nhiều đơn vị: số hộ, dân số, chỉ tiêu chia theo tỷ "
                                 "lệ / communes split between units: counts apportioned by share. "
                                 f"Ranh giới 2025: {src[0]} / 2025 boundaries: {src[1]}")
    for title, df in ((SHEETS[4], years_table(plan.meta)), (SHEETS[5], missed_table(plan.meta))):
        if len(df):
            table_sheet(wb, title, df, extra={
                **extra, **{c: (f"Sai số bước {c[11:]}", f"Solver gap: {c[11:]}")
                            for c in df.columns if c.startswith("solver_gap_")}})
    curves_sheet(wb, curves_table(plan.meta), pngs.get(CHART_FILES[3]),
                 (plan.meta.get("cost_curves") or {}).get("year", ""), synthetic)
    if com is not None:
        charts_sheet(wb, province_figures(tables), plan_targets_for(plan),
                     district_fibre(tables, bundle),
                     {k: v for k, v in pngs.items() if k != CHART_FILES[3]}, synthetic)
    table_sheet(wb, SHEETS[8], _sites_table(plan))
    table_sheet(wb, SHEETS[9], pd.DataFrame(plan.routes.drop(columns="geometry")))
    assumptions, src = assumptions_table(plan.meta)
    table_sheet(wb, SHEETS[10], assumptions, max_width=60, note=f"Nguồn / source: {src}")
    table_sheet(wb, SHEETS[11], targets_table(targets))
    if com is not None:
        table_sheet(wb, SHEETS[12], com, extra=extra, max_width=22)
    cands = plan.sites.sort_values(["selected", "rank"], ascending=[False, True], kind="stable")
    cdf = pd.DataFrame(cands.drop(columns="geometry"))
    cdf["lon"], cdf["lat"] = cands.geometry.x.round(6), cands.geometry.y.round(6)
    table_sheet(wb, SHEETS[13], cdf, max_width=22)
    wb.save(path)
    return path


def _after(plan) -> dict[str, pd.DataFrame]:
    """Gap tables after the plan's last year (``years/{year}/``), when the plan has them."""
    from phusong.maps._plan import read_gaps

    years = [y.get("year") for y in plan.meta.get("years") or [] if isinstance(y, dict)]
    years = [int(y) for y in years if isinstance(y, int | float)]
    if not years:
        return {}
    folder = plan.path / "years" / str(max(years))
    return read_gaps(folder) if folder.is_dir() else {}


def _units_2025(bundle: Bundle, com: pd.DataFrame, plan, targets) -> pd.DataFrame | None:
    """The 2025-units table, or None when the bundle's communes are not all in the crosswalk
    (a bundle of another province)."""
    from phusong.communes import crosswalk_2025

    xw = crosswalk_2025()
    if not set(bundle.communes["commune_code"]) <= set(xw["commune_code"]):
        return None
    u = units(bundle, "2025")
    return units_2025_table(com, xw, targets, unit_actions(u, plan))


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
        "targets_pct": plan_targets_for(plan),
        "targets_from": briefing_targets(plan).source,
        "missed_targets": missed_table(plan.meta).to_dict(orient="records"),
        "cost_curves": {k: (v.get("summary") or {}).get("text")
                        for k, v in (plan.meta.get("cost_curves") or {}).items()
                        if isinstance(v, dict)},
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
        "fibre_assumption": fibre_assumption(plan.meta),
        "census": census_coverage(plan.meta),
        # the engine's counts, unknown villages, sites outside the communes (None: not recorded)
        "data_quality": {q["key"]: q["value"] for q in data_quality(plan.meta)},
        "units_2025": units_source(bundle),
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
        pngs = render_charts(bundle, tables, plan, tmp, lang=lang)
        write_workbook(bundle, tables, plan, tmp / "briefing.xlsx", lang=lang,
                       pngs={p.name: p for p in pngs})
        s = summary(bundle, tables, plan)
        s["files"] = ["briefing.xlsx"] + [p.name for p in pngs] + ["summary.json"]
        (tmp / "summary.json").write_text(json.dumps(s, ensure_ascii=False, indent=1),
                                          encoding="utf-8")
    return [out / name for name in s["files"]]
