"""The road network as a networkx graph, for fibre routing and reach along roads.

Lines are split where they share a vertex (an end point or a crossing vertex common to two
lines); each piece becomes an edge between integer nodes carrying ``x``/``y`` in
``settings.WORK_CRS`` (metres), the layout osmnx graphs use, so osmnx graphs can be passed to
the same functions.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import LineString
>>> from phusong.network.roads import road_graph
>>> roads = gpd.GeoDataFrame({"road_id": ["a", "b"], "road_class": ["national", "commune"],
...     "cost_factor": [2.6, 1.0]},
...     geometry=[LineString([(500000, 2300000), (501000, 2300000)]),
...               LineString([(501000, 2300000), (501000, 2302000)])], crs="EPSG:32648")
>>> g = road_graph(roads)
>>> g.number_of_nodes(), g.number_of_edges(), round(g.size(weight="length_m"))
(3, 2, 3000)
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import shapely
from scipy.spatial import cKDTree

from phusong import settings
from phusong.communes import normalize_name
from phusong.crs import to_work
from phusong.errors import DataError

__all__ = ["road_graph", "urban_areas", "snap_points", "snap_to_edges", "graph_components"]

#: Commune types whose new cable goes underground (urban undergrounding, "ngầm hóa"), as keys of
#: :func:`phusong.communes.normalize_name` so that any Unicode form or case matches.
_URBAN_TYPES = frozenset(normalize_name(t, strip_prefix=False) for t in ("Phường", "Thị trấn"))


def _node_lines(geoms: np.ndarray, snap_m: float) -> np.ndarray:
    """Insert shared vertices where lines cross or where an end point lies within ``snap_m`` of
    another line (T-junctions drawn without a common vertex, as in many OSM extracts)."""
    n = len(geoms)
    if n < 2:
        return geoms
    cuts: list[list[np.ndarray]] = [[] for _ in range(n)]
    moved: dict[tuple[int, int], np.ndarray] = {}
    tree = shapely.STRtree(geoms)
    # 1. dangling end points snapped onto a nearby line
    ends = np.concatenate([shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)])
    owner = np.r_[np.arange(n), np.arange(n)]
    pi, li = tree.query(ends, predicate="dwithin", distance=snap_m)
    keep = owner[pi] != li
    for p, line in zip(pi[keep], li[keep], strict=True):
        key = (int(owner[p]), 0 if p < n else -1)
        if key in moved:
            continue
        at = shapely.line_interpolate_point(geoms[line], shapely.line_locate_point(geoms[line], ends[p]))
        xy = np.round(shapely.get_coordinates(at)[0], 1)
        moved[key] = xy
        cuts[line].append(xy)
    # 2. crossings without a common vertex
    a, b = tree.query(geoms, predicate="intersects")
    sel = a < b
    for i, j in zip(a[sel], b[sel], strict=True):
        inter = shapely.intersection(geoms[i], geoms[j])
        pts = shapely.get_coordinates(inter) if inter.geom_type in ("Point", "MultiPoint") else ()
        for xy in pts:
            xy = np.round(xy, 1)
            cuts[i].append(xy)
            cuts[j].append(xy)
    out = geoms.copy()
    for k in range(n):
        c = np.round(shapely.get_coordinates(geoms[k]), 1)
        if (k, 0) in moved:
            c[0] = moved[(k, 0)]
        if (k, -1) in moved:
            c[-1] = moved[(k, -1)]
        if cuts[k]:
            line = shapely.LineString(c)
            extra = np.array(cuts[k])
            pos = np.r_[shapely.line_locate_point(line, shapely.points(c)),
                        shapely.line_locate_point(line, shapely.points(extra))]
            allc = np.vstack([c, extra])
            order = np.argsort(pos, kind="stable")
            allc = allc[order]
            dup = np.r_[False, (np.abs(np.diff(allc, axis=0)) < 0.05).all(axis=1)]
            c = allc[~dup]
        if len(c) >= 2:
            out[k] = shapely.LineString(c)
    return out


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


def _edge_pieces(geoms: np.ndarray):
    """Cut the noded lines at shared vertices.

    Returns
    -------
    uniq : ndarray, shape (n, 2)
        Vertex coordinates rounded to 0.1 m; row numbers are node ids.
    nodes : ndarray of int
        Node ids (vertices shared by two lines, or a line's ends).
    pieces : list of (u, v, line index, LineString)
        One edge per piece, ``u`` where the piece starts; pieces closing on themselves dropped.
    """
    coords, line_idx = shapely.get_coordinates(geoms, return_index=True)
    coords = np.round(coords, 1)  # 10 cm: identical vertices of touching lines coincide
    uniq, inverse, counts = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    starts = np.r_[0, np.flatnonzero(np.diff(line_idx)) + 1]
    ends = np.r_[starts[1:], len(line_idx)] - 1
    is_node = counts[inverse] > 1
    is_node[starts] = True
    is_node[ends] = True
    pieces = []
    for li, (s, e) in enumerate(zip(starts, ends, strict=True)):
        cut = np.flatnonzero(is_node[s : e + 1]) + s
        for a, b in zip(cut[:-1], cut[1:], strict=True):
            u, v = int(inverse[a]), int(inverse[b])
            if u != v:
                pieces.append((u, v, li, shapely.LineString(coords[a : b + 1])))
    return uniq, np.unique(inverse[is_node]), pieces


def road_graph(roads, *, costs: settings.Costs = settings.COSTS, snap_m: float = 5.0,
               urban=None) -> nx.Graph:
    """Build an undirected road graph from a roads layer.

    Lines are joined where they share a vertex, where they cross, and where an end point lies
    within ``snap_m`` of another line (a junction drawn without a common vertex).

    Parameters
    ----------
    roads : GeoDataFrame
        Lines with ``road_class`` and ``cost_factor`` (schema ``roads``), any CRS.
    costs : settings.Costs
        ``cost_vnd`` of an edge = (aerial km × ``fibre_aerial_vnd_per_km`` + buried km ×
        ``fibre_buried_vnd_per_km``) × ``cost_factor``.
    snap_m : float
        Largest gap between a line's end and another line that still makes a junction, m.
    urban : GeoDataFrame, optional
        Polygons (any CRS) where new cable must go underground, e.g. :func:`urban_areas` of the
        communes. The length of each edge inside them is buried, the rest aerial. None (the
        default): every edge is aerial.

    Returns
    -------
    networkx.Graph
        Nodes: int with ``x``, ``y`` (m, WORK_CRS). Edges: ``length_m``, ``buried_m`` (m of
        ``length_m`` inside ``urban``), ``road_class``, ``cost_factor``, ``road_id``,
        ``cost_vnd``, ``geometry`` (LineString, WORK_CRS). Where two lines join the same pair of
        nodes the cheaper one is kept. ``from_node`` names the node where ``geometry`` starts.
    """
    if roads is None or len(roads) == 0:
        raise DataError("roads: the layer is empty; a road network is needed for routing")
    work = to_work(roads, "roads").explode(index_parts=False, ignore_index=True)
    uniq, node_ids, pieces = _edge_pieces(_node_lines(work.geometry.to_numpy(), snap_m))
    cls = work["road_class"].to_numpy() if "road_class" in work else np.full(len(work), "unknown")
    factor = (
        work["cost_factor"].to_numpy(dtype=float) if "cost_factor" in work else np.ones(len(work))
    )
    rid = work["road_id"].to_numpy() if "road_id" in work else np.arange(len(work)).astype(str)
    lines = np.array([p[3] for p in pieces], dtype=object)
    length = shapely.length(lines) if len(lines) else np.zeros(0)
    buried = _buried_m(lines, urban)
    li = np.array([p[2] for p in pieces], dtype=np.int64)
    aerial_per_m = costs.fibre_aerial_vnd_per_km / 1000.0
    buried_per_m = costs.fibre_buried_vnd_per_km / 1000.0
    if urban is None:  # the all-aerial formula, as it always was
        cost = length * aerial_per_m * factor[li]
    else:
        cost = (length - buried) * aerial_per_m * factor[li] + buried * buried_per_m * factor[li]
    g = nx.Graph()
    for n in node_ids:
        g.add_node(int(n), x=float(uniq[n, 0]), y=float(uniq[n, 1]))
    for k, (u, v, i, line) in enumerate(pieces):
        if g.has_edge(u, v) and g[u][v]["cost_vnd"] <= cost[k]:
            continue
        g.add_edge(
            u,
            v,
            length_m=float(length[k]),
            buried_m=float(buried[k]),
            road_class=str(cls[i]),
            cost_factor=float(factor[i]),
            road_id=str(rid[i]),
            cost_vnd=float(cost[k]),
            from_node=u,
            geometry=line,
        )
    g.graph["crs"] = settings.WORK_CRS
    return g


def snap_points(graph: nx.Graph, x_m, y_m) -> tuple[np.ndarray, np.ndarray]:
    """Nearest graph node of each point.

    Parameters
    ----------
    graph : networkx.Graph
        Nodes with ``x``, ``y`` in WORK_CRS metres.
    x_m, y_m : array_like
        Points in WORK_CRS, metres.

    Returns
    -------
    node_ids : ndarray of int
        Nearest node per point.
    offset_m : ndarray of float
        Straight-line distance from the point to that node, m.
    """
    nodes = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    if nodes.size == 0:
        raise DataError("road graph has no nodes; check the roads layer")
    xy = np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in nodes])
    dist, idx = cKDTree(xy).query(np.column_stack([np.asarray(x_m), np.asarray(y_m)]))
    return nodes[idx], np.asarray(dist, dtype=float)


def snap_to_edges(graph: nx.Graph, x_m, y_m):
    """Project each point onto its nearest road edge.

    Parameters
    ----------
    graph : networkx.Graph
        A :func:`road_graph` (edges carry ``geometry`` and ``from_node``).
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
    edges = list(graph.edges(data=True))
    if not edges:
        raise DataError("road graph has no edges; check the roads layer")
    geoms = np.array([d["geometry"] for _, _, d in edges], dtype=object)
    pts = shapely.points(np.asarray(x_m, dtype=float), np.asarray(y_m, dtype=float))
    tree = shapely.STRtree(geoms)
    (ip, ie), offset = tree.query_nearest(pts, return_distance=True, all_matches=False)
    order = np.argsort(ip, kind="stable")
    ip, ie, offset = ip[order], ie[order], offset[order]
    s = shapely.line_locate_point(geoms[ie], pts[ip])
    length = shapely.length(geoms[ie])
    start = np.array([edges[k][2]["from_node"] for k in ie])
    u = np.array([edges[k][0] for k in ie])
    v = np.array([edges[k][1] for k in ie])
    flip = start != u  # geometry runs from v to u
    to_u = np.where(flip, length - s, s)
    return u, v, np.asarray(offset, float), to_u, length - to_u


def graph_components(graph: nx.Graph) -> list[set]:
    """Connected components, largest first (for reporting disconnected road networks)."""
    return sorted(nx.connected_components(graph), key=len, reverse=True)
