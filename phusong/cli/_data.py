"""``phusong data import`` and ``phusong data validate``: real files in, a checked bundle out.

Examples
--------
::

    phusong data import --communes xa.zip --communes-crs EPSG:9211 \\
        --sites tram.xlsx --col site_id=MA_TRAM --col lat=VI_DO --col lon=KINH_DO \\
        --dem N21E105.hgt --roads province.osm --out hoabinh_bundle --licence sites="Viettel"
    phusong data validate tram.csv --kind sites --col x=X --col y=Y --crs EPSG:9211
"""

from __future__ import annotations

import warnings

import click
import numpy as np

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
@click.option("--roads", help="Roads: .gpkg, .geojson, .shp/.zip or OSM XML (.osm).")
@click.option("--fibre", help="Fibre network: OFDS-like GeoJSON (spans and nodes).")
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
               sites, cells, opencellid, cols, sites_crs, rows, dem, fill_voids, population,
               landcover, antennas_dir, villages, village_cols, roads, fibre, extent,
               drop_outside, licences, out, name, overwrite, as_json, quiet) -> None:
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
        sites=sites, cells=cells, opencellid=opencellid, columns=_pairs(cols, "--col"),
        sites_crs=sites_crs, rows=rows, dem=dem, population=population, villages=villages,
        village_columns=_pairs(village_cols, "--village-col"), roads=roads, fibre=fibre,
        fill_voids=fill_voids, extent=extent, drop_outside=drop_outside, licences=lic,
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
    emit(report, as_json=as_json, lines=lines)


def _import_radio(spec, out, name, overwrite, antennas_dir):
    """Import with a land cover and/or antenna files, checked before anything is written."""
    from pathlib import Path

    from phusong.bundle import save_bundle
    from phusong.coverage.clutter import bundle_clutter
    from phusong.coverage.msi import PATTERN_EXTENSIONS, read_msi
    from phusong.io.atomic import check_writable
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


def _summary(kind: str, path, crs, cols, extent, drop_outside, fill_voids) -> dict:
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
        imp = read_villages(path, columns=cols, crs=crs, **pts)
        return {"rows": len(imp.data), "households": int(imp.data["households"].sum()),
                "population": int(imp.data["population"].sum()), "notes": imp.notes}
    if kind == "roads":
        imp = read_roads(path, crs=crs)
        return {"rows": len(imp.data), "length_km": float(imp.data["length_m"].sum() / 1000),
                "classes": imp.data["road_class"].value_counts().to_dict(), "notes": imp.notes}
    if kind == "fibre":
        spans, nodes = read_fibre(path, crs=crs)
        return {"spans": len(spans.data), "nodes": 0 if nodes is None else len(nodes.data),
                "notes": spans.notes}
    imp = read_dem(path, crs=crs, fill_voids=fill_voids) if kind == "dem" else read_population(
        path, crs=crs)
    a = imp.data.array
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
@json_option
@command_errors
def validate_cmd(file, kind, crs, cols, extent, drop_outside, fill_voids, as_json) -> None:
    """Check one file: counts, what the reader decided, problems (exit 2 on the first error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PhusongWarning)
        report = _summary(kind, file, crs, _pairs(cols, "--col"), extent, drop_outside,
                          fill_voids)
    problems = [str(w.message) for w in caught if issubclass(w.category, PhusongWarning)]
    report = {"file": str(file), "kind": kind, "ok": True, **report, "warnings": problems}
    for p in problems:
        click.echo(f"warning: {p}", err=True)
    lines = [f"{file}: valid {kind}"] + [
        f"  {k}: {v}" for k, v in report.items() if k not in ("file", "kind", "ok", "warnings")]
    emit(report, as_json=as_json, lines=lines)


COMMANDS: list = [data]
