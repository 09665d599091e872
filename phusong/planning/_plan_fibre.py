"""The fibre step of a plan year: backhaul of the chosen sites, then extensions.

* **Backhaul** (mobile budget, already priced per site): a Steiner tree on the road graph from
  the fibre to the chosen sites that need it.
* **Extensions** (fibre budget): households not yet within reach are the prizes of their road
  nodes (plus ``centre_prize_households`` at a commune centre without fibre). In budget mode a
  prize-collecting tree buys the most households within the money; in targets mode, when a
  fibre target falls due, the least cost reaching it (a Steiner tree to every reachable
  household for a 100 % target; otherwise the smallest budget whose prize tree reaches it,
  by bisection), never more than the money.
* **Costs that add up**: an extension costs its route (aerial or buried per road,
  :func:`phusong.network.roads.road_graph`) plus ``Costs.ftth_vnd_per_home`` for every
  household it newly brings within reach (measured on the grown network, not estimated). The
  access network of the households the *backhaul* brings within reach is costed on its own line
  (``ftth_backhaul_cost``, outside both budgets, in the plan's total), so neither budget line
  is exceeded and nothing passed goes uncosted. When
  the access network pushes the total over the money, the route budget shrinks and the tree is
  rebuilt (at most six times); what is spent never exceeds the money.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from phusong import settings
from phusong.errors import InfeasibleError
from phusong.network.roads import cheapest_edge, graph_components
from phusong.planning import _plan_deps as deps
from phusong.planning._plan_steps import empty_routes
from phusong.planning.candidates import fibre_road_nodes

__all__ = ["FibreStep", "fibre_actions"]

_FIT_ROUNDS = 6
_BISECT_ROUNDS = 7


@dataclass
class FibreStep:
    """What one year's routing built."""

    routes: gpd.GeoDataFrame
    reach: np.ndarray
    extension_cost: float = 0.0
    route_cost: float = 0.0
    ftth_cost: float = 0.0
    backhaul_cost: float = 0.0
    ftth_backhaul_cost: float = 0.0
    km: float = 0.0
    households_passed: float = 0.0
    unreachable: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    lost: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    prizes: dict = field(default_factory=dict)
    sources: list = field(default_factory=list)
    base: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # reach after backhaul


def _edge_rows(graph, edges, purpose: str, passed: dict, year: int, start: int) -> list[dict]:
    rows = []
    for k, (u, v) in enumerate(edges):
        d = cheapest_edge(graph, u, v)
        hh = passed.pop(u, 0.0) + passed.pop(v, 0.0)
        rows.append({"route_id": f"F{year}-{start + k + 1:05d}", "road_class": d.get("road_class"),
                     "length_m": float(d["length"]), "cost_vnd": float(d["cost_vnd"]),
                     "purpose": purpose, "households_passed": hh, "year": year,
                     "road_id": d.get("road_id"), "geometry": d["geometry"]})
    return rows


def _routes(rows: list[dict]) -> gpd.GeoDataFrame:
    if not rows:
        return empty_routes()
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=settings.WORK_CRS).to_crs(
        settings.STORE_CRS)


def _as_fibre(routes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"span_id": routes["route_id"].to_numpy(), "kind": "planned"},
                            geometry=routes.geometry.to_numpy(), crs=settings.STORE_CRS)


def _reach_with(ctx, bundle, routes: gpd.GeoDataFrame) -> np.ndarray:
    from phusong.bundle import Bundle
    from phusong.planning._plan_year import reach_of

    if not len(routes):
        return reach_of(ctx, bundle)
    layers = dict(bundle.layers)
    layers["fibre"] = gpd.GeoDataFrame(pd.concat([bundle.fibre, _as_fibre(routes)],
                                                 ignore_index=True), crs=settings.STORE_CRS) \
        if bundle.fibre is not None else _as_fibre(routes)
    b2 = Bundle(bundle.name, layers, bundle.rasters, bundle.provenance, bundle.boundaries,
                bundle.meta, bundle.path)
    return reach_of(ctx, b2)


def _prizes(ctx, fib: np.ndarray, reach_nodes: set):
    """Node → prize (households not within reach + centre bonus), node → households, and the
    villages no road takes the fibre to (bool per village)."""
    s = ctx.scenario
    open_ = ~fib
    lost_mask = np.zeros(len(fib), bool)
    if not open_.any() or ctx.graph is None:
        return {}, {}, lost_mask if ctx.graph is not None else open_.copy()
    v = ctx.villages[open_]
    node, offset = deps.snap_points(ctx.graph, v.geometry.x.to_numpy(), v.geometry.y.to_numpy())
    hh = v["households"].to_numpy(float)
    centre = v["is_centre"].fillna(False).astype(bool).to_numpy() if "is_centre" in v else \
        np.zeros(len(v), bool)
    prizes: dict = {}
    passed: dict = {}
    rows = np.flatnonzero(open_)
    for i, n, off, h, c in zip(rows, node.tolist(), offset, hh, centre, strict=True):
        if off > s.reach_m or n not in reach_nodes:
            lost_mask[i] = True
            continue
        prizes[n] = prizes.get(n, 0.0) + h + (s.centre_prize_households if c else 0.0)
        passed[n] = passed.get(n, 0.0) + h
    return prizes, passed, lost_mask


def _backhaul(ctx, cands, chosen, sources, reach_nodes, out: FibreStep, year: int):
    need = [j for j in chosen if bool(cands["needs_backhaul"].iloc[j])] \
        if "needs_backhaul" in cands else list(chosen)
    if not need or not sources:
        return [], sources
    g = ctx.graph
    node, _ = deps.snap_points(g, cands["x_m"].to_numpy(float)[need],
                               cands["y_m"].to_numpy(float)[need])
    terms = sorted({int(n) for n in node} - set(sources))
    ok = [t for t in terms if t in reach_nodes]
    if len(ok) < len(terms):
        out.unreachable["backhaul_sites"] = len(terms) - len(ok)
    if not ok:
        return [], sources
    r = deps.route_fibre(g, ok, existing=sources, time_limit_s=ctx.clock.left())
    ctx.clock.note(f"{year} backhaul routes", r.stopped_by_time_limit)
    out.backhaul_cost = float(r.cost)
    return _edge_rows(g, r.edges, "backhaul", {}, year, 0), list(dict.fromkeys([*sources,
                                                                                 *r.nodes]))


def _fibre_target(s, prev: int, year: int):
    due = [t for t in s.targets if prev < t.year <= year and t.indicator == "fibre_available"]
    return max(due, key=lambda t: t.threshold_pct) if due else None


def fibre_actions(ctx, state, year: int, cands, chosen, money: float, notes: list) -> FibreStep:
    """Backhaul, then extensions within ``money`` (module doc)."""
    s = ctx.scenario
    out = FibreStep(empty_routes(), state.fibre.copy(), lost=~state.fibre)
    g = ctx.graph
    if g is None:
        return out
    sources = fibre_road_nodes(g, state.bundle)
    reach_nodes = set()
    for comp in graph_components(g):
        if any(n in comp for n in sources):
            reach_nodes |= comp
    rows, sources = _backhaul(ctx, cands, chosen, sources, reach_nodes, out, year)
    base_rows = list(rows)
    base_reach = _reach_with(ctx, state.bundle, _routes(base_rows)) | state.fibre
    prizes, passed, lost = _prizes(ctx, base_reach, reach_nodes)
    out.lost, out.base = lost, base_reach
    out.prizes = {n: passed[n] for n in passed if n not in set(sources)}
    out.sources = list(sources)
    for n in set(sources):
        prizes.pop(n, None)
    if lost.any():
        out.unreachable["households"] = float(ctx.hh[lost].sum())
    target = _fibre_target(s, state.prev_year, year) if s.objective == "targets" else None
    # households the backhaul brings within reach: their access network is costed on its own
    out.ftth_backhaul_cost = float(ctx.hh[base_reach & ~state.fibre].sum()) * \
        s.costs.ftth_vnd_per_home
    best = (base_rows, base_reach, 0.0, 0.0)
    if money > 0 and sources and prizes and ctx.clock.skip(
            f"{year} fibre routes (not started: time limit reached; no extension bought)"):
        pass  # past the deadline: no extension (a route's first tree is not a partial answer)
    elif money > 0 and sources and prizes:
        if target is None:
            best = _fit(ctx, state, year, sources, prizes, passed, base_rows, base_reach, money,
                        money, notes)
        else:
            best = _least_cost(ctx, state, year, sources, prizes, passed, base_rows, base_reach,
                               money, target, out, notes)
    rows, reach, route_cost, ftth = best
    out.routes = _routes(rows)
    out.reach = reach | state.fibre
    out.route_cost, out.ftth_cost = route_cost, ftth
    out.extension_cost = route_cost + ftth
    out.households_passed = float(ctx.hh[out.reach & ~state.fibre].sum())
    out.km = float(out.routes["length_m"].sum()) / 1000.0 if len(out.routes) else 0.0
    if out.unreachable:
        notes.append(f"{year} fibre: out of reach of the existing network along roads: "
                     + ", ".join(f"{v:,.0f} {k}" for k, v in out.unreachable.items()))
    return out


def _extend(ctx, state, year, sources, prizes, passed, base_rows, base_reach, budget, *,
            steiner: bool = False):
    """One tree: (rows, reach, route cost, FTTH cost) or None when nothing is bought."""
    g = ctx.graph
    try:
        if steiner:
            r = deps.route_fibre(g, sorted(prizes), existing=sources,
                                 time_limit_s=ctx.clock.left())
        else:
            r = deps.route_fibre(g, [], existing=sources, prizes=prizes, budget_vnd=float(budget),
                                 time_limit_s=ctx.clock.left())
    except InfeasibleError:
        return None
    ctx.clock.note(f"{year} fibre routes", r.stopped_by_time_limit)
    if not r.edges:
        return None
    rows = base_rows + _edge_rows(g, r.edges, "extension", dict(passed), year, len(base_rows))
    reach = _reach_with(ctx, state.bundle, _routes(rows)) | state.fibre
    ftth = float(ctx.hh[reach & ~base_reach].sum()) * ctx.scenario.costs.ftth_vnd_per_home
    return rows, reach, float(r.cost), ftth


def _fit(ctx, state, year, sources, prizes, passed, base_rows, base_reach, money, budget, notes):
    """The prize tree whose route + FTTH cost fits ``money`` (module doc)."""
    none = (base_rows, base_reach, 0.0, 0.0)
    for _ in range(_FIT_ROUNDS):
        got = _extend(ctx, state, year, sources, prizes, passed, base_rows, base_reach, budget)
        if got is None:
            return none
        total = got[2] + got[3]
        if total <= money * (1 + 1e-12):
            return got
        budget *= 0.98 * money / total
    notes.append(f"{year} fibre: no extension fits {money:,.0f} VND with its access network")
    return none


def _least_cost(ctx, state, year, sources, prizes, passed, base_rows, base_reach, money, target,
                out: FibreStep, notes):
    """The cheapest extension reaching the fibre target, within ``money`` (module doc)."""
    total_hh = float(ctx.hh.sum())
    need = target.threshold_pct / 100.0 * total_hh
    have = float(ctx.hh[base_reach].sum())
    info = {"target_pct": target.threshold_pct, "baseline_pct": 100 * have / total_hh}
    out.info = info
    if have >= need - 1e-9:
        info["status"] = "skipped: target already met"
        return base_rows, base_reach, 0.0, 0.0
    full = _extend(ctx, state, year, sources, prizes, passed, base_rows, base_reach, 0.0,
                   steiner=True)
    if full is None:
        info["status"] = "no extension reaches any household"
        return base_rows, base_reach, 0.0, 0.0
    full_hh = float(ctx.hh[full[1]].sum())
    info["reachable_pct"] = 100 * full_hh / total_hh
    full_cost = full[2] + full[3]
    if full_cost <= money and (full_hh < need or target.threshold_pct >= 100.0):
        met = full_hh >= need - 1e-9
        info.update(status="met" if met else "reaches all it can", cost_vnd=full_cost,
                    method="Steiner tree to every reachable household",
                    **({} if met else {"binds": "no road to the fibre"}))
        return full
    lo, hi, best = 0.0, min(money, full[2]), None
    for _ in range(_BISECT_ROUNDS):
        mid = hi if best is None else (lo + hi) / 2
        got = _fit(ctx, state, year, sources, prizes, passed, base_rows, base_reach,
                   money, mid, [])
        if got[2] > 0 and float(ctx.hh[got[1]].sum()) >= need - 1e-9:
            best, hi = got, mid
        elif best is None:
            break
        else:
            lo = mid
    if best is not None:
        info.update(status="met", cost_vnd=best[2] + best[3], method="prize tree, bisection")
        return best
    got = _fit(ctx, state, year, sources, prizes, passed, base_rows, base_reach, money, money,
               notes)
    info.update(status="budget binds", cost_vnd=got[2] + got[3], binds="budget",
                least_cost_vnd=full_cost if full_hh >= need else None)
    return got
