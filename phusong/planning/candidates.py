"""Candidate BTS sites: upgrades of existing towers and new sites where demand is uncovered.

* **Upgrades** (``kind="upgrade"``, ``settings.COSTS.upgrade_site_vnd``): 4G on existing towers
  that carry only 2G/3G, 5G on every tower that carries 4G (in the operator's licensed band,
  ``Scenario.bands_5g``; an operator without a 5G band gets none), plus the scenario's low band
  when it names one (``low_band_5g``, ``Costs.low_band_radio_vnd`` more); the tower's operator;
  backhaul is added when the site has none (``has_backhaul`` false).
* **New sites** (``kind="new"``, ``settings.COSTS.new_site_vnd``; with ``with_5g`` they also carry
  5G in the shared band and cost ``upgrade_site_vnd`` more for the 5G radio), generated around
  villages in ``demand`` (default: without mobile broadband): household-weighted centres of
  clusters of such villages (scikit-learn DBSCAN in ``settings.WORK_CRS``; clusters wider than
  ``cluster_max_radius_m`` are split with KMeans), the highest DEM hill tops near each cluster
  (local maxima of a ``ridge_window_m`` window via ``scipy.ndimage.maximum_filter``), and commune
  centres without broadband. Sites closer than 300 m to an earlier one are merged. Operator
  ``"shared"`` by default (one tower for all operators, Plan 785 §III.3.b).

The radios a candidate adds are listed in ``bands`` (``"4G:B8;5G:n78"``); ``tech``/``band`` name
the highest technology's first band. Cost of a candidate = site + power + backhaul, VND; a shared
new tower costs ``sharing_markup`` more (radios, power and rent of every operator). Power: a new site farther than
``power_free_m`` from the road network pays a medium-voltage line per km beyond that. Backhaul:
the cheapest path along roads (edge ``cost_vnd``: aerial fibre per km × road-class factor) from
the site's nearest road node to a road node on the existing fibre, plus the straight stretch to
that road node at the aerial rate; where no road path reaches the fibre, the straight distance
to the nearest fibre is priced at ``backhaul_missing_vnd_per_km`` (microwave-equivalent).
Generated candidates outside every commune are dropped; candidates given by a user outside the
province are refused (:func:`check_candidates`).
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage
from scipy.spatial import cKDTree

from phusong import settings
from phusong.config import DEFAULT_SETTINGS
from phusong.crs import parse_crs, to_work, transform_points
from phusong.errors import DataError, SchemaError
from phusong.planning import _plan_deps as deps
from phusong.planning.radios import (  # noqa: F401  (candidate_transmitters: public here too)
    candidate_transmitters,
    five_g_bands,
    main_band,
    parse_bands,
    sample_ground,
)
from phusong.planning.scenario import DEFAULT_SCENARIO, Scenario

__all__ = [
    "CANDIDATE_COLUMNS",
    "generate_candidates",
    "check_candidates",
    "candidate_transmitters",
    "fibre_road_nodes",
    "backhaul_vnd",
    "new_site_bands",
]

#: Columns of a candidate table (plus geometry, EPSG:4326).
CANDIDATE_COLUMNS = ("candidate_id", "kind", "source", "site_id", "operator", "tech", "band",
                     "bands", "freq_mhz", "height_m", "ground_m", "commune_code", "name", "x_m", "y_m", "road_m",
                     "backhaul_m", "site_cost_vnd", "power_cost_vnd", "backhaul_cost_vnd",
                     "cost_vnd")
_DEDUP_M = 300.0


def fibre_road_nodes(graph: nx.Graph, bundle, *, touch_m: float = 30.0) -> list:
    """Road nodes within ``touch_m`` of the existing fibre (spans or nodes), the routing root."""
    parts = [to_work(f, name).geometry.to_numpy() for f, name in
             ((bundle.fibre, "fibre"), (bundle.fibre_nodes, "fibre_nodes")) if f is not None and len(f)]
    if graph is None or not parts or graph.number_of_nodes() == 0:
        return []
    nodes = list(graph.nodes)
    pts = shapely.points([graph.nodes[n]["x"] for n in nodes], [graph.nodes[n]["y"] for n in nodes])
    tree = shapely.STRtree(np.concatenate(parts))
    hit = np.unique(tree.query(pts, predicate="dwithin", distance=touch_m)[0])
    return [nodes[i] for i in hit]


def backhaul_vnd(graph, sources: list, x_m, y_m, bundle, scenario: Scenario = DEFAULT_SCENARIO):
    """Backhaul cost and road distance from points to the existing fibre (module doc).

    Returns
    -------
    cost_vnd, along_m, road_m : ndarray
        Cost (VND), path length along roads plus the straight stretch (m; straight distance to
        the fibre where no road path exists), and distance to the nearest road node (m).
    """
    x_m, y_m = np.asarray(x_m, float), np.asarray(y_m, float)
    aerial = scenario.costs.fibre_aerial_vnd_per_km / 1000.0
    missing = scenario.planning_costs.backhaul_missing_vnd_per_km / 1000.0
    straight = _straight_to_fibre(bundle, x_m, y_m)
    if graph is None or graph.number_of_nodes() == 0:
        return straight * missing, straight, np.full(len(x_m), np.inf)
    node, offset = deps.snap_points(graph, x_m, y_m)
    if sources:
        cost = nx.multi_source_dijkstra_path_length(graph, sources, weight="cost_vnd")
        length = nx.multi_source_dijkstra_path_length(graph, sources, weight="length")
    else:
        cost, length = {}, {}
    c = np.array([cost.get(int(n), np.inf) for n in node]) + offset * aerial
    along = np.array([length.get(int(n), np.inf) for n in node]) + offset
    far = ~np.isfinite(c)
    c[far] = straight[far] * missing
    along[far] = straight[far]
    return c, along, offset


def _straight_to_fibre(bundle, x_m, y_m) -> np.ndarray:
    parts = [to_work(f, name).geometry.to_numpy() for f, name in
             ((bundle.fibre, "fibre"), (bundle.fibre_nodes, "fibre_nodes")) if f is not None and len(f)]
    if not parts:
        raise DataError("fibre: the bundle has no fibre layer; backhaul cannot be priced — add "
                        "the existing fibre network")
    tree = shapely.STRtree(np.concatenate(parts))
    pts = shapely.points(x_m, y_m)
    _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    return np.asarray(dist, float)


def _site_techs(bundle) -> pd.DataFrame:
    sites = to_work(bundle.sites, "sites")
    cells = bundle.cells if bundle.cells is not None else pd.DataFrame(columns=["site_id", "tech"])
    techs = cells.groupby("site_id")["tech"].agg(lambda s: set(s))
    out = pd.DataFrame({"site_id": sites["site_id"].to_numpy(), "operator": sites["operator"].to_numpy(),
                        "height_m": sites["height_m"].to_numpy(float),
                        "x_m": sites.geometry.x.to_numpy(), "y_m": sites.geometry.y.to_numpy(),
                        "has_backhaul": (sites["has_backhaul"].fillna(False).astype(bool).to_numpy()
                                         if "has_backhaul" in sites.columns else False)})
    out["techs"] = [techs.get(s, set()) for s in out.site_id]
    out["ground_m"] = (pd.to_numeric(sites["ground_m"], errors="coerce").to_numpy(float)
                       if "ground_m" in sites.columns else np.nan)
    return out


def _upgrades(bundle, rules, scenario: Scenario) -> pd.DataFrame:
    if bundle.sites is None or not len(bundle.sites):
        return pd.DataFrame()
    s = _site_techs(bundle)
    rows = []
    band4 = rules.new_site_band if rules.new_site_tech == "4G" else next(
        iter(scenario.config.bands_mhz["4G"]))
    bands5 = dict(scenario.bands_5g)
    for r in s.itertuples():
        five = bands5.get(r.operator)
        for tech, bands, want in (("4G", [band4], rules.upgrade_4g and "4G" not in r.techs and
                                   bool(r.techs & {"2G", "3G"})),
                                  ("5G", five_g_bands(five, rules), rules.upgrade_5g and five
                                   is not None and "4G" in r.techs and "5G" not in r.techs)):
            if want:
                rows.append({"kind": "upgrade", "source": "existing", "site_id": r.site_id,
                             "operator": r.operator, "tech": tech, "band": bands[0],
                             "bands": ";".join(f"{tech}:{b}" for b in bands),
                             "height_m": r.height_m, "x_m": r.x_m, "y_m": r.y_m,
                             "ground_m": r.ground_m,
                             "needs_backhaul": not r.has_backhaul, "weight": 0.0,
                             "name": f"Nâng cấp {tech} {r.site_id}"})
    return pd.DataFrame(rows)


def new_site_bands(scenario: Scenario, *, with_5g: bool) -> str:
    """Radios of a new site: the rules' tech and band, plus 5G in the shared band with ``with_5g``."""
    r = scenario.rules
    out = [f"{r.new_site_tech}:{r.new_site_band}"]
    if with_5g and r.new_site_tech != "5G":
        main = dict(scenario.bands_5g).get(r.new_site_operator)
        out += [f"5G:{b}" for b in five_g_bands(main, r)]
    return ";".join(out)


def _clusters(x, y, w, rules) -> list[tuple[float, float, np.ndarray]]:
    from sklearn.cluster import DBSCAN, KMeans

    xy = np.column_stack([x, y])
    labels = DBSCAN(eps=rules.cluster_eps_m, min_samples=1).fit_predict(xy)
    out = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        ww = np.maximum(w[idx], 1e-9)
        cx, cy = np.average(xy[idx], axis=0, weights=ww)
        spread = float(np.max(np.hypot(xy[idx, 0] - cx, xy[idx, 1] - cy)))
        k = min(len(idx), int(np.ceil((spread / rules.cluster_max_radius_m) ** 2)))
        if k <= 1:
            out.append((cx, cy, idx))
            continue
        km = KMeans(n_clusters=k, n_init=4, random_state=0).fit(xy[idx], sample_weight=ww)
        for j in range(k):
            sub = idx[km.labels_ == j]
            if len(sub):
                sx, sy = np.average(xy[sub], axis=0, weights=np.maximum(w[sub], 1e-9))
                out.append((sx, sy, sub))
    return out


def _hilltops(dem, rules) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local maxima of the DEM in WORK_CRS metres: x, y, elevation."""
    if dem is None:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    z = np.asarray(dem.array, dtype="float32")
    res = abs(dem.transform.a)
    if parse_crs(dem.crs).is_geographic:
        res *= 111_000.0
    size = max(3, int(round(rules.ridge_window_m / max(res, 1e-6))) | 1)
    filled = np.where(np.isfinite(z), z, -np.inf)
    peak = (filled == ndimage.maximum_filter(filled, size=size, mode="nearest")) & np.isfinite(z)
    rows, cols = np.nonzero(peak)
    xs, ys = _pixel_to_xy(dem.transform, cols + 0.5, rows + 0.5)
    xs, ys = transform_points(xs, ys, dem.crs, settings.WORK_CRS)
    return xs, ys, z[rows, cols].astype(float)


def _pixel_to_xy(t, col, row):
    """Apply the affine ``t`` to arrays (col, row) → (x, y)."""
    return t.a * col + t.b * row + t.c, t.d * col + t.e * row + t.f


def _new_sites(bundle, villages_w, uncovered, rules, bands: str) -> pd.DataFrame:
    vx, vy = villages_w.geometry.x.to_numpy(), villages_w.geometry.y.to_numpy()
    hh = villages_w["households"].to_numpy(float)
    idx = np.flatnonzero(uncovered)
    if not len(idx):
        return pd.DataFrame()
    rows = []
    clusters = _clusters(vx[idx], vy[idx], hh[idx], rules)
    hx, hy, hz = _hilltops(bundle.dem, rules)
    htree = cKDTree(np.column_stack([hx, hy])) if len(hx) else None
    top = main_band(bands)
    base = {"kind": "new", "site_id": None, "operator": rules.new_site_operator,
            "tech": top[0], "band": top[1], "bands": bands,
            "height_m": rules.new_site_height_m, "needs_backhaul": True}
    for cx, cy, sub in clusters:
        weight = float(hh[idx[sub]].sum())
        rows.append({**base, "source": "cluster", "x_m": cx, "y_m": cy, "weight": weight})
        if htree is not None and rules.ridges_per_cluster > 0:
            near = htree.query_ball_point([cx, cy], rules.ridge_search_m)
            for k in sorted(near, key=lambda i: -hz[i])[: rules.ridges_per_cluster]:
                rows.append({**base, "source": "ridge", "x_m": hx[k], "y_m": hy[k],
                             "weight": weight})
    if rules.commune_centres and "is_centre" in villages_w.columns:
        codes = villages_w["commune_code"].to_numpy()
        cen = villages_w["is_centre"].fillna(False).astype(bool).to_numpy() & uncovered
        for i in np.flatnonzero(cen):
            w = float(hh[idx][codes[idx] == codes[i]].sum())
            rows.append({**base, "source": "centre", "x_m": vx[i], "y_m": vy[i], "weight": w})
    out = pd.DataFrame(rows)
    # drop near-duplicates (keep the first: clusters, then ridges, then centres)
    tree = cKDTree(out[["x_m", "y_m"]].to_numpy())
    keep = np.ones(len(out), bool)
    for i, j in sorted(tree.query_pairs(_DEDUP_M)):
        if keep[i] and keep[j]:
            keep[j] = False
    out = out[keep]
    if len(out) > rules.max_new_sites:
        out = out.sort_values("weight", ascending=False, kind="stable").head(rules.max_new_sites)
    return out.reset_index(drop=True)


def _assign_communes(df: pd.DataFrame, bundle) -> np.ndarray:
    """Commune code of each candidate point (None outside every commune)."""
    communes = to_work(bundle.communes, "communes")
    pts = gpd.GeoSeries(shapely.points(df["x_m"].to_numpy(float), df["y_m"].to_numpy(float)),
                        crs=settings.WORK_CRS)
    ip, ic = communes.sindex.query(pts, predicate="intersects")
    code = np.full(len(df), None, dtype=object)
    order = np.argsort(ip, kind="stable")
    code[ip[order][::-1]] = communes["commune_code"].to_numpy()[ic[order][::-1]]
    return code


def generate_candidates(bundle, village_cov: pd.DataFrame, *, scenario: Scenario = DEFAULT_SCENARIO,
                        graph: nx.Graph | None = None, fibre_nodes: list | None = None,
                        demand: np.ndarray | None = None, with_5g: bool = False,
                        kinds: tuple[str, ...] = ("upgrade", "new")) -> gpd.GeoDataFrame:
    """Upgrade and new-site candidates with costs (module doc).

    Parameters
    ----------
    bundle : Bundle
        Needs ``communes``, ``villages``, ``fibre``; uses ``sites``/``cells``, ``dem``, ``roads``.
    village_cov : DataFrame
        :func:`phusong.coverage.score_villages` output indexed by village_id.
    scenario : Scenario
        Candidate rules, costs, broadband techs.
    graph : networkx.Graph, optional
        Road graph (:func:`phusong.network.roads.road_graph`); built from ``bundle.roads``.
    fibre_nodes : list, optional
        Road nodes on the existing fibre (:func:`fibre_road_nodes`).
    demand : ndarray of bool, optional
        Villages (in ``bundle.villages`` order) new sites are generated around (default: those
        without mobile broadband).
    with_5g : bool
        New sites carry 5G as well (when a 5G target falls due in the period).
    kinds : tuple of str
        Which candidates to make: ``"upgrade"``, ``"new"`` or both.

    Returns
    -------
    GeoDataFrame
        :data:`CANDIDATE_COLUMNS` + geometry (EPSG:4326), ids ``U0001…`` (upgrades) then
        ``N0001…`` (new sites). ``attrs["dropped_outside"]`` counts generated sites dropped.
    """
    rules = scenario.rules
    villages = to_work(bundle.villages, "villages")
    ids = villages["village_id"].astype(str)
    cov = village_cov.reindex(ids)
    bb = [cov[f"covered_{t}"].fillna(False).astype(bool).to_numpy()
          for t in scenario.broadband_techs if f"covered_{t}" in cov.columns]
    broadband = np.logical_or.reduce(bb) if bb else np.zeros(len(villages), bool)
    if kinds and graph is None and bundle.roads is not None and len(bundle.roads):
        graph = deps.road_graph(bundle.roads, costs=scenario.costs)  # none asked: none priced
    if fibre_nodes is None:
        fibre_nodes = fibre_road_nodes(graph, bundle)
    uncovered = ~broadband if demand is None else np.asarray(demand, bool)
    parts = []
    if "upgrade" in kinds:
        parts.append(_upgrades(bundle, rules, scenario))
    if "new" in kinds:
        parts.append(_new_sites(bundle, villages, uncovered, rules,
                                new_site_bands(scenario, with_5g=with_5g)))
    parts = [p for p in parts if len(p)]
    if not parts:
        return _finish(pd.DataFrame(columns=[*CANDIDATE_COLUMNS, "needs_backhaul"]), 0,
                       scenario.config.bands_mhz)
    df = pd.concat(parts, ignore_index=True)
    df["commune_code"] = _assign_communes(df, bundle)
    outside = df["commune_code"].isna().to_numpy()
    df = df[~outside].reset_index(drop=True)
    priced = price_candidates(_with_ground(df, bundle.dem), bundle, graph, fibre_nodes, scenario)
    return _finish(priced, int(outside.sum()), scenario.config.bands_mhz)


def price_candidates(df: pd.DataFrame, bundle, graph, fibre_nodes, scenario: Scenario) -> pd.DataFrame:
    """Add ``road_m``, ``backhaul_m`` and the cost columns (VND) to a candidate table."""
    df = df.copy()
    c = scenario.costs
    pc = scenario.planning_costs
    if len(df):
        bh, along, road = backhaul_vnd(graph, fibre_nodes, df["x_m"], df["y_m"], bundle, scenario)
    else:
        bh = along = road = np.zeros(0)
    new = (df["kind"] == "new").to_numpy()
    need = df["needs_backhaul"].fillna(True).astype(bool).to_numpy() if len(df) else new
    df["road_m"] = road
    df["backhaul_m"] = np.where(need, along, 0.0)
    bands = df["bands"] if "bands" in df else pd.Series("", index=df.index)
    n5 = np.array([sum(t == "5G" for t, _ in parse_bands(b)) for b in bands], dtype=float)
    radio5 = np.where(new & (n5 > 0), c.upgrade_site_vnd, 0.0) + np.maximum(n5 - 1, 0) * \
        c.low_band_radio_vnd
    shared = new & (df["operator"] == "shared").to_numpy() if len(df) else new
    df["site_cost_vnd"] = (np.where(new, c.new_site_vnd, c.upgrade_site_vnd) + radio5) * \
        np.where(shared, 1.0 + pc.sharing_markup, 1.0)
    far = np.where(np.isfinite(road), np.maximum(0.0, road - pc.power_free_m), 0.0)
    df["power_cost_vnd"] = np.where(new, far / 1000.0 * pc.power_line_vnd_per_km, 0.0)
    df["backhaul_cost_vnd"] = np.where(need, bh, 0.0)
    df["cost_vnd"] = df["site_cost_vnd"] + df["power_cost_vnd"] + df["backhaul_cost_vnd"]
    return df


def _with_ground(df: pd.DataFrame, dem) -> pd.DataFrame:
    """``ground_m`` where missing, sampled as the coverage engine samples sites (m)."""
    df = df.copy()
    given = pd.to_numeric(df["ground_m"], errors="coerce").to_numpy(float, copy=True) \
        if "ground_m" in df \
        else np.full(len(df), np.nan)
    miss = ~np.isfinite(given)
    if miss.any() and dem is not None:
        given[miss] = sample_ground(df["x_m"].to_numpy(float)[miss],
                                    df["y_m"].to_numpy(float)[miss], dem)
    df["ground_m"] = given
    return df


def _finish(df: pd.DataFrame, dropped: int, bands_mhz) -> gpd.GeoDataFrame:
    df = df.copy()
    if len(df):
        kinds = df["kind"].to_numpy()
        n_up = np.cumsum(kinds == "upgrade")
        n_new = np.cumsum(kinds == "new")
        df["candidate_id"] = [f"U{u:04d}" if k == "upgrade" else f"N{n:04d}"
                              for k, u, n in zip(kinds, n_up, n_new, strict=True)]
        df["freq_mhz"] = [bands_mhz[t][b] for t, b in zip(df.tech, df.band, strict=True)]
        no_name = df["name"].isna() if "name" in df.columns else np.ones(len(df), bool)
        df.loc[no_name, "name"] = [f"Trạm mới {cid}" for cid in df.loc[no_name, "candidate_id"]]
    for col in CANDIDATE_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series(dtype=object if col in ("site_id", "name") else float)
    lon, lat = transform_points(df["x_m"].to_numpy(float), df["y_m"].to_numpy(float),
                                settings.WORK_CRS, settings.STORE_CRS)
    keep = [*CANDIDATE_COLUMNS, "needs_backhaul"] if "needs_backhaul" in df else list(CANDIDATE_COLUMNS)
    out = gpd.GeoDataFrame(df[keep].reset_index(drop=True), geometry=gpd.points_from_xy(lon, lat),
                           crs=settings.STORE_CRS)
    out.attrs["dropped_outside"] = dropped
    return out


def check_candidates(candidates: gpd.GeoDataFrame, bundle, *, graph=None, fibre_nodes=None,
                     scenario: Scenario = DEFAULT_SCENARIO) -> gpd.GeoDataFrame:
    """Validate user-supplied candidates; refuse any outside the province; price missing costs.

    Parameters
    ----------
    candidates : GeoDataFrame
        Points with ``kind`` (``new``/``upgrade``), ``tech`` and ``operator`` (an operator of
        ``settings.OPERATORS`` or ``"shared"``); optional ``candidate_id`` (unique, not of the
        generated form ``U0001``/``N0001``; default ``user{row}``), ``band`` (of the tech;
        default its first band), ``bands`` (``"4G:B3;5G:n78"``, default ``"{tech}:{band}"``),
        ``height_m`` (> 0 m),
        ``site_id`` (required for an upgrade: an existing site), ``needs_backhaul`` (default:
        true for a new site, the site's lack of backhaul for an upgrade), ``cost_vnd`` (≥ 0 VND;
        priced like a generated candidate where missing).
    bundle : Bundle
        The province (its communes bound the allowed area; its sites the upgrades).

    Returns
    -------
    GeoDataFrame
        :data:`CANDIDATE_COLUMNS` + ``needs_backhaul`` + geometry (EPSG:4326), ``source``
        ``"user"`` unless given.

    Raises
    ------
    DataError
        A candidate lies outside every commune (the message names it), or a field is wrong
        (the message names the row and the field).
    """
    src = str(getattr(candidates, "attrs", {}).get("source") or "candidates")
    if not isinstance(candidates, gpd.GeoDataFrame):
        raise DataError(f"{src}: expected points with a CRS, got {type(candidates).__name__}")
    if not len(candidates):
        raise DataError(f"{src}: no rows; give at least one candidate point")
    need = [c for c in ("kind", "tech", "operator") if c not in candidates.columns]
    if need:
        raise SchemaError(f"{src}: missing column(s) {need}; give kind, tech and operator")
    geom = candidates.geometry
    bad_geom = (geom.isna() | geom.is_empty | (geom.geom_type != "Point")).to_numpy()
    _refuse(bad_geom, candidates, lambda i: "geometry " + (
        "missing" if geom.iloc[i] is None else "empty" if geom.iloc[i].is_empty
        else geom.iloc[i].geom_type), "give one point per candidate", src)
    w = to_work(candidates, "candidates").reset_index(drop=True)
    df = pd.DataFrame(w.drop(columns="geometry"))
    df["x_m"], df["y_m"] = w.geometry.x.to_numpy(), w.geometry.y.to_numpy()
    _check_fields(df, bundle, src)
    df["commune_code"] = _assign_communes(df, bundle)
    out = df["commune_code"].isna().to_numpy()
    if out.any():
        i = int(np.flatnonzero(out)[0])
        cid = df["candidate_id"].iloc[i] if "candidate_id" in df else f"row {i + 1}"
        lon, lat = candidates.to_crs(settings.STORE_CRS).geometry.iloc[i].coords[0]
        raise DataError(f"{src}: {cid} at ({lon:.5f}, {lat:.5f}) lies outside the province "
                        f"({int(out.sum())} candidate(s) outside every commune); move or drop it")
    df["height_m"] = df.get("height_m", pd.Series(scenario.config.radio.tower_height_m,
                                                  index=df.index))
    df["source"] = df.get("source", pd.Series("user", index=df.index))
    df["needs_backhaul"] = _needs_backhaul(df, bundle)
    given = df["cost_vnd"].copy() if "cost_vnd" in df else None
    if graph is None and bundle.roads is not None and len(bundle.roads):
        graph = deps.road_graph(bundle.roads, costs=scenario.costs)
    if fibre_nodes is None:
        fibre_nodes = fibre_road_nodes(graph, bundle)
    priced = price_candidates(_with_ground(df, bundle.dem), bundle, graph, fibre_nodes, scenario)
    if given is not None:
        priced["cost_vnd"] = pd.to_numeric(given, errors="coerce").fillna(priced["cost_vnd"])
    ids = priced.pop("candidate_id").astype(str).to_numpy() if "candidate_id" in priced else \
        np.array([f"user{i + 1}" for i in range(len(priced))], dtype=object)
    res = _finish(priced, 0, scenario.config.bands_mhz)
    res["candidate_id"] = ids
    return res


def _refuse(bad: np.ndarray, df, what, fix: str, src: str = "candidates") -> None:
    """Raise naming the first bad row (its ``candidate_id`` when given) and how to fix it."""
    if not np.asarray(bad).any():
        return
    i = int(np.flatnonzero(bad)[0])
    cid = f" ({df['candidate_id'].iloc[i]})" if "candidate_id" in df else ""
    raise DataError(f"{src}: row {i + 1}{cid} {what(i)}; {fix}")


def _check_fields(df: pd.DataFrame, bundle, src: str) -> None:
    """Refuse malformed fields; fill ``band``/``bands`` and make ``height_m`` numeric in place."""

    def refuse(bad, what, fix):
        _refuse(bad, df, what, fix, src)

    refuse(~df["kind"].isin(["new", "upgrade"]).to_numpy(),
           lambda i: f"kind {df['kind'].iloc[i]!r}", "use new or upgrade")
    refuse(~df["tech"].isin(settings.TECHS).to_numpy(),
           lambda i: f"tech {df['tech'].iloc[i]!r}", f"use one of {list(settings.TECHS)}")
    ops = (*settings.OPERATORS, "shared")
    refuse(~df["operator"].isin(ops).to_numpy(),
           lambda i: f"operator {df['operator'].iloc[i]!r}", f"use one of {list(ops)}")
    if "candidate_id" in df:
        cid = df["candidate_id"].astype(str)
        refuse(cid.duplicated().to_numpy() | df["candidate_id"].isna().to_numpy(),
               lambda i: "candidate_id repeated or missing", "give every candidate its own id")
        refuse(cid.str.fullmatch(r"[UN]\d{4,}").to_numpy(),
               lambda i: f"candidate_id {cid.iloc[i]!r} has the form of a generated id",
               "rename it (generated candidates are U0001…, N0001…)")
    known = DEFAULT_SETTINGS.bands_mhz  # the band labels (settings change frequencies only)
    if "band" not in df:
        df["band"] = [next(iter(known[t])) for t in df.tech]
    df["band"] = [next(iter(known[t])) if b is None or b != b else str(b)
                  for t, b in zip(df.tech, df["band"], strict=True)]
    refuse(np.array([b not in known[t] for t, b in zip(df.tech, df.band, strict=True)]),
           lambda i: f"band {df.band.iloc[i]!r} is not a {df.tech.iloc[i]} band (its bands: "
           f"{', '.join(known[df.tech.iloc[i]])})", "use one of them")
    own = [f"{t}:{b}" for t, b in zip(df.tech, df.band, strict=True)]
    bands = df["bands"] if "bands" in df else pd.Series(None, index=df.index, dtype=object)
    df["bands"] = [b if isinstance(b, str) and b.strip() else o
                   for b, o in zip(bands, own, strict=True)]
    refuse(np.array([not _bands_ok(b) for b in df["bands"]]),
           lambda i: f"bands {df['bands'].iloc[i]!r} are not tech:band pairs of known bands",
           "write them like 4G:B3;5G:n78")
    refuse(np.array([main_band(b) != (t, bd) for b, t, bd in
                      zip(df["bands"], df.tech, df.band, strict=True)]),
           lambda i: f"bands {df['bands'].iloc[i]!r} do not lead with its tech and band "
           f"{df.tech.iloc[i]}:{df.band.iloc[i]}", "make tech/band the top technology's first band")
    if "height_m" in df:
        h = pd.to_numeric(df["height_m"], errors="coerce").to_numpy(float)
        refuse(~(np.isfinite(h) & (h > 0)), lambda i: f"height_m {_shown(df['height_m'].iloc[i])}",
               "give the antenna height above ground in metres (> 0)")
        df["height_m"] = h
    if "cost_vnd" in df:
        g = pd.to_numeric(df["cost_vnd"], errors="coerce").to_numpy(float)
        given = df["cost_vnd"].notna().to_numpy()
        refuse(given & ~(np.isfinite(g) & (g >= 0)),
               lambda i: f"cost_vnd {_shown(df['cost_vnd'].iloc[i])}",
               "cost_vnd must be finite and ≥ 0 VND (or empty to price it)")
    up = (df["kind"] == "upgrade").to_numpy()
    known = set(bundle.sites["site_id"].astype(str)) if bundle.sites is not None else set()
    sid = df["site_id"] if "site_id" in df else pd.Series(None, index=df.index, dtype=object)
    refuse(up & ~np.array([s is not None and s == s and str(s) in known for s in sid]),
           lambda i: f"upgrade of site_id {sid.iloc[i]!r}, which is not a site of the bundle",
           "name an existing site_id or make it a new site")


def _shown(value) -> str:
    """A cell as a message shows it: text quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else f"{value}"


def _bands_ok(bands: str) -> bool:
    pairs = parse_bands(bands)
    known = DEFAULT_SETTINGS.bands_mhz  # the band labels (settings change frequencies only)
    return bool(pairs) and all(len(p) == 2 and p[1] in known.get(p[0], {}) for p in pairs)


def _needs_backhaul(df: pd.DataFrame, bundle) -> pd.Series:
    """As given; else true for new sites and, for an upgrade, the site's lack of backhaul."""
    given = df["needs_backhaul"] if "needs_backhaul" in df else         pd.Series(None, index=df.index, dtype=object)
    has = {}
    if bundle.sites is not None and "has_backhaul" in bundle.sites:
        has = dict(zip(bundle.sites["site_id"].astype(str),
                       bundle.sites["has_backhaul"].fillna(False).astype(bool), strict=True))
    default = [not has.get(str(s), False) if k == "upgrade" else True
               for k, s in zip(df["kind"], df.get("site_id", [None] * len(df)), strict=True)]
    return pd.Series([bool(g) if g is not None and g == g else d
                      for g, d in zip(given, default, strict=True)], index=df.index)
