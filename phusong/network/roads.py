"""The road network as an osmnx graph, for fibre routing and reach along roads.

:func:`road_graph` turns a roads layer (lines with ``road_class`` and ``cost_factor``) into the
graph every stage uses: an osmnx-shaped :class:`networkx.MultiDiGraph` in ``settings.WORK_CRS``
(graph attribute ``crs``; nodes with ``x``/``y`` in m; each road both ways, edges ``u → v`` with
``length`` in m, ``geometry`` running from ``u`` to ``v``, ``oneway``, ``reversed``).

What osmnx does and what is kept of our own (issue 15):

- **osmnx**: building the graph from node/edge frames (:func:`osmnx.convert.graph_from_gdfs`),
  removing the interstitial vertices (:func:`osmnx.simplification.simplify_graph`, keeping a
  node wherever a drawn line ends or the road class or cost factor changes), merging the nodes of one junction
  drawn as several (:func:`osmnx.simplification.consolidate_intersections`, ``tolerance`` m per
  node), nearest nodes and edges (:mod:`osmnx.distance`), edge frames
  (:func:`osmnx.convert.graph_to_gdfs`) and the undirected view (:func:`osmnx.convert.to_undirected`).
- **kept**: noding drawn lines (:mod:`phusong.network._noding`; osmnx expects OSM ways with
  shared node ids and cannot node bare geometry such as the 2018 extract), the cost of each edge
  (aerial/buried VND per km × the class's cost factor) and the urban (underground) share.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import LineString
>>> from phusong.network.roads import road_graph
>>> roads = gpd.GeoDataFrame({"road_id": ["a", "b"], "road_class": ["national", "commune"],
...     "cost_factor": [2.6, 1.0]},
...     geometry=[LineString([(500000, 2300000), (500500, 2300000), (501000, 2300000)]),
...               LineString([(501000, 2300000), (501000, 2302000)])], crs="EPSG:32648")
>>> g = road_graph(roads)
>>> type(g).__name__, g.number_of_nodes(), g.number_of_edges(), round(g.size(weight="length"))
('MultiDiGraph', 3, 4, 6000)
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely

from phusong import settings
from phusong.communes import normalize_name
from phusong.crs import to_work
from phusong.errors import DataError
from phusong.network._noding import node_lines

__all__ = ["road_graph", "shared_road_graph", "layer_digest", "road_lines", "urban_areas",
           "snap_points", "snap_to_edges", "graph_components", "cheapest_edge", "simple_graph",
           "BuildStopped", "CONSOLIDATE_M"]

#: Buffer radius of each node when merging the nodes of one junction, m (osmnx's
#: ``tolerance``: nodes up to twice this apart, and joined by an edge, become one).
CONSOLIDATE_M = 5.0

#: Commune types whose new cable goes underground (urban undergrounding, "ngầm hóa"), as keys of
#: :func:`phusong.communes.normalize_name` so that any Unicode form or case matches.
_URBAN_TYPES = frozenset(normalize_name(t, strip_prefix=False) for t in ("Phường", "Thị trấn"))


def urban_areas(communes):
    """The urban communes (*phường* and *thị trấn*), where new fibre is laid underground.

    Parameters
    ----------
    communes : GeoDataFrame
        Communes with a ``type`` column (``Xã`` / ``Phường`` / ``Thị trấn``), any CRS. Types
        are compared after Unicode NFC normalisation and lower-casing
        (:func:`phusong.communes.normalize_name`), so decomposed (NFD) or upper-case spellings
        match.

    Returns
    -------
    GeoDataFrame
        The rows of ``communes`` whose type is *phường* or *thị trấn*, in their CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from phusong.network.roads import urban_areas
    >>> c = gpd.GeoDataFrame({"type": ["Xã", "Phường", "Thị trấn"]},
    ...     geometry=[box(0, 0, 1, 1)] * 3, crs="EPSG:32648")
    >>> urban_areas(c)["type"].tolist()
    ['Phường', 'Thị trấn']
    """
    if "type" not in communes:
        raise DataError("communes: no 'type' column; add it (Xã / Phường / Thị trấn) to find "
                        "the urban communes")
    key = communes["type"].map(lambda t: normalize_name(t, strip_prefix=False))
    return communes[key.isin(_URBAN_TYPES).to_numpy()]


def _buried_m(lines: np.ndarray, urban) -> np.ndarray:
    """Length of each line inside the urban polygons, m (lines in WORK_CRS).

    The polygons are dissolved first, so a line along the common border of two urban communes
    counts once; the parts of the union share no area and no border length.
    """
    out = np.zeros(len(lines))
    if urban is None or len(urban) == 0 or len(lines) == 0:
        return out
    polys = to_work(urban, "urban").geometry.to_numpy()
    polys = shapely.make_valid(polys[~(shapely.is_missing(polys) | shapely.is_empty(polys))])
    parts = shapely.get_parts(shapely.union_all(polys))
    parts = parts[shapely.get_dimensions(parts) == 2]
    if parts.size == 0:
        return out
    li, pi = shapely.STRtree(parts).query(lines, predicate="intersects")
    inside = shapely.length(shapely.intersection(lines[li], parts[pi]))
    out += np.bincount(li, weights=inside, minlength=len(lines))
    return np.minimum(out, shapely.length(lines))




def _piece_frames(work, snap_m: float):
    """Node and edge frames of the noded lines cut at their junctions, both ways.

    Nodes are the vertices shared by two lines and every line's ends; the vertices inside a
    piece go into the edge's geometry (osmnx's layout for simplified graphs), so that osmnx
    does not have to walk tens of thousands of interstitial nodes (10 s on the 2018 extract).
    """
    lines = node_lines(work.geometry.to_numpy(), snap_m)
    coords, li = shapely.get_coordinates(lines, return_index=True)
    coords = np.round(coords, 1)  # 10 cm: identical vertices of touching lines coincide
    uniq, inv, counts = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    starts = np.r_[0, np.flatnonzero(np.diff(li)) + 1]
    ends = np.r_[starts[1:], len(li)] - 1
    is_node = counts[inv] > 1
    is_node[starts] = True
    is_node[ends] = True
    cut = np.flatnonzero(is_node)
    a, b = cut[:-1], cut[1:]
    same = li[a] == li[b]
    a, b = a[same], b[same]
    u, v, k = inv[a], inv[b], li[a]
    keep = u != v  # a piece closing on itself (a loop with one junction) carries no route
    a, b, u, v, k = a[keep], b[keep], u[keep], v[keep], k[keep]
    geom = np.array([shapely.LineString(coords[i : j + 1]) for i, j in zip(a, b, strict=True)],
                    dtype=object)
    attrs = {"osmid": k,  # the drawn line's row (osmnx's way id), compared by to_undirected
             "road_class": work["road_class"].to_numpy()[k].astype(str),
             "cost_factor": work["cost_factor"].to_numpy(float)[k],
             "road_id": work["road_id"].to_numpy()[k].astype(str)}
    fwd = pd.DataFrame({"u": u, "v": v, "length": shapely.length(geom), "oneway": False,
                        "reversed": False, **attrs})
    back = fwd.assign(u=v, v=u, reversed=True)
    edges = pd.concat([fwd, back], ignore_index=True)
    edges["key"] = edges.groupby(["u", "v"]).cumcount()  # two roads joining the same junctions
    edges = edges.set_index(["u", "v", "key"])
    edges["geometry"] = np.r_[geom, shapely.reverse(geom)]
    used = np.unique(np.r_[u, v])
    nodes = pd.DataFrame({"x": uniq[used, 0], "y": uniq[used, 1]},
                         index=pd.Index(used, name="osmid"))
    return nodes, edges


def _flat(value) -> str:
    """One string for an attribute osmnx merged into a list (ids of joined pieces)."""
    if isinstance(value, list):
        return ";".join(sorted({str(x) for x in value}))
    return str(value)


class BuildStopped(Exception):
    """A :func:`road_graph` build given up at a stage boundary because ``stop()`` said so
    (a plan whose time limit passed first no longer needs the graph)."""


def _check(stop, stage: str) -> None:
    if stop is not None and stop():
        raise BuildStopped(f"road graph: build stopped before {stage}")


def road_graph(roads, *, costs: settings.Costs = settings.COSTS, snap_m: float = 5.0,
               consolidate_m: float = CONSOLIDATE_M, urban=None,
               stop=None) -> nx.MultiDiGraph:
    """Build the osmnx road graph of a roads layer (module doc).

    Lines are joined where they share a vertex, where they cross, and where an end point lies
    within ``snap_m`` of another line; osmnx then simplifies the graph and consolidates the
    intersections.

    Parameters
    ----------
    roads : GeoDataFrame
        Lines with ``road_class``, ``cost_factor`` and ``road_id`` (schema ``roads``), any CRS.
    costs : settings.Costs
        ``cost_vnd`` of an edge = (aerial km × ``fibre_aerial_vnd_per_km`` + buried km ×
        ``fibre_buried_vnd_per_km``) × ``cost_factor``.
    snap_m : float
        Largest gap between a line's end and another line that still makes a junction, m.
    consolidate_m : float
        osmnx's consolidation ``tolerance``, m; 0 keeps every junction node.
    urban : GeoDataFrame, optional
        Polygons (any CRS) where new cable must go underground, e.g. :func:`urban_areas` of the
        communes. None (the default): every edge is aerial.
    stop : callable, optional
        Asked (no argument) between the build's stages — noding, osmnx graph, simplification,
        consolidation, pricing; when it returns True the build raises :class:`BuildStopped`
        (used by a plan's time limit to stop a build running in the background, so that it
        competes for the CPU at most until the stage under way ends).

    Returns
    -------
    networkx.MultiDiGraph
        osmnx-shaped, ``graph["crs"] == settings.WORK_CRS``. Nodes: int with ``x``, ``y`` (m).
        Edges (each road both ways): ``length`` (m), ``buried_m`` (m of ``length`` inside
        ``urban``), ``road_class``, ``cost_factor``, ``road_id`` (``;``-joined when osmnx
        merged several lines into one edge), ``cost_vnd``, ``geometry`` (``u`` → ``v``).
    """
    if roads is None or len(roads) == 0:
        raise DataError("roads: the layer is empty; a road network is needed for routing")
    work = to_work(roads, "roads").explode(index_parts=False, ignore_index=True)
    work = work[work.geom_type == "LineString"].reset_index(drop=True)
    for col, default in (("road_class", "unknown"), ("cost_factor", 1.0)):
        if col not in work:
            work[col] = default
    if "road_id" not in work:
        work["road_id"] = [f"road_{i + 1}" for i in range(len(work))]
    _check(stop, "noding")
    nodes, edges = _piece_frames(work, snap_m)
    if edges.empty:
        raise DataError("roads: no line has two distinct vertices; a road network is needed")
    _check(stop, "the osmnx graph")
    g = ox.convert.graph_from_gdfs(
        gpd_nodes(nodes), gpd_edges(edges), graph_attrs={"crs": settings.WORK_CRS})
    # a node stays wherever a drawn line ends (villages, junctions), as well as where the class
    # or cost factor changes; osmnx removes the vertices inside each line
    _check(stop, "simplification")
    g = ox.simplification.simplify_graph(
        g, edge_attrs_differ=["road_class", "cost_factor", "road_id"])
    if consolidate_m > 0:
        _check(stop, "consolidation")
        g = ox.simplification.consolidate_intersections(
            g, tolerance=_near_tolerance(g, consolidate_m), rebuild_graph=True, dead_ends=True,
            reconnect_edges=True)
    g.remove_edges_from(list(nx.selfloop_edges(g)))
    _check(stop, "pricing")
    return _price(g, costs, urban)


#: Road graphs built in this process, by the content of their inputs (:func:`shared_road_graph`);
#: the last few only (a graph of a province's roads holds tens of MB).
_SHARED: OrderedDict = OrderedDict()
_SHARED_SIZE = 3
#: Guards :data:`_SHARED` (a plan under a time limit builds its graph in a background thread).
_SHARED_LOCK = threading.Lock()


def layer_digest(frame) -> str | None:
    """SHA-256 of a layer's content: CRS, column names, values and geometries (WKB).

    Two frames with the same digest hold the same data whatever file they came from, so a
    result computed from one serves the other. None for None.
    """
    if frame is None:
        return None
    h = hashlib.sha256()
    h.update((frame.crs.to_wkt() if frame.crs is not None else "").encode())
    h.update(repr([str(c) for c in frame.columns]).encode())
    values = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    for col in values.columns:
        h.update(str(values[col].dtype).encode())  # the dtype too: 1 and 1.0 hash alike
        if values[col].dtype == object:  # any Python value (a list too), '1' apart from 1
            values[col] = values[col].map(repr)
    h.update(pd.util.hash_pandas_object(values, index=True).to_numpy().tobytes())
    wkb = shapely.to_wkb(frame.geometry.to_numpy())
    h.update(np.array([len(w) if w is not None else -1 for w in wkb], np.int64).tobytes())
    h.update(b"".join(w for w in wkb if w is not None))
    return h.hexdigest()


def shared_road_graph(roads, *, costs: settings.Costs = settings.COSTS, urban=None,
                      snap_m: float = 5.0, consolidate_m: float = CONSOLIDATE_M,
                      stop=None) -> nx.MultiDiGraph:
    """:func:`road_graph`, built once per process for the same inputs and then shared.

    The inputs are compared by content (:func:`layer_digest` of ``roads`` and ``urban``, the
    costs, ``snap_m``, ``consolidate_m``), not by the file they came from, so ``phusong demo``'s
    calibration figures, gap tables and plan use one graph. The graph returned is the one
    :func:`road_graph` builds (the same object for every caller): it must not be modified —
    the planning, reach and gap code only read it; call :func:`road_graph` for a graph of
    your own.

    Parameters
    ----------
    roads, costs, urban, snap_m, consolidate_m, stop
        As :func:`road_graph` (a stopped build shares nothing).

    Returns
    -------
    networkx.MultiDiGraph
    """
    key = (layer_digest(roads), repr(costs), layer_digest(urban), float(snap_m),
           float(consolidate_m))
    with _SHARED_LOCK:
        if key in _SHARED:
            _SHARED.move_to_end(key)
            return _SHARED[key]
    g = road_graph(roads, costs=costs, urban=urban, snap_m=snap_m, consolidate_m=consolidate_m,
                   stop=stop)
    with _SHARED_LOCK:
        _SHARED[key] = g
        while len(_SHARED) > _SHARED_SIZE:
            _SHARED.popitem(last=False)
    return g


def _near_tolerance(g: nx.MultiDiGraph, tolerance_m: float) -> dict[int, float] | float:
    """osmnx's per-node ``tolerance`` for the nodes that can merge: those within twice the
    tolerance of another node.

    A node farther than that from every other node is a cluster of its own whether buffered or
    not, so osmnx is given the same clusters with fewer buffers to merge (on the 2018 roads 794
    of 1,955 nodes: ``consolidate_intersections`` ≈ 12 % less CPU, the same graph;
    ``benchmarks/bench_roads_osmnx.py``). When no two nodes are that close, the scalar
    ``tolerance_m`` (osmnx's own form; its per-node form needs at least one node).
    """
    from scipy.spatial import cKDTree

    ids = np.fromiter(g.nodes, dtype=np.int64, count=g.number_of_nodes())
    if ids.size < 2:
        return float(tolerance_m)
    xy = np.array([(g.nodes[n]["x"], g.nodes[n]["y"]) for n in ids.tolist()], dtype=float)
    near = np.unique(cKDTree(xy).query_pairs(2.0 * tolerance_m, output_type="ndarray").ravel())
    if near.size == 0:
        return float(tolerance_m)
    return dict.fromkeys(ids[near].tolist(), float(tolerance_m))


def gpd_nodes(nodes: pd.DataFrame):
    """Node frame as osmnx wants it (``x``/``y`` and point geometry)."""
    import geopandas as gpd

    return gpd.GeoDataFrame(nodes, geometry=gpd.points_from_xy(nodes["x"], nodes["y"]),
                            crs=settings.WORK_CRS)


def gpd_edges(edges: pd.DataFrame):
    """Edge frame as osmnx wants it (a GeoDataFrame indexed by ``u, v, key``)."""
    import geopandas as gpd

    return gpd.GeoDataFrame(edges, geometry="geometry", crs=settings.WORK_CRS)


def _price(g: nx.MultiDiGraph, costs: settings.Costs, urban) -> nx.MultiDiGraph:
    """Exact lengths from the final geometries, the buried share and the VND cost per edge."""
    keys = list(g.edges(keys=True))
    if not keys:
        raise DataError("roads: the graph has no edges after simplification")
    lines = np.empty(len(keys), dtype=object)
    for i, (u, v, k) in enumerate(keys):
        d = g.edges[u, v, k]
        geom = d.get("geometry")
        if geom is None:
            geom = shapely.LineString([(g.nodes[u]["x"], g.nodes[u]["y"]),
                                       (g.nodes[v]["x"], g.nodes[v]["y"])])
        lines[i] = geom
    length = shapely.length(lines)
    buried = _buried_m(lines, urban)
    aerial_per_m = costs.fibre_aerial_vnd_per_km / 1000.0
    buried_per_m = costs.fibre_buried_vnd_per_km / 1000.0
    for i, (u, v, k) in enumerate(keys):
        d = g.edges[u, v, k]
        factor = float(np.max(d["cost_factor"])) if isinstance(d["cost_factor"], list) \
            else float(d["cost_factor"])
        d["geometry"] = lines[i]
        d["length"] = float(length[i])
        d["buried_m"] = float(buried[i])
        d["cost_factor"] = factor
        d["road_class"] = _flat(d["road_class"])
        d["road_id"] = _flat(d["road_id"])
        d["cost_vnd"] = float(((length[i] - buried[i]) * aerial_per_m
                               + buried[i] * buried_per_m) * factor)
    for _, d in g.nodes(data=True):
        d.pop("osmid_original", None)
        d.pop("geometry", None)
        d["x"], d["y"] = float(d["x"]), float(d["y"])
    g.graph["crs"] = settings.WORK_CRS
    return g


def snap_points(graph: nx.MultiDiGraph, x_m, y_m) -> tuple[np.ndarray, np.ndarray]:
    """Nearest graph node of each point (:func:`osmnx.distance.nearest_nodes`).

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        A :func:`road_graph` (nodes with ``x``, ``y`` in WORK_CRS metres).
    x_m, y_m : array_like
        Points in WORK_CRS, metres.

    Returns
    -------
    node_ids : ndarray of int
        Nearest node per point.
    offset_m : ndarray of float
        Straight-line distance from the point to that node, m.
    """
    if graph.number_of_nodes() == 0:
        raise DataError("road graph has no nodes; check the roads layer")
    x = np.atleast_1d(np.asarray(x_m, dtype=float))
    y = np.atleast_1d(np.asarray(y_m, dtype=float))
    if x.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    nodes, dist = ox.distance.nearest_nodes(graph, x, y, return_dist=True)
    return np.asarray(nodes, dtype=np.int64), np.asarray(dist, dtype=float)


def snap_to_edges(graph: nx.MultiDiGraph, x_m, y_m):
    """Project each point onto its nearest road edge (:func:`osmnx.distance.nearest_edges`).

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        A :func:`road_graph` (edge geometries run from ``u`` to ``v``).
    x_m, y_m : array_like
        Points in WORK_CRS, metres.

    Returns
    -------
    u, v : ndarray of int
        End nodes of the nearest edge.
    offset_m : ndarray
        Distance from the point to the edge, m.
    to_u_m, to_v_m : ndarray
        Distance along the edge from the projected point to ``u`` and to ``v``, m.
    """
    if graph.number_of_edges() == 0:
        raise DataError("road graph has no edges; check the roads layer")
    x = np.atleast_1d(np.asarray(x_m, dtype=float))
    y = np.atleast_1d(np.asarray(y_m, dtype=float))
    if x.size == 0:
        z = np.zeros(0)
        return z.astype(np.int64), z.astype(np.int64), z, z, z
    near, offset = ox.distance.nearest_edges(graph, x, y, return_dist=True)
    near = np.array([tuple(e) for e in near], dtype=np.int64).reshape(-1, 3)
    geoms = np.array([graph.edges[int(u), int(v), int(k)]["geometry"] for u, v, k in near],
                     dtype=object)
    s = shapely.line_locate_point(geoms, shapely.points(x, y))
    length = shapely.length(geoms)
    u = near[:, 0].astype(np.int64)
    v = near[:, 1].astype(np.int64)
    return u, v, np.asarray(offset, float), s, length - s


def cheapest_edge(graph, u, v, weight: str = "cost_vnd") -> dict:
    """Attributes of the cheapest edge from ``u`` to ``v`` (any of the parallel ones).

    Parameters
    ----------
    graph : networkx graph
        A :func:`road_graph` or any networkx graph.
    u, v : node
        End nodes.
    weight : str
        Edge attribute compared.

    Returns
    -------
    dict
        The edge's attribute dict (not a copy).
    """
    data = graph.get_edge_data(u, v)
    if data is None:
        raise DataError(f"road graph: no edge between nodes {u!r} and {v!r}")
    if graph.is_multigraph():
        return min(data.values(), key=lambda d: float(d.get(weight, np.inf)))
    return data


def simple_graph(graph: nx.MultiDiGraph, weight: str = "cost_vnd") -> nx.Graph:
    """Undirected simple view of a road graph: the cheapest edge between each pair of nodes.

    Built on :func:`osmnx.convert.to_undirected` (which merges each road's two directions), for
    algorithms defined on simple undirected graphs (bridges, rings).

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        A :func:`road_graph`.
    weight : str
        Edge attribute that chooses among parallel edges.

    Returns
    -------
    networkx.Graph
        Same nodes (with ``x``, ``y``) and, per node pair, one edge with the chosen attributes.
    """
    und = ox.convert.to_undirected(graph)
    out = nx.Graph(**graph.graph)
    out.add_nodes_from(graph.nodes(data=True))
    for u, v, d in und.edges(data=True):
        if not out.has_edge(u, v) or float(d[weight]) < float(out[u][v][weight]):
            out.add_edge(u, v, **d)
    return out


def road_lines(graph: nx.MultiDiGraph):
    """The roads of a :func:`road_graph` as a layer: one line per road (not per direction).

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        A :func:`road_graph`.

    Returns
    -------
    GeoDataFrame
        Schema ``roads`` in EPSG:4326: ``road_id``, ``road_class``, ``cost_factor``,
        ``length_m`` and the line, from :func:`osmnx.convert.graph_to_gdfs` of the
        undirected graph.
    """
    import geopandas as gpd

    edges = ox.convert.graph_to_gdfs(ox.convert.to_undirected(graph), nodes=False)
    ids = edges["road_id"].astype(str).to_numpy()
    # one drawn road may give several edges: number the pieces so ids stay unique
    n = pd.Series(ids).groupby(ids).cumcount().to_numpy()
    many = pd.Series(ids).duplicated(keep=False).to_numpy()
    ids = np.where(many, [f"{i}#{k + 1}" for i, k in zip(ids, n, strict=True)], ids)
    out = gpd.GeoDataFrame({"road_id": ids, "road_class": edges["road_class"].to_numpy(),
                            "cost_factor": edges["cost_factor"].to_numpy(float),
                            "length_m": edges["length"].to_numpy(float)},
                           geometry=edges.geometry.to_numpy(), crs=settings.WORK_CRS)
    return out.to_crs(settings.STORE_CRS)


def graph_components(graph: nx.Graph) -> list[set]:
    """Connected components (weakly, for directed graphs), largest first."""
    comps = (nx.weakly_connected_components(graph) if graph.is_directed()
             else nx.connected_components(graph))
    return sorted(comps, key=len, reverse=True)
