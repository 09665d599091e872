"""A plan folder applied to its bundle: the network as it stands after a plan year.

``phusong plan apply`` reads the plan folder written by :meth:`phusong.planning.plan.Plan.write`
(``plan.json`` and the ``candidate_sites`` and ``fibre_routes`` layers of ``plan.gpkg``) and
builds, year by year up to the one asked for, the chosen candidates in rank order and the
year's fibre with :func:`phusong.planning.grow.grow_bundle` — what the plan's own year loop did
— so coverage, gaps, map and export run on the future network.

A plan applies only to the bundle it was made from (``plan.json`` ``bundle_fingerprint``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import pyogrio

from phusong.bundle import Bundle, fingerprint
from phusong.config import from_record
from phusong.errors import DataError, InputFileError
from phusong.planning.grow import grow_bundle

__all__ = ["apply_plan", "plan_years", "read_plan_actions"]


def _read_layer(gpkg: Path, layer: str) -> gpd.GeoDataFrame:
    try:
        return pyogrio.read_dataframe(gpkg, layer=layer)
    except Exception as exc:  # pyogrio raises several types for a bad file or missing layer
        raise InputFileError(f"{gpkg}: cannot read layer {layer!r} ({exc}); write the plan "
                             "folder again with `phusong plan`") from None


def read_plan_actions(plan_dir: str | Path) -> tuple[dict, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The report, chosen candidates and new fibre of a plan folder.

    Parameters
    ----------
    plan_dir : str or Path
        A plan folder (``plan.json``, ``plan.gpkg``).

    Returns
    -------
    report : dict
        ``plan.json``.
    candidates : GeoDataFrame
        The selected candidates (EPSG:4326), every year, in rank order.
    routes : GeoDataFrame
        The ``fibre_routes`` layer (EPSG:4326) with its ``year``.

    Raises
    ------
    InputFileError
        A missing folder, or a missing or unreadable ``plan.json`` or ``plan.gpkg``.
    """
    folder = Path(plan_dir)
    fix = "pass the folder written by `phusong plan --out`"
    if not folder.is_dir():
        raise InputFileError(f"{folder}: no such plan folder; {fix}")
    path = folder / "plan.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(f"{path}: missing; {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"{path}: unreadable ({exc}); {fix}") from None
    if not isinstance(report, dict) or not {"bundle_fingerprint", "scenario", "years"} <= set(report):
        raise InputFileError(f"{path}: not a phusong plan report (needs bundle_fingerprint, "
                             f"scenario, years); {fix}")
    gpkg = folder / "plan.gpkg"
    if not gpkg.is_file():
        raise InputFileError(f"{gpkg}: missing; {fix}")
    cands = _read_layer(gpkg, "candidate_sites")
    routes = _read_layer(gpkg, "fibre_routes")
    for df, layer, cols in ((cands, "candidate_sites", ("selected", "year", "rank", "kind")),
                            (routes, "fibre_routes", ("year",))):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise InputFileError(f"{gpkg}: layer {layer!r} lacks {', '.join(missing)}; {fix}")
    sel = cands[cands["selected"].astype(bool)].sort_values("rank", kind="stable")
    return report, sel.reset_index(drop=True), routes


def plan_years(report: dict) -> list[int]:
    """The report years of a plan (``plan.json`` ``years``), ascending."""
    return sorted(int(e["year"]) for e in report.get("years", []))


def apply_plan(bundle: Bundle, plan_dir: str | Path, *, year: int) -> Bundle:
    """``bundle`` with the plan's years up to and including ``year`` built.

    Parameters
    ----------
    bundle : Bundle
        The bundle the plan was made from (same fingerprint).
    plan_dir : str or Path
        The plan folder.
    year : int
        A report year of the plan.

    Returns
    -------
    Bundle
        Named ``"{bundle.name} + plan {scenario name} {year}"``; ``bundle`` is not modified.

    Raises
    ------
    InputFileError
        See :func:`read_plan_actions`.
    DataError
        A plan made from another bundle, or a year the plan does not have.
    """
    report, cands, routes = read_plan_actions(plan_dir)
    path = Path(plan_dir) / "plan.json"
    source = str(report["bundle_fingerprint"])
    if source != fingerprint(bundle):
        raise DataError(f"{path}: the plan was made from another bundle "
                        f"({report.get('bundle_name', '?')!r}, fingerprint {source[:12]}…), not "
                        f"{bundle.name!r}; apply it to the bundle it was planned on, or plan again")
    from phusong.planning.centres import assume_pops

    bundle = assume_pops(bundle)  # a plan made without fibre was made on the assumed POPs
    years = plan_years(report)
    if int(year) not in years:
        raise DataError(f"{path}: the plan has no year {year}; choose one of "
                        f"{', '.join(map(str, years)) or '(none)'}")
    scenario = report["scenario"] or {}
    name = str(scenario.get("name", "plan"))
    bands_5g = scenario.get("bands_5g")
    config = from_record(scenario.get("settings"), where=f"{plan_dir}: plan.json")
    out = bundle
    for y in (y for y in years if y <= int(year)):
        actions = cands[cands["year"].astype(int) == y]
        new = gpd.GeoDataFrame(routes[routes["year"].astype(int) == y].reset_index(drop=True),
                               crs=routes.crs)
        out = grow_bundle(out, actions, new, year=y, plan_name=name, source_fingerprint=source,
                          bands_5g=bands_5g, config=config)
    return dataclasses.replace(out, name=f"{bundle.name} + plan {name} {int(year)}")
