"""Fibre networks as Open Fibre Data Standard-like GeoJSON: spans (lines) and nodes (points).

OFDS publishes a network as spans (cable routes between nodes) and nodes (points of presence,
access points…), each with ``id``, ``name``, ``status`` and further properties; its GeoJSON
form is a FeatureCollection of LineStrings and Points, with ``featureType`` ``"span"`` or
``"node"`` when given. This reader maps them to the bundle's ``fibre`` and ``fibre_nodes``:

- span: ``span_id`` ← ``id``; ``kind`` ← ``kind``/``spanType`` (backbone/ring/feeder/access);
  ``cable_count`` ← ``fibreCount``/``cable_count``; ``name``, ``status``, ``deployment``,
  ``start``/``end`` node ids kept.
- node: ``node_id`` ← ``id``; ``kind`` ← ``type`` (OFDS list such as ``["pop"]``): pop, ixp,
  dataCentre, landingStation, OLT, exchange → ``POP``; splitter → ``splitter``; anything else
  ``access_node``.

A file may hold **nodes only** (what a planner usually has: the points of presence, OLTs and
splitters, no routes): the spans are then ``None`` and the plan treats the nodes as the network.
Node ids must be unique within the file.

Examples
--------
>>> node_kind(["pop"]), node_kind("splitter"), node_kind(None)
('POP', 'splitter', 'access_node')
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd

from phusong.errors import DataError, FormatError
from phusong.io._files import Imported, require_file
from phusong.io.vector import read_vector

__all__ = ["node_kind", "read_fibre"]

_POP = {"pop", "ixp", "datacentre", "datacenter", "landingstation", "cablelandingstation",
        "exchange", "olt", "central_office"}


def node_kind(value) -> str:
    """Bundle node kind (POP / splitter / access_node) of an OFDS node ``type``."""
    items = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    words = {str(v).replace(" ", "").replace("_", "").lower() for v in items if v is not None}
    if words & {w.replace("_", "") for w in _POP}:
        return "POP"
    if "splitter" in words:
        return "splitter"
    return "access_node"


def _parse_list(value):
    if isinstance(value, str) and value.startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _pick(df, *names):
    lower = {str(c).lower(): c for c in df.columns}
    return next((lower[n.lower()] for n in names if n.lower() in lower), None)


def read_fibre(path, *, crs: str | None = None) -> tuple[Imported | None, Imported | None]:
    """Read an OFDS-like GeoJSON (or any vector file of lines and points).

    Returns
    -------
    (Imported or None, Imported or None)
        Spans (GeoDataFrame of lines, EPSG:4326) and nodes (points); either is None when the
        file has none (never both).

    Raises
    ------
    FormatError
        Neither spans nor nodes in the file.
    DataError
        Duplicate node or span ids, featureType contradicting the geometry.
    """
    p = require_file(path, "fibre")
    gdf, notes = read_vector(p, crs=crs, what="fibre")
    kinds = gdf.geom_type
    ftype = _pick(gdf, "featureType")
    is_span = kinds.isin(["LineString", "MultiLineString"]).to_numpy()
    is_node = (kinds == "Point").to_numpy()
    if ftype is not None:
        declared = gdf[ftype].astype(str).str.lower()
        clash = (declared.eq("span") & ~is_span) | (declared.eq("node") & ~is_node)
        if clash.any():
            raise DataError(f"{p}: {int(clash.sum())} feature(s) whose featureType does not match "
                            "the geometry (spans are lines, nodes points)")
    other = ~(is_span | is_node)
    if other.any():
        notes.append(f"ignored {int(other.sum())} feature(s) that are neither lines nor points")
    if not is_span.any() and not is_node.any():
        raise FormatError(f"{p}: no fibre spans (lines) nor nodes (points: POP, OLT, splitter) in "
                          "the file")
    nodes_imp = _nodes(gdf[is_node].reset_index(drop=True), p, notes) if is_node.any() else None
    if not is_span.any():
        nodes_imp.notes.append(f"nodes only ({len(nodes_imp.data)}): no fibre spans in the file")
        return None, nodes_imp
    spans = gdf[is_span].reset_index(drop=True)
    id_col = _pick(spans, "id", "span_id")
    if id_col is None or spans[id_col].isna().any():
        ids = [f"span_{i + 1}" for i in range(len(spans))]
        notes.append("span ids generated (features without id)")
    else:
        ids = [str(v) for v in spans[id_col]]
        _unique(ids, p, "span")
    kind_col = _pick(spans, "kind", "spanType", "span_type")
    count_col = _pick(spans, "fibreCount", "fiberCount", "cable_count", "fibre_count")
    out = gpd.GeoDataFrame(
        {
            "span_id": ids,
            "kind": spans[kind_col].astype(object).to_numpy() if kind_col else None,
            "cable_count": (pd.to_numeric(spans[count_col], errors="coerce").to_numpy()
                            if count_col else float("nan")),
        },
        geometry=spans.geometry.to_numpy(), crs=spans.crs,
    )
    for name, keys in (("name", ("name",)), ("status", ("status",)),
                       ("deployment", ("deployment",)), ("start_node", ("start", "startNode")),
                       ("end_node", ("end", "endNode"))):
        col = _pick(spans, *keys)
        if col is not None:
            out[name] = [None if v is None else str(_parse_list(v)) for v in spans[col]]
    total_km = out.to_crs("EPSG:32648").length.sum() / 1000
    notes.append(f"{len(out)} span(s), {total_km:,.1f} km")
    return Imported(out, p.name, notes), nodes_imp


def _unique(ids: list[str], p, what: str) -> None:
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        rows = [int(i) + 1 for i in np.flatnonzero(dup)[:4]]
        raise DataError(f"{p}: duplicate {what} id(s) {sorted({str(i) for i in np.asarray(ids)[dup]})[:5]} "
                        f"(features {rows}); give every {what} its own id")


def _nodes(nodes: gpd.GeoDataFrame, p, notes: list[str]) -> Imported:
    nid = _pick(nodes, "id", "node_id")
    if nid is not None and not nodes[nid].isna().any():
        nids = [str(v) for v in nodes[nid]]
        _unique(nids, p, "node")
    else:
        nids = [f"node_{i + 1}" for i in range(len(nodes))]
    tcol = _pick(nodes, "type", "kind", "nodeType")
    nout = gpd.GeoDataFrame(
        {"node_id": nids,
         "kind": [node_kind(_parse_list(v)) for v in nodes[tcol]] if tcol else "access_node"},
        geometry=nodes.geometry.to_numpy(), crs=nodes.crs)
    for name in ("name", "status"):
        col = _pick(nodes, name)
        if col is not None:
            nout[name] = nodes[col].astype(object).to_numpy()
    nnotes = list(notes) + ([] if tcol else ["node kind missing: access_node"])
    return Imported(nout, p.name, nnotes)
