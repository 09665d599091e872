"""Steps of :func:`phusong.planning.plan.make_plan`: siting, applying sites, fibre routing."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from phusong import settings
from phusong.errors import InfeasibleError
from phusong.planning import _plan_deps as deps

__all__ = ["siting_step", "cover_step", "order_by_cost", "ranked_households", "apply_sites",
           "fibre_step", "FibreStep",
           "empty_routes", "ROUTE_COLUMNS"]

ROUTE_COLUMNS = ("route_id", "road_class", "length_m", "cost_vnd", "purpose",
                 "households_passed", "year", "road_id")


def siting_step(A: sp.csr_matrix, weights: np.ndarray, covered: np.ndarray, pool: np.ndarray,
                costs: np.ndarray, budget_vnd: float, time_limit_s: float, label: str, *,
                strict: bool = True) -> tuple[np.ndarray, dict]:
    """Budgeted maximal covering over the candidates in ``pool``.

    Returns the chosen candidate indices (of ``A``'s columns) in rank order — each next one has
    the lowest cost per newly covered weight given those before — without candidates that add
    nothing, and the solver figures. With ``strict`` an unaffordable budget raises
    :class:`InfeasibleError` prefixed with ``label``; otherwise the step is skipped.
    """
    pool_idx = np.flatnonzero(pool)
    info: dict = {"budget_vnd": float(budget_vnd), "candidates": int(len(pool_idx))}
    if budget_vnd <= 0 or not len(pool_idx):
        info["status"] = "skipped: no budget" if budget_vnd <= 0 else "skipped: no candidate"
        return np.zeros(0, dtype=np.int64), info
    sub = A[:, pool_idx]
    open_w = np.where(covered, 0.0, weights)
    gain = np.asarray(sub.T.astype(float) @ open_w).ravel()
    info["demand_open"] = float(open_w.sum())
    if not (gain > 0).any():
        info["status"] = "skipped: no candidate covers open demand"
        return np.zeros(0, dtype=np.int64), info
    try:
        res = deps.maximal_covering(sub, weights, costs=costs[pool_idx], budget=float(budget_vnd),
                                    existing=covered, time_limit_s=time_limit_s)
    except InfeasibleError as exc:
        if strict:
            raise InfeasibleError(f"{label}: {exc}") from None
        info["status"] = f"skipped: {exc}"
        return np.zeros(0, dtype=np.int64), info
    ranking = res.ranking()
    ranking = ranking[ranking["new_weight"] > 0]
    chosen = pool_idx[ranking["candidate"].to_numpy(dtype=np.int64)]
    info.update({"status": res.status, "method": res.method, "objective": float(res.objective),
                 "upper_bound": float(res.upper_bound), "gap": float(res.gap),
                 "greedy_objective": float(res.greedy_objective), "seconds": float(res.seconds),
                 "chosen": int(len(chosen))})
    return chosen, info


def ranked_households(A: sp.csr_matrix, chosen, covered: np.ndarray, w1: np.ndarray,
                      w2: np.ndarray):
    """Yield ``(j, w1 newly covered, w2 newly covered)`` for each chosen column, in order."""
    mask = covered.copy()
    csc = A.tocsc()
    for j in chosen:
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        rows = rows[~mask[rows]]
        mask[rows] = True
        yield int(j), float(w1[rows].sum()), float(w2[rows].sum())


def apply_sites(cov: pd.DataFrame, A: sp.csr_matrix, cands, chosen) -> pd.DataFrame:
    """Village coverage with the chosen candidates built (shared towers serve every operator)."""
    cov = cov.copy()
    csc = A.tocsc()
    for j in chosen:
        hit = np.zeros(len(cov), bool)
        hit[csc.indices[csc.indptr[j]:csc.indptr[j + 1]]] = True
        tech, op = cands["tech"].iloc[j], cands["operator"].iloc[j]
        ops = settings.OPERATORS if op not in settings.OPERATORS else (op,)
        for col in [f"covered_{tech}", "covered_any", *(f"covered_{tech}_{o}" for o in ops)]:
            base = cov[col].fillna(False).astype(bool).to_numpy() if col in cov else \
                np.zeros(len(cov), bool)
            cov[col] = base | hit
    return cov


def empty_routes() -> gpd.GeoDataFrame:
    """A fibre_routes layer with no rows (EPSG:4326)."""
    cols = {c: pd.Series(dtype=object if c in ("route_id", "road_class", "purpose", "road_id")
                         else float) for c in ROUTE_COLUMNS}
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=settings.STORE_CRS),
                            crs=settings.STORE_CRS)


@dataclass
class FibreStep:
    """What one period's routing built."""

    routes: gpd.GeoDataFrame
    routes_as_fibre: gpd.GeoDataFrame
    sources: list
    extension_cost: float = 0.0
    backhaul_cost: float = 0.0
    km: float = 0.0
    unreachable: dict = field(default_factory=dict)


def _edge_rows(graph, edges, purpose: str, passed: dict, year: int, start: int) -> list[dict]:
    rows = []
    for k, (u, v) in enumerate(edges):
        d = graph.edges[u, v]
        hh = passed.pop(u, 0.0) + passed.pop(v, 0.0)
        rows.append({"route_id": f"F{year}-{start + k + 1:05d}", "road_class": d.get("road_class"),
                     "length_m": float(d.get("length_m", 0.0)), "cost_vnd": float(d["cost_vnd"]),
                     "purpose": purpose, "households_passed": hh, "year": year,
                     "road_id": d.get("road_id"), "geometry": d["geometry"]})
    return rows


def fibre_step(graph, cands, chosen, villages, fib: pd.Series, sources: list, budget_vnd: float,
               s, year: int, notes: list[str]) -> FibreStep:
    """Backhaul of the chosen sites (Steiner), then extensions under ``budget_vnd`` (prizes)."""
    out = FibreStep(empty_routes(), empty_routes(), list(sources))
    if graph is None:
        return out
    rows: list[dict] = []
    reach_nodes = set()
    for comp in nx.connected_components(graph):
        if any(n in comp for n in sources):
            reach_nodes |= comp
    # backhaul of chosen sites that need it (their cost is in the mobile line)
    need = [j for j in chosen if bool(cands["needs_backhaul"].iloc[j])] \
        if "needs_backhaul" in cands else list(chosen)
    if need and sources:
        node, _ = deps.snap_points(graph, cands["x_m"].to_numpy(float)[need],
                                   cands["y_m"].to_numpy(float)[need])
        terms = sorted({int(n) for n in node} - set(sources))
        ok = [t for t in terms if t in reach_nodes]
        if len(ok) < len(terms):
            out.unreachable["backhaul_sites"] = len(terms) - len(ok)
        if ok:
            r = deps.route_fibre(graph, ok, existing=out.sources, time_limit_s=s.time_limit_s)
            rows += _edge_rows(graph, r.edges, "backhaul", {}, year, len(rows))
            out.backhaul_cost = float(r.cost)
            out.sources = list(dict.fromkeys([*out.sources, *r.nodes]))
    # extensions: prizes = households not yet within reach, plus commune centres
    if budget_vnd > 0 and out.sources:
        prizes, passed, lost = _prizes(graph, villages, fib, s, reach_nodes)
        for n in set(out.sources):
            prizes.pop(n, None)
        if lost:
            out.unreachable["households"] = lost
        if prizes:
            try:
                r = deps.route_fibre(graph, [], existing=out.sources, prizes=prizes,
                                     budget_vnd=float(budget_vnd), time_limit_s=s.time_limit_s)
            except InfeasibleError as exc:
                notes.append(f"{year} fibre: {exc}")
            else:
                rows += _edge_rows(graph, r.edges, "extension", passed, year, len(rows))
                out.extension_cost = float(r.cost)
                out.sources = list(dict.fromkeys([*out.sources, *r.nodes]))
    if out.unreachable:
        notes.append(f"{year} fibre: out of reach of the existing network along roads: "
                     + ", ".join(f"{v:,.0f} {k}" for k, v in out.unreachable.items()))
    if rows:
        g = gpd.GeoDataFrame(rows, geometry="geometry", crs=settings.WORK_CRS).to_crs(
            settings.STORE_CRS)
        out.routes = g
        out.routes_as_fibre = gpd.GeoDataFrame(
            {"span_id": g["route_id"].to_numpy(), "kind": "planned"}, geometry=g.geometry.to_numpy(),
            crs=settings.STORE_CRS)
        out.km = float(g["length_m"].sum()) / 1000.0
    return out


def _prizes(graph, villages, fib: pd.Series, s, reach_nodes: set):
    """Node → prize (households not within reach + centre bonus), node → households, lost hh."""
    open_ = ~fib.to_numpy()
    if not open_.any():
        return {}, {}, 0.0
    v = villages[open_]
    node, offset = deps.snap_points(graph, v.geometry.x.to_numpy(), v.geometry.y.to_numpy())
    hh = v["households"].to_numpy(float)
    centre = v["is_centre"].fillna(False).astype(bool).to_numpy() if "is_centre" in v else \
        np.zeros(len(v), bool)
    prizes: dict = {}
    passed: dict = {}
    lost = 0.0
    for n, off, h, c in zip(node.tolist(), offset, hh, centre, strict=True):
        if off > s.reach_m or n not in reach_nodes:
            lost += h
            continue
        prizes[n] = prizes.get(n, 0.0) + h + (s.centre_prize_households if c else 0.0)
        passed[n] = passed.get(n, 0.0) + h
    return prizes, passed, lost


def order_by_cost(A: sp.csr_matrix, chosen, covered: np.ndarray, w: np.ndarray,
                  costs: np.ndarray) -> np.ndarray:
    """``chosen`` in greedy order of cost per newly covered weight; those adding nothing dropped."""
    csc = A.tocsc()
    mask = covered.copy()
    left = [int(j) for j in chosen]
    out = []
    while left:
        gains = np.array([w[r[~mask[r]]].sum() for r in
                          (csc.indices[csc.indptr[j]:csc.indptr[j + 1]] for j in left)])
        if not (gains > 0).any():
            break
        ratio = np.where(gains > 0, costs[left] / np.where(gains > 0, gains, 1.0), np.inf)
        k = int(np.argmin(ratio))
        j = left.pop(k)
        mask[csc.indices[csc.indptr[j]:csc.indptr[j + 1]]] = True
        out.append(j)
    return np.asarray(out, dtype=np.int64)


def cover_step(A: sp.csr_matrix, weights: np.ndarray, covered: np.ndarray, pool: np.ndarray,
               costs: np.ndarray, target_pct: float, budget_vnd: float, time_limit_s: float,
               label: str) -> tuple[np.ndarray, dict]:
    """Least-cost set of candidates in ``pool`` reaching ``target_pct`` % of ``weights``.

    Raises
    ------
    InfeasibleError
        All candidates together fall short of the target (says what they reach), or the least
        cost exceeds ``budget_vnd`` (says the cost and the budget).
    """
    from phusong.planning.siting import SetCovering

    pool_idx = np.flatnonzero(pool)
    total = float(weights.sum())
    now = 100.0 * float(weights[covered].sum()) / total if total > 0 else 100.0
    info: dict = {"target_pct": float(target_pct), "baseline_pct": now,
                  "budget_vnd": float(budget_vnd), "candidates": int(len(pool_idx))}
    if now >= target_pct - 1e-9:
        info["status"] = "skipped: target already met"
        return np.zeros(0, dtype=np.int64), info
    try:
        prob = SetCovering.from_coverage(A[:, pool_idx], weights, target_pct=target_pct,
                                         costs=costs[pool_idx], existing=covered)
    except InfeasibleError as exc:
        raise InfeasibleError(f"{label}: {exc}") from None
    res = prob.solve(time_limit_s=time_limit_s)
    if res.objective > budget_vnd * (1 + 1e-12):
        raise InfeasibleError(
            f"{label}: reaching {target_pct:g} % costs {res.objective:,.0f} VND (at least "
            f"{res.lower_bound:,.0f}) but the budget is {budget_vnd:,.0f} VND; raise the budget "
            "or lower the target (objective = \"budget\" plans the most coverage it can buy)")
    chosen = order_by_cost(A, pool_idx[res.chosen], covered, weights, costs)
    info.update({"status": res.status, "method": res.method, "objective": float(res.objective),
                 "lower_bound": float(res.lower_bound), "gap": float(res.gap),
                 "covered_pct": float(res.covered_pct), "seconds": float(res.seconds),
                 "chosen": int(len(chosen))})
    return chosen, info
