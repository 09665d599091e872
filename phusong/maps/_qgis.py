"""A QGIS project (``.qgs``) over the layers of a GeoPackage export, with styles.

The project references the GeoPackage beside it by a relative path (``./NAME.gpkg``), so the
two files move together. Styles: candidate sites categorised by kind and technology (colour by
technology, triangle = new tower, circle = upgrade of an existing one), fibre routes by
purpose, communes graduated by their gap to the first target of the plan's gap table. Written
as plain XML (QGIS's own format, read by QGIS 3.22 LTR and later); phusong does not need QGIS
to write it. ``tests/test_qgis.py`` opens it with QGIS's Python bindings.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> sites = gpd.GeoDataFrame({"kind": ["new"], "tech": ["4G"]}, geometry=[Point(105.3, 20.8)],
...                          crs="EPSG:4326")
>>> xml = project_xml("plan.gpkg", {"candidate_sites": sites}, "EPSG:4326", "plan")
>>> "categorizedSymbol" in xml and "./plan.gpkg|layername=candidate_sites" in xml
True
"""

from __future__ import annotations

import colorsys
import xml.etree.ElementTree as ET

import numpy as np
from pyproj import CRS

__all__ = ["project_xml", "LAYER_TITLES", "TECH_COLOURS"]

#: Layer titles shown in QGIS's layer panel (Vietnamese / English).
LAYER_TITLES = {
    "communes": "Khoảng cách mục tiêu theo xã / Communes by gap",
    "fibre_routes": "Tuyến cáp quang / Fibre routes",
    "candidate_sites": "Trạm đề xuất / Candidate sites",
}
#: Colour (r, g, b) of each technology.
TECH_COLOURS = {"2G": (150, 150, 150), "3G": (255, 165, 0), "4G": (31, 120, 180),
                "5G": (227, 26, 28)}
_KIND_SHAPE = {"new": "triangle", "upgrade": "circle"}
_PURPOSE_COLOURS = {"backhaul": (106, 61, 154), "extension": (51, 160, 44)}
_GEOMETRY = {"candidate_sites": ("Point", "marker"), "fibre_routes": ("Line", "line"),
             "communes": ("Polygon", "fill")}
#: Gap ramp, low → high (ColorBrewer YlOrRd, 5 classes).
_RAMP = ((255, 255, 178), (254, 204, 92), (253, 141, 60), (240, 59, 32), (189, 0, 38))


def _rgba(rgb, alpha: int = 255) -> str:
    return ",".join(str(int(c)) for c in (*rgb, alpha))


def _palette(i: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((0.13 + 0.38 * i) % 1.0, 0.7, 0.85)
    return int(r * 255), int(g * 255), int(b * 255)


def _options(parent, props: dict) -> None:
    opt = ET.SubElement(parent, "Option", type="Map")
    for k, v in props.items():
        ET.SubElement(opt, "Option", name=k, value=str(v), type="QString")


def _symbol(parent, name: str, kind: str, props: dict) -> None:
    sym = ET.SubElement(parent, "symbol", type=kind, name=name, alpha="1", clip_to_extent="1",
                        force_rhr="0")
    cls = {"marker": "SimpleMarker", "line": "SimpleLine", "fill": "SimpleFill"}[kind]
    layer = ET.SubElement(sym, "layer", {"class": cls, "enabled": "1", "locked": "0",
                                         "pass": "0"})
    _options(layer, props)


def _marker(rgb, shape: str) -> dict:
    return {"name": shape, "color": _rgba(rgb), "outline_color": "35,35,35,255",
            "outline_width": "0.2", "outline_width_unit": "MM", "size": "3.2", "size_unit": "MM"}


def _line(rgb) -> dict:
    return {"line_color": _rgba(rgb), "line_width": "0.8", "line_width_unit": "MM",
            "line_style": "solid", "capstyle": "round", "joinstyle": "round"}


def _fill(rgb) -> dict:
    return {"color": _rgba(rgb, 200), "style": "solid", "outline_color": "90,90,90,255",
            "outline_width": "0.15", "outline_width_unit": "MM", "outline_style": "solid"}


def _categorized(parent, attr: str, cats: list[tuple[str, str, dict]], kind: str) -> None:
    r = ET.SubElement(parent, "renderer-v2", type="categorizedSymbol", attr=attr,
                      symbollevels="0", forceraster="0", enableorderby="0")
    c = ET.SubElement(r, "categories")
    syms = ET.SubElement(r, "symbols")
    for i, (value, label, props) in enumerate(cats):
        ET.SubElement(c, "category", render="true", symbol=str(i), value=value, label=label)
        _symbol(syms, str(i), kind, props)


def _sites_renderer(parent, gdf) -> None:
    pairs = sorted({(str(k), str(t)) for k, t in zip(gdf["kind"], gdf["tech"], strict=True)},
                   key=lambda p: (p[1], p[0]))
    cats = [(f"{k} {t}", f"{t} – {'trạm mới / new' if k == 'new' else 'nâng cấp / upgrade'}"
             if k in _KIND_SHAPE else f"{t} – {k}",
             _marker(TECH_COLOURS.get(t, (80, 80, 80)), _KIND_SHAPE.get(k, "square")))
            for k, t in pairs]
    _categorized(parent, """concat("kind", ' ', "tech")""", cats, "marker")


def _routes_renderer(parent, gdf) -> None:
    values = sorted({str(v) for v in gdf["purpose"]}) if len(gdf) else ["backhaul", "extension"]
    cats = [(v, v, _line(_PURPOSE_COLOURS.get(v, _palette(i)))) for i, v in enumerate(values)]
    _categorized(parent, "purpose", cats, "line")


def _communes_renderer(parent, gdf, attr: str) -> None:
    vals = gdf[attr].to_numpy(float)
    vals = vals[np.isfinite(vals)]
    hi = float(max(vals.max(), 1e-9)) if vals.size else 100.0
    edges = np.linspace(0.0, hi, len(_RAMP) + 1)
    r = ET.SubElement(parent, "renderer-v2", type="graduatedSymbol", attr=attr,
                      graduatedMethod="GraduatedColor", symbollevels="0", forceraster="0",
                      enableorderby="0")
    rng = ET.SubElement(r, "ranges")
    syms = ET.SubElement(r, "symbols")
    for i, rgb in enumerate(_RAMP):
        lo, up = edges[i], edges[i + 1]
        ET.SubElement(rng, "range", render="true", symbol=str(i), lower=f"{lo:.6f}",
                      upper=f"{up:.6f}", label=f"{lo:.0f} – {up:.0f} %")
        _symbol(syms, str(i), "fill", _fill(rgb))


def _srs(parent, crs: CRS) -> None:
    s = ET.SubElement(parent, "spatialrefsys")
    auth = crs.to_authority() or ("EPSG", "0")
    for tag, text in (("wkt", crs.to_wkt()), ("srsid", "0"),
                      ("srid", auth[1]), ("authid", ":".join(auth)), ("description", crs.name),
                      ("geographicflag", "true" if crs.is_geographic else "false")):
        ET.SubElement(s, tag).text = text


def project_xml(gpkg_name: str, layers: dict, crs_code: str, title: str,
                gap_column: str | None = None) -> str:
    """The ``.qgs`` XML of a project over the layers of ``gpkg_name`` (module doc).

    Parameters
    ----------
    gpkg_name : str
        File name of the GeoPackage, in the same folder as the project.
    layers : dict of str to GeoDataFrame
        Layer name → the data written (``candidate_sites``, ``fibre_routes``, ``communes``);
        used for the categories and the class breaks.
    crs_code : str
        The layers' CRS, e.g. ``"EPSG:9211"``; also the project's CRS.
    title : str
        Project title.
    gap_column : str, optional
        Column of ``communes`` that colours the communes (a gap, %).

    Returns
    -------
    str
        The project, XML (UTF-8 when written).
    """
    crs = CRS.from_user_input(crs_code)
    root = ET.Element("qgis", projectname=title, version="3.22.16-Białowieża")
    ET.SubElement(root, "title").text = title
    pc = ET.SubElement(root, "projectCrs")
    _srs(pc, crs)
    order = [n for n in ("communes", "fibre_routes", "candidate_sites") if n in layers]
    ids = {n: f"{n}_phusong" for n in order}
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    for n in reversed(order):  # the panel lists the top layer first
        ET.SubElement(tree, "layer-tree-layer", id=ids[n], name=LAYER_TITLES[n],
                      source=f"./{gpkg_name}|layername={n}", providerKey="ogr",
                      checked="Qt::Checked", expanded="1")
    lo = ET.SubElement(root, "layerorder")
    for n in reversed(order):
        ET.SubElement(lo, "layer", id=ids[n])
    pl = ET.SubElement(root, "projectlayers")
    for n in order:
        geom, _ = _GEOMETRY[n]
        ml = ET.SubElement(pl, "maplayer", type="vector", geometry=geom, autoRefreshEnabled="0",
                           refreshOnNotifyEnabled="0", hasScaleBasedVisibilityFlag="0")
        ET.SubElement(ml, "id").text = ids[n]
        ET.SubElement(ml, "datasource").text = f"./{gpkg_name}|layername={n}"
        ET.SubElement(ml, "layername").text = LAYER_TITLES[n]
        _srs(ET.SubElement(ml, "srs"), crs)
        ET.SubElement(ml, "provider", encoding="UTF-8").text = "ogr"
        if n == "candidate_sites":
            _sites_renderer(ml, layers[n])
        elif n == "fibre_routes":
            _routes_renderer(ml, layers[n])
        elif gap_column is not None:
            _communes_renderer(ml, layers[n], gap_column)
    props = ET.SubElement(root, "properties")
    paths = ET.SubElement(props, "Paths")
    ET.SubElement(paths, "Absolute", type="bool").text = "false"
    srs = ET.SubElement(props, "SpatialRefSys")  # QGIS reads projectCrs only when this is set
    ET.SubElement(srs, "ProjectionsEnabled", type="int").text = "1"
    ET.indent(root, space=" ")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            + ET.tostring(root, encoding="unicode") + "\n")
