"""Mobile steps of a plan year: budgeted siting, least cost per target, applying the radios."""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from phusong import settings
from phusong.errors import InfeasibleError
from phusong.planning import _plan_deps as deps

__all__ = ["siting_step", "target_step", "order_by_cost", "ranked_households", "apply_sites",
           "empty_routes", "ROUTE_COLUMNS"]

ROUTE_COLUMNS = ("route_id", "road_class", "length_m", "cost_vnd", "purpose",
                 "households_passed", "year", "road_id")


def _end(time_limit_s: float | None) -> float | None:
    """The ``time.perf_counter()`` at which ``time_limit_s`` from now ends (None: no limit)."""
    return None if time_limit_s is None else time.perf_counter() + float(time_limit_s)


def _left(end: float | None) -> float | None:
    """Seconds left to ``end`` (None: no limit); 1 µs once it passed (the solver then keeps
    its greedy answer and reports the cut)."""
    return None if end is None else max(1e-6, end - time.perf_counter())


def siting_step(A: sp.csr_matrix, weights: np.ndarray, covered: np.ndarray, pool: np.ndarray,
                costs: np.ndarray, budget_vnd: float, time_limit_s: float | None,
                label: str) -> tuple[np.ndarray, dict]:
    """Budgeted maximal covering over the candidates in ``pool``.

    Returns the chosen candidate indices (of ``A``'s columns) in rank order — each next one has
    the lowest cost per newly covered weight given those before — without candidates that add
    nothing, and the solver figures. Money that buys no useful candidate (e.g. a carried-over
    remainder smaller than the cheapest one) is not spent: ``status`` says so, never an error.
    """
    end = _end(time_limit_s)  # the limit counts the set-up below too, not only the solve
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
                                    existing=covered, time_limit_s=_left(end))
    except InfeasibleError as exc:
        info["status"] = f"not spent: {label}: {exc}"
        return np.zeros(0, dtype=np.int64), info
    ranking = res.ranking()
    ranking = ranking[ranking["new_weight"] > 0]
    chosen = pool_idx[ranking["candidate"].to_numpy(dtype=np.int64)]
    info.update({"status": res.status, "method": res.method, "objective": float(res.objective),
                 "upper_bound": float(res.upper_bound), "gap": float(res.gap),
                 "greedy_objective": float(res.greedy_objective), "seconds": float(res.seconds),
                 "chosen": int(len(chosen)),
                 "stopped_by_time_limit": bool(res.stopped_by_time_limit)})
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


def apply_sites(cov: pd.DataFrame, A: dict, cands, chosen) -> pd.DataFrame:
    """Village coverage with the chosen candidates' radios on air (a new copy).

    ``A`` maps each technology to its villages × candidates matrix. A shared tower serves every
    operator with 4G and every operator with a 5G band (``settings.BANDS_5G_BY_OPERATOR``) with
    5G.
    """
    cov = cov.copy()
    if not len(chosen):
        return cov
    cols: dict[str, np.ndarray] = {}
    for tech, m in A.items():
        csc = m.tocsc()
        for j in chosen:
            rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
            if not len(rows) or f"{tech}:" not in str(cands["bands"].iloc[j]):
                continue
            op = cands["operator"].iloc[j]
            ops = (op,) if op in settings.OPERATORS else tuple(
                o for o in settings.OPERATORS if tech != "5G" or o in settings.BANDS_5G_BY_OPERATOR)
            for col in [f"covered_{tech}", "covered_any", *(f"covered_{tech}_{o}" for o in ops)]:
                if col not in cols:
                    cols[col] = (cov[col].fillna(False).astype(bool).to_numpy().copy()
                                 if col in cov else np.zeros(len(cov), bool))
                cols[col][rows] = True
    for col, v in cols.items():
        cov[col] = v
    if "unknown" in cov and "covered_any" in cols:  # unknown only while nothing covers it
        cov["unknown"] = cov["unknown"].fillna(True).astype(bool).to_numpy() & ~cols["covered_any"]
    return cov


def empty_routes() -> gpd.GeoDataFrame:
    """A fibre_routes layer with no rows (EPSG:4326)."""
    cols = {c: pd.Series(dtype=object if c in ("route_id", "road_class", "purpose", "road_id")
                         else float) for c in ROUTE_COLUMNS}
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=settings.STORE_CRS),
                            crs=settings.STORE_CRS)


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


def target_step(A: sp.csr_matrix, weights: np.ndarray, covered: np.ndarray, pool: np.ndarray,
                costs: np.ndarray, target_pct: float, budget_vnd: float, time_limit_s: float | None,
                label: str) -> tuple[np.ndarray, dict]:
    """Least-cost candidates in ``pool`` reaching ``target_pct`` % of ``weights``; never raises.

    The target is capped at what all the pool's candidates together reach (``binds = "no
    candidate"`` when that is below it); when the least cost exceeds ``budget_vnd`` the budget
    buys the most it can instead (``binds = "budget"``). ``info`` has the baseline, reachable
    and reached shares (%), the least cost and its proven lower bound (VND), the gap and the
    shortfall (percentage points).
    """
    from phusong.planning.siting import SetCovering

    end = _end(time_limit_s)  # set-up, cover and a budget-bound siting share the limit
    pool_idx = np.flatnonzero(pool)
    total = float(weights.sum())
    def pct(m):
        return (100.0 * float(weights[m].sum()) / total if total > 0 else 100.0)
    reach = covered | (np.asarray(A[:, pool_idx].sum(axis=1)).ravel() > 0)
    info: dict = {"target_pct": float(target_pct), "baseline_pct": pct(covered),
                  "reachable_pct": pct(reach), "budget_vnd": float(budget_vnd),
                  "candidates": int(len(pool_idx))}
    aim = min(float(target_pct), info["reachable_pct"])
    none = np.zeros(0, dtype=np.int64)
    if info["reachable_pct"] < target_pct - 1e-9:
        info["binds"] = "no candidate"
    if info["baseline_pct"] >= aim - 1e-9:
        info.update(status="skipped: target already met" if "binds" not in info else
                    "skipped: no candidate adds coverage", reached_pct=info["baseline_pct"],
                    shortfall_pct=max(0.0, target_pct - info["baseline_pct"]))
        return none, info
    res = SetCovering.from_coverage(A[:, pool_idx], weights, target_pct=aim,
                                    costs=costs[pool_idx], existing=covered).solve(
        time_limit_s=_left(end))
    info.update({"status": res.status, "method": res.method, "objective": float(res.objective),
                 "lower_bound": float(res.lower_bound), "gap": float(res.gap),
                 "least_cost_vnd": float(res.objective), "seconds": float(res.seconds),
                 "stopped_by_time_limit": bool(res.stopped_by_time_limit)})
    if res.objective > budget_vnd * (1 + 1e-12):
        chosen, sub = siting_step(A, weights, covered, pool, costs, budget_vnd, _left(end), label)
        info.update(binds="budget", budget_solver=sub)
    else:
        chosen = order_by_cost(A, pool_idx[res.chosen], covered, weights, costs)
    done = covered.copy()
    if len(chosen):
        done |= np.asarray(A[:, chosen].sum(axis=1)).ravel() > 0
    info.update(chosen=int(len(chosen)), reached_pct=pct(done),
                shortfall_pct=max(0.0, target_pct - pct(done)))
    return chosen, info
