"""CLI commands of the planning area: ``phusong gaps``, ``phusong plan`` and ``phusong plan apply``.

``plan`` is a :class:`_PlanGroup`: ``phusong plan BUNDLE --out DIR`` makes a plan (the command
it always was) and ``phusong plan apply BUNDLE --plan DIR --year YEAR --out BUNDLE2`` writes the
bundle as the plan leaves it after YEAR. Only a first argument spelled exactly ``apply`` is the
subcommand (a bundle folder of that name is ``./apply``).
"""

from __future__ import annotations

from pathlib import Path

import click

from phusong import settings
from phusong.cli._cluster import cluster_options, open_executor
from phusong.cli._common import (
    command_errors,
    emit,
    json_option,
    progress,
    quiet_option,
    run_settings,
    settings_options,
)
from phusong.cli._coverage import p1812_maps_option, with_p1812_maps

__all__ = ["COMMANDS", "apply_cmd", "gaps_cmd", "plan_cmd", "plan_group"]


#: The switch-off years as the help and the summary say them ("2G ends 2026, 3G ends 2028").
_ENDS = ", ".join(f"{t} ends {y}" for t, y in settings.SWITCH_OFF_YEAR.items())


def _fmt_pct(x) -> str:
    return "n/a" if x is None else f"{x:.1f} %"


def _check_year(ctx, param, value):
    """Click callback: a year outside ``switchoff.YEAR_RANGE`` is a usage error (exit 2)."""
    from phusong.errors import DataError
    from phusong.planning.switchoff import check_year

    try:
        return check_year(value)
    except DataError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _switch_off_lines(report: dict) -> list[str]:
    """The text summary's switch-off line (none without ``--year``)."""
    if report["year"] is None:
        return []
    if not report["switched_off"]:
        return [f"switched off by {report['year']}: nothing ({_ENDS})"]
    return [f"switched off by {report['year']}: {', '.join(report['switched_off'])}; "
            f"{report['villages_losing_service']:,} villages "
            f"({report['households_losing_service']:,.0f} households) lose all mobile service"]


@click.command("gaps")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--boundaries", type=click.Choice(["2020", "2025"]), default="2020", show_default=True,
              help="2020: the 151 units; 2025: the 46 units of Phú Thọ (split units by households).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder for gaps_{villages,communes,districts,province}.csv and gaps.json.")
@click.option("--model", default=settings.DEFAULT_MODEL, show_default=True,
              help="Propagation model of the coverage engine.")
@click.option("--year", type=int, default=None, callback=_check_year,
              help="Report year (31 December), e.g. 2030: count only the techs still on air "
              f"({_ENDS}). Default: every tech as scored.")
@p1812_maps_option
@settings_options
@json_option
@quiet_option
@command_errors
def gaps_cmd(bundle: Path, boundaries: str, out_dir: Path, model: str, year: int | None,
             p1812_maps, scenario_path, sets, as_json: bool, quiet: bool) -> None:
    """Gaps against the targets per village, commune, district and province (targets and
    thresholds from the settings: --scenario, --set; gaps.json records them)."""
    from phusong.bundle import load_bundle
    from phusong.errors import OutputError
    from phusong.planning import _plan_deps as deps
    from phusong.planning.centres import assume_pops
    from phusong.planning.gaps import compute_gaps

    config = with_p1812_maps(run_settings(scenario_path, sets), p1812_maps, model)
    b = assume_pops(load_bundle(bundle))
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: exists and is not a folder; choose another --out")
    with progress("coverage of villages", quiet=quiet):
        cov = deps.score_villages(b, model=model, config=config)
    with progress("fibre reach", quiet=quiet):
        fibre = deps.fibre_available(b)
    tables = compute_gaps(b, cov, boundaries=boundaries, fibre=fibre, year=year, config=config)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = tables.write(out_dir)
    report_path = tables.write_report(out_dir / "gaps.json")
    report = tables.headline()
    report["bundle_name"] = b.name
    report["synthetic"] = b.synthetic
    report["files"] = [str(p) for p in [*files, report_path]]
    lines = [f"{b.name}: {report['communes']} units ({boundaries} boundaries), "
             f"{report['households']:,.0f} households in villages of "
             f"{report['census_households']:,.0f} in the census "
             f"({_fmt_pct(report['households_represented_pct'])} represented; "
             f"{report['households_unrepresented']:,.0f} unknown, counted as not served)",
             *(f"  {a}" for a in report["assumptions"])]
    for t in report["targets"]:
        lines.append(f"  {t['indicator']} ({t['denominator']}) {t['year']}: "
                     f"{_fmt_pct(t['value_pct'])} of {t['threshold_pct']:g} % — "
                     f"{'met' if t['met'] else 'gap ' + _fmt_pct(t['gap_pct'])}; "
                     f"{t['communes_meeting']}/{report['communes']} units meet it")
    lines.extend(_switch_off_lines(report))
    lines.append(f"wrote {out_dir}")
    emit(report, as_json=as_json, lines=lines)


@click.command("plan", epilog="Apply a plan: phusong plan apply BUNDLE --plan DIR --year YEAR "
               "--out BUNDLE2 writes the bundle as the plan leaves it after YEAR, for coverage, "
               "gaps, map and export on the future network (phusong plan apply --help).")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--scenario", "scenario_path", type=click.Path(path_type=Path), default=None,
              help="Scenario TOML (default: Plan 785's budget lines, scenarios/plan785.toml).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Plan folder to write (plan.json, plan.gpkg, gaps_*.csv).")
@click.option("--boundaries", type=click.Choice(["2020", "2025"]), default="2020", show_default=True,
              help="Boundary vintage of the gap tables in the plan folder.")
@click.option("--infer-feeders", is_flag=True,
              help="Also draw the likely feeder routes along roads from the provincial POP to "
              "every commune POP (labelled inferred; not counted as fibre).")
@click.option("--provincial-pop", default=None, metavar="NODE_ID",
              help="Root of the inferred feeders (default: the POP of the most populous ward).")
@click.option("--candidates", "candidates_path", type=click.Path(path_type=Path), default=None,
              help="Your candidate sites (GeoPackage, GeoJSON or Shapefile points with kind "
              "new|upgrade, tech, operator; optional candidate_id, band, bands, height_m, site_id, "
              "cost_vnd), offered in the first plan year beside the generated ones.")
@click.option("--overwrite", is_flag=True, help="Replace an existing plan folder.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override one setting after the scenario (repeatable), e.g. --set "
              "costs.new_site_vnd=4e9; `phusong settings` lists the keys.")
@p1812_maps_option
@cluster_options
@json_option
@quiet_option
@command_errors
def plan_cmd(bundle: Path, scenario_path: Path | None, out_dir: Path, boundaries: str,
             infer_feeders: bool, provincial_pop: str | None, candidates_path: Path | None,
             overwrite: bool, sets, p1812_maps, workers: int | None, scheduler: str | None,
             shared_dir: Path | None, as_json: bool,
             quiet: bool) -> None:
    """Joint plan: public-utility BTS, 5G upgrades and fibre extensions under the budgets."""
    import time

    from phusong.atomic import check_writable
    from phusong.bundle import load_bundle
    from phusong.planning.plan import make_plan, plan_summary_lines
    from phusong.planning.scenario import load_scenario

    t_read = time.perf_counter()
    scenario = load_scenario(scenario_path, sets)
    if p1812_maps is not None:  # the scenario's model scores villages and candidates
        from dataclasses import replace

        scenario = replace(scenario, config=with_p1812_maps(
            scenario.config, p1812_maps, scenario.model,
            how="set model = \"p1812\" in the --scenario TOML"))
    check_writable(out_dir, overwrite=overwrite)
    b = load_bundle(bundle)
    user = None
    if candidates_path is not None:
        from phusong.io.vector import read_vector

        user = read_vector(candidates_path, what="candidates")[0]
        user.attrs["source"] = str(candidates_path)  # errors name the file
    t_read = time.perf_counter() - t_read
    with open_executor(workers, scheduler, quiet=quiet or as_json,
                       shared_dir=shared_dir, config=scenario.config) as ex, \
            progress("planning", quiet=quiet or ex is not None):
        # the feeders are inferred inside the plan, within the scenario's time_limit_s
        plan = make_plan(b, scenario=scenario, boundaries=boundaries, candidates=user,
                         executor=ex, infer_feeders=infer_feeders, provincial_pop=provincial_pop)
    lines = plan_summary_lines(plan)
    if infer_feeders and plan.feeders is None:
        lines.append("  feeders (inferred): not inferred, the time limit came first "
                     "(plan.json time_limit.stopped)")
    elif infer_feeders:
        f = plan.feeders.summary()
        lines.append(f"  feeders (inferred): {f['km']:,.1f} km from POP {f['provincial_pop']} to "
                     f"{f['pops_reached']} POPs; {f['pops_unreachable']} not joined by the roads")
    if scenario.time_limit_s is not None:  # the limit bounds the plan call, not these
        plan.time_limit["outside_s"] = {"reading the inputs": round(t_read, 3)}
    t_write = time.perf_counter()
    plan.write(out_dir, overwrite=overwrite)
    report = plan.report()
    if scenario.time_limit_s is not None:  # stdout only: plan.json is written by then
        report["time_limit"]["outside_s"]["writing the plan"] = round(
            time.perf_counter() - t_write, 3)
    report["out"] = str(out_dir)
    emit(report, as_json=as_json, lines=[*lines, f"wrote {out_dir}"])


@click.command("apply")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--plan", "plan_dir", type=click.Path(path_type=Path), required=True,
              help="Plan folder written by `phusong plan` from this bundle.")
@click.option("--year", type=int, required=True,
              help="A report year of the plan: its years up to and including this one are built.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="Bundle folder to write (the network after YEAR).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out folder.")
@json_option
@quiet_option
@command_errors
def apply_cmd(bundle: Path, plan_dir: Path, year: int, out_path: Path, overwrite: bool,
              as_json: bool, quiet: bool) -> None:
    """The bundle as a plan leaves it after YEAR: its chosen sites, radios and fibre built."""
    from phusong.atomic import check_writable
    from phusong.bundle import load_bundle, save_bundle
    from phusong.errors import OutputError
    from phusong.planning.apply import apply_plan

    check_writable(out_path, overwrite=overwrite)
    if out_path.exists() and out_path.resolve() == bundle.resolve():
        raise OutputError(f"{out_path}: is the input bundle, which the plan refers to; "
                          "choose another --out")
    b = load_bundle(bundle)
    with progress(f"applying the plan to {year}", quiet=quiet):
        grown = apply_plan(b, plan_dir, year=year)
    save_bundle(grown, out_path, overwrite=overwrite)
    added = {k: _rows(grown, k) - _rows(b, k) for k in ("sites", "cells", "fibre", "fibre_nodes")}
    report = {"bundle_name": grown.name, "source_bundle": b.name, "plan": str(plan_dir),
              "year": year, "years_applied": [a["year"] for a in grown.meta["applied_plans"]
                                              [len(b.meta.get("applied_plans", [])):]],
              "added": added, "synthetic": grown.synthetic, "out": str(out_path)}
    emit(report, as_json=as_json, lines=[
        f"{grown.name}: years {', '.join(map(str, report['years_applied']))} applied",
        f"  added {added['sites']} sites, {added['cells']} cells, {added['fibre']} fibre spans, "
        f"{added['fibre_nodes']} fibre nodes",
        f"wrote {out_path}"])


def _rows(bundle, layer: str) -> int:
    df = bundle.layers.get(layer)
    return 0 if df is None else len(df)


class _PlanGroup(click.Group):
    """``phusong plan``: the plan command, unless the first argument names a subcommand."""

    def __init__(self, default: click.Command, **kwargs):
        super().__init__(default.name, help=default.help, **kwargs)
        self.default = default

    def make_context(self, info_name, args, parent=None, **extra):
        if args and args[0] in self.commands:
            return super().make_context(info_name, args, parent=parent, **extra)
        return self.default.make_context(info_name, args, parent=parent, **extra)


plan_group = _PlanGroup(plan_cmd)
plan_group.add_command(apply_cmd)

COMMANDS: list = [gaps_cmd, plan_group]
