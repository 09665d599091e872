"""Algorithms behind :mod:`phusong.planning.siting` (private): model reduction, vectorised greedy,
swap local search, LP relaxation and the MILP, all over plain arrays and scipy.sparse matrices.

Every function works on a *reduced* problem: ``A`` (demand groups × candidates, CSR, float 0/1),
``w`` (weight per demand group, > 0), ``cost`` (per candidate, ≥ 0), an optional site count ``p``
and an optional budget. The public module maps results back to the caller's indices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from phusong import settings
from phusong.planning._highs import solve_highs

__all__ = [
    "Reduced",
    "reduce_problem",
    "coverage_value",
    "greedy_max",
    "local_search_max",
    "lp_bound_max",
    "milp_max",
    "greedy_cover",
    "prune_cover",
    "lp_bound_cover",
    "milp_cover",
]


@dataclass
class Reduced:
    """A reduced covering model.

    Attributes
    ----------
    A : scipy.sparse.csr_matrix
        Demand groups × kept candidates, float 0/1.
    w : numpy.ndarray
        Weight of each demand group (sum of its identical demand rows), > 0.
    cand : numpy.ndarray
        Original index of each kept candidate.
    cost : numpy.ndarray
        Cost of each kept candidate, VND (ones when the caller gave none).
    n_rows_in, n_cols_in : int
        Size before reduction (for reporting).
    """

    A: sp.csr_matrix
    w: np.ndarray
    cand: np.ndarray
    cost: np.ndarray
    n_rows_in: int
    n_cols_in: int


def _merge_rows(A: sp.csr_matrix, w: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Merge demand rows covered by exactly the same candidates, summing their weights."""
    A = A.tocsr().copy()
    A.sort_indices()
    keys: dict[bytes, int] = {}
    group = np.empty(A.shape[0], dtype=np.int64)
    ind, ptr = A.indices, A.indptr
    for r in range(A.shape[0]):
        k = ind[ptr[r] : ptr[r + 1]].tobytes()
        group[r] = keys.setdefault(k, len(keys))
    if len(keys) == A.shape[0]:
        return A, w
    first = np.full(len(keys), -1, dtype=np.int64)
    first[group[::-1]] = np.arange(A.shape[0])[::-1]  # first row of each group
    w2 = np.bincount(group, weights=w, minlength=len(keys))
    return A[first], w2


def _dominated(A: sp.csr_matrix, cost: np.ndarray) -> np.ndarray:
    """Mask of candidates dominated by another (coverage ⊆ and cost ≤; ties keep the lower index)."""
    size = np.asarray(A.sum(axis=0)).ravel()
    drop = size == 0
    ov = (A.T @ A).tocoo()
    j, k, v = ov.row, ov.col, ov.data
    sub = (j != k) & np.isclose(v, size[j]) & (size[j] > 0)
    j, k = j[sub], k[sub]
    cj, ck = cost[j], cost[k]
    strict = size[k] > size[j]
    dom = (ck < cj) | ((ck == cj) & (strict | (k < j)))
    drop[j[dom]] = True
    return drop


def reduce_problem(
    A: sp.csr_matrix,
    w: np.ndarray,
    cost: np.ndarray,
    covered0: np.ndarray,
    allowed: np.ndarray,
    *,
    dominance: bool = True,
) -> Reduced:
    """Drop covered/zero/uncoverable demand and dominated candidates, merge identical demand rows.

    Parameters
    ----------
    A : scipy.sparse.csr_matrix
        Demand × candidates, any nonzero means "covers".
    w : numpy.ndarray
        Weight per demand row, ≥ 0.
    cost : numpy.ndarray
        Cost per candidate, ≥ 0.
    covered0 : numpy.ndarray of bool
        Demand already covered (does not count).
    allowed : numpy.ndarray of bool
        Candidates that may be chosen (not existing, affordable).
    dominance : bool
        Drop dominated candidates (valid for every objective here: coverage ⊆, cost ≤).
    """
    m, n = A.shape
    A = A.tocsr().astype(bool).astype(np.float64)
    A.eliminate_zeros()
    cand = np.flatnonzero(allowed)
    A = A[:, cand]
    c = cost[cand].astype(np.float64)
    for _ in range(2):
        rows = (~covered0) & (w > 0) & (np.diff(A.indptr) > 0)
        A, wr = A[rows], w[rows]
        covered0 = np.zeros(A.shape[0], dtype=bool)
        A, w = _merge_rows(A, wr)
        covered0 = np.zeros(A.shape[0], dtype=bool)
        if not dominance or A.shape[1] == 0:
            break
        drop = _dominated(A, c)
        if not drop.any():
            break
        keep = ~drop
        A, c, cand = A[:, keep].tocsr(), c[keep], cand[keep]
    return Reduced(A=A.tocsr(), w=np.asarray(w, dtype=np.float64), cand=cand, cost=c,
                   n_rows_in=m, n_cols_in=n)


def coverage_value(A: sp.csr_matrix, w: np.ndarray, sel: np.ndarray) -> float:
    """Weight of the demand groups covered by the candidate columns ``sel``."""
    if len(sel) == 0:
        return 0.0
    hit = np.asarray(A[:, sel].sum(axis=1)).ravel() > 0
    return float(w[hit].sum())


def _feasible_add(cost, p, budget, n_sel, spent, chosen):
    ok = ~chosen
    if p is not None and n_sel >= p:
        return np.zeros_like(ok)
    if budget is not None:
        ok &= cost <= budget - spent + 1e-9 * max(1.0, budget)
    return ok


def greedy_max(red: Reduced, p: int | None, budget: float | None) -> np.ndarray:
    """Greedy maximal covering with exact incremental gains (vectorised sparse updates).

    Each step takes the candidate with the largest marginal gain (gain per cost when a budget is
    given), then subtracts the newly covered rows' weights from every candidate's gain in one
    sparse product, so the whole run touches each nonzero of ``A`` once. With a budget the result
    is the better of this and the best single affordable candidate (Khuller-Moss-Naor).
    """
    A, w, cost = red.A, red.w, red.cost
    n = A.shape[1]
    Acsc = A.tocsc()
    gains = np.asarray(A.T @ w).ravel()
    gains0 = gains.copy()
    covered = np.zeros(A.shape[0], dtype=bool)
    chosen = np.zeros(n, dtype=bool)
    order: list[int] = []
    spent = 0.0
    tol = 1e-12 * max(1.0, float(w.sum()))
    while True:
        ok = _feasible_add(cost, p, budget, len(order), spent, chosen)
        if not ok.any():
            break
        if budget is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                score = np.where(cost > 0, gains / np.where(cost > 0, cost, 1.0), np.inf)
            score = np.where(gains > tol, score, -np.inf)
        else:
            score = gains.copy()
        score[~ok] = -np.inf
        j = int(np.argmax(score))
        if score[j] == -np.inf or gains[j] <= tol:
            break
        chosen[j] = True
        order.append(j)
        spent += cost[j]
        rows = Acsc.indices[Acsc.indptr[j] : Acsc.indptr[j + 1]]
        new = rows[~covered[rows]]
        covered[new] = True
        if len(new):
            gains -= np.asarray(A[new].T @ w[new]).ravel()
    sel = np.array(order, dtype=np.int64)
    if budget is not None:
        afford = cost <= budget + 1e-9 * max(1.0, budget)
        if afford.any():
            best = int(np.argmax(np.where(afford, gains0, -np.inf)))
            if gains0[best] > coverage_value(A, w, sel) + tol:
                sel = np.array([best], dtype=np.int64)
    return sel


def local_search_max(
    red: Reduced, sel: np.ndarray, p: int | None, budget: float | None, deadline: float
) -> np.ndarray:
    """Best-improvement 1-swap (and add) local search, every swap scored in one sparse product.

    For the current set S with cover counts ``cnt``, the gain of swapping i ∈ S out for j ∉ S is
    ``G_j + M_ij − L_i`` with ``G_j`` the weight j adds now, ``L_i`` the weight only i covers and
    ``M_ij`` the weight covered by i and j and by no other site of S.
    """
    A, w, cost = red.A, red.w, red.cost
    n = A.shape[1]
    if n == 0:
        return sel
    sel = np.array(sel, dtype=np.int64)
    tol = 1e-9 * max(1.0, float(w.sum()))
    while time.perf_counter() < deadline:
        chosen = np.zeros(n, dtype=bool)
        chosen[sel] = True
        cnt = np.asarray(A[:, sel].sum(axis=1)).ravel() if len(sel) else np.zeros(A.shape[0])
        G = np.asarray(A.T @ (w * (cnt == 0))).ravel()
        spent = float(cost[sel].sum())
        # pure additions first (room left under p / budget)
        ok = _feasible_add(cost, p, budget, len(sel), spent, chosen)
        add = np.where(ok, G, -np.inf)
        j = int(np.argmax(add)) if n else 0
        if add[j] > tol:
            sel = np.append(sel, j)
            continue
        if len(sel) == 0:
            break
        u = w * (cnt == 1)
        AS = A[:, sel]
        L = np.asarray(AS.T @ u).ravel()
        M = (AS.multiply(u[:, None]).T @ A).toarray()
        delta = G[None, :] + M - L[:, None]
        delta[:, chosen] = -np.inf
        if budget is not None:
            newspent = spent - cost[sel][:, None] + cost[None, :]
            delta[newspent > budget + 1e-9 * max(1.0, budget)] = -np.inf
        k = int(np.argmax(delta))
        i, j = divmod(k, n)
        if not delta[i, j] > tol:
            break
        sel = sel.copy()
        sel[i] = j
    return sel


def _max_model(red: Reduced, p, budget):
    A, w, cost = red.A, red.w, red.cost
    m, n = A.shape
    c = np.concatenate([np.zeros(n), -w])
    M = sp.hstack([-A, sp.identity(m, format="csr")], format="csr")
    rows = [M]
    lo = [np.full(m, -np.inf)]
    hi = [np.zeros(m)]
    if p is not None:
        rows.append(sp.csr_matrix(np.concatenate([np.ones(n), np.zeros(m)])[None, :]))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(p)]))
    if budget is not None:
        rows.append(sp.csr_matrix(np.concatenate([cost, np.zeros(m)])[None, :]))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(budget)]))
    return c, sp.vstack(rows, format="csr"), np.concatenate(lo), np.concatenate(hi)


#: HiGHS options of every bound and MILP here (the interior-point LP: 3 s instead of the dual
#: simplex's 13 s on the benchmark's 20,000 × 1,000 model; presolve off: the model is reduced).
_LP_OPTIONS = {"solver": "ipm", "presolve": "off"}


def _milp_options() -> dict:
    return {"mip_rel_gap": settings.MILP_REL_GAP, "mip_max_nodes": settings.MILP_NODE_LIMIT}


def lp_bound_max(red: Reduced, p, budget, deadline: float) -> tuple[float, bool]:
    """LP relaxation bound of the maximal covering model (the total weight if HiGHS stops
    early), and whether the deadline stopped it."""
    if red.A.shape[1] == 0 or red.A.shape[0] == 0:
        return 0.0, False
    c, M, lo, hi = _max_model(red, p, budget)
    out = solve_highs(c, M, lo, hi, deadline=deadline, options=_LP_OPTIONS)
    if not out.optimal:
        return float(red.w.sum()), out.timed_out
    return float(-out.bound), False  # exact up to HiGHS's 1e-7 tolerance, which solve() allows


@dataclass
class MilpOutcome:
    """What HiGHS returned: a selection (or None), its dual bound, and whether it proved optimality."""

    sel: np.ndarray | None
    bound: float
    proven: bool
    status: str
    timed_out: bool = False


def _start(red: Reduced, sel: np.ndarray) -> np.ndarray:
    """The MILP point of a selection: x = 1 on ``sel``, y = 1 on the demand it covers."""
    n = red.A.shape[1]
    x = np.zeros(n + red.A.shape[0])
    x[sel] = 1.0
    x[n:] = np.asarray(red.A[:, sel].sum(axis=1)).ravel() > 0 if len(sel) else 0.0
    return x


def milp_max(red: Reduced, p, budget, incumbent: np.ndarray, deadline: float) -> MilpOutcome:
    """Exact maximal covering MILP (x binary, y continuous in [0, 1]) with HiGHS.

    The incumbent selection is HiGHS's start (:mod:`phusong.planning._highs`), so the answer is
    never worse and the dual bound is HiGHS's, valid when the deadline cuts the search.
    """
    A = red.A
    m, n = A.shape
    if n == 0 or m == 0:
        return MilpOutcome(np.zeros(0, dtype=np.int64), 0.0, True, "empty")
    c, M, lo, hi = _max_model(red, p, budget)
    integ = np.concatenate([np.ones(n, bool), np.zeros(m, bool)])
    out = solve_highs(c, M, lo, hi, integer=integ, start=_start(red, incumbent),
                      deadline=deadline, options=_milp_options())
    ub = -out.bound if np.isfinite(out.bound) else np.inf
    sel = None if out.x is None else np.flatnonzero(out.x[:n] > 0.5).astype(np.int64)
    return MilpOutcome(sel, ub, out.optimal, out.status, out.timed_out)


# ---------------------------------------------------------------- set covering (min cost)


def greedy_cover(red: Reduced, need: float) -> np.ndarray:
    """Greedy partial set cover: cheapest cost per newly covered weight until ``need`` is reached."""
    A, w, cost = red.A, red.w, red.cost
    Acsc = A.tocsc()
    gains = np.asarray(A.T @ w).ravel()
    covered = np.zeros(A.shape[0], dtype=bool)
    got = 0.0
    order: list[int] = []
    tol = 1e-12 * max(1.0, float(w.sum()))
    while got < need - tol:
        remaining = need - got
        useful = np.minimum(gains, remaining)  # weight beyond the target is worth nothing
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(cost > 0, useful / np.where(cost > 0, cost, 1.0), np.inf)
        score[useful <= tol] = -np.inf
        if order:
            score[np.array(order)] = -np.inf
        j = int(np.argmax(score))
        if not score[j] > -np.inf:
            break
        order.append(j)
        rows = Acsc.indices[Acsc.indptr[j] : Acsc.indptr[j + 1]]
        new = rows[~covered[rows]]
        covered[new] = True
        got += float(w[new].sum())
        if len(new):
            gains -= np.asarray(A[new].T @ w[new]).ravel()
    return prune_cover(red, np.array(order, dtype=np.int64), need)


def prune_cover(red: Reduced, sel: np.ndarray, need: float) -> np.ndarray:
    """Drop chosen sites, most expensive first, while the target stays reached."""
    A, w, cost = red.A, red.w, red.cost
    tol = 1e-9 * max(1.0, float(w.sum()))
    sel = list(sel[np.argsort(-cost[sel], kind="stable")])
    for j in list(sel):
        rest = [k for k in sel if k != j]
        if coverage_value(A, w, np.array(rest, dtype=np.int64)) >= need - tol:
            sel = rest
    return np.sort(np.array(sel, dtype=np.int64))


def _cover_model(red: Reduced, need: float):
    """Objective, y ≤ A x rows and the coverage row, scaled so the coverage row sums to 1.

    The row is divided by Σw (callers scale ``need`` with :func:`_cover_scale`): with raw
    weights (≈ 7·10⁵ persons on a province) HiGHS's presolve returned a dearer cover as optimal
    with an invalid dual bound (the 2030 twin's 5G instance: 148.92 vs 144.84 bn VND, found by
    ``benchmarks/bench_plan_targets.py`` against plain HiGHS and CBC).
    """
    A, w, cost = red.A, red.w, red.cost
    m, n = A.shape
    c = np.concatenate([cost, np.zeros(m)])
    M = sp.hstack([-A, sp.identity(m, format="csr")], format="csr")
    tgt = sp.csr_matrix(np.concatenate([np.zeros(n), w / _cover_scale(red)])[None, :])
    return c, M, tgt


def _cover_scale(red: Reduced) -> float:
    return max(float(red.w.sum()), 1e-300)


def lp_bound_cover(red: Reduced, need: float, deadline: float) -> tuple[float, bool]:
    """LP relaxation lower bound of the minimum-cost partial cover (0 if HiGHS stops early),
    and whether the deadline stopped it."""
    if need <= 0:
        return 0.0, False
    c, M, tgt = _cover_model(red, need)
    rows = sp.vstack([M, tgt], format="csr")
    lo = np.concatenate([np.full(M.shape[0], -np.inf), [need / _cover_scale(red)]])
    hi = np.concatenate([np.zeros(M.shape[0]), [np.inf]])
    out = solve_highs(c, rows, lo, hi, deadline=deadline, options=_LP_OPTIONS)
    if not out.optimal:
        return 0.0, out.timed_out
    return float(out.bound) * (1 - 1e-9), False


def milp_cover(red: Reduced, need: float, incumbent: np.ndarray, deadline: float) -> MilpOutcome:
    """Exact minimum-cost partial cover MILP, started from the incumbent selection (when it
    reaches ``need``)."""
    n = red.A.shape[1]
    c, M, tgt = _cover_model(red, need)
    scale = _cover_scale(red)
    tol = 1e-9 * max(1.0, float(red.w.sum()))
    rows = sp.vstack([M, tgt], format="csr")
    lo = np.concatenate([np.full(M.shape[0], -np.inf), [(need - tol) / scale]])
    hi = np.concatenate([np.zeros(M.shape[0]), [np.inf]])
    integ = np.concatenate([np.ones(n, bool), np.zeros(red.A.shape[0], bool)])
    ok = coverage_value(red.A, red.w, incumbent) >= need - tol
    out = solve_highs(c, rows, lo, hi, integer=integ,
                      start=_start(red, incumbent) if ok else None, deadline=deadline,
                      options=_milp_options())
    lb = float(out.bound) if np.isfinite(out.bound) else 0.0
    sel = None if out.x is None else np.flatnonzero(out.x[:n] > 0.5).astype(np.int64)
    return MilpOutcome(sel, lb, out.optimal, out.status, out.timed_out)
