"""CLI commands of the twin: ``phusong twin build`` and ``phusong twin stats``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from phusong import settings
from phusong.cli._common import command_errors, emit, json_option, quiet_option

__all__ = ["COMMANDS", "twin_group", "build_cmd", "stats_cmd"]


@click.group("twin")
def twin_group() -> None:
    """The embedded default: a calibrated synthetic Hòa Bình (synthetic demonstration data)."""


@twin_group.command("build")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Bundle folder to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--variant", type=click.Choice(["2022", "5g"]), default="2022", show_default=True,
              help="2022: Plan 785 baseline (no 5G); 5g: adds the 2024–26 5G roll-out.")
@click.option("--model", default=settings.DEFAULT_MODEL, show_default=True,
              help="Propagation model the mobile network is calibrated to.")
@click.option("--district", "districts", multiple=True, metavar="CODE",
              help="Build only this district (3-digit GSO code; repeatable). Default: all 10.")
@click.option("--overwrite", is_flag=True, help="Replace an existing bundle folder.")
@json_option
@quiet_option
@command_errors
def build_cmd(out: Path, seed: int, variant: str, model: str, districts: tuple[str, ...],
              overwrite: bool, as_json: bool, quiet: bool) -> None:
    """Generate the synthetic Hòa Bình, calibrate it to Plan 785 and write it as a bundle."""
    from phusong.atomic import check_writable
    from phusong.bundle import save_bundle
    from phusong.twin import build_twin
    from phusong.twin.build import antenna_files

    check_writable(out, overwrite=overwrite)
    t0 = time.perf_counter()
    steps: dict[str, float] = {}
    state = {"name": None, "t": t0}

    def step(name: str) -> None:
        now = time.perf_counter()
        if state["name"]:
            steps[state["name"]] = round(now - state["t"], 2)
        state.update(name=name, t=now)
        if not quiet:
            click.echo(f"twin: {name} …", err=True)

    bundle = build_twin(seed=seed, variant=variant, model=model,
                        districts=list(districts) or None, progress=step)
    step("save")
    with tempfile.TemporaryDirectory() as tmp:
        save_bundle(bundle, out, overwrite=overwrite, files=antenna_files(tmp))
    steps["save"] = round(time.perf_counter() - state["t"], 2)
    cal = bundle.meta["calibration"]
    report = {
        "bundle": str(out),
        "name": bundle.name,
        "synthetic": True,
        "label": bundle.meta["label"],
        "seed": seed,
        "variant": variant,
        "model": model,
        "seconds": round(time.perf_counter() - t0, 2),
        "step_seconds": steps,
        "layers": {k: len(v) for k, v in bundle.layers.items()},
        "calibration": cal,
    }
    lines = [
        f"wrote {out} — {bundle.name} ({bundle.meta['label']['en']} / "
        f"{bundle.meta['label']['vi']})",
        f"  {cal['sites']} sites, {cal['bts']} BTS; villages covered: any mobile "
        f"{cal['villages_any_mobile_pct']:.1f} %, 3G {cal['villages_3g_pct']:.1f} %, "
        f"4G {cal['villages_4g_pct']:.1f} % ({model})",
        f"  fibre: {cal['route_km']:,.0f} route-km, {cal['cable_km']:,.0f} cable-km",
        f"  {report['seconds']:.0f} s; check it with: phusong twin stats {out}",
    ]
    emit(report, as_json=as_json, lines=lines)


@twin_group.command("stats")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--model", default=None,
              help="Propagation model (default: the one the twin was calibrated to).")
@json_option
@quiet_option
@command_errors
def stats_cmd(bundle: Path, model: str | None, as_json: bool, quiet: bool) -> None:
    """Calibration figures of BUNDLE next to the published values (FACTS §1)."""
    from phusong.bundle import load_bundle
    from phusong.cli._common import progress
    from phusong.twin import twin_stats

    b = load_bundle(bundle)
    with progress("coverage and fibre reach", quiet=quiet or as_json):
        report = twin_stats(b, model=model)
    report["bundle"] = str(bundle)
    if as_json:
        emit(report, as_json=True)
        return
    _table(report, b.name)


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.2f}"
    return f"{v:,.0f}"


def _table(report: dict, name: str) -> None:
    from rich.console import Console
    from rich.table import Table

    label = report["label"]
    console = Console()
    console.print(f"{name} (model {report['model']})", highlight=False, soft_wrap=True)
    console.print(f"{label['vi']} / {label['en']}", highlight=False, soft_wrap=True)
    t = Table()
    for col, just in (("figure", "left"), ("published", "right"), ("target", "right"),
                      ("value", "right"), ("± tol.", "right"), ("ok", "center")):
        t.add_column(col, justify=just)
    notes = []
    for f in report["figures"]:
        ok = {True: "[green]yes[/]", False: "[red]NO[/]", None: ""}[f["ok"]]
        unit = " %" if f["unit"] == "%" else ""
        t.add_row(f["name"], _fmt(f["published"]), _fmt(f["target"]), _fmt(f["value"]) + unit,
                  _fmt(f["tolerance"]), ok)
        if f["note"]:
            notes.append(f"  {f['name']}: {f['note']}")
    console.print(t)
    for line in notes:
        console.print(line, highlight=False, soft_wrap=True)
    verdict = "all calibrated figures within tolerance" if report["all_ok"] else \
        "some figures are outside their tolerance"
    console.print(verdict)


COMMANDS: list = [twin_group]
