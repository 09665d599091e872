"""Siting optimiser: exactness against brute force, never worse than greedy, budgets, bad input."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
from shapely.geometry import Point

from phusong.errors import DataError, InfeasibleError, ModelError
from phusong.planning.siting import MaximalCovering, SetCovering

# Objectives are sums of float weights; HiGHS works to 1e-7 relative, so compare to that.
REL = 1e-6


def _random(seed: int, m: int = 14, n: int = 8, density: float = 0.25):
    rng = np.random.default_rng(seed)
    A = (rng.random((m, n)) < density).astype(float)
    w = rng.integers(1, 20, m).astype(float)
    w[rng.random(m) < 0.1] = 0.0
    c = rng.integers(1, 10, n).astype(float)
    return sp.csr_matrix(A), w, c


def _value(A, w, sel) -> float:
    if len(sel) == 0:
        return 0.0
    return float(w[np.asarray(A[:, list(sel)].sum(axis=1)).ravel() > 0].sum())


def _brute_max(A, w, c, p=None, budget=None, skip=()):
    n = A.shape[1]
    pool = [j for j in range(n) if j not in skip]
    best = 0.0
    for k in range(len(pool) + 1):
        if p is not None and k > p:
            break
        for sub in itertools.combinations(pool, k):
            if budget is not None and c[list(sub)].sum() > budget + 1e-9:
                continue
            best = max(best, _value(A, w, list(skip) + list(sub)))
    return best


def _naive_greedy(A, w, p):
    sel: list[int] = []
    for _ in range(p):
        gains = [(_value(A, w, sel + [j]) - _value(A, w, sel), -j) for j in range(A.shape[1])
                 if j not in sel]
        g, j = max(gains)
        if g <= 0:
            break
        sel.append(-j)
    return _value(A, w, sel)


@pytest.mark.parametrize("seed", range(12))
def test_cardinality_matches_brute_force(seed):
    A, w, c = _random(seed)
    for p in (1, 2, 3):
        res = MaximalCovering.from_coverage(A, w, n_sites=p).solve(time_limit_s=20)
        opt = _brute_max(A, w, c, p=p)
        assert res.objective == pytest.approx(opt, rel=REL)
        assert len(res.chosen) <= p
        assert _value(A, w, res.chosen) == pytest.approx(res.objective, rel=REL)
        assert res.upper_bound >= opt * (1 - REL)
        assert res.objective >= res.greedy_objective * (1 - REL)
        assert res.objective >= _naive_greedy(A, w, p) * (1 - REL)
        assert res.status == "optimal" and res.gap == 0.0


@pytest.mark.parametrize("seed", range(10))
def test_budget_matches_brute_force(seed):
    A, w, c = _random(100 + seed)
    budget = float(np.sort(c)[:3].sum()) + 2
    res = MaximalCovering.from_coverage(A, w, costs=c, budget=budget).solve(time_limit_s=20)
    assert res.cost_vnd <= budget
    assert res.objective == pytest.approx(_brute_max(A, w, c, budget=budget), rel=REL)
    # greedy/local stages alone also respect the budget and are never above the optimum
    for method in ("greedy", "local"):
        r = MaximalCovering.from_coverage(A, w, costs=c, budget=budget).solve(method=method)
        assert r.cost_vnd <= budget
        assert r.greedy_objective <= r.objective <= res.objective * (1 + REL)
        assert r.upper_bound >= res.objective * (1 - REL)


@pytest.mark.parametrize("seed", range(6))
def test_existing_sites_do_not_count_and_are_selected(seed):
    A, w, c = _random(200 + seed)
    res = MaximalCovering.from_coverage(A, w, n_sites=2, existing=[0, 3]).solve()
    assert {0, 3} <= set(res.selected.tolist())
    assert not {0, 3} & set(res.chosen.tolist())
    base = _value(A, w, [0, 3])
    assert res.base_weight == pytest.approx(base, rel=REL)
    assert res.covered_weight == pytest.approx(_brute_max(A, w, c, p=2, skip=(0, 3)), rel=REL)
    assert res.objective == pytest.approx(res.covered_weight - base, rel=REL)


def test_mask_mode_equals_dropping_covered_demand_and_ranking():
    A, w, c = _random(7, m=30, n=10, density=0.2)
    mask = np.zeros(30, dtype=bool)
    mask[:10] = True
    res = MaximalCovering.from_coverage(A, w, n_sites=3, costs=c, existing=mask).solve()
    ref = MaximalCovering.from_coverage(A[10:], w[10:], n_sites=3).solve()
    assert res.objective == pytest.approx(ref.objective, rel=REL)
    rank = res.ranking()
    assert sorted(rank["candidate"]) == sorted(res.chosen.tolist())
    assert rank["cumulative_weight"].iloc[-1] == pytest.approx(res.objective, rel=REL)
    assert rank["cumulative_cost_vnd"].iloc[-1] == pytest.approx(c[res.chosen].sum(), rel=REL)
    first = rank.iloc[0]
    # the first ranked site is the best ratio among the chosen ones taken alone
    w_new = np.where(mask, 0.0, w)
    ratios = [c[j] / _value(A, w_new, [j]) for j in res.chosen if _value(A, w_new, [j]) > 0]
    assert first["vnd_per_weight"] == pytest.approx(min(ratios), rel=REL)


def test_operator_sharing_unions_coverage_and_marks_up_cost():
    a = sp.csr_matrix(np.array([[1, 0], [0, 0], [0, 1]], dtype=float))
    b = sp.csr_matrix(np.array([[0, 0], [1, 0], [0, 1]], dtype=float))
    res = MaximalCovering.from_coverage([a, b], [3, 4, 5], n_sites=1, costs=[10, 10],
                                        sharing_markup=0.25).solve()
    assert res.chosen.tolist() == [0] and res.objective == 7.0
    assert res.cost_vnd == pytest.approx(12.5, rel=1e-12)  # 10 × 1.25 exactly in floating point


def test_reduction_merges_rows_and_drops_dominated_without_changing_answer():
    rng = np.random.default_rng(5)
    base = (rng.random((6, 5)) < 0.4).astype(float)
    A = sp.csr_matrix(np.vstack([base, base, base[:, [0, 0, 1, 2, 3]] * 0]))  # duplicates + zeros
    A = sp.hstack([A, A[:, :2]]).tocsr()  # duplicate candidate columns
    w = rng.integers(1, 9, A.shape[0]).astype(float)
    res = MaximalCovering.from_coverage(A, w, n_sites=2).solve()
    assert res.objective == pytest.approx(_brute_max(A, w, np.ones(7), p=2), rel=REL)


@pytest.mark.parametrize("seed", range(8))
def test_set_covering_matches_brute_force(seed):
    A, w, c = _random(300 + seed, m=12, n=7, density=0.35)
    reach = float(w[np.asarray(A.sum(axis=1)).ravel() > 0].sum())
    pct = 100 * 0.8 * reach / w.sum()
    res = SetCovering.from_coverage(A, w, target_pct=pct, costs=c).solve()
    need = pct / 100 * w.sum()
    best = min(c[list(s)].sum() for k in range(8) for s in itertools.combinations(range(7), k)
               if _value(A, w, list(s)) >= need * (1 - 1e-12))
    assert res.objective == pytest.approx(best, rel=REL)
    assert res.covered_weight >= need * (1 - 1e-12)
    assert res.lower_bound <= best * (1 + REL) and res.objective <= res.greedy_objective


def test_from_geodataframe_radius():
    demand = gpd.GeoDataFrame({"hh": [10, 20, 30]},
                              geometry=[Point(0, 0), Point(1000, 0), Point(5000, 0)],
                              crs="EPSG:32648")
    cands = gpd.GeoDataFrame({"cost": [1.0, 1.0]}, geometry=[Point(500, 0), Point(5200, 0)],
                             crs="EPSG:32648")
    prob = MaximalCovering.from_geodataframe(demand, cands, weight_col="hh", radius_m=600,
                                             cost_col="cost", n_sites=1)
    res = prob.solve()
    assert res.chosen.tolist() == [0] and res.objective == 30.0


def test_large_budget_and_zero_sites_are_fine():
    A, w, c = _random(1)
    assert MaximalCovering.from_coverage(A, w, n_sites=0).solve().objective == 0.0
    res = MaximalCovering.from_coverage(A, w, costs=c, budget=1e12).solve()
    assert res.objective == pytest.approx(_value(A, w, range(A.shape[1])), rel=REL)


A3 = sp.csr_matrix(np.eye(3))


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda: MaximalCovering.from_coverage(A3, [1, 2], n_sites=1), DataError,
         "weights has 2 values but coverage has 3 demand rows; give one weight per demand row"),
        (lambda: MaximalCovering.from_coverage(A3, [1, np.nan, 2], n_sites=1), DataError,
         "weights: 1 NaN/infinite value(s), first at demand row 1; give a finite weight ≥ 0"),
        (lambda: MaximalCovering.from_coverage(A3, [1, -2, 2], n_sites=1), DataError,
         "weights: negative value -2 at demand row 1; weights must be ≥ 0"),
        (lambda: MaximalCovering.from_coverage(A3, [1, 1, 1], costs=[1, -5, 1], budget=3),
         DataError, "costs: negative value -5 at candidate 1; costs must be ≥ 0 VND"),
        (lambda: MaximalCovering.from_coverage(A3, [1, 1, 1], costs=[1, 1], budget=3),
         DataError, "costs has 2 values but coverage has 3 candidates; give one cost per candidate"),
        (lambda: MaximalCovering.from_coverage(sp.csr_matrix((0, 3)), [], n_sites=1), DataError,
         "coverage has no demand rows; give at least one demand point"),
        (lambda: MaximalCovering.from_coverage(A3, [1, 1, 1]), ModelError,
         "give n_sites or budget (or both) to bound the selection"),
        (lambda: MaximalCovering.from_coverage(A3, [1, 1, 1], budget=5), ModelError,
         "budget needs costs: give one cost in VND per candidate"),
        (lambda: MaximalCovering.from_coverage(A3, [1, 1, 1], costs=[7e6, 5e6, 9e6], budget=1e6),
         InfeasibleError, "budget 1,000,000 VND buys no candidate: the cheapest useful one costs "
         "5,000,000 VND; raise the budget to at least that"),
        (lambda: MaximalCovering.from_coverage(A3, [1, 1, 1], n_sites=1, existing=[4]), DataError,
         "existing: candidate index 4 is outside 0..2"),
        (lambda: MaximalCovering.from_coverage(A3, [1, 1, 1], n_sites=-1), ModelError,
         "n_sites must be an integer ≥ 0, got -1"),
        (lambda: MaximalCovering.from_coverage(A3, [1, 1, 1], n_sites=1).solve(method="exact"),
         ModelError, "method must be one of auto, greedy, local, milp; got 'exact'"),
        (lambda: SetCovering.from_coverage(sp.csr_matrix(np.array([[1.0], [0.0]])), [3, 1],
                                           target_pct=90), InfeasibleError,
         "target 90 % of the weight is not reachable: all candidates together reach 75.00 % "
         "(3 of 4); lower the target or add candidates"),
    ],
)
def test_bad_input_messages(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message
