"""Inferred feeder routes: the likely fibre from the provincial POP to every commune POP.

Operators do not publish their routes; Plan 785 §2.1 says only that fibre reaches every commune
centre, in rings. For a map a planner may want the **likely** feeders: the cheapest tree along
the roads joining the provincial POP to every commune POP (the Steiner router
:func:`phusong.planning.fibre_router.route_fibre`, road costs of the scenario). They are
**inferred**, labelled so (:data:`FEEDER_LABEL`) and drawn only: they are not counted as
fibre within reach and cost nothing in the plan.

The provincial POP is the POP named by ``provincial_pop``, else the POP of the most populous
urban ward (``type`` Phường; the provincial capital), else of the most populous commune.
POPs in a road component the provincial POP's does not reach are listed as unreachable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from phusong import settings
from phusong.crs import to_work
from phusong.errors import DataError, InfeasibleError
from phusong.network.roads import cheapest_edge
from phusong.planning import _plan_deps as deps

__all__ = ["FEEDER_LABEL", "Feeders", "check_feeders", "infer_feeders"]

#: The label of every inferred feeder (plan.json, plan.gpkg ``status``).
FEEDER_LABEL = ("INFERRED: likely feeder routes along roads from the provincial POP to each "
                "commune POP (cheapest tree); not an operator's network, not counted as reach")


@dataclass
class Feeders:
    """Inferred feeders (module doc).

    Attributes
    ----------
    routes : GeoDataFrame
        One row per road edge (EPSG:4326): ``feeder_id``, ``length_m``, ``cost_vnd``,
        ``status`` (:data:`FEEDER_LABEL`).
    provincial_pop : str
        ``node_id`` of the root.
    pops_reached, pops_unreachable : list of str
        Commune POPs joined, and those the roads do not join to the root.
    stopped_by_time_limit : bool
        ``time_limit_s`` cut the router's improvement short (the tree is its best so far).
    """

    routes: gpd.GeoDataFrame
    provincial_pop: str
    pops_reached: list = field(default_factory=list)
    pops_unreachable: list = field(default_factory=list)
    stopped_by_time_limit: bool = False

    def summary(self) -> dict:
        """Plain data for ``plan.json`` (``feeders_inferred``)."""
        return {"label": FEEDER_LABEL, "provincial_pop": self.provincial_pop,
                "pops_reached": len(self.pops_reached),
                "pops_unreachable": len(self.pops_unreachable),
                "unreachable": list(self.pops_unreachable),
                "km": float(self.routes["length_m"].sum() / 1000.0) if len(self.routes) else 0.0,
                "indicative_cost_vnd": float(self.routes["cost_vnd"].sum())
                if len(self.routes) else 0.0,
                "stopped_by_time_limit": bool(self.stopped_by_time_limit)}


def _root(pops: pd.DataFrame, communes: pd.DataFrame, provincial_pop: str | None) -> int:
    if provincial_pop is not None:
        hit = np.flatnonzero(pops["node_id"].astype(str).to_numpy() == str(provincial_pop))
        if not len(hit):
            raise DataError(f"provincial POP {provincial_pop!r} is not a POP of the fibre nodes; "
                            f"use one of {pops['node_id'].astype(str).head(5).tolist()} …")
        return int(hit[0])
    com = communes.copy()
    com["_urban"] = com["type"].astype(str).str.lower().str.startswith("phường")
    order = com.sort_values(["_urban", "population"], ascending=False)["commune_code"]
    joined = gpd.sjoin(pops[["geometry"]].reset_index(drop=True),
                       communes[["commune_code", "geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    for code in order:
        at = np.flatnonzero(joined["commune_code"].to_numpy() == code)
        if len(at):
            return int(at[0])
    return 0


def _pops(bundle, provincial_pop: str | None) -> tuple[pd.DataFrame, int]:
    """The bundle's POPs and the root's position among them (errors: :func:`check_feeders`)."""
    nodes = bundle.fibre_nodes
    pops = (nodes[nodes["kind"].astype(str) == "POP"].reset_index(drop=True)
            if nodes is not None else None)
    if pops is None or len(pops) < 2:
        raise DataError("feeders: need at least two POPs in the fibre nodes (a POP list, or the "
                        "assumed POPs of a bundle without fibre)")
    if bundle.roads is None or not len(bundle.roads):
        raise DataError("feeders: the bundle has no roads layer; feeders are inferred along roads")
    return pops, _root(pops, bundle.communes, provincial_pop)


def check_feeders(bundle, provincial_pop: str | None = None) -> None:
    """Refuse, before any heavy work, a bundle whose feeders cannot be inferred.

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        As :func:`infer_feeders` (POPs already assumed where the bundle has no fibre).
    provincial_pop : str, optional
        ``node_id`` of the root POP.

    Raises
    ------
    DataError
        No roads, fewer than two POPs, an unknown ``provincial_pop`` (as :func:`infer_feeders`).
    """
    _pops(bundle, provincial_pop)


def infer_feeders(bundle, *, graph=None, costs=settings.COSTS, provincial_pop: str | None = None,
                  time_limit_s: float | None = None) -> Feeders:
    """Inferred feeder routes of ``bundle``'s POPs along its roads (module doc).

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        Needs ``fibre_nodes`` with at least two POPs (e.g. after
        :func:`phusong.planning.centres.assume_pops`), ``roads`` and ``communes``.
    graph : networkx.Graph, optional
        Prebuilt road graph (``deps.road_graph``).
    costs : settings.Costs
        Fibre cost per km by road class (the indicative cost).
    provincial_pop : str, optional
        ``node_id`` of the root POP.
    time_limit_s : float, optional
        Wall-clock guard, s, from the call's start (default None: none): the router gets what
        the POPs' projection left (:func:`~phusong.planning.fibre_router.route_fibre`: its
        first tree always completes). A ``graph`` built here (none given) is not bounded:
        give the plan's, as :func:`~phusong.planning.plan.make_plan` does under a limit.

    Raises
    ------
    DataError
        No roads, fewer than two POPs, an unknown ``provincial_pop``.
    """
    t0 = time.perf_counter()  # the limit counts the POPs' projection on the roads too
    pops, root = _pops(bundle, provincial_pop)
    if graph is None:
        graph = deps.road_graph(bundle.roads, costs=costs)
    pw = to_work(pops, "fibre_nodes")
    snapped, _ = deps.snap_points(graph, pw.geometry.x.to_numpy(), pw.geometry.y.to_numpy())
    ids = pops["node_id"].astype(str).to_numpy()
    by_node: dict = {}
    for i, n in enumerate(snapped.tolist()):
        by_node.setdefault(n, []).append(ids[i])
    root_node = int(snapped[root])
    terminals = [n for n in dict.fromkeys(snapped.tolist()) if n != root_node]
    try:
        left = None if time_limit_s is None else max(
            1e-6, float(time_limit_s) - (time.perf_counter() - t0))
        r = deps.route_fibre(graph, terminals, existing=[root_node], time_limit_s=left)
        edges, lost_nodes, cut = r.edges, r.terminals_unreachable, r.stopped_by_time_limit
    except InfeasibleError:
        edges, lost_nodes, cut = [], terminals, False
    lost = sorted({p for n in lost_nodes for p in by_node.get(n, [])})
    reached = sorted(set(ids) - set(lost) - {ids[root]})
    rows = []
    for k, (u, v) in enumerate(edges):
        d = cheapest_edge(graph, u, v)
        geom = d.get("geometry") or shapely.LineString(
            [(graph.nodes[u]["x"], graph.nodes[u]["y"]), (graph.nodes[v]["x"], graph.nodes[v]["y"])])
        rows.append({"feeder_id": f"FEED-{k + 1:05d}", "length_m": float(d.get("length", 0.0)),
                     "cost_vnd": float(d.get("cost_vnd", 0.0)), "status": FEEDER_LABEL,
                     "geometry": geom})
    routes = (gpd.GeoDataFrame(rows, geometry="geometry", crs=settings.WORK_CRS)
              .to_crs(settings.STORE_CRS) if rows else gpd.GeoDataFrame(
                  {"feeder_id": [], "length_m": [], "cost_vnd": [], "status": []},
                  geometry=gpd.GeoSeries([], crs=settings.STORE_CRS)))
    return Feeders(routes, str(ids[root]), reached, lost, cut)
