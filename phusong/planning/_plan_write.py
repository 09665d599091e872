"""Writing a plan folder (CONTRACTS): plan.json, plan.gpkg, gaps_*.csv — atomically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio

from phusong import __version__
from phusong.io.atomic import atomic_dir

__all__ = ["plan_report", "write_plan", "SITE_COLUMNS"]

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
        "notes": list(plan.notes),
    })


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
        pyogrio.write_dataframe(_site_layer(plan.candidates), gpkg, layer="candidate_sites",
                                driver="GPKG", geometry_type="Point")
        routes = plan.routes.copy()
        routes["households_passed"] = pd.to_numeric(routes["households_passed"]).astype(float)
        pyogrio.write_dataframe(routes, gpkg, layer="fibre_routes", driver="GPKG",
                                geometry_type="LineString")
        (tmp / "plan.json").write_text(json.dumps(plan_report(plan), ensure_ascii=False, indent=1),
                                       encoding="utf-8")
        plan.gaps.write(tmp)
    return folder
