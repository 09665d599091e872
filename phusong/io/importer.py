"""Build a province bundle from a planner's real files (``phusong data import``).

Every layer records its provenance: the source file name, the licence the user states
(``licences={"sites": "operator, internal"}``; OpenCelliD defaults to CC BY-SA 4.0 and OSM
XML to ODbL 1.0), ``synthetic=False``, and the reader's notes (defaults applied, encoding
detected, CRS reprojected, rows dropped). The bundle is validated and written atomically by
:func:`phusong.bundle.save_bundle`: on any error nothing is left behind.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from shapely.geometry import shape
from shapely.ops import unary_union

from phusong import settings
from phusong.bundle import Bundle, Provenance, save_bundle
from phusong.errors import CoverageWarning, DataError
from phusong.io._files import Imported
from phusong.io.fibre import read_fibre
from phusong.io.osm import is_osm, osm_extent
from phusong.io.rasters import read_dem, read_population
from phusong.io.roads import read_roads
from phusong.io.sites import read_cells, read_opencellid, read_sites
from phusong.io.vector import read_communes
from phusong.io.villages import read_villages

__all__ = ["ImportSpec", "EXTENT_MARGIN_DEG", "LAYER_KEYS", "build_bundle", "import_bundle",
           "dem_short_communes"]

#: Margin around the communes' bounds for the extent check, degrees (≈ 5 km: sites just
#: across the border serve border villages).
EXTENT_MARGIN_DEG = 0.05
#: Layers a licence can be given for (``--licence LAYER=TEXT``).
LAYER_KEYS = ("communes", "communes_2025", "sites", "cells", "villages", "roads", "fibre",
              "fibre_nodes", "dem", "population", "landcover")
_DEFAULT_LICENCE = {"opencellid": "CC BY-SA 4.0 (OpenCelliD)", ".osm": "ODbL 1.0 (OpenStreetMap)"}


@dataclass
class ImportSpec:
    """What to import: files and their options (the command line's flags).

    Attributes
    ----------
    communes : path
        Commune boundaries (required).
    communes_crs, communes_layer, communes_code_col, communes_name_col : str, optional
        CRS when the file has none (Shapefile without .prj), GeoPackage layer, join columns.
    communes_2025, communes_2025_code_col, communes_2025_name_col : path / str, optional
        Boundaries of the 2025 units (the ``communes_2025`` layer, same CRS option as
        ``communes``) and their join columns (:func:`phusong.io.units_2025.read_communes_2025`).
    sites, cells, opencellid : path, optional
        Operator lists (``sites`` one row per site or per cell; ``cells`` referring to sites)
        and an OpenCelliD CSV.
    columns : dict
        Field → column mapping for sites/cells (``--col``).
    sites_crs : str, optional
        CRS of x/y (X = northing) or non-WGS 84 lat/lon in the operator lists.
    rows : str
        ``auto``/``site``/``cell`` (see :func:`phusong.io.sites.read_sites`).
    dem, population, villages, roads, fibre : path, optional
        Further layers.
    village_columns : dict
        Field → column mapping for villages.
    fill_voids : bool
        Fill DEM voids by interpolation.
    extent : {"communes", "province", "none"}
        Box that points must lie in: the communes' bounds plus :data:`EXTENT_MARGIN_DEG`,
        ``settings.PROVINCE_BBOX``, or no check.
    drop_outside : bool
        Drop points outside the extent with a warning instead of refusing.
    licences : dict
        Layer → licence text.
    villages_scale : {"given", "census", "raster"}
        Keep the villages' households as given, spread each commune's census over its
        villages, or give each village the persons of its nearest populated cells of
        ``population`` (:mod:`phusong.io.census`).
    settlements_from_population : bool
        With no ``villages``: derive settlement points from ``population`` (labelled).
    landcover : path, optional
        ESA WorldCover GeoTIFF (class codes; checked by the coverage engine's clutter).
    """

    communes: str | Path
    communes_crs: str | None = None
    communes_layer: str | None = None
    communes_code_col: str | None = None
    communes_name_col: str | None = None
    communes_2025: str | Path | None = None
    communes_2025_code_col: str | None = None
    communes_2025_name_col: str | None = None
    sites: str | Path | None = None
    cells: str | Path | None = None
    opencellid: str | Path | None = None
    columns: dict[str, str] = field(default_factory=dict)
    sites_crs: str | None = None
    rows: str = "auto"
    dem: str | Path | None = None
    population: str | Path | None = None
    villages: str | Path | None = None
    village_columns: dict[str, str] = field(default_factory=dict)
    roads: str | Path | None = None
    fibre: str | Path | None = None
    fill_voids: bool = False
    extent: str = "communes"
    drop_outside: bool = False
    licences: dict[str, str] = field(default_factory=dict)
    villages_scale: str = "given"
    settlements_from_population: bool = False
    landcover: str | Path | None = None


def _prov(imp: Imported, layer: str, spec: ImportSpec, default: str = "unknown",
          extra: str = "") -> Provenance:
    licence = spec.licences.get(layer) or (spec.licences.get("fibre") if layer == "fibre_nodes"
                                           else None) or default
    return Provenance(f"{imp.source}{extra}", licence, False, imp.note)


def _merge(parts: list[Imported], id_col: str, layer: str) -> Imported:
    frames = [p.data for p in parts]
    data = pd.concat(frames, ignore_index=True)
    if hasattr(frames[0], "crs"):
        import geopandas as gpd

        data = gpd.GeoDataFrame(data, geometry="geometry", crs=frames[0].crs)
    dup = data[id_col].duplicated(keep=False)
    if dup.any():
        raise DataError(f"{layer}: {id_col} {sorted(set(data.loc[dup, id_col]))[:5]} appear in "
                        f"more than one of {[p.source for p in parts]}; ids must be unique")
    return Imported(data, " + ".join(p.source for p in parts),
                    [f"{p.source}: {p.note}" for p in parts if p.note])


def build_bundle(spec: ImportSpec, *, name: str) -> Bundle:
    """Read every file of ``spec`` and assemble a :class:`~phusong.bundle.Bundle` (not saved).

    Raises
    ------
    PhusongError
        The first problem found, as one line naming the file, row or field and the fix.
    """
    layers: dict = {}
    prov: dict[str, Provenance] = {}
    rasters: dict = {}
    com = read_communes(spec.communes, crs=spec.communes_crs, layer=spec.communes_layer,
                        code_column=spec.communes_code_col, name_column=spec.communes_name_col)
    layers["communes"] = com.data
    prov["communes"] = _prov(com, "communes", spec, extra=" + phusong commune facts")
    if spec.communes_2025 is not None:
        from phusong.io.units_2025 import read_communes_2025

        u25 = read_communes_2025(spec.communes_2025, crs=spec.communes_crs,
                                 code_column=spec.communes_2025_code_col,
                                 name_column=spec.communes_2025_name_col, communes=com.data)
        layers["communes_2025"] = u25.data
        prov["communes_2025"] = _prov(u25, "communes_2025", spec)
    if spec.extent == "communes":
        w, s, e, n = com.data.total_bounds
        m = EXTENT_MARGIN_DEG
        extent = (w - m, s - m, e + m, n + m)
    elif spec.extent == "province":
        extent = settings.PROVINCE_BBOX
    elif spec.extent == "none":
        extent = None
    else:
        raise DataError(f"extent {spec.extent!r}: use communes, province or none")
    opts = {"extent": extent, "drop_outside": spec.drop_outside}
    site_parts, cell_parts = [], []
    if spec.sites is not None:
        sites, cells = read_sites(spec.sites, columns=spec.columns, crs=spec.sites_crs,
                                  rows=spec.rows, need_cells=spec.cells is None, **opts)
        site_parts.append(sites)
        if spec.cells is not None:
            cells = read_cells(spec.cells, sites=sites.data, columns=spec.columns)
        if cells is not None:
            cell_parts.append(cells)
    elif spec.cells is not None:
        sites, cells = read_sites(spec.cells, columns=spec.columns, crs=spec.sites_crs,
                                  rows="cell", **opts)
        site_parts.append(sites)
        cell_parts.append(cells)
    if spec.opencellid is not None:
        sites, cells = read_opencellid(spec.opencellid, **opts)
        licence = spec.licences.get("sites") or _DEFAULT_LICENCE["opencellid"]
        sites.notes.insert(0, f"licence {licence}")
        site_parts.append(sites)
        cell_parts.append(cells)
    if site_parts:
        sites = _merge(site_parts, "site_id", "sites")
        layers["sites"] = sites.data
        default = _DEFAULT_LICENCE["opencellid"] if spec.sites is None and spec.cells is None \
            else "unknown"
        prov["sites"] = _prov(sites, "sites", spec, default)
        if cell_parts:
            cells = _merge(cell_parts, "cell_id", "cells")
            layers["cells"] = cells.data
            prov["cells"] = _prov(cells, "cells", spec, default)
    if spec.roads is not None:
        osm = is_osm(spec.roads)
        # OSM extracts (a whole country's PBF) are cut to the communes; vector files as given
        roads = read_roads(spec.roads, extent=osm_extent(com.data) if osm else None)
        layers["roads"] = roads.data
        prov["roads"] = _prov(roads, "roads", spec, _DEFAULT_LICENCE[".osm"] if osm else "unknown")
    if spec.fibre is not None:
        spans, nodes = read_fibre(spec.fibre)
        if spans is not None:
            layers["fibre"] = spans.data
            prov["fibre"] = _prov(spans, "fibre", spec)
        if nodes is not None:
            layers["fibre_nodes"] = nodes.data
            prov["fibre_nodes"] = _prov(nodes, "fibre_nodes", spec)
    if spec.dem is not None:
        dem = read_dem(spec.dem, fill_voids=spec.fill_voids)
        rasters["dem"] = dem.data
        short = dem_short_communes(com.data, dem.data)
        if short:
            dem.notes.append(f"covers less than {settings.DEM_MIN_COMMUNE_SHARE:.0%} of "
                             f"{len(short)} commune(s): {', '.join(short)}")
        prov["dem"] = _prov(dem, "dem", spec)
    if spec.population is not None:
        pop = read_population(spec.population)
        rasters["population"] = pop.data
        prov["population"] = _prov(pop, "population", spec)
    vil = _villages(spec, com, rasters.get("population"), opts)
    if vil is not None:
        layers["villages"] = vil.data
        prov["villages"] = _prov(vil, "villages", spec,
                                 "n/a (derived)" if spec.villages is None else "unknown")
    if spec.landcover is not None:
        from phusong.raster import read_raster

        rasters["landcover"] = read_raster(spec.landcover, unit="class")
        prov["landcover"] = Provenance(str(spec.landcover), spec.licences.get(
            "landcover") or "CC BY 4.0 (ESA WorldCover)", False, "land-cover classes")
    meta = {"imported_by": "phusong data import",
            "extent": list(extent) if extent is not None else "none"}
    return Bundle(name, layers, rasters, prov, "2020", meta)


def _villages(spec: ImportSpec, com: Imported, population, opts: dict) -> Imported | None:
    """Villages as read, rescaled (``villages_scale``) or derived from the population raster,
    with the census reconciliation in their notes (:mod:`phusong.io.census`)."""
    from phusong.io.census import (
        SCALE_MODES,
        census_shares,
        census_summary,
        check_excess,
        scale_to_census,
        settlements_from_raster,
        villages_from_raster,
    )

    if spec.villages_scale not in SCALE_MODES:
        raise DataError(f"villages scale {spec.villages_scale!r}: use one of {list(SCALE_MODES)}")
    needs_raster = spec.villages_scale == "raster" or spec.settlements_from_population
    if needs_raster and population is None:
        raise DataError("--villages-scale raster / --settlements-from-population need a population "
                        "raster; add --population FILE.tif")
    if spec.settlements_from_population and spec.villages is not None:
        raise DataError("--settlements-from-population derives villages when there are none; "
                        "drop it or --villages")
    src = Path(spec.population).name if spec.population is not None else "population"
    if spec.villages is None:
        if not spec.settlements_from_population:
            if spec.villages_scale != "given":
                raise DataError(f"--villages-scale {spec.villages_scale}: no --villages to scale")
            return None
        pts, notes = settlements_from_raster(com.data, population, source=src)
        vil = Imported(pts, f"{src} (derived settlements)", notes)
    else:
        vil = read_villages(spec.villages, columns=spec.village_columns, communes=com.data, **opts)
        before = census_summary(census_shares(vil.data, com.data))
        check_excess(census_shares(vil.data, com.data), Path(spec.villages).name)
        if spec.villages_scale == "census":
            vil = Imported(scale_to_census(vil.data, com.data), vil.source, vil.notes + [
                f"households and population scaled to the 2019 census per commune (as given: "
                f"{before['village_households']:,.0f} households, "
                f"{before['households_share_pct']:.1f} % of the census)"])
        elif spec.villages_scale == "raster":
            data, notes = villages_from_raster(vil.data, com.data, population, source=src)
            vil = Imported(data, vil.source, vil.notes + notes)
    summ = census_summary(census_shares(vil.data, com.data))
    vil.notes.append(
        f"census: villages represent {summ['households_represented_pct']:.1f} % of the "
        f"{summ['census_households']:,.0f} census households "
        f"({summ['communes_without_villages']} of {summ['communes']} communes without a village; "
        "their households count as unknown in the gap tables)")
    return vil


def dem_short_communes(communes, dem, *, min_share: float | None = None) -> list[str]:
    """Communes the DEM covers less than ``min_share`` of (codes), with a warning naming them.

    The share is the part of each commune's area inside the DEM's footprint with valid
    heights, measured in WORK_CRS. Villages and cells off the DEM are scored ``unknown``, so
    this tells the user before any coverage is run.

    Parameters
    ----------
    communes : GeoDataFrame
        Commune polygons (``commune_code``).
    dem : phusong.bundle.Raster
        Elevation, any CRS.
    min_share : float, optional
        Default ``settings.DEM_MIN_COMMUNE_SHARE``.

    Returns
    -------
    list of str
        ``"code (name) 63 %"`` for each commune under the share, in code order.
    """
    import geopandas as gpd
    from rasterio.features import shapes

    share_min = settings.DEM_MIN_COMMUNE_SHARE if min_share is None else float(min_share)
    valid = np.isfinite(np.asarray(dem.array)).astype("uint8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # rasterio's Affine `*`
        polys = [shape(g) for g, v in shapes(valid, mask=valid.astype(bool),
                                             transform=dem.transform) if v == 1]
    if not polys:
        return []
    foot = gpd.GeoSeries([unary_union(polys)], crs=dem.crs).to_crs(settings.WORK_CRS).iloc[0]
    c = communes.to_crs(settings.WORK_CRS)
    area = c.geometry.area.to_numpy()
    inside = c.geometry.intersection(foot).area.to_numpy()
    share = np.where(area > 0, inside / np.where(area > 0, area, 1.0), 1.0)
    names = c["name"].astype(str).to_numpy() if "name" in c.columns else [""] * len(c)
    short = [f"{code} ({name}) {100 * s:.0f} %" for code, name, s in
             zip(c["commune_code"].astype(str), names, share, strict=True) if s < share_min]
    if short:
        warnings.warn(f"DEM covers less than {share_min:.0%} of {len(short)} commune(s): "
                      f"{'; '.join(short[:10])}{' …' if len(short) > 10 else ''}; their villages "
                      "off the DEM will be scored unknown — add DEM tiles that cover them",
                      CoverageWarning, stacklevel=2)
    return short


def import_bundle(spec: ImportSpec, out: str | Path, *, name: str | None = None,
                  overwrite: bool = False) -> tuple[Bundle, Path]:
    """Build a bundle from ``spec`` and save it atomically to the folder ``out``.

    Parameters
    ----------
    spec : ImportSpec
        Files and options.
    out : str or Path
        Bundle folder; refused if it exists unless ``overwrite``.
    name : str, optional
        Bundle name (default: the folder name).
    overwrite : bool
        Replace an existing folder once the new one is complete.

    Returns
    -------
    (Bundle, Path)
        The bundle and the folder written.
    """
    from phusong.atomic import check_writable

    out = Path(out)
    check_writable(out, overwrite=overwrite)  # refuse early, before the slow reads
    bundle = build_bundle(spec, name=name or out.name)
    path = save_bundle(bundle, out, overwrite=overwrite)
    return bundle, path
