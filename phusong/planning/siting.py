"""BTS siting: maximal covering and minimum-cost covering with a certified optimality gap.

Two-step API in the style of spopt: build a problem from a sparse coverage matrix (or from two
GeoDataFrames and a radius), then :meth:`~MaximalCovering.solve`. The solver reduces the model
(identical demand rows merged with their weights summed, demand nobody can cover dropped,
dominated candidates dropped), runs a vectorised greedy, a swap local search, then the exact
MILP with HiGHS through ``highspy`` (:mod:`phusong.planning._highs`, started from the local
search's answer), each stopped by a rule of the instance (a local optimum, a fixed number of
seeded restarts, a gap or node limit), never by the clock unless the caller sets a wall-clock
guard ``time_limit_s``, which HiGHS also obeys inside its own phases; HiGHS's dual bound (the
LP relaxation for ``method="local"``) is reported as ``upper_bound`` and ``gap``. The answer
is never worse than greedy.

Conventions
-----------
* ``existing`` is either candidate indices of sites already built (always selected, zero cost,
  not counted in ``n_sites``) or a bool mask over demand rows already covered. Either way demand
  already covered does **not** count: ``objective`` is the weight *newly* covered. This is the
  public-utility mode (only villages without broadband count); ``covered_weight`` adds it back.
* Operator sharing: pass ``coverage`` as a list of matrices, one per operator, and
  ``sharing_markup``. A shared tower is modelled as one candidate whose coverage column is the
  union over operators (a demand row is served when any operator's radio on it reaches it) and
  whose cost is ``cost × (1 + sharing_markup)`` (extra radios, power and rent). This keeps the
  model a plain covering problem; per-operator demand can be modelled instead by stacking
  (demand × operator) rows, which the same API accepts.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> cov = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]]))
>>> res = MaximalCovering.from_coverage(cov, [5.0, 1.0, 4.0, 3.0], n_sites=2).solve()
>>> res.selected.tolist(), res.objective, res.status
([0, 1], 10.0, 'optimal')
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from phusong import settings
from phusong.errors import DataError, InfeasibleError, ModelError
from phusong.planning import _siting_core as core

__all__ = ["MaximalCovering", "SetCovering", "SitingResult", "CoverResult", "METHODS"]

#: Solve methods: greedy only, greedy + swap local search, or all the way to the exact MILP.
METHODS = ("auto", "greedy", "local", "milp")


def _as_matrix(coverage) -> sp.csr_matrix:
    if isinstance(coverage, Sequence) and not isinstance(coverage, np.ndarray):
        if len(coverage) == 0:
            raise DataError("coverage: empty list of operator matrices; give at least one")
        mats = [_as_matrix(c) for c in coverage]
        shapes = {m.shape for m in mats}
        if len(shapes) > 1:
            raise DataError(f"coverage: operator matrices differ in shape {sorted(shapes)}; "
                            "give one demand × candidates matrix per operator")
        out = mats[0]
        for m in mats[1:]:
            out = out.maximum(m)
        return out.tocsr()
    if sp.issparse(coverage):
        return sp.csr_matrix(coverage)
    arr = np.asarray(coverage)
    if arr.ndim != 2:
        raise DataError(f"coverage: expected a 2-D demand × candidates matrix, got {arr.ndim}-D")
    return sp.csr_matrix(arr)


def _check_vector(values, n: int, what: str, rows: str, unit: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.shape[0] != n:
        raise DataError(f"{what} has {arr.shape[0]} values but coverage has {n} {rows}; "
                        f"give one {what.rstrip('s')} per {rows.rstrip('s')}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if len(bad):
        raise DataError(f"{what}: {len(bad)} NaN/infinite value(s), first at {rows.rstrip('s')} "
                        f"{bad[0]}; give a finite {what.rstrip('s')} ≥ 0{unit}")
    neg = np.flatnonzero(arr < 0)
    if len(neg):
        raise DataError(f"{what}: negative value {arr[neg[0]]:g} at {rows.rstrip('s')} {neg[0]}; "
                        f"{what} must be ≥ 0{unit}")
    return arr


@dataclass
class _Prepared:
    A: sp.csr_matrix
    w: np.ndarray
    cost: np.ndarray
    has_costs: bool
    covered0: np.ndarray
    existing_idx: np.ndarray


def _prepare(coverage, weights, costs, existing, sharing_markup: float) -> _Prepared:
    A = _as_matrix(coverage)
    m, n = A.shape
    if m == 0:
        raise DataError("coverage has no demand rows; give at least one demand point")
    w = _check_vector(weights, m, "weights", "demand rows", "")
    has_costs = costs is not None
    cost = _check_vector(costs, n, "costs", "candidates", " VND") if has_costs else np.ones(n)
    if not np.isfinite(sharing_markup) or sharing_markup < 0:
        raise ModelError(f"sharing_markup must be a fraction ≥ 0, got {sharing_markup}")
    if has_costs and isinstance(coverage, Sequence) and not isinstance(coverage, np.ndarray):
        cost = cost * (1.0 + sharing_markup)
    A = A.astype(bool).astype(np.float64)
    A.eliminate_zeros()
    covered0 = np.zeros(m, dtype=bool)
    idx = np.zeros(0, dtype=np.int64)
    if existing is not None:
        ex = np.asarray(existing)
        if ex.dtype == bool:
            if ex.shape[0] != m:
                raise DataError(f"existing mask has {ex.shape[0]} values but coverage has {m} "
                                "demand rows; give candidate indices or one bool per demand row")
            covered0 = ex.copy()
        elif ex.size:
            if not np.issubdtype(ex.dtype, np.integer):
                raise DataError("existing: give integer candidate indices or a bool demand mask")
            out = ex[(ex < 0) | (ex >= n)]
            if len(out):
                raise DataError(f"existing: candidate index {out[0]} is outside 0..{n - 1}")
            idx = np.unique(ex.astype(np.int64))
            covered0 = np.asarray(A[:, idx].sum(axis=1)).ravel() > 0
    return _Prepared(A, w, cost, has_costs, covered0, idx)


@dataclass
class SitingResult:
    """Answer of :meth:`MaximalCovering.solve`.

    Attributes
    ----------
    selected : numpy.ndarray
        Candidate indices: existing sites plus the chosen new ones, sorted.
    chosen : numpy.ndarray
        The newly chosen candidate indices only.
    objective : float
        Weight newly covered by ``chosen`` (demand already covered does not count).
    upper_bound : float
        Proven bound on the best achievable ``objective`` (LP relaxation or MILP dual bound).
    gap : float
        ``(upper_bound − objective) / upper_bound`` (0 when proven optimal).
    greedy_objective : float
        Objective of the plain greedy (the answer is never below it).
    status : str
        ``"optimal"`` (gap closed) or ``"feasible"``.
    method : str
        Last stage that improved or certified the answer: greedy, local or milp.
    seconds : float
        Wall time of :meth:`solve`, s.
    cost_vnd : float
        Cost of ``chosen``, VND (number of sites when no costs were given).
    base_weight, covered_weight : float
        Weight already covered before, and after the plan (``base_weight + objective``).
    stopped_by_time_limit : bool
        The wall-clock ``time_limit_s`` cut a stage short (or left no time to start it): the
        answer then depends on the machine's speed; ``gap`` is still a certified bound.
    """

    selected: np.ndarray
    chosen: np.ndarray
    objective: float
    upper_bound: float
    gap: float
    greedy_objective: float
    status: str
    method: str
    seconds: float
    cost_vnd: float
    base_weight: float
    covered_weight: float
    stopped_by_time_limit: bool = False
    _prep: _Prepared = field(repr=False, default=None)

    def ranking(self) -> pd.DataFrame:
        """Chosen sites ordered by cost per newly covered weight (public-utility priority list).

        Each step takes the chosen site with the lowest cost per weight it newly covers given the
        sites ranked before it, so the list can be built in that order year by year.

        Returns
        -------
        pandas.DataFrame
            ``rank``, ``candidate``, ``cost_vnd``, ``new_weight``, ``vnd_per_weight``,
            ``cumulative_weight``, ``cumulative_cost_vnd``.
        """
        prep = self._prep
        w = np.where(prep.covered0, 0.0, prep.w)
        left = list(self.chosen)
        rows = []
        cum_w = cum_c = 0.0
        while left:
            sub = prep.A[:, left]
            gain = np.asarray(sub.T @ w).ravel()
            c = prep.cost[left]
            with np.errstate(divide="ignore", invalid="ignore"):
                score = np.where(gain > 0, c / np.where(gain > 0, gain, 1.0), np.inf)
            k = int(np.lexsort((-gain, score))[0])
            j = left.pop(k)
            cum_w += gain[k]
            cum_c += c[k]
            rows.append((len(rows) + 1, j, c[k], gain[k], score[k], cum_w, cum_c))
            hit = sub[:, k].toarray().ravel() > 0
            w = np.where(hit, 0.0, w)
        return pd.DataFrame(rows, columns=["rank", "candidate", "cost_vnd", "new_weight",
                                           "vnd_per_weight", "cumulative_weight",
                                           "cumulative_cost_vnd"])


def _deadline(t0: float, time_limit_s: float | None) -> float:
    return np.inf if time_limit_s is None else t0 + float(time_limit_s)


def _check_solve_args(time_limit_s: float, method: str) -> None:
    if method not in METHODS:
        raise ModelError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if time_limit_s is not None and not (np.isfinite(time_limit_s) and time_limit_s > 0):
        raise ModelError(f"time_limit_s must be > 0 seconds (or None: no limit), got "
                         f"{time_limit_s}")


class MaximalCovering:
    """Choose at most ``n_sites`` candidates (and/or within ``budget`` VND) covering most weight.

    Build with :meth:`from_coverage` or :meth:`from_geodataframe`, then :meth:`solve`.
    """

    def __init__(self, prep: _Prepared, n_sites: int | None, budget: float | None):
        self._prep = prep
        self.n_sites = n_sites
        self.budget = budget

    @classmethod
    def from_coverage(
        cls,
        coverage,
        weights,
        *,
        n_sites: int | None = None,
        costs=None,
        budget: float | None = None,
        existing=None,
        sharing_markup: float = 0.0,
    ) -> MaximalCovering:
        """Problem from a demand × candidates 0/1 matrix.

        Parameters
        ----------
        coverage : scipy.sparse matrix, array, or list of them (one per operator, see module)
            Nonzero where candidate j covers demand row i.
        weights : array-like
            Weight per demand row (households, people), finite, ≥ 0.
        n_sites : int, optional
            Maximum number of new sites.
        costs : array-like, optional
            Cost per candidate, VND, ≥ 0. Required with ``budget``.
        budget : float, optional
            Maximum total cost of the new sites, VND.
        existing : array-like of int or of bool, optional
            Candidate indices already built, or a bool mask of demand already covered.
        sharing_markup : float
            Cost markup for operator-shared towers (only with a list of coverage matrices).
        """
        if n_sites is None and budget is None:
            raise ModelError("give n_sites or budget (or both) to bound the selection")
        if n_sites is not None and (int(n_sites) != n_sites or n_sites < 0):
            raise ModelError(f"n_sites must be an integer ≥ 0, got {n_sites}")
        if budget is not None:
            if costs is None:
                raise ModelError("budget needs costs: give one cost in VND per candidate")
            if not (np.isfinite(budget) and budget >= 0):
                raise ModelError(f"budget must be a finite amount ≥ 0 VND, got {budget}")
        prep = _prepare(coverage, weights, costs, existing, sharing_markup)
        if budget is not None:
            free = np.ones(prep.A.shape[1], dtype=bool)
            free[prep.existing_idx] = False
            useful = free & (np.diff(prep.A.tocsc().indptr) > 0)
            if useful.any() and prep.cost[useful].min() > budget:
                cheapest = prep.cost[useful].min()
                raise InfeasibleError(
                    f"budget {budget:,.0f} VND buys no candidate: the cheapest useful one costs "
                    f"{cheapest:,.0f} VND; raise the budget to at least that")
        return cls(prep, None if n_sites is None else int(n_sites), budget)

    @classmethod
    def from_geodataframe(cls, demand_gdf, candidates_gdf, *, weight_col: str, coverage=None,
                          radius_m: float | None = None, cost_col: str | None = None,
                          existing_col: str | None = None, covered_col: str | None = None,
                          n_sites: int | None = None, budget: float | None = None,
                          sharing_markup: float = 0.0) -> MaximalCovering:
        """Problem from point layers: coverage given, or every candidate within ``radius_m``.

        Parameters
        ----------
        demand_gdf, candidates_gdf : geopandas.GeoDataFrame
            Demand points (villages) and candidate sites; distances in metres after projecting
            geographic layers to ``settings.WORK_CRS``. Indices in the result are positional.
        weight_col : str
            Demand column holding the weight.
        coverage, radius_m
            A ready coverage matrix, or the coverage radius in metres.
        cost_col, existing_col, covered_col : str, optional
            Candidate cost (VND), candidate already built (bool), demand already covered (bool).
        """
        from phusong.planning._siting_geo import coverage_by_radius, gdf_inputs

        w, costs, existing = gdf_inputs(demand_gdf, candidates_gdf, weight_col, cost_col,
                                        existing_col, covered_col)
        if coverage is None:
            if radius_m is None:
                raise ModelError("give coverage (a matrix) or radius_m (metres)")
            coverage = coverage_by_radius(demand_gdf, candidates_gdf, radius_m)
        return cls.from_coverage(coverage, w, n_sites=n_sites, costs=costs, budget=budget,
                                 existing=existing, sharing_markup=sharing_markup)

    def solve(self, time_limit_s: float | None = None, method: str = "auto",
              seed: int | None = 0) -> SitingResult:
        """Greedy → swap local search → exact MILP (per ``method``).

        Every stage stops by a rule of the instance: the swap descent at a local optimum,
        ``settings.SITING_RESTARTS`` restarts driven by ``seed``, the MILP at
        ``settings.MILP_REL_GAP`` or ``settings.MILP_NODE_LIMIT`` nodes — so the answer is the
        same on any machine. ``time_limit_s`` (s, default None: none) is a wall-clock guard on
        the whole call, set-up and LP bound included; when it cuts a stage short the result
        says ``stopped_by_time_limit`` (measured past 1.5 s on 40,000 × 2,000 × 60: 0.02-0.06 s
        at load 7-12). :meth:`from_coverage` comes before the call (0.003-0.008 CPU-s there);
        a plan's step counts it inside the step's limit.
        """
        _check_solve_args(time_limit_s, method)
        t0 = time.perf_counter()
        deadline = _deadline(t0, time_limit_s)
        prep, p, budget = self._prep, self.n_sites, self.budget
        allowed = np.ones(prep.A.shape[1], dtype=bool)
        allowed[prep.existing_idx] = False
        if budget is not None:
            allowed &= prep.cost <= budget + 1e-9 * max(1.0, budget)
        red = core.reduce_problem(prep.A, prep.w, prep.cost, prep.covered0, allowed)
        sel = core.greedy_max(red, p, budget)
        greedy_obj = best_obj = core.coverage_value(red.A, red.w, sel)
        stage = "greedy"
        total = float(red.w.sum())
        tol = 1e-9 * max(1.0, total)
        stopped = False
        if method != "greedy":
            sel, best_obj, stage, stopped = _improve_local(red, sel, best_obj, p, budget,
                                                           deadline, seed, stage)
        ub = min(total, _cheap_bound(red, sel, p, budget))
        proven = best_obj >= ub - tol
        if not proven and time.perf_counter() >= deadline:
            stopped = True
        elif not proven and method in ("auto", "milp"):
            # the MILP's root LP is the LP bound (and more): no separate LP stage
            out = core.milp_max(red, p, budget, sel, deadline)
            stopped = stopped or out.timed_out
            ub = min(ub, out.bound) if np.isfinite(out.bound) else ub
            if out.sel is not None:
                val = core.coverage_value(red.A, red.w, out.sel)
                if val > best_obj + tol:
                    sel, best_obj, stage = out.sel, val, "milp"
            if out.proven:  # optimal within settings.MILP_REL_GAP: certified
                ub, stage = best_obj, "milp"
        elif not proven:
            lp, cut = core.lp_bound_max(red, p, budget, deadline)
            ub, stopped = min(ub, lp), stopped or cut
        ub = max(ub, best_obj)
        gap = 0.0 if ub <= 0 else max(0.0, (ub - best_obj) / ub)
        chosen = np.sort(red.cand[sel]).astype(np.int64)
        return self._result(chosen, best_obj, ub, gap, greedy_obj, stage, t0, stopped)

    def _result(self, chosen, obj, ub, gap, greedy_obj, stage, t0, stopped) -> SitingResult:
        prep = self._prep
        base = float(prep.w[prep.covered0].sum())
        return SitingResult(
            selected=np.union1d(prep.existing_idx, chosen).astype(np.int64), chosen=chosen,
            objective=float(obj), upper_bound=float(ub), gap=float(gap),
            greedy_objective=float(greedy_obj), status="optimal" if gap <= 1e-9 else "feasible",
            method=stage, seconds=time.perf_counter() - t0,
            cost_vnd=float(prep.cost[chosen].sum()), base_weight=base,
            covered_weight=base + float(obj), stopped_by_time_limit=bool(stopped), _prep=prep)


def _cheap_bound(red, sel, p, budget) -> float:
    """Submodular bound: f(S*) ≤ f(S) + sum of the p largest marginal gains w.r.t. S."""
    if p is None or len(sel) == 0:
        return float(red.w.sum())
    cnt = np.asarray(red.A[:, sel].sum(axis=1)).ravel()
    G = np.sort(np.asarray(red.A.T @ (red.w * (cnt == 0))).ravel())[::-1]
    return core.coverage_value(red.A, red.w, sel) + float(G[:p].sum())


def _improve_local(red, sel, obj, p, budget, deadline, seed, stage):
    """Swap descent, then ``settings.SITING_RESTARTS`` seeded perturbation restarts.

    Returns ``(sel, obj, stage, stopped)``; ``stopped``: the deadline cut the search short.
    """
    tol = 1e-9 * max(1.0, float(red.w.sum()))
    cand = core.local_search_max(red, sel, p, budget, deadline)
    val = core.coverage_value(red.A, red.w, cand)
    if val > obj + tol:
        sel, obj, stage = cand, val, "local"
    n = red.A.shape[1]
    if len(sel) == 0 or n <= len(sel):
        return sel, obj, stage, time.perf_counter() >= deadline
    rng = np.random.default_rng(seed)
    for _ in range(settings.SITING_RESTARTS):
        if time.perf_counter() >= deadline:
            break
        k = max(1, len(sel) // 5)
        kick = sel.copy()
        out = rng.choice(len(kick), size=k, replace=False)
        kick = np.delete(kick, out)
        pool = np.setdiff1d(np.arange(n), kick)
        add = rng.choice(pool, size=min(k, len(pool)), replace=False)
        trial = np.concatenate([kick, add])
        if budget is not None and red.cost[trial].sum() > budget:
            trial = kick
        trial = core.local_search_max(red, trial, p, budget, deadline)
        val = core.coverage_value(red.A, red.w, trial)
        if val > obj + tol:
            sel, obj, stage = trial, val, "local"
    return sel, obj, stage, time.perf_counter() >= deadline


@dataclass
class CoverResult:
    """Answer of :meth:`SetCovering.solve`.

    Attributes
    ----------
    selected, chosen : numpy.ndarray
        Existing + chosen candidate indices; newly chosen only.
    objective : float
        Cost of ``chosen``, VND (number of sites when no costs were given).
    lower_bound : float
        Proven lower bound on the least cost (LP relaxation or MILP dual bound), VND.
    gap : float
        ``(objective − lower_bound) / objective``.
    greedy_objective : float
        Cost of the greedy cover (the answer is never dearer).
    covered_weight, covered_pct : float
        Weight covered after the plan (including demand already covered), and its share, %.
    status, method : str
        ``"optimal"``/``"feasible"``; last stage that improved or certified the answer.
    seconds : float
        Wall time, s.
    stopped_by_time_limit : bool
        The wall-clock ``time_limit_s`` cut a stage short (see :class:`SitingResult`).
    """

    selected: np.ndarray
    chosen: np.ndarray
    objective: float
    lower_bound: float
    gap: float
    greedy_objective: float
    covered_weight: float
    covered_pct: float
    status: str
    method: str
    seconds: float
    stopped_by_time_limit: bool = False


class SetCovering:
    """Reach at least ``target_pct`` % of the total weight at least cost (partial set cover).

    The target counts all demand, including demand already covered (``existing``).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cov = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 1], [0, 1, 0]]))
    >>> res = SetCovering.from_coverage(cov, [1, 1, 1], target_pct=60, costs=[1, 1, 1.5]).solve()
    >>> res.chosen.tolist(), res.objective, res.status
    ([1], 1.0, 'optimal')
    """

    def __init__(self, prep: _Prepared, target_pct: float):
        self._prep = prep
        self.target_pct = target_pct

    @classmethod
    def from_coverage(cls, coverage, weights, *, target_pct: float, costs=None, existing=None,
                      sharing_markup: float = 0.0) -> SetCovering:
        """Problem from a demand × candidates 0/1 matrix (see :meth:`MaximalCovering.from_coverage`).

        Raises
        ------
        InfeasibleError
            When all candidates together cannot reach the target (the message says what can).
        """
        if not (np.isfinite(target_pct) and 0 <= target_pct <= 100):
            raise ModelError(f"target_pct must be within 0..100 %, got {target_pct}")
        prep = _prepare(coverage, weights, costs, existing, sharing_markup)
        total = float(prep.w.sum())
        reach = prep.covered0 | (np.diff(prep.A.indptr) > 0)
        best = float(prep.w[reach].sum())
        if total > 0 and best < target_pct / 100 * total * (1 - 1e-12):
            raise InfeasibleError(
                f"target {target_pct:g} % of the weight is not reachable: all candidates together "
                f"reach {100 * best / total:.2f} % ({best:,.6g} of {total:,.6g}); lower the target "
                "or add candidates")
        return cls(prep, float(target_pct))

    def solve(self, time_limit_s: float | None = None, method: str = "auto",
              seed: int | None = 0) -> CoverResult:
        """Greedy (cost per newly covered weight) → redundancy pruning → exact MILP.

        Stops by rules of the instance (see :meth:`MaximalCovering.solve`); ``time_limit_s``
        (s, default None) is a wall-clock guard on the whole call, reported when it acts. The
        first answer (the reduction and the greedy cover: no partial cover reaches the target)
        always completes, ≈ 0.35 CPU-s on 40,000 demand rows × 2,000 candidates; HiGHS is
        stopped at its checkpoints, the first of which may come 0.3 s into its run there, and
        is not started once its model's build used the time up (measured past a 1.5 s limit on
        that instance: 0.13-0.29 s at load 12; past 0.5 s, the first answer's 0.23-0.44 s).
        """
        _check_solve_args(time_limit_s, method)
        del seed  # deterministic; accepted for a uniform API
        t0 = time.perf_counter()
        deadline = _deadline(t0, time_limit_s)
        prep = self._prep
        allowed = np.ones(prep.A.shape[1], dtype=bool)
        allowed[prep.existing_idx] = False
        red = core.reduce_problem(prep.A, prep.w, prep.cost, prep.covered0, allowed)
        base = float(prep.w[prep.covered0].sum())
        total = float(prep.w.sum())
        need = max(0.0, self.target_pct / 100 * total - base)
        tol = 1e-9 * max(1.0, total)
        sel = core.greedy_cover(red, need) if need > tol else np.zeros(0, dtype=np.int64)
        best = greedy = float(red.cost[sel].sum())
        stage = "greedy"
        lb = 0.0
        stopped = False
        proven = need <= tol
        if not proven and method != "greedy" and time.perf_counter() >= deadline:
            stopped = True
        elif not proven and method in ("auto", "milp"):
            out = core.milp_cover(red, need, sel, deadline)
            stopped = out.timed_out
            lb = max(lb, out.bound)
            if out.sel is not None:
                val = float(red.cost[out.sel].sum())
                if val < best - 1e-9 * max(1.0, best) and core.coverage_value(
                        red.A, red.w, out.sel) >= need - tol:
                    sel, best, stage = out.sel, val, "milp"
            if out.proven:  # optimal within settings.MILP_REL_GAP: certified
                lb, stage = best, "milp"
        elif not proven and method != "greedy":
            lb, stopped = core.lp_bound_cover(red, need, deadline)
        lb = min(lb, best)
        gap = 0.0 if best <= 0 else max(0.0, (best - lb) / best)
        chosen = np.sort(red.cand[sel]).astype(np.int64)
        covered = base + core.coverage_value(red.A, red.w, sel)
        return CoverResult(
            selected=np.union1d(prep.existing_idx, chosen).astype(np.int64), chosen=chosen,
            objective=best, lower_bound=lb, gap=gap, greedy_objective=greedy,
            covered_weight=covered, covered_pct=100 * covered / total if total > 0 else 100.0,
            status="optimal" if gap <= 1e-9 else "feasible", method=stage,
            seconds=time.perf_counter() - t0, stopped_by_time_limit=bool(stopped))
