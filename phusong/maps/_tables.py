"""The briefing's tables, built from the gap tables and the plan folder (no computation of
coverage: values are the gap tables' and ``plan.json``'s, regrouped for a reader).

- :func:`planner_table`: per commune (or district) the columns a planner reads: name,
  district, households, population, fibre / 4G / 5G, the gap to each target of the plan's
  scenario, and the plan's actions there with their cost.
- :func:`units_2025_table`: the same per 2025 unit, the 2020 communes' counts apportioned by
  the crosswalk's shares.
- :func:`years_table`, :func:`missed_table`, :func:`curves_table`: per plan year, the targets
  missed (shortfall, what binds, the solver's gap per step), the cost curves to 100 %.
- :func:`assumptions_table`, :func:`targets_table`: the scenario the plan actually used.

Every reader of ``plan.json`` here is defensive: a key that is absent (an older plan, a plan of
another tool) gives an empty table, never an error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from phusong import settings
from phusong.config import DEFAULT_SETTINGS
from phusong.maps._labels import indicator_label

__all__ = ["HEADLINE", "CENSUS_COLUMNS", "CURVE_NAMES", "YEAR_HEADERS", "planner_table", "district_actions",
           "target_headers", "units_2025_table", "years_table", "missed_table", "curves_table",
           "assumptions_table", "targets_table"]

#: The indicators a planner reads first.
HEADLINE = ("fibre_households_pct", "mobile_4G_population_pct", "mobile_5G_population_pct")
#: Census coverage of a gap table (phusong.planning.gaps): the 2019 census households, those
#: no village represents (unknown, counted as not served) and the share the villages represent.
CENSUS_COLUMNS = ("census_households", "households_unrepresented", "households_represented_pct")
#: Cost-curve keys of ``plan.json["cost_curves"]`` → (Vietnamese, English).
CURVE_NAMES = {"mobile_4G_population": ("Dân số có sóng 4G", "Population with 4G"),
               "mobile_5G_population": ("Dân số có sóng 5G", "Population with 5G"),
               "fibre_households": ("Hộ có cáp quang", "Fibre households")}


def _short(value_col: str) -> tuple[str, str]:
    """Short (Vietnamese, English) name of an indicator column, for narrow headers."""
    m = value_col.removesuffix("_pct").split("_")
    denom = {"households": ("hộ", "hh"), "population": ("dân số", "pop."),
             "villages": ("thôn", "villages"), "communes": ("xã", "communes")}.get(m[-1], ("", ""))
    what = " ".join(m[:-1])
    if what == "fibre":
        return f"cáp quang {denom[0]}", f"fibre {denom[1]}"
    what = what.removeprefix("mobile ")
    return f"{what} {denom[0]}", f"{what} {denom[1]}"


def target_headers(targets) -> dict[str, tuple[str, str]]:
    """Headers of the gap and met-flag columns of each target (:class:`BriefingTargets`),
    short enough for a printed column: "Thiếu 5G dân số 99% 2030 (điểm)" / "Gap 5G pop. 99%
    2030 (pts)"."""
    out = {}
    for c in targets.columns:
        t = c.target
        vi, en = _short(c.value)
        out[c.gap] = (f"Thiếu {vi} {t.threshold_pct:g}% {t.year} (điểm)",
                      f"Gap {en} {t.threshold_pct:g}% {t.year} (pts)")
        out[c.meets] = (f"Đạt {vi} {t.threshold_pct:g}% {t.year}",
                        f"Meets {en} {t.threshold_pct:g}% {t.year}")
    for col in HEADLINE:
        vi, en = _short(col)
        out[f"{col}_after"] = (f"{vi[0].upper()}{vi[1:]} (%) sau kế hoạch",
                               f"{en[0].upper()}{en[1:]} (%) after the plan")
    return out


def _gap_columns(df: pd.DataFrame, targets) -> list[str]:
    """Gap column of each target: ``max(0, threshold − value)`` from the table's value and the
    target's threshold (so a gap table computed against other targets cannot show a stale
    gap), else the table's own gap column."""
    cols = []
    for c in targets.columns:
        if c.value in df.columns:
            df[c.gap] = np.maximum(0.0, c.target.threshold_pct - df[c.value].astype(float))
        if c.gap in df.columns and c.gap not in cols:
            cols.append(c.gap)
    return cols


def planner_table(gaps: pd.DataFrame, actions: pd.DataFrame | None, targets,
                  key: str = "unit_code", after: pd.DataFrame | None = None) -> pd.DataFrame:
    """A planner's view of a gap table (communes or districts).

    Parameters
    ----------
    gaps : DataFrame
        Gap table with ``key``, ``name``, counts and ``_pct`` columns.
    actions : DataFrame or None
        :func:`phusong.maps._actions.unit_actions` rows keyed by ``key`` (None: no plan).
    targets : BriefingTargets
        Targets whose gaps are shown.
    key : str
        ``unit_code`` (communes) or ``district_code``.
    after : DataFrame, optional
        The same gap table after the plan's last year (``years/{year}/gaps_*.csv``): its
        fibre / 4G / 5G shares are added as ``…_pct_after``.
    """
    df = gaps.copy()
    if key not in df.columns and "commune_code" in df.columns:
        df[key] = df["commune_code"]
    if "name" not in df.columns and "district_name" in df.columns:
        df["name"] = df["district_name"]
    cols = [key, "name"]
    if key != "district_code" and "district_name" in df.columns:
        cols.append("district_name")
    cols += [c for c in ("households", "population") if c in df.columns]
    cols += [c for c in CENSUS_COLUMNS if c in df.columns]
    cols += [c for c in HEADLINE if c in df.columns]
    cols += _gap_columns(df, targets)
    out = df[cols].copy()
    if after is not None and key in after.columns:
        later = [c for c in HEADLINE if c in after.columns]
        out = out.merge(after[[key, *later]].rename(columns={c: f"{c}_after" for c in later}),
                        on=key, how="left")
    if actions is not None:
        a = actions.rename(columns={"unit_code": key})
        out = out.merge(a[[key, "sites_new", "sites_upgrade", "fibre_km", "plan_cost_vnd"]],
                        on=key, how="left")
        for c in ("sites_new", "sites_upgrade"):
            out[c] = out[c].fillna(0).astype("int64")
        for c in ("fibre_km", "plan_cost_vnd"):
            out[c] = out[c].fillna(0.0)
    return out


def district_actions(communes_actions: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    """Commune actions summed per ``district_code``."""
    a = communes_actions.merge(communes[["commune_code", "district_code"]]
                               .rename(columns={"commune_code": "unit_code"}), on="unit_code")
    num = [c for c in a.columns if c not in ("unit_code", "district_code")]
    return a.groupby("district_code", as_index=False)[num].sum()


def units_2025_table(gaps: pd.DataFrame, xw: pd.DataFrame, targets,
                     actions: pd.DataFrame | None) -> pd.DataFrame:
    """Figures per 2025 unit from the 2020 communes' gap table: every count column is
    apportioned by the crosswalk's ``share`` and summed, and each ``…_pct`` recomputed from the
    apportioned counts (so a split commune counts half in each of its units, not whole in one),
    households and persons no village represents staying in the denominators as the gap tables
    count them (unknown, not served); ``households_represented_pct`` is recomputed likewise.

    Parameters
    ----------
    gaps : DataFrame
        Communes gap table on the 2020 boundaries (``unit_code`` = commune code).
    xw : DataFrame
        :func:`phusong.communes.crosswalk_2025`.
    targets : BriefingTargets
    actions : DataFrame or None
        :func:`~phusong.maps._actions.unit_actions` on the 2025 units.
    """
    if "commune_code" in gaps.columns:
        g = gaps.drop(columns=["unit_code"], errors="ignore")
    else:
        g = gaps.rename(columns={"unit_code": "commune_code"})
    g = g.drop(columns=["name", "district_name", "district_code", "type"], errors="ignore")
    x = xw[["commune_code", "unit_code", "unit_name", "share"]].merge(g, on="commune_code")
    counts = [c for c in ("households", "population", "villages", "census_households",
                          "census_population", "households_unrepresented",
                          "population_unrepresented") if c in x.columns]
    wanted = set(HEADLINE) | {c.value for c in targets.columns}
    pct = [c for c in x.columns if c in wanted and c[:-4] in x.columns]
    base = counts + [c[:-4] for c in pct if c[:-4] not in counts]
    for c in base:
        x[c] = x[c].astype(float) * x["share"]
    out = x.groupby("unit_code", as_index=False).agg(
        name=("unit_name", "first"), **{c: (c, "sum") for c in base})
    shares = {}
    dens = {d: out[d] + out[f"{d}_unrepresented"] if f"{d}_unrepresented" in out.columns
            else out[d] for d in ("households", "population", "villages") if d in out.columns}
    for c in pct:
        denom = next((d for d in ("households", "population", "villages")
                      if c.endswith(f"_{d}_pct")), None)
        if denom is None or denom not in dens:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            # unrepresented households are unknown, not served: they stay in the denominator
            shares[c] = np.where(dens[denom] > 0, 100.0 * out[c[:-4]] / dens[denom], np.nan)
    if "census_households" in out.columns and "households" in out.columns:
        ch = out["census_households"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares["households_represented_pct"] = np.where(
                ch > 0, 100.0 * np.minimum(out["households"].to_numpy(float), ch) / ch, np.nan)
    out = pd.concat([out, pd.DataFrame(shares, index=out.index)], axis=1)
    for c in counts:
        out[c] = out[c].round().astype("int64")
    return planner_table(out, actions, targets)


def _get(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def years_table(meta: dict) -> pd.DataFrame:
    """One row per plan year: money, actions, fibre, province figures after the year."""
    rows = []
    for y in meta.get("years") or []:
        if not isinstance(y, dict) or "year" not in y:
            continue
        r = {"year": y["year"]}
        for k, v in (_get(y, "budget_vnd") or {}).items():
            r[f"budget_{k}_vnd"] = v
        for k, v in (_get(y, "spent_vnd") or {}).items():
            r[f"spent_{k}_vnd"] = v
        for k, v in (_get(y, "unspent_vnd") or {}).items():
            r[f"unspent_{k}_vnd"] = v
        for k in ("cost_vnd", "new_sites", "new_sites_with_5G", "upgrades_4G", "upgrades_5G",
                  "fibre_km", "households_newly_passed", "fibre_or_alternative_households_pct"):
            if k in y:
                r[k] = y[k]
        for k, v in (_get(y, "province_pct") or {}).items():
            r[k] = v
        for k, v in (_get(y, "unknown") or {}).items():
            r[f"unknown_{k}"] = v
        rows.append(r)
    return pd.DataFrame(rows)


#: Headers of :func:`years_table`'s composed columns.
YEAR_HEADERS = {
    "budget_mobile_vnd": ("Ngân sách di động (VND)", "Mobile budget (VND)"),
    "budget_fibre_vnd": ("Ngân sách cáp quang (VND)", "Fibre budget (VND)"),
    "spent_mobile_vnd": ("Chi di động (VND)", "Spent on mobile (VND)"),
    "spent_fibre_vnd": ("Chi cáp quang (VND)", "Spent on fibre (VND)"),
    "spent_fibre_routes_vnd": ("Chi tuyến cáp (VND)", "Fibre routes (VND)"),
    "spent_ftth_access_vnd": ("Chi FTTH (VND)", "FTTH access (VND)"),
    "spent_backhaul_routes_vnd": ("Chi tuyến truyền dẫn (VND)", "Backhaul routes (VND)"),
    "spent_ftth_access_backhaul_vnd": ("Chi FTTH dọc truyền dẫn (VND)",
                                       "FTTH along backhaul (VND)"),
    "spent_fallback_vnd": ("Chi giải pháp thay thế (VND)", "Fallback (VND)"),
    "unspent_mobile_vnd": ("Chưa chi di động (VND)", "Unspent mobile (VND)"),
    "unspent_fibre_vnd": ("Chưa chi cáp quang (VND)", "Unspent fibre (VND)"),
    "unknown_villages": ("Thôn chưa rõ vùng phủ", "Villages, coverage unknown"),
    "unknown_households": ("Hộ chưa rõ vùng phủ", "Households, coverage unknown"),
    "unknown_population": ("Dân số chưa rõ vùng phủ", "Population, coverage unknown"),
    "new_sites": ("Trạm mới", "New sites"), "new_sites_with_5G": ("Trạm mới có 5G",
                                                                  "New sites with 5G"),
    "upgrades_4G": ("Nâng cấp 4G", "4G upgrades"), "upgrades_5G": ("Nâng cấp 5G", "5G upgrades"),
    "households_newly_passed": ("Hộ được kéo cáp mới", "Households newly passed"),
    "fibre_or_alternative_households_pct": ("Hộ có cáp quang hoặc thay thế (%)",
                                            "Households with fibre or an alternative (%)"),
}


def missed_table(meta: dict) -> pd.DataFrame:
    """Every target missed at the end of a plan year: shortfall, what binds, and one column
    per optimisation step with the solver's relative gap (``solver_gap_{step}``)."""
    rows = []
    for y in meta.get("years") or []:
        for m in (y.get("missed_targets") or []) if isinstance(y, dict) else []:
            if not isinstance(m, dict):
                continue
            col = _value_column(m.get("indicator", ""), m.get("denominator", ""))
            r = {"plan_year": y.get("year"),
                 "indicator": indicator_label(col, "vi") + " / " + indicator_label(col, "en"),
                 "threshold_pct": m.get("threshold_pct"), "target_year": m.get("year"),
                 "value_pct": m.get("value_pct"), "shortfall_pct": m.get("shortfall_pct"),
                 "reachable_pct": m.get("reachable_pct"),
                 "binds": "; ".join(_bind_text(str(x)) for x in m.get("binds") or []) or "—"}
            for step, gap in (m.get("solver_gaps") or {}).items():
                r[f"solver_gap_{step}"] = gap
            rows.append(r)
    return pd.DataFrame(rows)


_BINDS = (("budget as the router fits it", "ngân sách theo cách bộ định tuyến bố trí"),
          ("the siting stopped short of the money", "việc chọn trạm dừng trước khi hết tiền"),
          ("met on the households the villages carry", "đạt trên số hộ các thôn mang"),
          ("budget", "ngân sách"), ("no candidate covers the rest",
                                     "không trạm đề xuất nào phủ phần còn lại"),
          ("no road to the fibre", "không có đường tới cáp quang"),
          ("fallback only for", "chỉ có giải pháp thay thế cho"))


def _bind_text(text: str) -> str:
    """A "what binds" reason of ``plan.json`` in Vietnamese / English (known phrases)."""
    for en, vi in _BINDS:
        if text.startswith(en):
            return f"{vi}{text[len(en):]} / {text}"
    return text


def _value_column(indicator: str, denominator: str) -> str:
    prefix = "fibre" if indicator in ("fibre_available", "fibre_commune") else indicator
    return f"{prefix}_{denominator}_pct"


def curves_table(meta: dict) -> pd.DataFrame:
    """Long table of ``plan.json["cost_curves"]``: one row per indicator and level."""
    cc = meta.get("cost_curves") or {}
    rows = []
    for key, curve in cc.items():
        if not isinstance(curve, dict) or not isinstance(curve.get("points"), list):
            continue
        vi, en = CURVE_NAMES.get(key, (key, key))
        for p in curve["points"]:
            if not isinstance(p, dict):
                continue
            cost = p.get("cost_vnd")
            lb = p.get("lower_bound_vnd")
            rows.append({"curve": f"{vi} / {en}", "key": key, "target_pct": p.get("pct"),
                         "reachable": "✓" if p.get("reachable") else "✗",
                         "covered_pct": p.get("covered_pct"),
                         "census_pct": p.get("census_pct"),
                         "cost_bn_vnd": cost / 1e9 if cost is not None else None,
                         "lower_bound_bn_vnd": lb / 1e9 if lb is not None else None,
                         "gap": p.get("gap"),
                         "marginal_vnd_per_household": p.get("marginal_vnd_per_household"),
                         "method": p.get("method")})
    return pd.DataFrame(rows)


_UNITS = (("_vnd_per_km", "VND/km"), ("_vnd_per_home", "VND/home"),
          ("_vnd_per_household", "VND/household"), ("usd_vnd", "VND/USD"), ("_vnd", "VND"),
          ("_km", "km"), ("_m", "m"), ("_s", "s"), ("_pct", "%"), ("markup", "fraction"),
          ("_households", "households"), ("_mhz", "MHz"))


def _unit(key: str) -> str:
    return next((u for suffix, u in _UNITS if key.endswith(suffix)), "")


def assumptions_table(meta: dict) -> tuple[pd.DataFrame, str]:
    """The scenario the plan used, one row per setting (section, item, value, unit, source),
    and where it came from. Without a recorded scenario: the settings' defaults, said so."""
    sc = meta.get("scenario") if isinstance(meta.get("scenario"), dict) else {}
    rec = bool(sc.get("costs") or sc.get("budgets") or sc.get("targets"))
    name = sc.get("name", "")
    src = (f"kịch bản / scenario '{name}' ({sc.get('source', '?')})" if rec
           else "mặc định / settings defaults (plan.json records no scenario)")
    rows: list[dict] = []

    def add(section, item, value, source=src, unit=None):
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        elif isinstance(value, bool):
            value = "có / yes" if value else "không / no"
        elif value is None or value == "":
            value = "—"
        rows.append({"section": section, "item": item, "value": value,
                     "unit": _unit(item) if unit is None else unit, "source": source})

    for k in ("name", "source", "objective", "model", "years", "carry_over", "time_limit_s",
              "reach_m", "centre_prize_households", "broadband_techs"):
        if k in sc:
            add("scenario", k, sc[k])
    budgets = sc.get("budgets") if rec else None
    if isinstance(budgets, dict):
        for year, b in budgets.items():
            for k, v in (b or {}).items():
                add("budgets", f"{year} {k}", v, unit="VND")
    elif not rec:
        for k, v in settings.PLAN785_BUDGET_VND.items():
            add("budgets", f"2025 {k}_vnd", v, unit="VND")
    record = sc.get("settings") if rec else None
    if isinstance(record, dict) and isinstance(record.get("values"), dict):
        _settings_rows(record, name, add)
        for op, band in (sc.get("bands_5g") or {}).items():
            add("bands_5g", op, band, unit="")
        for k, v in (sc.get("rules") or {}).items():
            add("rules", k, v)
        _assumed_rows(meta, add)
        return pd.DataFrame(rows), src
    costs = sc.get("costs") if rec else None
    if not isinstance(costs, dict):
        from dataclasses import asdict
        costs = asdict(DEFAULT_SETTINGS.costs)
        csrc = src if not rec else "mặc định / settings defaults (not in plan.json)"
    else:
        csrc = src
    for k, v in costs.items():
        add("costs", k, v, source=csrc)
    for section in ("planning_costs", "rules"):
        for k, v in (sc.get(section) or {}).items():
            add(section, k, v)
    for op, band in (sc.get("bands_5g") or {}).items():
        add("bands_5g", op, band, unit="")
    thresholds = sc.get("thresholds_dbm")
    tsrc = src
    if not isinstance(thresholds, dict):
        thresholds = dict(DEFAULT_SETTINGS.thresholds_dbm)
        tsrc = src if not rec else "mặc định / settings defaults (not in plan.json)"
    for t, v in thresholds.items():
        add("thresholds_dbm", f"threshold {t}", v, source=tsrc, unit="dBm")
    _assumed_rows(meta, add)
    return pd.DataFrame(rows), src


def _settings_rows(record: dict, name: str, add) -> None:
    """One row per settings key of a plan (``plan.json`` ``scenario.settings``): its value,
    unit and where it was taken from (default, the scenario, or ``--set``)."""
    from phusong.config import key_table

    units = {k.key: k.unit for k in key_table()}
    taken = {"default": "mặc định / default", "scenario": f"kịch bản / scenario '{name}'",
             "--set": "dòng lệnh / --set"}
    src = record.get("from") or {}
    for key, value in record["values"].items():
        section, _, item = key.partition(".")
        add(section, item, value, unit=units.get(key, "%" if section == "targets" else ""),
            source=taken.get(src.get(key, "default"), str(src.get(key))))


def _assumed_rows(meta: dict, add) -> None:
    """Rows of what the plan assumed (:mod:`phusong.maps._assumed`): the fibre it used, the
    census coverage and every assumption ``plan.json`` states."""
    from phusong.maps._assumed import (
        census_coverage,
        feeders_summary,
        fibre_assumption_text,
        plan_assumptions,
    )

    if isinstance(meta, dict) and "fibre_assumption" in meta:  # an older plan: the cover says
        vi, en = fibre_assumption_text(meta)
        add("fibre", "fibre_assumption / giả định cáp quang", f"{vi} / {en}",
            source="plan.json", unit="")
    census = census_coverage(meta)
    if census is not None:
        for k in ("census_households", "households", "households_unrepresented",
                  "households_represented_pct"):
            if k in census:
                add("census", k, census[k], source="plan.json",
                    unit="%" if k.endswith("_pct") else "households")
    feeders = feeders_summary(meta)
    if feeders is not None:
        for k in ("label", "km", "pops_reached", "pops_unreachable"):
            if k in feeders and not isinstance(feeders[k], (dict, list)):
                add("feeders_inferred", k, feeders[k], source="plan.json")
    from phusong.maps._assumed import fibre_assumption

    said = fibre_assumption(meta)
    for i, text in enumerate([t for t in plan_assumptions(meta) if t != said], start=1):
        add("assumptions", f"{i}", text, source="plan.json", unit="")


def targets_table(targets) -> pd.DataFrame:
    """The targets reported against (:class:`BriefingTargets`), with their source."""
    return pd.DataFrame([{"indicator": c.target.indicator, "denominator": c.target.denominator,
                          "threshold_pct": c.target.threshold_pct, "year": c.target.year,
                          "origin": c.target.origin,
                          "source": "plan.json" if targets.source == "plan" else "settings"}
                         for c in targets.columns])
