"""``phusong data import``, ``data roads`` and ``data validate``: real files in, checked layers out.

Examples
--------
::

    phusong data import --communes xa.zip --communes-crs EPSG:9211 \\
        --sites tram.xlsx --col site_id=MA_TRAM --col lat=VI_DO --col lon=KINH_DO \\
        --dem N21E105.hgt --roads province.osm --out hoabinh_bundle --licence sites="Viettel"
    phusong data validate tram.csv --kind sites --col x=X --col y=Y --crs EPSG:9211
    phusong data roads --osm vietnam-latest.osm.pbf --communes hoabinh_bundle --out roads.gpkg
"""

from __future__ import annotations

import warnings

import click

from phusong.cli._common import command_errors, emit, json_option, quiet_option
from phusong.errors import DataError, PhusongWarning

__all__ = ["COMMANDS", "data"]

KINDS = ("communes", "sites", "cells", "opencellid", "villages", "roads", "fibre", "dem",
         "population", "bundle")


def _pairs(values, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise DataError(f"{option} {v!r}: expected NAME=VALUE, e.g. {option} site_id=MA_TRAM")
        out[key.strip()] = val.strip()
    return out


@click.group("data")
def data() -> None:
    """Import real data files into a bundle, or check one file."""


@data.command("import")
@click.option("--communes", required=True, help="Commune boundaries: .shp, .zip, .gpkg, .geojson.")
@click.option("--communes-crs", help="CRS of the boundaries when the file has none (EPSG:9211).")
@click.option("--communes-layer", help="Layer of a multi-layer GeoPackage.")
@click.option("--communes-code-col", help="Column with 5-digit GSO commune codes.")
@click.option("--communes-name-col", help="Column with commune names (when no codes).")
@click.option("--communes-2025", "communes_2025",
              help="Boundaries of the 2025 units (46 covering Hòa Bình): .shp, .zip, .gpkg, "
                   ".geojson; drawn on the 2025 maps instead of units dissolved from --communes.")
@click.option("--communes-2025-code-col", help="Column with the 2025 units' 5-digit codes.")
@click.option("--communes-2025-name-col", help="Column with the 2025 units' names (no codes).")
@click.option("--sites", help="Operator site list (CSV/XLSX), one row per site or per cell.")
@click.option("--cells", help="Cell list (CSV/XLSX); refers to --sites by site_id, or has positions.")
@click.option("--opencellid", help="OpenCelliD CSV.")
@click.option("--col", "cols", multiple=True, metavar="FIELD=COLUMN",
              help="Map a sites/cells column, e.g. --col site_id=MA_TRAM --col lat=VI_DO.")
@click.option("--crs", "sites_crs", help="CRS of x/y columns (X = northing, Y = easting), "
              "e.g. EPSG:9211; or EPSG:4756 for VN-2000 lat/lon.")
@click.option("--rows", type=click.Choice(["auto", "site", "cell"]), default="auto",
              show_default=True, help="One row per site or per cell.")
@click.option("--dem", help="Elevation: GeoTIFF or SRTM .hgt (optionally zipped).")
@click.option("--fill-voids", is_flag=True, help="Fill DEM voids by interpolation.")
@click.option("--population", help="Population GeoTIFF (persons per pixel).")
@click.option("--landcover", help="Land cover: ESA WorldCover class GeoTIFF (terminal clutter, "
              "ITU-R P.2108); resample a 10 m tile to 20–50 m first.")
@click.option("--antennas", "antennas_dir", type=click.Path(file_okay=False),
              help="Folder of MSI/Planet antenna files named by the cells' antenna column.")
@click.option("--villages", help="Villages: CSV/XLSX with coordinates, or a point file.")
@click.option("--village-col", "village_cols", multiple=True, metavar="FIELD=COLUMN",
              help="Map a villages column, e.g. --village-col households=SO_HO.")
@click.option("--villages-scale", type=click.Choice(["given", "census", "raster"]),
              default="given", show_default=True,
              help="Village households: as given; the commune census spread over each commune's "
              "villages; or the persons of the nearest --population cells / 3.86 per household.")
@click.option("--settlements-from-population", is_flag=True,
              help="No village list: derive settlement points from --population (labelled).")
@click.option("--roads", help="Roads: .gpkg, .geojson, .shp/.zip, or OpenStreetMap XML (.osm) "
              "or PBF (.osm.pbf), cut to the communes.")
@click.option("--fibre", help="Fibre network: OFDS-like GeoJSON — spans and nodes, or nodes "
              "only (POP, OLT, splitter). Without it a plan assumes a POP at every commune centre.")
@click.option("--extent", type=click.Choice(["communes", "province", "none"]),
              default="communes", show_default=True,
              help="Box that points must lie in: communes' bounds (+0.05°), the province "
              "box of settings, or no check.")
@click.option("--drop-outside", is_flag=True, help="Drop points outside the extent (warns).")
@click.option("--licence", "licences", multiple=True, metavar="LAYER=TEXT",
              help="Licence of a layer's data, e.g. --licence sites='Viettel, internal'.")
@click.option("--out", required=True, help="Bundle folder to write.")
@click.option("--name", help="Bundle name (default: the folder name).")
@click.option("--overwrite", is_flag=True, help="Replace an existing bundle folder.")
@json_option
@quiet_option
@command_errors
def import_cmd(communes, communes_crs, communes_layer, communes_code_col, communes_name_col,
               communes_2025, communes_2025_code_col, communes_2025_name_col, sites, cells,
               opencellid, cols, sites_crs, rows, dem, fill_voids, population, landcover,
               antennas_dir, villages, village_cols, villages_scale, settlements_from_population,
               roads, fibre, extent, drop_outside, licences, out, name, overwrite, as_json,
               quiet) -> None:
    """Build a bundle from real files (validated, written atomically)."""
    from phusong.cli._common import progress
    from phusong.io.importer import LAYER_KEYS, ImportSpec, import_bundle

    lic = _pairs(licences, "--licence")
    bad = sorted(set(lic) - set(LAYER_KEYS))
    if bad:
        raise DataError(f"--licence {bad[0]}=…: unknown layer; use one of {list(LAYER_KEYS)}")
    spec = ImportSpec(
        communes=communes, communes_crs=communes_crs, communes_layer=communes_layer,
        communes_code_col=communes_code_col, communes_name_col=communes_name_col,
        communes_2025=communes_2025, communes_2025_code_col=communes_2025_code_col,
        communes_2025_name_col=communes_2025_name_col, sites=sites, cells=cells,
        opencellid=opencellid, columns=_pairs(cols, "--col"),
        sites_crs=sites_crs, rows=rows, dem=dem, population=population, villages=villages,
        village_columns=_pairs(village_cols, "--village-col"), roads=roads, fibre=fibre,
        fill_voids=fill_voids, extent=extent, drop_outside=drop_outside, licences=lic,
        villages_scale=villages_scale, settlements_from_population=settlements_from_population,
        landcover=landcover,
    )
    with progress("importing", total=None, quiet=quiet or as_json):
        if landcover is None and antennas_dir is None:
            bundle, path = import_bundle(spec, out, name=name, overwrite=overwrite)
        else:
            bundle, path = _import_radio(spec, out, name, overwrite, antennas_dir)
    report = {
        "bundle": str(path),
        "name": bundle.name,
        "layers": {k: len(v) for k, v in bundle.layers.items()},
        "rasters": {k: list(r.shape) for k, r in bundle.rasters.items()},
        "provenance": {k: vars(v) for k, v in bundle.provenance.items()},
    }
    lines = [f"bundle {bundle.name!r} written to {path}"]
    for k, v in bundle.layers.items():
        lines.append(f"  {k}: {len(v)} rows — {bundle.provenance[k].note or 'as read'}")
    for k, r in bundle.rasters.items():
        lines.append(f"  {k}: {r.shape[0]}×{r.shape[1]} — {bundle.provenance[k].note or 'as read'}")
    report["census"] = _census(bundle.villages, bundle.communes)
    lines += _census_lines(report["census"])
    if bundle.fibre is None and bundle.fibre_nodes is None:
        report["fibre_assumption"] = ("no fibre layer: plans will assume a point of presence at "
                                      "every commune centre (Plan 785 §2.1)")
        lines.append(f"  fibre: {report['fibre_assumption']}")
    emit(report, as_json=as_json, lines=lines)


def _census(villages, communes) -> dict:
    """Census reconciliation of villages against communes (:mod:`phusong.io.census`)."""
    import numpy as np

    from phusong.io.census import census_shares, census_summary

    shares = census_shares(villages, communes)
    out = census_summary(shares)
    out["per_commune"] = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                           for k, v in r.items()} for r in shares.to_dict("records")]
    return out


def _census_lines(c: dict) -> list[str]:
    if not c["village_households"] and not c["communes"] - c["communes_without_villages"]:
        return [f"  census: no villages — the {c['census_households']:,.0f} census households "
                "count as unknown in gap tables"]
    low = sorted((r for r in c["per_commune"] if r["villages"]),
                 key=lambda r: r["households_share_pct"] or 0)[:3]
    return [f"  census: villages carry {c['village_households']:,.0f} of "
            f"{c['census_households']:,.0f} households ({c['households_share_pct'] or 0:.1f} %) "
            f"and {c['village_population']:,.0f} of {c['census_population']:,.0f} persons; "
            f"{c['communes_without_villages']} of {c['communes']} communes have no village",
            "  lowest shares: " + ", ".join(f"{r['commune_code']} {r['name']} "
                                            f"{r['households_share_pct'] or 0:.1f} %" for r in low)]


def _communes_of(source):
    """Commune polygons of a bundle folder or of a boundaries file."""
    from pathlib import Path

    from phusong.bundle import load_bundle
    from phusong.io import read_communes

    if Path(source).is_dir():
        return load_bundle(source).communes
    return read_communes(source).data


@data.command("roads")
@click.option("--osm", "osm_file", help="OpenStreetMap extract: .osm.pbf (e.g. Geofabrik's "
              "vietnam-latest.osm.pbf) or .osm XML.")
@click.option("--download", is_flag=True, help="Download the roads in the communes' extent "
              "from OpenStreetMap (Overpass, through osmnx; needs internet).")
@click.option("--overpass-url", help="Overpass API endpoint for --download (default: osmnx's).")
@click.option("--communes", required=True, help="Bundle folder, or a communes boundaries file: "
              "the roads are cut to these communes (+2 km).")
@click.option("--out", required=True, type=click.Path(path_type=str),
              help="GeoPackage to write (layer 'roads', EPSG:4326).")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@json_option
@command_errors
def roads_cmd(osm_file, download, overpass_url, communes, out, overwrite, as_json) -> None:
    """OpenStreetMap roads → osmnx graph (simplified, junctions consolidated) → a roads layer."""
    from phusong.atomic import atomic_path, check_writable
    from phusong.gpkg import write_gpkg
    from phusong.io.osm import download_osm_roads, osm_extent
    from phusong.io.roads import read_roads
    from phusong.network.roads import road_graph, road_lines
    from phusong.schema import check_layer

    if bool(osm_file) == bool(download):
        raise DataError("data roads: give one of --osm FILE or --download")
    check_writable(out, overwrite=overwrite)
    extent = osm_extent(_communes_of(communes))
    if download:
        from phusong.io._files import Imported
        from phusong.io.roads import classify_roads

        raw = download_osm_roads(extent, overpass_url=overpass_url)
        imp = Imported(classify_roads(raw, []), "OpenStreetMap (Overpass)",
                       ["downloaded through osmnx"])
    else:
        imp = read_roads(osm_file, extent=extent)
    g = road_graph(imp.data)
    lines = check_layer(road_lines(g), "roads")
    with atomic_path(out, overwrite=overwrite) as tmp:
        write_gpkg(lines, tmp, layer="roads")
    counts = lines["road_class"].value_counts()
    report = {"out": str(out), "ways": len(imp.data), "nodes": g.number_of_nodes(),
              "roads": len(lines), "length_km": round(float(lines["length_m"].sum()) / 1000, 3),
              "classes": {c: int(counts.get(c, 0)) for c in counts.index},
              "notes": imp.notes + ["graph by osmnx: simplified, intersections consolidated"]}
    emit(report, as_json=as_json,
         lines=[f"{out}: {len(lines)} roads, {report['length_km']:,.1f} km, "
                f"{g.number_of_nodes()} junctions (from {len(imp.data)} OSM ways)"])


def _import_radio(spec, out, name, overwrite, antennas_dir):
    """Import with a land cover and/or antenna files, checked before anything is written."""
    from pathlib import Path

    from phusong.atomic import check_writable
    from phusong.bundle import save_bundle
    from phusong.coverage.clutter import bundle_clutter
    from phusong.coverage.msi import PATTERN_EXTENSIONS, read_msi
    from phusong.io.importer import build_bundle

    out = Path(out)
    check_writable(out, overwrite=overwrite)
    bundle = build_bundle(spec, name=name or out.name)
    bundle_clutter(bundle)  # unknown codes, no CRS, no overlap: one-line errors
    files = {}
    if antennas_dir is not None:
        folder = Path(antennas_dir)
        if not folder.is_dir():
            raise DataError(f"--antennas {folder}: no such folder")
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.suffix.lower() in PATTERN_EXTENSIONS:
                read_msi(f)
                files[f"antennas/{f.name}"] = f
    if bundle.cells is not None and "antenna" in bundle.cells.columns:
        _check_names(bundle.cells, None if antennas_dir is None else Path(antennas_dir))
    path = save_bundle(bundle, out, overwrite=overwrite, files=files)
    return bundle, path


def _check_names(cells, folder) -> None:
    """Every named antenna is parametric or a file of ``folder`` (DataError otherwise)."""
    from phusong.coverage.msi import antenna_by_name

    for i, n in enumerate(cells["antenna"].fillna("").astype(str)):
        if n.strip():
            try:
                antenna_by_name(n, folder)
            except DataError as exc:
                raise DataError(f"cells: row {i + 1} ({cells['cell_id'].iloc[i]}): {exc}") from None


def _summary(kind: str, path, crs, cols, extent, drop_outside, fill_voids,
             communes=None) -> dict:
    from phusong import settings
    from phusong.io import (
        read_communes,
        read_dem,
        read_fibre,
        read_opencellid,
        read_population,
        read_roads,
        read_sites,
        read_villages,
    )

    box = settings.PROVINCE_BBOX if extent == "province" else None
    pts = {"extent": box, "drop_outside": drop_outside}
    if kind == "bundle":
        from phusong.bundle import fingerprint, load_bundle

        b = load_bundle(path)
        return {"name": b.name, "synthetic": b.synthetic, "fingerprint": fingerprint(b),
                "layers": {k: len(v) for k, v in b.layers.items()},
                "rasters": {k: list(r.shape) for k, r in b.rasters.items()}}
    if kind == "communes":
        imp = read_communes(path, crs=crs)
        d = imp.data
        return {"rows": len(d), "area_km2": float(d["area_km2"].sum()),
                "population": int(d["population"].sum()), "notes": imp.notes}
    if kind in ("sites", "cells", "opencellid"):
        if kind == "opencellid":
            s, c = read_opencellid(path, **pts)
        else:
            s, c = read_sites(path, columns=cols, crs=crs, rows="cell" if kind == "cells"
                              else "auto", need_cells=kind == "cells", **pts)
        ops = s.data["operator"].value_counts().to_dict()
        out = {"sites": len(s.data), "operators": ops, "notes": s.notes}
        if c is not None:
            out.update(cells=len(c.data), techs=c.data["tech"].value_counts().to_dict())
        return out
    if kind == "villages":
        from phusong.communes import commune_facts
        from phusong.io.census import census_shares, check_excess

        com = read_communes(communes, crs=None).data if communes else None
        imp = read_villages(path, columns=cols, crs=crs, communes=com, **pts)
        census = _census(imp.data, com if com is not None else commune_facts())
        check_excess(census_shares(imp.data, com if com is not None else commune_facts()),
                     str(path))
        return {"rows": len(imp.data), "households": int(imp.data["households"].sum()),
                "population": int(imp.data["population"].sum()), "notes": imp.notes,
                "census": census}
    if kind == "roads":
        imp = read_roads(path, crs=crs)
        return {"rows": len(imp.data), "length_km": float(imp.data["length_m"].sum() / 1000),
                "classes": imp.data["road_class"].value_counts().to_dict(), "notes": imp.notes}
    if kind == "fibre":
        spans, nodes = read_fibre(path, crs=crs)
        return {"spans": 0 if spans is None else len(spans.data),
                "nodes": 0 if nodes is None else len(nodes.data),
                "node_kinds": {} if nodes is None else nodes.data["kind"].value_counts().to_dict(),
                "notes": (spans or nodes).notes}
    imp = read_dem(path, crs=crs, fill_voids=fill_voids) if kind == "dem" else read_population(
        path, crs=crs)
    a = imp.data.array
    import numpy as np

    return {"shape": list(a.shape), "crs": imp.data.crs, "min": float(np.nanmin(a)),
            "max": float(np.nanmax(a)), "voids": int(np.isnan(a).sum()), "notes": imp.notes}


@data.command("validate")
@click.argument("file")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What the file holds.")
@click.option("--crs", help="CRS when the file does not say (x/y: X = northing).")
@click.option("--col", "cols", multiple=True, metavar="FIELD=COLUMN", help="Map a column.")
@click.option("--extent", type=click.Choice(["province", "none"]), default="province",
              show_default=True, help="Check points against the province box of settings.")
@click.option("--drop-outside", is_flag=True, help="Report points outside as dropped.")
@click.option("--fill-voids", is_flag=True, help="DEM: report how many voids can be filled.")
@click.option("--communes", help="Villages: commune boundaries to place villages without a "
              "commune_code and to compare with their census (default: the 151 commune facts).")
@json_option
@command_errors
def validate_cmd(file, kind, crs, cols, extent, drop_outside, fill_voids, communes,
                 as_json) -> None:
    """Check one file: counts, what the reader decided, problems (exit 2 on the first error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PhusongWarning)
        report = _summary(kind, file, crs, _pairs(cols, "--col"), extent, drop_outside,
                          fill_voids, communes)
    problems = [str(w.message) for w in caught if issubclass(w.category, PhusongWarning)]
    report = {"file": str(file), "kind": kind, "ok": True, **report, "warnings": problems}
    for p in problems:
        click.echo(f"warning: {p}", err=True)
    lines = [f"{file}: valid {kind}"] + [
        f"  {k}: {v}" for k, v in report.items()
        if k not in ("file", "kind", "ok", "warnings", "census")]
    if "census" in report:
        lines += _census_lines(report["census"])
    emit(report, as_json=as_json, lines=lines)


COMMANDS: list = [data]
