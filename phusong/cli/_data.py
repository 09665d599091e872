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
@click.option("--villages", help="Villages: CSV/XLSX with coordinates, or a point file.")
@click.option("--village-col", "village_cols", multiple=True, metavar="FIELD=COLUMN",
              help="Map a villages column, e.g. --village-col households=SO_HO.")
@click.option("--villages-scale", type=click.Choice(["given", "census", "raster"]),
              default="given", show_default=True,
              help="Village households: as given; the commune census spread over each commune's "
              "villages; or the persons of the nearest --population cells / 3.86 per household.")
@click.option("--settlements-from-population", is_flag=True,
              help="No village list: derive settlement points from --population (labelled).")
@click.option("--roads", help="Roads: .gpkg, .geojson, .shp/.zip or OSM XML (.osm).")
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
               opencellid, cols, sites_crs, rows, dem, fill_voids, population, villages,
               village_cols, villages_scale, settlements_from_population, roads, fibre,
               extent, drop_outside, licences, out, name, overwrite, as_json, quiet) -> None:
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
    )
    with progress("importing", total=None, quiet=quiet or as_json):
        bundle, path = import_bundle(spec, out, name=name, overwrite=overwrite)
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
