"""The twin's road network: least-cost roads that follow the valleys of the generated DEM.

The network is grown in three passes on a coarsened cost grid (:mod:`phusong.twin._net_grid`:
slope and height make a step expensive, so paths keep to valleys):

1. **Trunk** — the province city (centre of the most populous *phường*) and the district towns
   (every *thị trấn*; for a district without one, its most populous commune) are joined by the
   minimum spanning tree of their least-cost distances — the ``national`` roads, in the spirit of
   QL6 / QL12B / QL21 — plus up to ``len(hubs) // 3`` ``provincial`` links that close loops where
   the tree makes a long detour (the QL6–QL12B–QL21 loop of the real province).
2. **District roads** — every commune centre (UBND village) is joined to the trunk along the
   shortest-path forest from it, so paths merge as real district roads do.
3. **Commune roads and tracks** — every other village is joined to the network the same way;
   a grid edge carrying ≥ :data:`COMMUNE_ROAD_HOUSEHOLDS` households downstream is a ``commune``
   road, the rest are ``track``.

Each piece between junctions becomes one LineString, simplified (Douglas–Peucker, 0.4 cell);
every village and commune centre is the end of a short stub, so it is a node of
:func:`phusong.network.roads.road_graph`. The network is connected by construction.

``cost_factor`` multiplies the aerial fibre cost per km along the road (FACTS §6: aerial
≈ 5,000 USD/km), see :data:`COST_FACTOR` (``settings.ROAD_COST_FACTOR``).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree, shortest_path

from phusong import settings
from phusong.bundle import Raster
from phusong.crs import to_work, transform_points
from phusong.errors import DataError
from phusong.twin import _net_grid as ng

__all__ = ["make_roads", "ROAD_CLASSES", "COST_FACTOR", "COMMUNE_ROAD_HOUSEHOLDS", "hubs"]

#: Road classes, lowest first (the rank used internally is the position here).
ROAD_CLASSES = tuple(reversed(settings.ROAD_CLASSES))

#: Fibre cost multiplier per road class: ``settings.ROAD_COST_FACTOR`` (× the aerial cost per
#: km; poles and right-of-way exist along main roads, tracks in the mountains need new poles),
#: the same factors the importer gives real road layers.
COST_FACTOR = dict(settings.ROAD_COST_FACTOR)

#: Households served downstream above which a village link is a commune road, not a track.
COMMUNE_ROAD_HOUSEHOLDS = 250

#: One loop-closing district link per this many commune centres (at most).
LOOP_LINK_SHARE = 5
#: A link is added where the network detour between two neighbouring centres is this many
#: times their direct least-cost path, or more.
LOOP_DETOUR = 2.0

_RANK = {c: i for i, c in enumerate(ROAD_CLASSES)}


def hubs(communes, villages) -> pd.DataFrame:
    """The province city and the district towns, as commune-centre villages.

    Parameters
    ----------
    communes : GeoDataFrame
        With ``commune_code``, ``type``, ``district_code``, ``population``.
    villages : GeoDataFrame
        With ``village_id``, ``commune_code`` and ``is_centre`` (or, without it, the most
        populous village of each commune is its centre).

    Returns
    -------
    DataFrame
        ``village_id``, ``commune_code``, ``district_code``, ``role`` (``city`` first, then
        ``town`` ordered by commune code).
    """
    centres = centre_villages(villages)
    c = pd.DataFrame(communes.drop(columns="geometry", errors="ignore"))
    c = c.merge(centres[["commune_code", "village_id"]], on="commune_code", how="inner")
    if c.empty:
        raise DataError("villages: no village matches a commune; check commune_code")
    pop = c["population"] if "population" in c else pd.Series(0, index=c.index)
    kind = c["type"].astype(str).str.lower() if "type" in c else pd.Series("", index=c.index)
    c = c.assign(_pop=pop, _kind=kind).sort_values(["_pop", "commune_code"], ascending=[False, True])
    wards = c[c._kind.str.startswith("phư")]
    city = (wards if len(wards) else c).iloc[0]
    rows = [{"village_id": city.village_id, "commune_code": city.commune_code,
             "district_code": city.get("district_code", ""), "role": "city"}]
    if "district_code" in c:
        for dist, grp in sorted(c.groupby("district_code"), key=lambda t: str(t[0])):
            if dist == city.get("district_code"):
                continue
            towns = grp[grp._kind.str.startswith("thị")]
            chosen = towns if len(towns) else grp.iloc[:1]
            for _, t in chosen.sort_values("commune_code").iterrows():
                rows.append({"village_id": t.village_id, "commune_code": t.commune_code,
                             "district_code": dist, "role": "town"})
    return pd.DataFrame(rows)


def centre_villages(villages) -> pd.DataFrame:
    """One centre village per commune (``is_centre``, else the most populous)."""
    v = pd.DataFrame(villages.drop(columns="geometry", errors="ignore"))
    if "is_centre" in v and v["is_centre"].astype(bool).any():
        cen = v[v["is_centre"].astype(bool)].drop_duplicates("commune_code")
        rest = v[~v.commune_code.isin(cen.commune_code)]
    else:
        cen, rest = v.iloc[:0], v
    if len(rest):
        key = "households" if "households" in rest else "village_id"
        extra = rest.sort_values([key, "village_id"], ascending=[False, True])
        cen = pd.concat([cen, extra.drop_duplicates("commune_code")])
    return cen.sort_values("commune_code").reset_index(drop=True)


def make_roads(communes, villages, dem: Raster, *, seed: int = 0,
               target_res_m: float = 270.0) -> gpd.GeoDataFrame:
    """Generate a connected road network linking the city, district towns, communes and villages.

    Parameters
    ----------
    communes : GeoDataFrame
        Commune polygons (schema ``communes``), any CRS.
    villages : GeoDataFrame
        Village points (schema ``villages``), any CRS.
    dem : Raster
        Elevation in WORK_CRS (or another metric, north-up CRS matching WORK_CRS), m.
    seed : int
        Seed of the small cost noise (a different seed gives different routes).
    target_res_m : float
        Routing cell size, m (coarser is faster, finer follows valleys more closely).

    Returns
    -------
    GeoDataFrame
        Schema ``roads`` in EPSG:4326: ``road_id``, ``road_class``, ``cost_factor``,
        ``length_m`` (m, measured in WORK_CRS), LineString geometry.
    """
    if dem.crs.upper() != settings.WORK_CRS:
        raise DataError(f"dem: in {dem.crs}; the twin generates roads on a {settings.WORK_CRS} DEM")
    cw, vw = to_work(communes, "communes"), to_work(villages, "villages")
    if len(vw) == 0:
        raise DataError("villages: empty; roads link villages, generate them first")
    inside = shapely.union_all(cw.geometry.to_numpy()).buffer(1000.0)
    grid = ng.build_cost_grid(dem, inside=inside, seed=seed, target_res_m=target_res_m)
    vx, vy = vw.geometry.x.to_numpy(), vw.geometry.y.to_numpy()
    vcell = grid.cell_of(vx, vy)
    pos = {vid: i for i, vid in enumerate(vw["village_id"])}
    hub = hubs(cw, vw)
    centres = centre_villages(vw)
    edges: dict[tuple[int, int], int] = {}

    def add(path: list[int], rank: int) -> None:
        for a, b in zip(path[:-1], path[1:], strict=True):
            k = (a, b) if a < b else (b, a)
            if edges.get(k, -1) < rank:
                edges[k] = rank

    # 1. trunk between hubs
    hcell = np.array([vcell[pos[v]] for v in hub.village_id])
    network = set(hcell.tolist())
    if len(hcell) > 1:
        uh = list(dict.fromkeys(hcell.tolist()))
        dist, pred = dijkstra(grid.graph, directed=True, indices=uh, return_predecessors=True)
        cost = dist[:, uh]
        if not np.isfinite(cost).all():
            raise DataError("dem: district towns cannot all be linked (voids split the terrain)")
        mst = minimum_spanning_tree(cost).toarray()
        tree = (mst > 0) | (mst.T > 0)
        links = [(i, j, _RANK["national"]) for i in range(len(uh)) for j in range(i + 1, len(uh))
                 if tree[i, j]]
        tree_cost = shortest_path(np.where(tree, cost, 0.0), directed=False)
        ratio = [(cost[i, j] / tree_cost[i, j], i, j) for i in range(len(uh))
                 for j in range(i + 1, len(uh)) if not tree[i, j] and tree_cost[i, j] > 0]
        for r, i, j in sorted(ratio)[: len(uh) // 3]:
            if r < 0.6:
                links.append((i, j, _RANK["provincial"]))
        for i, j, rank in links:
            path = ng.trace_path(pred[i], uh[j])
            add(path, rank)
            network.update(path)
    # 2. district roads to commune centres, 3. village links
    hh = vw["households"].to_numpy(dtype=float) if "households" in vw else np.ones(len(vw))
    cen_idx = np.array([pos[v] for v in centres.village_id if v not in set(hub.village_id)], int)
    other = np.setdiff1d(np.arange(len(vw)), np.array([pos[v] for v in centres.village_id]))
    for stage, idx in (("district", cen_idx), ("village", other)):
        if len(idx) == 0:
            continue
        dist, pred = ng.search(grid, sorted(network))
        load: dict[tuple[int, int], float] = {}
        new: set[int] = set()
        for i in idx:
            if not np.isfinite(dist[vcell[i]]):
                raise DataError(f"villages: {vw['village_id'].iloc[i]} cannot be reached by road "
                                "(DEM voids around it)")
            path = ng.trace_path(pred, vcell[i])
            new.update(path)
            for a, b in zip(path[:-1], path[1:], strict=True):
                k = (a, b) if a < b else (b, a)
                load[k] = load.get(k, 0.0) + hh[i]
        for k, households in load.items():
            if stage == "district":
                rank = _RANK["district"]
            else:
                rank = _RANK["commune"] if households >= COMMUNE_ROAD_HOUSEHOLDS else _RANK["track"]
            if edges.get(k, -1) < rank:
                edges[k] = rank
        network |= new
        if stage == "district":
            links = _loop_links(grid, edges, np.unique(vcell[[pos[v] for v in centres.village_id]]),
                                max_links=max(1, len(centres) // LOOP_LINK_SHARE))
            for path in links:
                add(path, _RANK["district"])
                network.update(path)
    return _to_lines(grid, edges, vx, vy, vcell, vw["village_id"].to_numpy(), set(hub.village_id),
                     set(centres.village_id))


def _loop_links(grid, edges, centre_cells, *, max_links: int) -> list[list[int]]:
    """Least-cost links between neighbouring commune centres that close long detours.

    Neighbours are centres whose least-cost regions touch (one multi-source search: the
    cheapest path between two neighbours crosses their common boundary at the edge minimising
    ``dist[u] + w(u, v) + dist[v]``). The network detour between them is measured on the roads
    built so far; links with the largest detour ratio (≥ :data:`LOOP_DETOUR`) are returned.
    """
    cells = np.asarray(centre_cells, dtype=np.int64)
    if len(cells) < 3:
        return []
    dist, pred, src = dijkstra(grid.graph, directed=True, indices=cells,
                               return_predecessors=True, min_only=True)
    g = grid.graph.tocoo()
    u, v, w = g.row, g.col, g.data
    a, b = src[u], src[v]
    ok = (a >= 0) & (b >= 0) & (a < b)
    total = dist[u] + w + dist[v]
    best: dict[tuple[int, int], tuple[float, int, int]] = {}
    for k in np.flatnonzero(ok)[np.argsort(total[ok], kind="stable")]:
        key = (int(a[k]), int(b[k]))
        if key not in best:
            best[key] = (float(total[k]), int(u[k]), int(v[k]))
    # network distances between centres along the roads built so far (grid costs)
    net_cells = np.array(sorted({n for e in edges for n in e} | set(cells.tolist())))
    index = {c: i for i, c in enumerate(net_cells)}
    ea = np.array([index[x] for x, _ in edges], dtype=np.int64)
    eb = np.array([index[y] for _, y in edges], dtype=np.int64)
    ew = np.asarray(grid.graph[np.array([x for x, _ in edges]), np.array([y for _, y in edges])]
                    ).ravel()
    from scipy import sparse

    sub = sparse.coo_matrix((ew, (ea, eb)), shape=(len(net_cells),) * 2).tocsr()
    src_cells = sorted({c for pair in best for c in pair})
    dnet = dijkstra(sub, directed=False, indices=[index[c] for c in src_cells])
    row = {c: i for i, c in enumerate(src_cells)}
    ranked = []
    for (ca, cb), (direct, cu, cv) in best.items():
        detour = dnet[row[ca], index[cb]] / max(direct, 1e-9)
        if detour >= LOOP_DETOUR:
            ranked.append((-detour, ca, cb, cu, cv))
    out = []
    for _, _, _, cu, cv in sorted(ranked)[:max_links]:
        out.append(list(reversed(ng.trace_path(pred, cu))) + ng.trace_path(pred, cv))
    return out


def _to_lines(grid, edges, vx, vy, vcell, vids, hub_ids, centre_ids) -> gpd.GeoDataFrame:
    rank_at: dict[int, int] = {}
    for (a, b), r in edges.items():
        rank_at[a] = max(rank_at.get(a, -1), r)
        rank_at[b] = max(rank_at.get(b, -1), r)
    forced = set(int(c) for c in vcell)
    lines: list[np.ndarray] = []
    ranks: list[int] = []
    for cells, rank in ng.chains(edges, forced):
        x, y = grid.xy(cells)
        lines.append(ng.simplify_xy(x, y, 0.4 * grid.res_m))
        ranks.append(rank)
    for i, vid in enumerate(vids):
        cx, cy = grid.xy(int(vcell[i]))
        if np.hypot(vx[i] - cx, vy[i] - cy) < 1.0:
            continue
        if vid in hub_ids:
            rank = rank_at.get(int(vcell[i]), _RANK["district"])
        elif vid in centre_ids:
            rank = _RANK["district"]
        else:
            rank = min(rank_at.get(int(vcell[i]), _RANK["track"]), _RANK["commune"])
        lines.append(np.array([[cx, cy], [vx[i], vy[i]]]))
        ranks.append(rank)
    if not lines:
        raise DataError("roads: nothing to connect (all villages in one routing cell)")
    # one transformation of every vertex keeps shared end points bit-identical in lon/lat
    allxy = np.vstack(lines)
    lon, lat = transform_points(allxy[:, 0], allxy[:, 1], settings.WORK_CRS, settings.STORE_CRS)
    split = np.cumsum([len(ln) for ln in lines])[:-1]
    geoms = [shapely.LineString(c) for c in np.split(np.c_[lon, lat], split)]
    length = np.array([float(shapely.length(shapely.LineString(ln))) for ln in lines])
    cls = [ROAD_CLASSES[r] for r in ranks]
    order = np.lexsort((length, -np.array(ranks)))  # trunk first, then by length
    gdf = gpd.GeoDataFrame(
        {
            "road_id": [f"R{k + 1:05d}" for k in range(len(order))],
            "road_class": [cls[i] for i in order],
            "cost_factor": [COST_FACTOR[cls[i]] for i in order],
            "length_m": np.round(length[order], 1),
        },
        geometry=[geoms[i] for i in order],
        crs=settings.STORE_CRS,
    )
    return gdf
