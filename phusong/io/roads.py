"""Roads from GeoPackage, GeoJSON, Shapefile or OpenStreetMap XML (``.osm``).

Every road gets a ``road_class`` in ``settings.ROAD_CLASSES`` and the ``cost_factor`` of that
class (``settings.ROAD_COST_FACTOR``). The class comes from a ``road_class`` column, an OSM
``highway`` (or Geofabrik ``fclass``) value, a Vietnamese road type, or the road number
(``QL`` national, ``ĐT``/``TL`` provincial, ``ĐH``/``HL`` district); a road with none of these
is taken as a commune road, and the count goes into the notes.

OSM ``highway`` → class: motorway/trunk → national, primary → provincial, secondary →
district, tertiary/unclassified/residential/service… → commune, track/path → track.

Examples
--------
>>> road_class_of("trunk"), road_class_of("tertiary"), road_class_of(None, ref="ĐT.435")
('national', 'commune', 'provincial')
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
from shapely.geometry import LineString

from phusong import settings
from phusong.errors import FormatError
from phusong.io._files import Imported, require_file
from phusong.io.vector import read_vector

__all__ = ["HIGHWAY_CLASS", "road_class_of", "read_osm_roads", "read_roads"]

#: OSM ``highway`` value → road class.
HIGHWAY_CLASS: dict[str, str] = {
    **dict.fromkeys(("motorway", "motorway_link", "trunk", "trunk_link"), "national"),
    **dict.fromkeys(("primary", "primary_link"), "provincial"),
    **dict.fromkeys(("secondary", "secondary_link"), "district"),
    **dict.fromkeys(("tertiary", "tertiary_link", "unclassified", "residential",
                     "living_street", "service"), "commune"),
    **dict.fromkeys(("track", "path"), "track"),
}
#: Highway values that are not routes for cables (skipped in OSM files).
_SKIP = {"footway", "steps", "cycleway", "bridleway", "pedestrian", "corridor", "elevator",
         "platform", "bus_stop", "construction", "proposed", "abandoned", "raceway", "via_ferrata"}
_VI_CLASS = (("quoc lo", "national"), ("tinh lo", "provincial"), ("duong tinh", "provincial"),
             ("huyen lo", "district"), ("duong huyen", "district"), ("duong xa", "commune"),
             ("duong mon", "track"), ("duong dat", "track"))
_REF = ((r"^(QL|AH|CT)", "national"), (r"^(DT|TL)", "provincial"), (r"^(DH|HL)", "district"),
        (r"^(DX)", "commune"))
_CLASS_COLUMNS = ("road_class", "highway", "fclass", "class", "loai_duong", "cap_duong", "type")


def _ascii(text) -> str:
    s = unicodedata.normalize("NFD", str(text)).replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in s if not unicodedata.combining(ch)).lower().strip()


def road_class_of(value, *, ref=None) -> str | None:
    """Road class of a class/highway value or, failing that, of a road number; None if unknown."""
    if value is not None and str(value).strip() and str(value).lower() != "nan":
        v = _ascii(value).replace(" ", "_")
        if v in settings.ROAD_CLASSES:
            return v
        if v in HIGHWAY_CLASS:
            return HIGHWAY_CLASS[v]
        text = v.replace("_", " ")
        for words, cls in _VI_CLASS:
            if words in text:
                return cls
    if ref is not None and str(ref).strip() and str(ref).lower() != "nan":
        r = re.sub(r"[^A-Z]", "", _ascii(ref).upper())
        for pattern, cls in _REF:
            if re.match(pattern, r):
                return cls
    return None


def read_osm_roads(path) -> gpd.GeoDataFrame:
    """Ways tagged ``highway=*`` of an OSM XML file as lines (EPSG:4326).

    Columns: road_id (``osm_way_<id>``), highway, ref, name. Parsed with
    :func:`xml.etree.ElementTree.iterparse`, so files larger than memory-friendly DOMs work.
    """
    p = require_file(path, "OSM")
    nodes: dict[str, tuple[float, float]] = {}
    rows = []
    try:
        for _, el in ET.iterparse(p, events=("end",)):
            if el.tag == "node":
                nodes[el.get("id")] = (float(el.get("lon")), float(el.get("lat")))
                el.clear()
            elif el.tag == "way":
                tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
                hw = tags.get("highway")
                if hw and hw not in _SKIP:
                    refs = [nd.get("ref") for nd in el.iter("nd")]
                    rows.append((el.get("id"), hw, tags.get("ref"), tags.get("name"), refs))
                el.clear()
            elif el.tag == "relation":
                el.clear()
    except ET.ParseError as exc:
        raise FormatError(f"{p}: not valid OSM XML ({exc})") from None
    except (TypeError, ValueError):
        raise FormatError(f"{p}: an OSM node lacks lat/lon; export the file again") from None
    if not rows:
        raise FormatError(f"{p}: no roads (ways tagged highway=*) in the OSM file")
    out, short = [], 0
    for way_id, hw, ref, name, refs in rows:
        coords = [nodes[r] for r in refs if r in nodes]
        if len(coords) < 2:
            short += 1
            continue
        out.append({"road_id": f"osm_way_{way_id}", "highway": hw, "ref": ref, "name": name,
                    "geometry": LineString(coords)})
    if not out:
        raise FormatError(f"{p}: none of the {len(rows)} roads has its nodes in the file; "
                          "export with referenced nodes (e.g. osmium's complete ways)")
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")
    gdf.attrs["ways_without_nodes"] = short
    return gdf


def read_roads(path, *, crs: str | None = None, layer: str | None = None) -> Imported:
    """Read roads and give each a class and a cost factor.

    Parameters
    ----------
    path : str or Path
        ``.osm`` XML, or a vector file (see :func:`phusong.io.vector.read_vector`).
    crs, layer : str, optional
        For vector files: CRS when the file has none; GeoPackage layer.

    Returns
    -------
    Imported
        ``data``: GeoDataFrame (EPSG:4326) with road_id, road_class, cost_factor, ref, name,
        length_m (in ``settings.WORK_CRS``) and the line.
    """
    p = require_file(path, "roads")
    notes: list[str] = []
    if p.suffix.lower() == ".osm":
        gdf = read_osm_roads(p)
        if gdf.attrs.get("ways_without_nodes"):
            notes.append(f"skipped {gdf.attrs['ways_without_nodes']} way(s) whose nodes are "
                         "missing from the file")
        notes.append("OpenStreetMap XML, highway=* ways")
    else:
        gdf, notes = read_vector(p, crs=crs, layer=layer, what="roads")
    gdf = gdf.explode(index_parts=False).reset_index(drop=True) if (
        gdf.geom_type == "GeometryCollection").any() else gdf
    lines = gdf.geom_type.isin(["LineString", "MultiLineString"]).to_numpy()
    if not lines.any():
        raise FormatError(f"{p}: roads must be lines, found {sorted(set(gdf.geom_type.dropna()))}")
    if not lines.all():
        notes.append(f"ignored {int((~lines).sum())} non-line feature(s)")
        gdf = gdf[lines].reset_index(drop=True)
    lower = {str(c).lower(): c for c in gdf.columns}
    class_col = next((lower[c] for c in _CLASS_COLUMNS if c in lower), None)
    ref_col = lower.get("ref") or lower.get("so_hieu")
    name_col = lower.get("name") or lower.get("ten_duong") or lower.get("ten")
    id_col = lower.get("road_id") or lower.get("osm_id") or lower.get("id")
    classes = [road_class_of(gdf[class_col].iat[i] if class_col else None,
                             ref=gdf[ref_col].iat[i] if ref_col else None)
               for i in range(len(gdf))]
    unknown = sum(c is None for c in classes)
    if unknown:
        notes.append(f"{unknown} road(s) without a known class: taken as commune roads")
    classes = [c or "commune" for c in classes]
    ids = ([str(v) for v in gdf[id_col]] if id_col and not gdf[id_col].isna().any()
           and not gdf[id_col].duplicated().any() else [f"road_{i + 1}" for i in range(len(gdf))])
    out = gpd.GeoDataFrame(
        {
            "road_id": ids,
            "road_class": classes,
            "cost_factor": [settings.ROAD_COST_FACTOR[c] for c in classes],
            "ref": [None if not ref_col or _blank(v) else str(v) for v in
                    (gdf[ref_col] if ref_col else [None] * len(gdf))],
            "name": [None if not name_col or _blank(v) else str(v) for v in
                     (gdf[name_col] if name_col else [None] * len(gdf))],
        },
        geometry=gdf.geometry.to_numpy(),
        crs=gdf.crs,
    )
    out["length_m"] = out.to_crs(settings.WORK_CRS).length.to_numpy()
    counts = out["road_class"].value_counts()
    notes.append("classes: " + ", ".join(f"{c} {int(counts.get(c, 0))}"
                                         for c in settings.ROAD_CLASSES if counts.get(c, 0)))
    notes.append("cost_factor from settings.ROAD_COST_FACTOR")
    return Imported(out, p.name, notes)


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""
