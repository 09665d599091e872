"""CLI commands of this area (registered by :mod:phusong.cli): ``map``, ``export``, ``briefing``."""

from __future__ import annotations

from pathlib import Path

import click

from phusong.cli._common import command_errors, emit, json_option
from phusong.settings import EXPORT_CRS

COMMANDS: list = []

_bundle_arg = click.argument("bundle", type=click.Path(path_type=Path))
_overwrite = click.option("--overwrite", is_flag=True, help="Replace an existing output.")
_lang = click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
                     help="Language of labels (Vietnamese or English).")


def _gaps_from(folder: Path | None):
    if folder is None:
        return None
    from phusong.errors import InputFileError
    from phusong.maps._plan import read_gaps

    if not folder.is_dir():
        raise InputFileError(f"{folder}: no such gaps folder; make one with 'phusong gaps'")
    tables = read_gaps(folder)
    if not tables:
        raise InputFileError(f"{folder}: no gaps_*.csv tables; make them with 'phusong gaps'")
    return tables


def _gaps_settings(folder: Path | None):
    """The settings a gaps folder's ``gaps.json`` records (None without one: the plan's, or
    the defaults, are used)."""
    if folder is None or not (folder / "gaps.json").is_file():
        return None
    import json

    from phusong.config import from_record
    from phusong.errors import DataError

    try:
        doc = json.loads((folder / "gaps.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{folder / 'gaps.json'}: not valid JSON ({exc}); rewrite it with "
                        "'phusong gaps'") from None
    rec = doc.get("settings") if isinstance(doc, dict) else None
    return None if rec is None else from_record(rec, where=str(folder / "gaps.json"))


@click.command("map")
@_bundle_arg
@click.option("--plan", "plan_dir", type=click.Path(path_type=Path),
              help="Plan folder (candidate BTS, fibre routes, gap tables).")
@click.option("--gaps", "gaps_dir", type=click.Path(path_type=Path),
              help="Folder with gaps_*.csv (default: the plan folder's).")
@click.option("--coverage-raster", type=click.Path(path_type=Path),
              help="GeoTIFF drawn as an overlay (e.g. best-server RSRP, dBm).")
@click.option("--boundaries", type=click.Choice(["2020", "2025"]), default="2020",
              show_default=True, help="Commune boundaries: 151 units of 2020 or the 2025 units.")
@_lang
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output .html file.")
@_overwrite
@json_option
@command_errors
def map_cmd(bundle, plan_dir, gaps_dir, coverage_raster, boundaries, lang, out, overwrite,
            as_json):
    """Write the interactive briefing map as one self-contained HTML file."""
    from phusong.atomic import check_writable
    from phusong.bundle import load_bundle
    from phusong.maps import build_map, save_map

    check_writable(out, overwrite=overwrite)
    b = load_bundle(bundle)
    m = build_map(b, gaps=_gaps_from(gaps_dir), plan_dir=plan_dir,
                  coverage_raster=coverage_raster, lang=lang, boundaries=boundaries,
                  config=_gaps_settings(gaps_dir))
    path = save_map(m, out, overwrite=overwrite)
    emit({"map": path, "lang": lang, "boundaries": boundaries}, as_json=as_json,
         lines=[f"map: {path}"])


@click.command("export")
@_bundle_arg
@click.option("--plan", "plan_dir", required=True, type=click.Path(path_type=Path),
              help="Plan folder written by 'phusong plan'.")
@click.option("--format", "fmt", required=True, type=click.Choice(["shp", "gpkg", "kml", "csv"]),
              help="shp = zipped Shapefile (UTF-8, field dictionary inside).")
@click.option("--crs", default="EPSG:4326", show_default=True,
              help=f"Output CRS, e.g. {', '.join(EXPORT_CRS)} (VN-2000 TM-3 Hòa Bình = 9211). "
                   "KML is always EPSG:4326.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output file.")
@click.option("--selected-only", is_flag=True, help="Only the candidates the plan selected.")
@_overwrite
@json_option
@command_errors
def export_cmd(bundle, plan_dir, fmt, crs, out, selected_only, overwrite, as_json):
    """Export a plan's candidate sites and fibre routes for operators' GIS."""
    from phusong.atomic import check_writable
    from phusong.bundle import load_bundle
    from phusong.crs import parse_crs
    from phusong.maps.export import export_plan

    parse_crs(crs)  # an unknown code fails before any reading
    check_writable(out, overwrite=overwrite)
    rep = export_plan(load_bundle(bundle), plan_dir, fmt, out, crs=crs, overwrite=overwrite,
                      selected_only=selected_only)
    emit({"paths": rep.paths, "format": rep.fmt, "crs": rep.crs, "counts": rep.counts,
          "notes": rep.notes, "renamed": rep.renamed}, as_json=as_json,
         lines=[f"{p}" for p in rep.paths]
         + [f"{k}: {v}" for k, v in rep.counts.items()] + [f"crs: {rep.crs}"])


@click.command("briefing")
@_bundle_arg
@click.option("--plan", "plan_dir", required=True, type=click.Path(path_type=Path),
              help="Plan folder written by 'phusong plan' (its gap tables are used).")
@click.option("--gaps", "gaps_dir", type=click.Path(path_type=Path),
              help="Folder with gaps_*.csv (default: the plan folder's).")
@_lang
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@_overwrite
@json_option
@command_errors
def briefing_cmd(bundle, plan_dir, gaps_dir, lang, out, overwrite, as_json):
    """Write the briefing pack: XLSX workbook, PNG charts, overview map, summary.json."""
    from phusong.atomic import check_writable
    from phusong.bundle import load_bundle
    from phusong.maps.briefing import write_briefing

    check_writable(out, overwrite=overwrite)
    files = write_briefing(load_bundle(bundle), _gaps_from(gaps_dir), plan_dir, out, lang=lang,
                           overwrite=overwrite)
    emit({"files": files}, as_json=as_json, lines=[str(p) for p in files])


COMMANDS.extend([map_cmd, export_cmd, briefing_cmd])
