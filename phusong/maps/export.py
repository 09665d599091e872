"""Operator GIS exports of a plan (DESIGN §7): zipped Shapefile, GeoPackage, KML, CSV.

The GeoPackage (version 1.2, :mod:`phusong.gpkg`, so QGIS 3.22 LTR opens it without a warning)
also holds the communes with the plan's gap figures, and a QGIS project ``<name>.qgs`` beside
it shows the three layers styled (:mod:`phusong.maps._qgis`).

Candidate sites (points) and fibre routes (lines) of a plan folder, in a CRS of the operator's
choice (EPSG:4326, 32648, VN-2000 3405 or 9211 TM-3 Hòa Bình). Names keep their Vietnamese
diacritics: the Shapefile has a ``.cpg`` saying UTF-8 and DBF field names of at most 10
characters, listed with their full names in ``field_dictionary.csv`` inside the zip.

Examples
--------
>>> from phusong.maps.export import dbf_field_names
>>> dbf_field_names(["households_new", "households_passed", "name"])
{'households_new': 'households', 'households_passed': 'househol_1', 'name': 'name'}
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from phusong import settings
from phusong.atomic import atomic_files, atomic_path, check_writable, scratch_dir
from phusong.bundle import Bundle
from phusong.crs import parse_crs, transform_points
from phusong.errors import DataError, PhusongWarning
from phusong.gpkg import write_gpkg
from phusong.maps._plan import read_plan
from phusong.maps._qgis import project_xml
from phusong.maps._units import units

__all__ = ["FORMATS", "ExportReport", "export_plan", "dbf_field_names", "FIELD_DESCRIPTIONS",
           "SETTINGS_FILE", "settings_table"]

#: The settings table inside a Shapefile zip (and ``<out stem>_settings.csv`` beside a KML or
#: CSV export; a GeoPackage holds it as dataset metadata ``PHUSONG_SETTINGS``, JSON).
SETTINGS_FILE = "settings.csv"

FORMATS = ("shp", "gpkg", "kml", "csv")
_LAYERS = ("candidate_sites", "fibre_routes")
#: Full attribute name → description (English), written to the field dictionary.
FIELD_DESCRIPTIONS = {
    "candidate_id": "candidate site id", "kind": "new = new tower; upgrade = existing tower",
    "operator": "mobile operator", "tech": "technology (2G/3G/4G/5G)",
    "commune_code": "5-digit GSO commune code", "name": "name (UTF-8, Vietnamese)",
    "cost_vnd": "cost, VND", "households_new": "households newly covered",
    "population_new": "persons newly covered", "selected": "1 = in the plan, 0 = candidate only",
    "rank": "priority rank in the plan (1 = first; 0 = not selected)",
    "route_id": "fibre route id", "road_class": "road the cable follows",
    "length_m": "route length, m", "purpose": "why the route is built",
    "households_passed": "households passed by the route",
    "lon": "longitude, degrees (EPSG:4326)", "lat": "latitude, degrees (EPSG:4326)",
    "vn2000_x_m": "VN-2000 TM-3 106°00' (EPSG:9211) X = northing, m",
    "vn2000_y_m": "VN-2000 TM-3 106°00' (EPSG:9211) Y = easting, m",
    "easting_m": "easting in the chosen CRS, m", "northing_m": "northing in the chosen CRS, m",
    "wkt": "geometry as WKT in the chosen CRS",
    "unit_code": "5-digit GSO commune code (2020) or 2025 unit code",
}


@dataclass
class ExportReport:
    """What :func:`export_plan` wrote."""

    paths: list[Path]
    fmt: str
    crs: str
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)
    renamed: dict[str, dict[str, str]] = field(default_factory=dict)


def dbf_field_names(columns, width: int = 10) -> dict[str, str]:
    """Map attribute names to unique DBF field names of at most ``width`` characters.

    Deterministic: in column order, a name is cut to ``width``; if that (case-insensitively)
    is taken, it becomes the first ``width - len(suffix)`` characters plus ``_1``, ``_2`` …
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for col in columns:
        short = col[:width]
        k = 0
        while short.upper() in used:
            k += 1
            suffix = f"_{k}"
            short = col[: width - len(suffix)] + suffix
        used.add(short.upper())
        out[col] = short
    return out


def _prepare(plan, selected_only: bool) -> dict[str, gpd.GeoDataFrame]:
    sites = plan.sites.copy()
    if selected_only:
        sites = sites[sites["selected"]]
    sites = sites.sort_values(["selected", "rank"], ascending=[False, True], kind="stable")
    sites["selected"] = sites["selected"].astype("int32")
    routes = plan.routes.copy()
    for df in (sites, routes):
        for col in df.columns:
            if df[col].dtype == bool:
                df[col] = df[col].astype("int32")
    return {"candidate_sites": sites.reset_index(drop=True),
            "fibre_routes": routes.reset_index(drop=True)}


def settings_table(meta: dict) -> pd.DataFrame:
    """The settings a plan was made with, one row per key: ``key``, ``value``, ``unit`` and
    ``from`` (``default``, ``scenario`` or ``--set``), from ``plan.json``'s
    ``scenario.settings``. A plan written before settings were recorded gives the defaults,
    ``from`` saying so."""
    from phusong.config import DEFAULT_SETTINGS, key_table

    sc = meta.get("scenario") if isinstance(meta.get("scenario"), dict) else {}
    rec = sc.get("settings")
    if not isinstance(rec, dict) or not isinstance(rec.get("values"), dict):
        rec = DEFAULT_SETTINGS.record()
        rec["from"] = dict.fromkeys(rec["from"], "default (plan.json records no settings)")
    units = {k.key: k.unit for k in key_table()}
    return pd.DataFrame([{"key": k, "value": v,
                          "unit": units.get(k, "%" if k.startswith("targets.") else ""),
                          "from": (rec.get("from") or {}).get(k, "default")}
                         for k, v in rec["values"].items()], columns=["key", "value", "unit", "from"])


def _note_file(bundle: Bundle, plan, crs_code: str, fmt: str) -> str:
    lines = [f"phusong export ({fmt}) of plan {plan.path.name} for bundle {bundle.name}",
             f"CRS: {crs_code} ({parse_crs(crs_code).name})", "Encoding: UTF-8"]
    table = settings_table(plan.meta)
    changed = table[~table["from"].str.startswith("default")]
    lines.append(f"Settings: {SETTINGS_FILE} lists all {len(table)} with their source; "
                 f"{len(changed)} not at their default"
                 + "".join(f"\n  {r.key} = {r.value} {r.unit} ({r['from']})".rstrip()
                           for _, r in changed.iterrows()))
    if bundle.synthetic or plan.meta.get("synthetic"):
        lines.append("Dữ liệu minh họa tổng hợp / synthetic demonstration data")
    for layer, prov in sorted(bundle.provenance.items()):
        lines.append(f"{layer}: {prov.source} ({prov.licence}){' synthetic' if prov.synthetic else ''}")
    return "\n".join(lines) + "\n"


def _write_shp(layers, bundle, plan, crs_code, out: Path, overwrite: bool, report) -> None:
    rows = []
    with scratch_dir(out) as tmp:
        for name, gdf in layers.items():
            attrs = [c for c in gdf.columns if c != "geometry"]
            short = dbf_field_names(attrs)
            report.renamed[name] = {k: v for k, v in short.items() if k != v}
            for full in attrs:
                rows.append({"layer": name, "full_name": full, "short_name": short[full],
                             "truncated": full != short[full],
                             "collision": short[full] != full[:10],
                             "description": FIELD_DESCRIPTIONS.get(full, "")})
            pyogrio.write_dataframe(gdf.rename(columns=short), tmp / f"{name}.shp",
                                    driver="ESRI Shapefile", encoding="UTF-8")
            cpg = tmp / f"{name}.cpg"
            if not cpg.is_file() or "UTF-8" not in cpg.read_text():
                cpg.write_text("UTF-8", encoding="ascii")
        buf = io.StringIO()
        pd.DataFrame(rows).to_csv(buf, index=False)
        with atomic_path(out, overwrite=overwrite) as zpath:
            with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
                for p in sorted(tmp.iterdir()):
                    z.write(p, p.name)
                z.writestr("field_dictionary.csv", buf.getvalue().encode("utf-8"))
                z.writestr("README.txt", _note_file(bundle, plan, crs_code, "shp").encode("utf-8"))
                z.writestr(SETTINGS_FILE, settings_table(plan.meta).to_csv(index=False)
                           .encode("utf-8"))


def _kml_description(row, layer: str) -> str:
    if layer == "candidate_sites":
        parts = [("kind", row["kind"]), ("operator", row["operator"]), ("tech", row["tech"]),
                 ("commune_code", row["commune_code"]), ("cost_vnd", f"{row['cost_vnd']:,.0f}"),
                 ("households_new", row["households_new"]), ("rank", row["rank"])]
    else:
        parts = [("road_class", row["road_class"]), ("length_m", f"{row['length_m']:,.0f}"),
                 ("cost_vnd", f"{row['cost_vnd']:,.0f}"), ("purpose", row["purpose"]),
                 ("households_passed", row["households_passed"])]
    return "; ".join(f"{k}: {v}" for k, v in parts)


def _write_kml(layers, out: Path, overwrite: bool, side: Path, table: pd.DataFrame) -> None:
    # the KML and its settings table beside it: one commit (atomic_files)
    with atomic_files([out, side], overwrite=overwrite) as (tmp, tmp_side):
        table.to_csv(tmp_side, index=False, encoding="utf-8-sig")
        for i, (name, gdf) in enumerate(layers.items()):
            g = gdf.to_crs("EPSG:4326").copy()
            if name == "fibre_routes":
                g.insert(0, "name", g["route_id"])
            g["description"] = [_kml_description(r, name) for _, r in g.iterrows()]
            cols = ["name", "description"] + [c for c in g.columns
                                              if c not in ("name", "description", "geometry")]
            pyogrio.write_dataframe(g[cols + ["geometry"]], tmp, layer=name, driver="LIBKML",
                                    append=i > 0)


def _write_csv(layers, crs_code: str, out: Path, routes_out: Path, overwrite: bool,
               side: Path, table: pd.DataFrame) -> None:
    target = parse_crs(crs_code)
    sites = layers["candidate_sites"].to_crs("EPSG:4326")
    df = pd.DataFrame(sites.drop(columns="geometry"))
    df["lon"], df["lat"] = sites.geometry.x.round(7), sites.geometry.y.round(7)
    e, n = transform_points(df["lon"], df["lat"], "EPSG:4326", "EPSG:9211")
    df["vn2000_x_m"], df["vn2000_y_m"] = n.round(2), e.round(2)  # VN-2000 sheets: X = northing
    if not target.is_geographic and target != parse_crs("EPSG:9211"):
        e2, n2 = transform_points(df["lon"], df["lat"], "EPSG:4326", crs_code)
        df["easting_m"], df["northing_m"] = e2.round(2), n2.round(2)
    routes = layers["fibre_routes"]
    rdf = pd.DataFrame(routes.drop(columns="geometry"))
    r4326 = routes.to_crs("EPSG:4326").geometry
    rdf["start_lon"] = [round(g.coords[0][0], 7) for g in r4326]
    rdf["start_lat"] = [round(g.coords[0][1], 7) for g in r4326]
    rdf["end_lon"] = [round(g.coords[-1][0], 7) for g in r4326]
    rdf["end_lat"] = [round(g.coords[-1][1], 7) for g in r4326]
    rdf["wkt"] = routes.to_crs(target).geometry.to_wkt(rounding_precision=7 if
                                                        target.is_geographic else 2)
    check_writable(routes_out, overwrite=overwrite)
    # one commit for the set: a kill leaves all the old files or (after the next write) all
    # the new ones
    with atomic_files([out, routes_out, side], overwrite=overwrite) as (t1, t2, t3):
        df.to_csv(t1, index=False, encoding="utf-8-sig")  # BOM: Excel then reads UTF-8
        rdf.to_csv(t2, index=False, encoding="utf-8-sig")
        table.to_csv(t3, index=False, encoding="utf-8-sig")


def _communes_with_gaps(bundle: Bundle, plan):
    """Commune (or 2025 unit) polygons joined to the plan's commune gap table; None without one.

    Returns (GeoDataFrame, the first ``gap_*`` column or None).
    """
    gaps = plan.gaps.get("communes")
    if gaps is None or "unit_code" not in gaps:
        return None, None
    codes = set(gaps["unit_code"].astype(str))
    for boundaries in ("2020", "2025"):
        try:
            poly = units(bundle, boundaries)
        except DataError:
            continue
        if codes <= set(poly["unit_code"].astype(str)):
            break
    else:
        raise DataError(f"{plan.path}: gaps_communes.csv names units that are neither the "
                        "bundle's communes nor its 2025 units; run 'phusong plan' again on this "
                        "bundle")
    table = gaps.drop(columns=[c for c in ("name", "households", "population") if c in gaps])
    out = poly[["unit_code", "name", "district_name", "households", "population", "geometry"]] \
        .merge(table.assign(unit_code=table["unit_code"].astype(str)), on="unit_code", how="inner")
    gap_cols = [c for c in out.columns if c.startswith("gap_")]
    for col in out.columns:
        if out[col].dtype == bool:
            out[col] = out[col].astype("int32")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=poly.crs), (gap_cols[0] if gap_cols
                                                                        else None)


def _write_gpkg_project(layers, bundle, plan, target, crs_code, out: Path, overwrite: bool,
                        report: ExportReport) -> None:
    communes, gap_col = _communes_with_gaps(bundle, plan)
    if communes is not None:
        layers = {"communes": communes.to_crs(target), **layers}
        report.counts["communes"] = len(communes)
    qgs = out.with_suffix(".qgs")
    check_writable(qgs, overwrite=overwrite)
    xml = project_xml(out.name, layers, crs_code, f"phusong – {bundle.name}", gap_col)
    # one commit for the GeoPackage and its project (atomic_files: never a project beside
    # another run's GeoPackage)
    with atomic_files([out, qgs], overwrite=overwrite) as (tmp, tmp_qgs):
        meta = {"PHUSONG_SETTINGS": settings_table(plan.meta).to_json(orient="records",
                                                                      force_ascii=False)}
        for i, (name, gdf) in enumerate(layers.items()):
            write_gpkg(gdf, tmp, layer=name, dataset_metadata=meta if i == 0 else None)
        tmp_qgs.write_text(xml, encoding="utf-8")
    report.paths.append(qgs)
    report.notes.append(f"QGIS project {qgs.name}: open it in QGIS 3.22 or later"
                        + (f"; communes coloured by {gap_col}" if gap_col else ""))


def export_plan(bundle: Bundle, plan_dir: str | Path, fmt: str, out: str | Path, *,
                crs: str | int = "EPSG:4326", overwrite: bool = False,
                selected_only: bool = False) -> ExportReport:
    """Export a plan's candidate sites and fibre routes for operators.

    Parameters
    ----------
    bundle : Bundle
        The bundle the plan was made from (checked by fingerprint).
    plan_dir : str or Path
        Plan folder written by ``phusong plan``.
    fmt : {"shp", "gpkg", "kml", "csv"}
        ``shp``: one zip with both layers, ``.cpg`` UTF-8 and ``field_dictionary.csv``;
        ``gpkg``: one GeoPackage (candidate_sites, fibre_routes and, when the plan has a
        commune gap table, communes) and a QGIS project ``<out stem>.qgs`` beside it; ``kml``: one file, two folders, always EPSG:4326;
        ``csv``: sites in ``out`` (lon/lat and VN-2000 TM-3 X = northing, Y = easting) and
        routes in ``<out stem>_routes.csv`` (WKT in ``crs``). Every format carries the plan's
        settings (:func:`settings_table`): ``settings.csv`` in the zip, dataset metadata
        ``PHUSONG_SETTINGS`` (JSON) in the GeoPackage, ``<out stem>_settings.csv`` beside a
        KML or CSV.
    out : str or Path
        Output file; an existing one is refused unless ``overwrite``.
    crs : str or int
        Output CRS, e.g. ``"EPSG:9211"`` (VN-2000 TM-3 Hòa Bình); see :data:`phusong.crs.EXPORT_CRS`.
    selected_only : bool
        Export only the candidates the plan selected (default: all, with ``selected`` 0/1).

    Returns
    -------
    ExportReport
    """
    if fmt not in FORMATS:
        raise DataError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    target = parse_crs(crs)
    crs_code = ":".join(target.to_authority() or ("EPSG", str(crs)))
    out = Path(out)
    check_writable(out, overwrite=overwrite)
    plan = read_plan(plan_dir, bundle)
    layers = _prepare(plan, selected_only)
    report = ExportReport([out], fmt, crs_code, {k: len(v) for k, v in layers.items()})
    side = out.with_name(out.stem + "_settings.csv")  # KML, CSV: no place inside the file
    if fmt in ("kml", "csv"):
        check_writable(side, overwrite=overwrite)
    if fmt == "kml":
        if crs_code != settings.STORE_CRS:
            msg = f"KML is always EPSG:4326 (WGS 84); --crs {crs_code} was not applied"
            warnings.warn(msg, PhusongWarning, stacklevel=2)
            report.notes.append(msg)
        report.crs = settings.STORE_CRS
        _write_kml(layers, out, overwrite, side, settings_table(plan.meta))
        report.paths.append(side)
        return report
    layers = {k: v.to_crs(target) for k, v in layers.items()}
    if fmt == "gpkg":
        _write_gpkg_project(layers, bundle, plan, target, crs_code, out, overwrite, report)
    elif fmt == "shp":
        _write_shp(layers, bundle, plan, crs_code, out, overwrite, report)
    else:
        routes_out = out.with_name(out.stem + "_routes.csv")
        _write_csv(layers, crs_code, out, routes_out, overwrite, side,
                   settings_table(plan.meta))
        report.paths.append(routes_out)
        report.notes.append("CSV: vn2000_x_m is northing and vn2000_y_m easting (EPSG:9211)")
        report.paths.append(side)
    return report
