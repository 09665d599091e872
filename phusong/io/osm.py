"""OpenStreetMap roads: XML (``.osm``) through osmnx, PBF (``.osm.pbf``) through pyosmium, and
downloads through osmnx's Overpass client, clipped to an extent.

Every reader returns the ways tagged ``highway=*`` that are routes for cables (footways, steps,
platforms … are left out, :data:`phusong.io.roads.SKIP_HIGHWAY`) as lines in EPSG:4326 with
``road_id`` (``osm_way_<id>``), ``highway``, ``ref`` and ``name``; the classes and cost factors
are given by :func:`phusong.io.roads.read_roads`. The road graph itself (simplification and
intersection consolidation by osmnx) is built from those lines by
:func:`phusong.network.roads.road_graph`.

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.osm"
>>> _ = p.write_text('''<osm version="0.6">
... <node id="1" lat="20.80" lon="105.30"/><node id="2" lat="20.81" lon="105.31"/>
... <way id="7"><nd ref="1"/><nd ref="2"/><tag k="highway" v="tertiary"/>
... <tag k="name" v="Đường Cù Chính Lan"/></way></osm>''', encoding="utf-8")
>>> read_osm(p)[["road_id", "highway", "name"]].values.tolist()
[['osm_way_7', 'tertiary', 'Đường Cù Chính Lan']]
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from xml.etree.ElementTree import ParseError
from xml.sax import SAXException

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from phusong import settings
from phusong.errors import FormatError, InputFileError
from phusong.io._files import require_file

__all__ = ["read_osm", "read_osm_xml", "read_osm_pbf", "download_osm_roads", "osm_extent",
           "is_osm", "CLIP_BUFFER_M"]

#: Roads are kept within this distance of the communes, m (a road just outside the boundary
#: may still join two villages inside).
CLIP_BUFFER_M = 2000.0
_COLUMNS = ["road_id", "highway", "ref", "name", "geometry"]
_PBF = (".pbf", ".o5m")


def is_osm(path) -> bool:
    """True for OpenStreetMap files: ``.osm``, ``.osm.xml``, ``.osm.pbf``, ``.pbf``."""
    name = Path(path).name.lower()
    return name.endswith((".osm", ".osm.xml", ".pbf", ".o5m"))


def osm_extent(communes, buffer_m: float = CLIP_BUFFER_M):
    """The communes' union grown by ``buffer_m``, as one (Multi)Polygon in EPSG:4326.

    Parameters
    ----------
    communes : GeoDataFrame
        Commune polygons, any CRS.
    buffer_m : float
        Margin, m.
    """
    from phusong.crs import to_work

    work = to_work(communes, "communes").geometry.to_numpy()
    poly = shapely.union_all(shapely.make_valid(work)).buffer(buffer_m)
    return gpd.GeoSeries([poly], crs=settings.WORK_CRS).to_crs(settings.STORE_CRS).iloc[0]


def _skip() -> frozenset:
    from phusong.io.roads import SKIP_HIGHWAY

    return SKIP_HIGHWAY


def _finish(rows: list[dict], p, extent) -> gpd.GeoDataFrame:
    """Lines → frame; cut to ``extent``; a clear error when nothing is left."""
    skip = _skip()
    gdf = gpd.GeoDataFrame(rows, columns=_COLUMNS, geometry="geometry", crs=settings.STORE_CRS)
    gdf = gdf[~gdf["highway"].isin(skip)]
    if extent is not None and len(gdf):
        geoms = gdf.geometry.to_numpy()
        inside = shapely.intersects(geoms, extent)
        gdf = gdf[inside].copy()
        cut = shapely.intersection(gdf.geometry.to_numpy(), extent)
        gdf = gdf.set_geometry(cut).explode(index_parts=False, ignore_index=True)
        gdf = gdf[gdf.geom_type == "LineString"].reset_index(drop=True)
        # a way cut in several pieces by the extent: ids stay unique (osm_way_7, osm_way_7_2 …)
        k = gdf.groupby("road_id").cumcount().to_numpy()
        gdf["road_id"] = [r if i == 0 else f"{r}_{i + 1}" for r, i in zip(gdf["road_id"], k,
                                                                          strict=True)]
    if not len(gdf):
        where = " in the communes' extent" if extent is not None else ""
        raise FormatError(f"{p}: no roads (ways tagged highway=*){where}; use an extract that "
                          "covers the communes (e.g. Geofabrik's vietnam-latest.osm.pbf)")
    return gdf.reset_index(drop=True)


def read_osm_xml(path, *, extent=None) -> gpd.GeoDataFrame:
    """Roads of an OSM XML file, read by :func:`osmnx.features.features_from_xml`.

    Parameters
    ----------
    path : str or Path
        ``.osm`` / ``.osm.xml``.
    extent : shapely geometry, optional
        Polygon in EPSG:4326 (e.g. :func:`osm_extent`); roads are cut to it.

    Returns
    -------
    GeoDataFrame
        ``road_id``, ``highway``, ``ref``, ``name``, line (EPSG:4326).
    """
    import osmnx as ox

    p = require_file(path, "OSM")
    try:
        feats = ox.features.features_from_xml(p, tags={"highway": True})
    except ox._errors.InsufficientResponseError:
        feats = gpd.GeoDataFrame(columns=["highway", "geometry"], geometry="geometry",
                                 crs=settings.STORE_CRS)
    except (ParseError, SAXException, KeyError, ValueError, TypeError) as exc:  # broken file
        raise FormatError(f"{p}: not valid OSM XML ({type(exc).__name__}: {exc}); export the "
                          "file again") from None
    rows = []
    if len(feats):
        ways = feats.xs("way", level="element") if "way" in feats.index.get_level_values(0) \
            else feats.iloc[:0]
        ways = ways[ways.geom_type == "LineString"]
        for way_id, r in ways.iterrows():
            rows.append({"road_id": f"osm_way_{way_id}", "highway": str(r["highway"]),
                         "ref": _text(r.get("ref")), "name": _text(r.get("name")),
                         "geometry": r.geometry})
    return _finish(rows, p, extent)


def _text(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v) else str(v)


def read_osm_pbf(path, *, extent=None) -> gpd.GeoDataFrame:
    """Roads of an OSM PBF extract, read by pyosmium (node locations cached in memory).

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf`` (e.g. Geofabrik's ``vietnam-latest.osm.pbf``).
    extent : shapely geometry, optional
        Polygon in EPSG:4326; ways outside its bounding box are skipped while reading, the rest
        cut to it.

    Returns
    -------
    GeoDataFrame
        As :func:`read_osm_xml`.
    """
    import osmium

    p = require_file(path, "OSM PBF")
    box = None if extent is None else extent.bounds
    skip = _skip()
    rows = []
    try:
        fp = (osmium.FileProcessor(str(p), osmium.osm.NODE | osmium.osm.WAY)
              .with_locations().with_filter(osmium.filter.KeyFilter("highway")))
        for obj in fp:
            if not obj.is_way():
                continue
            hw = obj.tags.get("highway")
            if hw in skip:
                continue
            xy = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if len(xy) < 2:
                continue
            if box is not None:
                a = np.asarray(xy)
                if (a[:, 0].max() < box[0] or a[:, 0].min() > box[2]
                        or a[:, 1].max() < box[1] or a[:, 1].min() > box[3]):
                    continue
            rows.append({"road_id": f"osm_way_{obj.id}", "highway": hw,
                         "ref": obj.tags.get("ref"), "name": obj.tags.get("name"),
                         "geometry": shapely.LineString(xy)})
    except RuntimeError as exc:  # libosmium: "PBF error: …", "gzip error", "invalid …"
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(f"{p}: not a readable OSM PBF file ({msg}); download the extract "
                          "again") from None
    return _finish(rows, p, extent)


def read_osm(path, *, extent=None) -> gpd.GeoDataFrame:
    """Roads of an OSM file, XML or PBF by its name (see :func:`read_osm_xml`, :func:`read_osm_pbf`)."""
    name = Path(path).name.lower()
    if name.endswith(_PBF):
        return read_osm_pbf(path, extent=extent)
    return read_osm_xml(path, extent=extent)


@contextlib.contextmanager
def _overpass(url: str | None):
    """osmnx's own settings for one download: the Overpass endpoint, no cache, no pause."""
    import osmnx as ox

    keys = ("overpass_url", "use_cache", "overpass_rate_limit", "log_console")
    saved = {k: getattr(ox.settings, k) for k in keys}
    try:
        if url is not None:
            ox.settings.overpass_url = url.rstrip("/")
        ox.settings.use_cache = False
        ox.settings.log_console = False
        yield ox
    finally:
        for k, v in saved.items():
            setattr(ox.settings, k, v)


def download_osm_roads(extent, *, overpass_url: str | None = None) -> gpd.GeoDataFrame:
    """Roads inside ``extent`` from OpenStreetMap, through osmnx (needs internet).

    :func:`osmnx.graph.graph_from_polygon` asks Overpass for the ``highway=*`` ways that are
    routes for cables (osmnx's ``custom_filter``) and keeps those that cross the polygon; the
    pieces of each way are joined back into one line per way.

    Parameters
    ----------
    extent : shapely geometry
        Polygon in EPSG:4326, e.g. :func:`osm_extent` of the communes.
    overpass_url : str, optional
        Overpass API endpoint (default: osmnx's ``settings.overpass_url``).

    Returns
    -------
    GeoDataFrame
        As :func:`read_osm_xml`.
    """
    skip = "|".join(sorted(_skip()))
    with _overpass(overpass_url) as ox:
        try:
            g = ox.graph.graph_from_polygon(
                extent, custom_filter=f'["highway"]["highway"!~"^({skip})$"]', simplify=False,
                retain_all=True, truncate_by_edge=True)
        except ox._errors.InsufficientResponseError:
            raise FormatError("OpenStreetMap download: no roads in the communes' extent") from None
        except (OSError, ValueError) as exc:
            raise InputFileError(f"OpenStreetMap download from {ox.settings.overpass_url} "
                                 f"failed ({type(exc).__name__}: {exc}); check the connection "
                                 "or pass --overpass-url") from None
    # unsimplified, each edge is one piece of one way: join the pieces back into the ways
    edges = ox.convert.graph_to_gdfs(ox.convert.to_undirected(g), nodes=False)
    rows = []
    for osmid, grp in edges.groupby("osmid", sort=True):
        merged = shapely.line_merge(shapely.union_all(grp.geometry.to_numpy()))
        first = grp.iloc[0]
        for k, line in enumerate(shapely.get_parts(merged)):
            rows.append({"road_id": f"osm_way_{osmid}" + (f"_{k + 1}" if k else ""),
                         "highway": str(first["highway"]), "ref": _text(first.get("ref")),
                         "name": _text(first.get("name")), "geometry": line})
    return _finish(rows, "OpenStreetMap download", extent)
