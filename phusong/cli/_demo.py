"""``phusong demo``: the whole planner on the embedded default, into one folder."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import click

from phusong.cli._cluster import open_executor
from phusong.cli._common import (
    command_errors,
    emit,
    json_option,
    quiet_option,
    resolve_threads,
    settings_options,
)

COMMANDS: list = []


def _step(name: str, quiet: bool):
    if not quiet:
        click.echo(f"… {name}", err=True)
    return time.perf_counter()


@click.command("demo")
@click.option("--out", "out_dir", default="out", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--seed", default=0, show_default=True, help="Seed of the synthetic province.")
@click.option("--variant", type=click.Choice(["2022", "5g"]), default="2022", show_default=True,
              help="Baseline 2022 network, or with the 2024–26 5G roll-out.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--resolution-m", default=250.0, show_default=True,
              help="Cell size of the coverage rasters, m.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Run coverage and the plan's candidate matrices on a local dask cluster of "
              "this many worker processes (same outputs; needs phusong[dask]).")
@settings_options
@quiet_option
@json_option
@command_errors
def demo(out_dir: Path, seed: int, variant: str, lang: str, resolution_m: float,
         workers: int | None, scenario_path, sets, quiet: bool, as_json: bool) -> None:
    """Build the synthetic Hòa Bình, then coverage → gaps → plan → map, exports, briefing pack.

    Everything is written into OUT (replacing what an earlier demo wrote there); the list of
    files and where to open the map are printed at the end.
    """
    from phusong.bundle import save_bundle
    from phusong.errors import OutputError
    from phusong.planning import load_scenario
    from phusong.twin import build_twin
    from phusong.twin.build import antenna_files

    t_all = time.perf_counter()
    scenario = load_scenario(scenario_path, sets)  # a bad --set fails before anything is written
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the output folder ({exc.strerror}); "
                          "choose another --out") from None
    seconds: dict[str, float] = {}

    t = _step("building the synthetic province (twin)", quiet)
    bundle = build_twin(seed=seed, variant=variant)
    with tempfile.TemporaryDirectory() as tmp:
        save_bundle(bundle, out_dir / "bundle", overwrite=True, files=antenna_files(tmp))
    seconds["twin"] = time.perf_counter() - t

    with open_executor(workers, None, quiet=quiet or as_json, config=scenario.config) as ex:
        _rest(bundle, out_dir, lang, resolution_m, ex, quiet, as_json, seconds, t_all, scenario)


def _rest(bundle, out_dir, lang, resolution_m, ex, quiet, as_json, seconds, t_all,
          scenario) -> None:
    """Coverage → gaps → plan → outputs (``ex``: a DaskExecutor or None; ``scenario``: the
    plan's scenario, whose settings every step uses)."""
    from phusong.atomic import atomic_path
    from phusong.coverage import run_bundle, score_villages
    from phusong.maps import build_map, export_plan, save_map, write_briefing
    from phusong.planning import compute_gaps, fibre_available, make_plan
    from phusong.twin import twin_stats

    t = _step("coverage of every village and the province grid", quiet)
    cov_dir = out_dir / "coverage"
    config = scenario.config
    village_cov = score_villages(bundle, executor=ex, config=config)
    run_bundle(bundle, cov_dir, resolution_m=resolution_m, threads=resolve_threads(0),
               overwrite=True, scores=village_cov, executor=ex, config=config)
    seconds["coverage"] = time.perf_counter() - t

    t = _step("calibration figures", quiet)
    stats = twin_stats(bundle, scores=village_cov)
    with atomic_path(out_dir / "twin_stats.json") as tmp:
        tmp.write_text(json.dumps(stats, ensure_ascii=False, indent=1), encoding="utf-8")
    seconds["stats"] = time.perf_counter() - t

    t = _step("gaps against the 2025/2030 targets", quiet)
    fibre = fibre_available(bundle, reach_m=scenario.reach_m)
    gaps = compute_gaps(bundle, village_cov, fibre=fibre, config=config)
    seconds["gaps"] = time.perf_counter() - t

    t = _step("plan: public-utility BTS, 5G upgrades, fibre extensions", quiet)
    plan = make_plan(bundle, scenario=scenario, village_cov=village_cov, fibre=fibre,
                     executor=ex)
    plan_dir = plan.write(out_dir / "plan", overwrite=True)
    seconds["plan"] = time.perf_counter() - t

    t = _step("map, operator exports, briefing pack", quiet)
    m = build_map(bundle, gaps=gaps, plan_dir=plan_dir,
                  coverage_raster=cov_dir / "best_dbm_4G.tif", lang=lang)
    map_path = save_map(m, out_dir / "map.html", overwrite=True)
    exports = [
        export_plan(bundle, plan_dir, fmt, out_dir / "exports" / f"candidates.{ext}",
                    crs=crs, overwrite=True)
        for fmt, ext, crs in (("shp", "zip", "EPSG:9211"), ("gpkg", "gpkg", "EPSG:4326"),
                              ("kml", "kml", "EPSG:4326"), ("csv", "csv", "EPSG:4326"))
    ]
    briefing = write_briefing(bundle, gaps, plan_dir, out_dir / "briefing", lang=lang,
                              overwrite=True)
    seconds["outputs"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t_all

    files = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())
    report = {
        "out": str(out_dir),
        "map": str(map_path),
        "exports": [str(p) for r in exports for p in r.paths],
        "briefing": [str(p) for p in briefing],
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "calibration_ok": all(f["ok"] is not False for f in stats["figures"]),
        "files": files,
        "synthetic": True,
    }
    lines = [f"wrote {len(files)} files into {out_dir}/ in {seconds['total']:.0f} s "
             "(synthetic demonstration data / dữ liệu minh họa tổng hợp):"]
    lines += [f"  {f}" for f in files if not f.startswith("bundle/")]
    lines += [f"  bundle/ ({sum(f.startswith('bundle/') for f in files)} files)",
              f"open the map: {map_path.resolve().as_uri()}"]
    emit(report, as_json=as_json, lines=lines)


COMMANDS.append(demo)
