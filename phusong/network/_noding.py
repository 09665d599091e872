"""Noding of drawn road lines: shared vertices where lines cross or nearly touch.

osmnx builds graphs from OSM ways, whose junctions are shared node ids; a roads layer drawn in a
GIS (or OSM exported as bare geometry, as the 2018 extract in ``../shared``) has no such ids, and
osmnx has no function that nodes arbitrary linework. This module inserts the shared vertices;
:func:`phusong.network.roads.road_graph` then hands the vertices to osmnx.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["node_lines"]


def node_lines(geoms: np.ndarray, snap_m: float) -> np.ndarray:
    """Insert shared vertices where lines cross or where an end point lies within ``snap_m`` of
    another line (T-junctions drawn without a common vertex, as in many OSM extracts).

    Parameters
    ----------
    geoms : ndarray of LineString
        Lines in a metric CRS (m).
    snap_m : float
        Largest gap between a line's end and another line that still makes a junction, m.

    Returns
    -------
    ndarray of LineString
        The same lines with vertices rounded to 0.1 m and the junction vertices inserted.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> a = shapely.LineString([(0, 0), (10, 0)]); b = shapely.LineString([(5, 3), (5, 0.5)])
    >>> [len(g.coords) for g in node_lines(np.array([a, b]), 1.0)]
    [3, 2]
    """
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
