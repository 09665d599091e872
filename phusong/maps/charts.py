"""Static PNG charts and the overview map for slides (matplotlib, Agg backend).

Examples
--------
>>> from phusong.maps._example import example_bundle, example_gaps
>>> from phusong.maps.charts import province_figures
>>> round(province_figures(example_gaps(example_bundle()))["fibre_households_pct"], 1)
16.9
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from phusong import settings  # noqa: E402
from phusong.atomic import atomic_path  # noqa: E402
from phusong.bundle import Bundle  # noqa: E402
from phusong.maps._labels import SYNTHETIC_NOTICE, check_lang, indicator_label, label  # noqa: E402
from phusong.maps._plan import Plan  # noqa: E402

__all__ = ["render_charts", "province_figures", "targets_for", "plan_targets_for", "cost_curve",
           "district_fibre", "CHART_FILES"]

CHART_FILES = ("chart_coverage_by_tech.png", "chart_fibre_by_district.png",
               "chart_cost_curve.png", "chart_cost_to_100.png", "overview_map.png")
_INDICATOR_OF_TARGET = {"fibre_available": "fibre_households_pct",
                        "mobile_4G": "mobile_4G_population_pct",
                        "mobile_5G": "mobile_5G_population_pct"}


def province_figures(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Province-level ``_pct`` figures: the ``province`` table's row, else the communes table
    weighted by each column's denominator (households, population or villages)."""
    prov = tables.get("province")
    if prov is not None and len(prov):
        return {c: float(prov[c].iloc[0]) for c in prov.columns if c.endswith("_pct")}
    com = tables.get("communes")
    if com is None:
        return {}
    out = {}
    for c in (c for c in com.columns if c.endswith("_pct") and not c.startswith("gap_")):
        w = next((com[d] for d in ("households", "population", "villages")
                  if c.endswith(f"_{d}_pct") and d in com.columns), None)
        if w is None:
            continue
        ok = com[c].notna()
        out[c] = float(np.average(com.loc[ok, c], weights=w[ok])) if w[ok].sum() else float("nan")
    return out


def targets_for(year: int = 2025, targets=settings.TARGETS) -> dict[str, float]:
    """Indicator column → target share, percent, for the first target year ≥ ``year``."""
    out: dict[str, tuple[int, float]] = {}
    for t in targets:
        col = _INDICATOR_OF_TARGET.get(t.indicator)
        if col is None or t.year < year:
            continue
        if col not in out or (t.year, -t.threshold_pct) < (out[col][0], -out[col][1]):
            out[col] = (t.year, t.threshold_pct)
    return {k: v[1] for k, v in out.items()}


def cost_curve(plan: Plan) -> pd.DataFrame:
    """Selected sites in rank order with cumulative cost (VND) and newly covered households."""
    return _curve(plan.selected_sites)


def _curve(s: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"candidate_id": s["candidate_id"].to_numpy(),
                         "cum_cost_vnd": s["cost_vnd"].cumsum().to_numpy(),
                         "cum_households": s["households_new"].cumsum().to_numpy()})


def _save(fig, path: Path) -> Path:
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=130, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def _stamp(ax, title: str, synthetic: bool) -> None:
    """Title, with the synthetic-data notice in small red type just above the axes."""
    ax.set_title(title, pad=16 if synthetic else 6)
    if synthetic:
        ax.text(0.5, 1.01, SYNTHETIC_NOTICE, transform=ax.transAxes, fontsize=7,
                color="#b00000", ha="center", va="bottom")


def _chart_tech(figs: dict[str, float], targets: dict[str, float], lang: str, synthetic: bool,
                path: Path) -> Path:
    cols = [c for c in ("mobile_2G_population_pct", "mobile_3G_population_pct",
                        "mobile_4G_population_pct", "mobile_5G_population_pct",
                        "fibre_households_pct") if c in figs]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    x = np.arange(len(cols))
    ax.bar(x, [figs[c] for c in cols], color="#2b8cbe", label=label("value", lang))
    for i, c in enumerate(cols):
        ax.text(i, figs[c] + 1.5, f"{figs[c]:.1f}", ha="center", fontsize=8)
        if c in targets:
            ax.hlines(targets[c], i - 0.4, i + 0.4, colors="#d7301f", linewidth=2.5,
                      label=label("target", lang) if i == min(
                          j for j, cc in enumerate(cols) if cc in targets) else None)
    ax.set_xticks(x, [textwrap.fill(indicator_label(c, lang).replace(" (%)", ""), 16)
                      for c in cols], fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel(label("share_pct", lang))
    ax.legend(fontsize=8, loc="upper right")
    _stamp(ax, label("chart_tech", lang), synthetic)
    return _save(fig, path)


def district_fibre(tables, bundle: Bundle) -> pd.DataFrame:
    """``name`` and ``fibre_households_pct`` per district (the districts table, else the
    communes' households summed per district)."""
    d = tables.get("districts")
    if d is None or "fibre_households_pct" not in d.columns:
        com = tables["communes"]
        key = "unit_code" if "unit_code" in com.columns else "commune_code"
        c = bundle.communes[["commune_code", "district_name"]]
        j = com.merge(c, left_on=key, right_on="commune_code")
        j["fib_hh"] = j["fibre_households_pct"] * j["households"] / 100.0
        d = j.groupby("district_name", as_index=False)[["fib_hh", "households"]].sum()
        d["fibre_households_pct"] = 100.0 * d["fib_hh"] / d["households"]
        d = d.rename(columns={"district_name": "name"})
    else:
        d = d.rename(columns={"name": "name_", "district_name": "name"}) \
            if "district_name" in d.columns else d
    return d[["name", "fibre_households_pct"]]


def _chart_districts(d: pd.DataFrame, target: float | None, lang: str, synthetic: bool,
                     path: Path) -> Path:
    d = d.sort_values("fibre_households_pct")
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(d) + 1.4))
    ax.barh(d["name"].astype(str), d["fibre_households_pct"], color="#41ab5d")
    if target is not None:
        ax.axvline(target, color="#d7301f", linewidth=2, label=f"{label('target', lang)} "
                                                              f"{target:.0f}%")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlim(0, 105)
    ax.set_xlabel(indicator_label("fibre_households_pct", lang))
    _stamp(ax, label("chart_fibre_district", lang), synthetic)
    return _save(fig, path)


def _chart_cost(plan: Plan, lang: str, synthetic: bool, path: Path) -> Path:
    # one curve per technology: households newly reached by 4G broadband and by 5G are
    # different indicators and must not be stacked into one cumulative line
    s = plan.selected_sites
    groups = list(s.groupby("tech", sort=True)) if "tech" in s.columns else [("", s)]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for (tech, g), colour in zip(groups, ("#6a51a3", "#e6550d", "#31a354", "#3182bd"),
                                 strict=False):
        cc = _curve(g)
        x = np.concatenate([[0.0], cc["cum_cost_vnd"].to_numpy() / 1e9])
        y = np.concatenate([[0.0], cc["cum_households"].to_numpy()])
        ax.plot(x, y, marker="o", markersize=3, color=colour,
                label=f"{label('bts', lang)} {tech}".strip())
    ax.set_xlabel(label("cum_cost_bn", lang))
    ax.set_ylabel(label("cum_households", lang))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _stamp(ax, label("chart_cost", lang), synthetic)
    return _save(fig, path)


def _chart_to_100(meta: dict, lang: str, synthetic: bool, path: Path) -> Path | None:
    """Cost (bn VND) of each level of each indicator's curve, from ``plan.json``."""
    from phusong.maps._tables import CURVE_NAMES, curves_table

    cc = curves_table(meta)
    if not len(cc) or cc["cost_bn_vnd"].notna().sum() == 0:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (key, g), colour in zip(cc.groupby("key", sort=False),
                                ("#1a9850", "#6a3d9a", "#e7298a", "#3182bd"), strict=False):
        g = g[g["cost_bn_vnd"].notna()]
        if not len(g):
            continue
        name = CURVE_NAMES.get(key, (key, key))[0 if lang == "vi" else 1]
        ax.plot(g["covered_pct"], g["cost_bn_vnd"], marker="o", color=colour, label=name)
        top = g.iloc[-1]
        ax.annotate(f"{top['covered_pct']:.2f}%: {top['cost_bn_vnd']:,.0f}",
                    (top["covered_pct"], top["cost_bn_vnd"]), fontsize=7,
                    textcoords="offset points", xytext=(-4, 6), ha="right", color=colour)
        out = cc[(cc["key"] == key) & (cc["reachable"] == "✗")]
        if len(out):
            ax.axvline(float(g["covered_pct"].max()), color=colour, linestyle=":", linewidth=1)
    if (cc["reachable"] == "✗").any():
        ax.plot([], [], linestyle=":", color="#555", label=label("reach_max", lang))
    ax.set_xlim(left=max(80.0, float(cc["covered_pct"].min(skipna=True)) - 2.0), right=100.5)
    ax.set_xlabel(label("share_pct", lang))
    ax.set_ylabel(label("cost_bn", lang))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    year = (meta.get("cost_curves") or {}).get("year", "")
    _stamp(ax, f"{label('chart_to_100', lang)} ({year})", synthetic)
    return _save(fig, path)


def _overview(bundle: Bundle, tables, plan: Plan | None, lang: str, synthetic: bool,
              path: Path) -> Path:
    work = settings.WORK_CRS
    com = bundle.communes.to_crs(work)
    g = tables.get("communes")
    col = "fibre_households_pct"
    fig, ax = plt.subplots(figsize=(8, 8))
    if g is not None and col in g.columns:
        key = "unit_code" if "unit_code" in g.columns else "commune_code"
        com = com.merge(g[[key, col]], left_on="commune_code", right_on=key, how="left")
        com.plot(column=col, ax=ax, cmap="RdYlGn", vmin=0, vmax=100, edgecolor="#555",
                 linewidth=0.4, legend=True, missing_kwds={"color": "#cccccc"},
                 legend_kwds={"label": indicator_label(col, lang), "shrink": 0.6})
    else:
        com.plot(ax=ax, color="#eeeeee", edgecolor="#555", linewidth=0.4)
    bundle.communes.to_crs(work).dissolve(by="district_code").boundary.plot(
        ax=ax, color="#111", linewidth=1.2)
    if bundle.sites is not None:
        bundle.sites.to_crs(work).plot(ax=ax, color="#1f3a93", markersize=6,
                                       label=label("sites", lang))
    if plan is not None:
        if len(plan.routes):
            plan.routes.to_crs(work).plot(ax=ax, color="#e7298a", linewidth=2, linestyle="--",
                                          label=label("fibre_routes", lang))
        sel = plan.selected_sites.to_crs(work)
        for kind, colour, marker in (("new", "#e7298a", "^"), ("upgrade", "#7570b3", "s")):
            sub = sel[sel["kind"] == kind]
            if len(sub):
                sub.plot(ax=ax, color=colour, marker=marker, markersize=60, edgecolor="black",
                         label=label(f"candidates_{kind}", lang))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=2)
    ax.set_axis_off()
    _stamp(ax, f"{label('chart_overview', lang)}: {bundle.name}", synthetic)
    return _save(fig, path)


def render_charts(bundle: Bundle, gaps, plan: Plan | None, out_dir: str | Path, *,
                  lang: str = "vi") -> list[Path]:
    """Write the briefing charts and overview map into ``out_dir`` (each file atomically).

    Parameters
    ----------
    bundle : Bundle
    gaps : dict of DataFrame or GapTables-like
        Needs a ``communes`` table (``fibre_households_pct`` …); ``province`` and ``districts``
        are used when present.
    plan : Plan or None
        From :func:`phusong.maps.read_plan`; without one, the cost curve is not drawn.
    out_dir : str or Path
        Existing folder.
    lang : {"vi", "en"}

    Returns
    -------
    list of Path
        The PNG files written (names in :data:`CHART_FILES`).
    """
    from phusong.maps._units import gaps_tables

    check_lang(lang)
    tables = gaps_tables(gaps, plan)
    out = Path(out_dir)
    synthetic = bundle.synthetic or bool(plan is not None and plan.meta.get("synthetic"))
    paths = []
    targets = plan_targets_for(plan)
    if "communes" in tables:
        paths.append(_chart_tech(province_figures(tables), targets, lang, synthetic,
                                 out / CHART_FILES[0]))
        paths.append(_chart_districts(district_fibre(tables, bundle),
                                      targets.get("fibre_households_pct"), lang, synthetic,
                                      out / CHART_FILES[1]))
    if plan is not None and len(plan.selected_sites):
        paths.append(_chart_cost(plan, lang, synthetic, out / CHART_FILES[2]))
    if plan is not None:
        p = _chart_to_100(plan.meta, lang, synthetic, out / CHART_FILES[3])
        if p is not None:
            paths.append(p)
    paths.append(_overview(bundle, tables, plan, lang, synthetic, out / CHART_FILES[4]))
    return paths


def plan_targets_for(plan: Plan | None, year: int = 2025) -> dict[str, float]:
    """:func:`targets_for` with the targets of the plan's scenario (the defaults without one)."""
    from phusong.maps._targets import briefing_targets

    return targets_for(year, tuple(c.target for c in briefing_targets(plan).columns))
