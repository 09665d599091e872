"""Writing a plan folder, atomically.

``plan.json`` (figures per year, totals, missed targets, cost curves, the scenario used, the
service of every village per year, ``fibre_assumption``, ``assumptions``, ``census``,
``feeders_inferred``), ``plan.gpkg`` (``candidate_sites`` of every year, ``fibre_routes``,
``feeders_inferred`` when inferred), ``gaps_*.csv`` (before the plan), ``years/{year}/gaps_*.csv`` (after each
year, with its switch-offs) and ``villages_plan.csv`` (one row per village: households,
population and, per year, ``service_{year}``, ``action_{year}``, ``cost_vnd_{year}``,
``reason_{year}``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from phusong import __version__
from phusong.atomic import atomic_dir
from phusong.gpkg import write_gpkg

__all__ = ["census_figures", "plan_report", "write_plan", "SITE_COLUMNS"]

#: Columns of the candidate_sites layer required by CONTRACTS (others follow).
SITE_COLUMNS = ("candidate_id", "kind", "operator", "tech", "commune_code", "name", "cost_vnd",
                "households_new", "population_new", "selected", "rank")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def plan_report(plan) -> dict:
    """``plan.json`` content of a :class:`~phusong.planning.plan.Plan`."""
    c = plan.candidates
    sel = c[c["selected"]] if len(c) else c
    return _jsonable({
        "bundle_name": plan.bundle_name,
        "bundle_fingerprint": plan.bundle_fingerprint,
        "synthetic": plan.synthetic,
        "phusong_version": __version__,
        "boundaries": plan.gaps.boundaries,
        "scenario": plan.scenario.to_dict(),
        "budgets_vnd": plan.budgets_vnd,
        "totals": plan.totals,
        "years": plan.years,
        "candidates": {"total": int(len(c)), "selected": int(len(sel)),
                       "by_kind": {f"{k}_{t}": int(n) for (k, t), n in
                                   c.groupby(["kind", "tech"]).size().items()} if len(c) else {}},
        "cost_curves": plan.cost_curves,
        "unknown": _unknown_counts(plan.gaps),
        # the engine's counts on the existing network: ITM errors, DEM voids, off the DEM
        "existing_network_scoring": plan.scoring,
        "villages": village_rows(plan.villages),
        "notes": list(plan.notes),
        "fibre_assumption": plan.fibre_assumption,
        "assumptions": list(plan.assumptions),
        "census": census_figures(plan.gaps),
        "feeders_inferred": plan.feeders.summary() if plan.feeders is not None else None,
        # the scenario's wall-clock guard and the steps it cut short ([] without a limit:
        # then every step stopped by its own rule and the plan is machine-independent)
        "time_limit": plan.time_limit,
    })


def census_figures(gaps) -> dict:
    """Census households/population and the share the villages represent (province row)."""
    row = gaps.province.iloc[0]
    return {k: float(row[k]) for k in ("census_households", "census_population", "households",
                                       "population", "households_unrepresented",
                                       "population_unrepresented", "households_represented_pct")}


def _unknown_counts(gaps) -> dict:
    """Villages, households and population whose mobile coverage is unknown at the start
    (off the DEM or behind a flagged path: not counted as uncovered)."""
    row = gaps.province.iloc[0]
    return {k: float(row.get(f"unknown_{k}", 0.0)) for k in ("villages", "households",
                                                              "population")}


def villages_wide(villages: pd.DataFrame) -> pd.DataFrame:
    """One row per village with ``service_{year}``, ``action_{year}``, ``cost_vnd_{year}``,
    ``reason_{year}`` (the ``villages_plan.csv`` layout)."""
    if not len(villages):
        return pd.DataFrame(columns=["village_id", "commune_code", "households", "population"])
    keys = ["village_id", "commune_code", "households", "population"]
    out = villages[villages["year"] == villages["year"].min()][keys].reset_index(drop=True)
    for year, g in villages.groupby("year", sort=True):
        g = g.reset_index(drop=True)
        for col, name in (("service", "service"), ("action_id", "action"),
                          ("cost_vnd", "cost_vnd"), ("reason", "reason")):
            out[f"{name}_{year}"] = g[col].to_numpy()
    return out


def village_rows(villages: pd.DataFrame) -> list[dict]:
    """``villages_wide`` as records (``plan.json["villages"]``)."""
    return villages_wide(villages).to_dict(orient="records")


def _site_layer(c):
    cols = [*SITE_COLUMNS, *[x for x in c.columns if x not in SITE_COLUMNS and x != "geometry"]]
    out = c[[*cols, "geometry"]].copy()
    out["selected"] = out["selected"].astype(bool)
    out["rank"] = out["rank"].astype("int64")
    for col in ("site_id", "commune_code", "name", "operator", "source", "band"):
        if col in out:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def write_plan(plan, folder, *, overwrite: bool = False) -> Path:
    """Write ``plan`` to ``folder`` (refused if it exists, unless ``overwrite``)."""
    folder = Path(folder)
    with atomic_dir(folder, overwrite=overwrite) as tmp:
        gpkg = tmp / "plan.gpkg"
        write_gpkg(_site_layer(plan.candidates), gpkg, layer="candidate_sites",
                   geometry_type="Point")
        routes = plan.routes.copy()
        routes["households_passed"] = pd.to_numeric(routes["households_passed"]).astype(float)
        write_gpkg(routes, gpkg, layer="fibre_routes", geometry_type="LineString")
        if plan.feeders is not None:
            write_gpkg(plan.feeders.routes, gpkg, layer="feeders_inferred",
                       geometry_type="LineString")
        (tmp / "plan.json").write_text(json.dumps(plan_report(plan), ensure_ascii=False, indent=1),
                                       encoding="utf-8")
        plan.gaps.write(tmp)
        for year, g in plan.year_gaps.items():
            (tmp / "years" / str(year)).mkdir(parents=True, exist_ok=True)
            g.write(tmp / "years" / str(year))
        villages_wide(plan.villages).to_csv(tmp / "villages_plan.csv", index=False,
                                            encoding="utf-8", float_format="%.10g")
    return folder
