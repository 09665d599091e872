"""Roads from GeoPackage, GeoJSON, Shapefile or OpenStreetMap (``.osm`` XML, ``.osm.pbf``).

Every road gets a ``road_class`` in ``settings.ROAD_CLASSES`` and the ``cost_factor`` of that
class (``settings.ROAD_COST_FACTOR``). The class comes from a ``road_class`` column, an OSM
``highway`` (or Geofabrik ``fclass``) value, a Vietnamese road type, or the road number
(``QL`` national, ``ĐT``/``TL`` provincial, ``ĐH``/``HL`` district); a road with none of these
is taken as a commune road, and the count goes into the notes. OSM files are read by
:mod:`phusong.io.osm` (osmnx for XML, pyosmium for PBF), cut to the communes' extent when given.

OSM ``highway`` → phusong road class → cost factor (multiplier on the aerial fibre cost per
km, ``settings.ROAD_COST_FACTOR``):

=================================================================  ==========  ===========
OSM ``highway``                                                    class       cost factor
=================================================================  ==========  ===========
motorway, motorway_link, trunk, trunk_link                         national    1.0
primary, primary_link                                              provincial  1.0
secondary, secondary_link                                          district    1.1
tertiary, tertiary_link, unclassified, residential,                commune     1.25
living_street, service
track, path                                                        track       1.6
any other value (e.g. ``road``, OSM's "type unknown")              commune     1.25 (noted)
footway, steps, cycleway, bridleway, pedestrian, corridor,         (skipped: no route for a cable)
elevator, platform, bus_stop, construction, proposed, abandoned,
raceway, via_ferrata
=================================================================  ==========  ===========

Examples
--------
>>> road_class_of("trunk"), road_class_of("tertiary"), road_class_of(None, ref="ĐT.435")
('national', 'commune', 'provincial')
>>> all(settings.ROAD_COST_FACTOR[c] > 0 for c in HIGHWAY_CLASS.values())
True
"""

from __future__ import annotations

import re
import unicodedata

import geopandas as gpd
import numpy as np

from phusong import settings
from phusong.errors import FormatError
from phusong.io._files import Imported, require_file
from phusong.io.osm import is_osm, read_osm
from phusong.io.vector import read_vector

__all__ = ["HIGHWAY_CLASS", "SKIP_HIGHWAY", "road_class_of", "classify_roads", "read_roads"]

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
SKIP_HIGHWAY = frozenset({"footway", "steps", "cycleway", "bridleway", "pedestrian", "corridor", "elevator",
         "platform", "bus_stop", "construction", "proposed", "abandoned", "raceway", "via_ferrata"})
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


def read_roads(path, *, crs: str | None = None, layer: str | None = None,
               extent=None) -> Imported:
    """Read roads and give each a class and a cost factor.

    Parameters
    ----------
    path : str or Path
        ``.osm`` XML, ``.osm.pbf``, or a vector file (see :func:`phusong.io.vector.read_vector`).
    crs, layer : str, optional
        For vector files: CRS when the file has none; GeoPackage layer.
    extent : shapely geometry, optional
        OSM files: polygon in EPSG:4326 (:func:`phusong.io.osm.osm_extent` of the communes)
        the roads are cut to; an extract without roads there is an error.

    Returns
    -------
    Imported
        ``data``: GeoDataFrame (EPSG:4326) with road_id, road_class, cost_factor, ref, name,
        length_m (in ``settings.WORK_CRS``) and the line.
    """
    p = require_file(path, "roads")
    notes: list[str] = []
    if is_osm(p):
        gdf = read_osm(p, extent=extent)
        notes.append("OpenStreetMap " + ("PBF (pyosmium)" if p.suffix.lower() == ".pbf"
                                         else "XML (osmnx)") + ", highway=* ways"
                     + (", cut to the communes' extent" if extent is not None else ""))
    else:
        gdf, notes = read_vector(p, crs=crs, layer=layer, what="roads")
    return Imported(classify_roads(gdf, notes, source=p), p.name, notes)


def classify_roads(gdf, notes: list[str], *, source="roads") -> gpd.GeoDataFrame:
    """Give each line of ``gdf`` a ``road_class`` and ``cost_factor`` (module doc).

    Parameters
    ----------
    gdf : GeoDataFrame
        Lines with any of the class, number, name and id columns the module doc lists.
    notes : list of str
        Appended to: what was decided (unknown classes, counts per class).
    source : str or Path
        Named in errors.

    Returns
    -------
    GeoDataFrame
        ``road_id``, ``road_class``, ``cost_factor``, ``ref``, ``name``, ``length_m`` (in
        ``settings.WORK_CRS``) and the line, in the CRS of ``gdf``.
    """
    p = source
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
    return out



def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""
