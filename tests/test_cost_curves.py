"""Cost curves to 100 %: hand-solved mobile and fibre instances, bounds, monotonicity, bad input."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from phusong.errors import DataError, ModelError
from phusong.planning.cost_curves import fibre_cost_curve, marginal_summary, mobile_cost_curve

# Costs are sums of a few float costs added in different orders (and HiGHS works to 1e-7
# relative); every instance here has integer costs, so 1e-9 relative is ample for exact answers.
REL = 1e-9

# ---------------------------------------------------------------------------- mobile
# Four villages V0..V3, population 50, 30, 15, 5 (total 100), households 10, 6, 3, 1.
# Candidates (cost VND → villages): c0 10 → V0; c1 25 → V0,V1; c2 12 → V1; c3 20 → V2;
# c4 40 → V2,V3; c5 30 → V3. By hand:
#   50 %: V0 alone (c0) = 10 (c1 = 25 costs more).
#   80 %: needs V0 and V1 (no other pair of villages reaches 80): c0 + c2 = 22 < c1 = 25.
#   90 %: V0 + V1 + V3 = 85 < 90, so V0 + V1 + V2 = 95: 22 + c3 = 42.
#   95 %: the same 42 (already covers 95).
#   100 %: 22 + cheapest cover of V2, V3: c4 = 40 < c3 + c5 = 50 → 62.
POP = np.array([50.0, 30.0, 15.0, 5.0])
HH = np.array([10.0, 6.0, 3.0, 1.0])
COV = np.array([[1, 1, 0, 0, 0, 0],
                [0, 1, 1, 0, 0, 0],
                [0, 0, 0, 1, 1, 0],
                [0, 0, 0, 0, 1, 1]])
COST = np.array([10.0, 25.0, 12.0, 20.0, 40.0, 30.0])
NONE = np.zeros(4, dtype=bool)


def _curve(cov=COV, covered=NONE, levels=(50, 80, 90, 95, 100), **kw):
    return mobile_cost_curve(sp.csr_matrix(cov), POP, covered=covered, costs=COST,
                             households=HH, levels=levels, **kw)


def test_mobile_hand_solved_levels_and_marginals():
    curve = _curve()
    assert [p["pct"] for p in curve] == [50.0, 80.0, 90.0, 95.0, 100.0]
    assert [p["cost_vnd"] for p in curve] == pytest.approx([10, 22, 42, 42, 62], rel=REL)
    assert [p["sites"] for p in curve] == [1, 2, 3, 3, 3]  # 100 %: c0, c2, c4
    assert [p["covered_pct"] for p in curve] == pytest.approx([50, 80, 95, 95, 100], rel=REL)
    assert [p["households_covered"] for p in curve] == pytest.approx([10, 16, 19, 19, 20])
    # proven optimal on so small an instance: bound = cost, gap 0
    assert all(p["lower_bound_vnd"] == pytest.approx(p["cost_vnd"], rel=1e-7) for p in curve)
    assert all(p["gap"] <= 1e-7 and p["reachable"] for p in curve)
    assert [p["max"] for p in curve] == [False, False, False, False, True]
    # marginals: 80 vs 50: 12 VND / 30 persons / 6 households; 90 vs 80: 20 / 15 / 3;
    # 95 vs 90: nothing new (same solution) → None; 100 vs 95: 20 VND / 5 persons / 1 household
    per_p = [p["marginal_vnd_per_person"] for p in curve]
    per_h = [p["marginal_vnd_per_household"] for p in curve]
    assert per_p[0] is None and per_h[0] is None and per_p[3] is None and per_h[3] is None
    assert per_p[1:3] + per_p[4:] == pytest.approx([0.4, 20 / 15, 4.0], rel=REL)
    assert per_h[1:3] + per_h[4:] == pytest.approx([2.0, 20 / 3, 20.0], rel=REL)


def test_mobile_levels_already_met_cost_nothing():
    # V0 (50 %) already covered: 50 % is met (0); 80 % needs V1 only: c2 = 12 (c1 = 25);
    # 100 %: c2 + c4 = 52.
    curve = _curve(covered=np.array([True, False, False, False]), levels=(50, 80, 100))
    assert [p["cost_vnd"] for p in curve] == pytest.approx([0, 12, 52], rel=REL)
    met = curve[0]
    assert (met["sites"], met["method"], met["covered_pct"], met["lower_bound_vnd"]) == \
        (0, "already met", 50.0, 0.0)
    assert met["households_covered"] == 10.0


def test_mobile_unreachable_levels_and_max_point():
    # No candidate covers V3 (c4, c5 cover only V2 now): at most 95 % can be bought, for 42.
    cov = COV.copy()
    cov[3] = 0
    curve = _curve(cov=cov, levels=(90, 99, 100))
    assert [p["pct"] for p in curve] == [90.0, 95.0, 99.0, 100.0]
    assert [p["reachable"] for p in curve] == [True, True, False, False]
    assert [p["max"] for p in curve] == [False, True, False, False]
    assert curve[1]["cost_vnd"] == pytest.approx(42, rel=REL)
    for p in curve[2:]:
        assert p["cost_vnd"] is None and p["covered_pct"] is None and p["sites"] is None
        assert p["marginal_vnd_per_household"] is None
    # a level equal to the maximum is itself the max point: nothing added
    curve = _curve(cov=cov, levels=(95, 100))
    assert [(p["pct"], p["max"], p["reachable"]) for p in curve] == \
        [(95.0, True, True), (100.0, False, False)]
    s = marginal_summary(_curve(cov=cov, levels=(90, 99, 100)))
    assert (s["top_pct"], s["reaches_100"], s["cost_99_to_100_vnd"]) == (95.0, False, None)
    assert s["text"] == ("100 % is out of reach: at most 95.00 % can be covered, for 42 VND; "
                         "the last step (90 → 95.00 %) costs 0 VND more.")


def test_mobile_nothing_buyable_adds_a_zero_cost_max_point():
    # no candidate covers anything open: the max point is today's 50 % at cost 0
    curve = mobile_cost_curve(np.zeros((4, 2)), POP, covered=np.array([1, 0, 0, 0], bool),
                              costs=[1.0, 1.0], levels=(90,))
    assert [(p["pct"], p["reachable"], p["cost_vnd"], p["max"]) for p in curve] == \
        [(50.0, True, 0.0, True), (90.0, False, None, False)]


def test_mobile_cheaper_solution_of_a_higher_level_replaces_a_dearer_one():
    # Total 24. c3 (8 VND) covers every village, so 8 is the least cost of every level. With
    # 1 ms per level the MILP never starts; SetCovering's greedy (useful weight per VND, the
    # weight beyond the target worth nothing) takes c0 + c2 = 10 VND for 50 % (12 needed) and
    # c3 = 8 for 60 %. The 60 % answer meets 50 % too, so the curve reports 8 for both.
    A = np.array([[0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 1, 1], [0, 1, 1, 1], [1, 0, 0, 1]])
    curve = mobile_cost_curve(A, [8.0, 2.0, 5.0, 4.0, 5.0], covered=np.zeros(5, bool),
                              costs=[5.0, 5.0, 5.0, 8.0], levels=(50, 60), time_limit_s=1e-3)
    assert [(p["cost_vnd"], p["sites"], p["covered_pct"]) for p in curve] == \
        [(8.0, 1, 100.0), (8.0, 1, 100.0)]
    assert all(p["lower_bound_vnd"] <= 8.0 for p in curve)


def _brute(A, w, c, covered, pct):
    need = pct / 100 * w.sum()
    best = np.inf
    for k in range(A.shape[1] + 1):
        for sub in itertools.combinations(range(A.shape[1]), k):
            hit = covered | (A[:, list(sub)].sum(axis=1) > 0)
            if w[hit].sum() >= need - 1e-9:
                best = min(best, c[list(sub)].sum())
    return best


@pytest.mark.parametrize("seed", range(6))
def test_mobile_random_matches_brute_force_and_is_monotone(seed):
    rng = np.random.default_rng(seed)
    A = (rng.random((12, 7)) < 0.25).astype(float)
    w = rng.integers(1, 30, 12).astype(float)
    c = rng.integers(1, 20, 7).astype(float)
    covered = rng.random(12) < 0.2
    levels = (40, 60, 80, 90, 95, 100)
    curve = mobile_cost_curve(A, w, covered=covered, costs=c, levels=levels)
    for p in curve:
        if p["reachable"]:
            # HiGHS proves optimality on 7 candidates: exact to its 1e-7 relative tolerance
            assert p["cost_vnd"] == pytest.approx(_brute(A, w, c, covered, p["pct"]), rel=1e-6)
        else:
            assert _brute(A, w, c, covered, p["pct"]) == np.inf
    costs = [p["cost_vnd"] for p in curve if p["reachable"]]
    assert costs == sorted(costs)


@pytest.mark.parametrize("seed", range(3))
def test_mobile_property_costs_above_bounds_and_non_decreasing(seed):
    # 400 × 300 with 0.05 s per level: the MILP rarely finishes, so the bound and the
    # monotone repair are what is tested; bounds are LP values ≤ the least cost ≤ cost.
    rng = np.random.default_rng(100 + seed)
    A = sp.random(400, 300, density=0.01, random_state=seed, format="csr")
    w = rng.integers(1, 500, 400).astype(float)
    c = rng.uniform(1e9, 4e9, 300)
    covered = rng.random(400) < 0.5
    curve = mobile_cost_curve(A, w, covered=covered, costs=c, time_limit_s=0.05,
                              levels=(60, 70, 80, 90, 95, 99, 99.5, 100))
    ok = [p for p in curve if p["reachable"]]
    assert ok[-1]["max"] and len(ok) >= 2
    for p in ok:
        assert p["cost_vnd"] >= p["lower_bound_vnd"] * (1 - 1e-9)
        assert p["covered_pct"] >= p["pct"] - 1e-9
        assert 0 <= p["gap"] <= 1
    for lo, hi in itertools.pairwise(ok):
        assert hi["cost_vnd"] >= lo["cost_vnd"]
        assert hi["lower_bound_vnd"] >= lo["lower_bound_vnd"]


def test_mobile_bad_input():
    with pytest.raises(DataError, match="bool mask"):
        mobile_cost_curve(COV, POP, covered=np.zeros(4, int), costs=COST)
    with pytest.raises(ModelError, match="levels"):
        _curve(levels=(0, 50))
    with pytest.raises(ModelError, match="levels"):
        _curve(levels=(101,))
    with pytest.raises(DataError, match="households"):
        mobile_cost_curve(COV, POP, covered=NONE, costs=COST, households=[1, 2])
    with pytest.raises(DataError, match="sum to 0"):
        mobile_cost_curve(COV, np.zeros(4), covered=NONE, costs=COST)
    with pytest.raises(DataError, match="costs"):
        mobile_cost_curve(COV, POP, covered=NONE, costs=COST[:3])


# ---------------------------------------------------------------------------- fibre
# Road graph (edge cost VND; length = 10 × cost, m), fibre at F:
#   F─a 6, a─b 10, a─c 2, F─h 4; households b 1, c 5, h 4 (a none, a branches).
# The Steiner tree is the whole tree: route 22, 10 households. With FTTH 1 VND per home the
# reverse greedy removes (score = (branch + FTTH × hh) / hh):
#   b: (10 + 1)/1 = 11 (worst) → state (9 hh, route 12);
#   then a has degree 2 and no households, so c's branch runs c─a─F: (8 + 5)/5 = 2.6 > h's
#   (4 + 4)/4 = 2 → c goes → (4, 4); then h → (0, 0).
# (Had c's branch not been extended through a, its score would be (2 + 5)/5 = 1.4, h would go
# first, and 50 % would cost 13 instead of 21.) Total cost of a state = route + FTTH × hh:
#   (10, 22) → 32; (9, 12) → 21; (4, 4) → 8; (0, 0) → 0.
def _graph():
    g = nx.Graph()
    for u, v, c in (("F", "a", 6.0), ("a", "b", 10.0), ("a", "c", 2.0), ("F", "h", 4.0)):
        g.add_edge(u, v, cost_vnd=c, length=10 * c)
    return g


HH_NODES = {"b": 1, "c": 5, "h": 4}


def test_fibre_hand_solved_points():
    curve = fibre_cost_curve(_graph(), ["F"], HH_NODES, levels=(40, 50, 90, 100),
                             ftth_vnd_per_home=1.0, total_households=10)
    # 40 % → 4 hh: (4, 4) = 8; 50 % and 90 % → (9, 12) = 21; 100 % → 32
    assert [p["cost_vnd"] for p in curve] == pytest.approx([8, 21, 21, 32], rel=REL)
    assert [p["households_covered"] for p in curve] == pytest.approx([4, 9, 9, 10])
    assert [p["covered_pct"] for p in curve] == pytest.approx([40, 90, 90, 100])
    assert [p["route_km"] for p in curve] == pytest.approx([0.04, 0.12, 0.12, 0.22], rel=REL)
    assert [p["nodes"] for p in curve] == [1, 2, 2, 3]
    assert [p["ftth_cost_vnd"] for p in curve] == pytest.approx([4, 9, 9, 10], rel=REL)
    assert curve[-1]["max"] and not any(p["max"] for p in curve[:-1])
    assert all(p["lower_bound_vnd"] is None and p["gap"] is None for p in curve)
    assert curve[0]["method"] == "steiner + reverse greedy pruning"
    # marginals per household: (21 − 8)/5; 90 vs 50 adds nothing → None; (32 − 21)/1
    per = [p["marginal_vnd_per_household"] for p in curve]
    assert per[0] is None and per[2] is None
    assert [per[1], per[3]] == pytest.approx([13 / 5, 11.0], rel=REL)
    assert all(p["marginal_vnd_per_person"] is None for p in curve)


def test_fibre_multigraph_keeps_the_cheapest_parallel_edge():
    # a dearer parallel F─a (100 VND) must not change anything: 100 % still costs 22 + 10
    g = nx.MultiGraph(_graph())
    g.add_edge("F", "a", cost_vnd=100.0, length=1000.0)
    curve = fibre_cost_curve(g, ["F"], HH_NODES, levels=(40, 100), ftth_vnd_per_home=1.0,
                             total_households=10)
    assert [p["cost_vnd"] for p in curve] == pytest.approx([8, 32], rel=REL)
    assert curve[1]["route_km"] == pytest.approx(0.22, rel=REL)


def test_fibre_ftth_cost_is_included():
    # without FTTH the scores are b 10, c (after b) 8/5, h 1: the order is the same, and
    # 100 % costs the route alone, 22; with 700 VND per home it costs 22 + 7,000.
    free = fibre_cost_curve(_graph(), ["F"], HH_NODES, levels=(100,), ftth_vnd_per_home=0.0,
                            total_households=10)
    paid = fibre_cost_curve(_graph(), ["F"], HH_NODES, levels=(100,), ftth_vnd_per_home=700.0,
                            total_households=10)
    assert free[0]["cost_vnd"] == pytest.approx(22, rel=REL)
    assert paid[0]["cost_vnd"] == pytest.approx(7022, rel=REL)
    assert paid[0]["route_cost_vnd"] == pytest.approx(22, rel=REL)


def test_fibre_unreachable_component_and_base():
    g = _graph()
    g.add_edge("y", "z", cost_vnd=1.0, length=10.0)  # another component: z out of reach
    hh = {**HH_NODES, "z": 10}
    curve = fibre_cost_curve(g, ["F"], hh, levels=(40, 90, 100), ftth_vnd_per_home=1.0,
                             total_households=20)
    # 20 households, 10 reachable: 40 % → 8 hh → (9, 12) = 21; max 50 % = 32
    assert [(p["pct"], p["reachable"], p["max"], p["cost_vnd"]) for p in curve] == [
        (40.0, True, False, pytest.approx(21)), (50.0, True, True, pytest.approx(32)),
        (90.0, False, False, None), (100.0, False, False, None)]
    # 10 households already within reach (base): 50 % is met; 70 % → 4 more → 8; 100 % → 32
    curve = fibre_cost_curve(_graph(), ["F"], HH_NODES, levels=(50, 70, 100),
                             ftth_vnd_per_home=1.0, base_households=10, total_households=20)
    assert [p["cost_vnd"] for p in curve] == pytest.approx([0, 8, 32], rel=REL)
    assert curve[0]["households_covered"] == 10


def test_fibre_households_on_the_fibre_cost_ftth_only():
    # 3 households at F itself: route 0, FTTH 3; they are kept to the end (score = FTTH)
    curve = fibre_cost_curve(_graph(), ["F"], {**HH_NODES, "F": 3}, levels=(20, 100),
                             ftth_vnd_per_home=1.0, total_households=13)
    # 20 % of 13 = 2.6 hh → F's 3 for 3 VND; 100 % → 32 + 3
    assert [p["cost_vnd"] for p in curve] == pytest.approx([3, 35], rel=REL)
    assert curve[0]["route_km"] == 0.0


def test_fibre_summary_last_percent():
    # 99 % of 10 households needs all 10: last 1 % costs 0, and 100 % costs 32 VND
    curve = fibre_cost_curve(_graph(), ["F"], HH_NODES, levels=(90, 99, 100),
                             ftth_vnd_per_home=1.0, total_households=10)
    s = marginal_summary(curve)
    assert (s["cost_to_99_vnd"], s["cost_to_100_vnd"], s["cost_99_to_100_vnd"]) == \
        pytest.approx((32, 32, 0))
    assert s["households_99_to_100"] == 0 and s["vnd_per_household_last_1pct"] is None
    assert (s["last_step_from_pct"], s["last_step_to_pct"]) == (99.0, 100.0)
    assert s["text"].startswith("Reaching 99 % costs 32 VND; the last 1 % (99 → 100 %) costs 0")


def test_fibre_bad_input():
    with pytest.raises(DataError, match="sources"):
        fibre_cost_curve(_graph(), [], HH_NODES, total_households=10)
    with pytest.raises(DataError, match="sources"):
        fibre_cost_curve(_graph(), ["nowhere"], HH_NODES, total_households=10)
    with pytest.raises(DataError, match="node_households"):
        fibre_cost_curve(_graph(), ["F"], {"q": 1}, total_households=10)
    with pytest.raises(DataError, match="total_households"):
        fibre_cost_curve(_graph(), ["F"], HH_NODES, total_households=5)
    with pytest.raises(ModelError, match="ftth"):
        fibre_cost_curve(_graph(), ["F"], HH_NODES, ftth_vnd_per_home=-1, total_households=10)


def test_summary_needs_a_reachable_point():
    with pytest.raises(DataError, match="no reachable"):
        marginal_summary([{"pct": 100.0, "reachable": False, "cost_vnd": None}])


# ---------------------------------------------------------------------------- measured reach
def _grid_world(seed: int = 3):
    """A 7 × 7 road grid (500 m blocks, WORK_CRS), fibre on its south-west corner, and 60
    villages scattered up to 450 m off the roads."""
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    from phusong import settings
    from phusong.network.roads import road_graph

    x0, y0, step, n = 500_000.0, 2_300_000.0, 500.0, 7
    lines = [LineString([(x0, y0 + i * step), (x0 + (n - 1) * step, y0 + i * step)])
             for i in range(n)]
    lines += [LineString([(x0 + i * step, y0), (x0 + i * step, y0 + (n - 1) * step)])
              for i in range(n)]
    roads = gpd.GeoDataFrame({"road_id": [f"r{i}" for i in range(len(lines))],
                              "road_class": "commune", "cost_factor": 1.0},
                             geometry=lines, crs=settings.WORK_CRS)
    fibre = gpd.GeoDataFrame({"span_id": ["f"]}, geometry=[LineString([(x0 - 50, y0),
                                                                        (x0, y0)])],
                             crs=settings.WORK_CRS)
    rng = np.random.default_rng(seed)
    vx = x0 + rng.uniform(-200, (n - 1) * step + 200, 60)
    vy = y0 + rng.uniform(-200, (n - 1) * step + 200, 60)
    villages = gpd.GeoDataFrame({"village_id": [f"v{i}" for i in range(60)],
                                 "households": rng.integers(5, 60, 60).astype(float)},
                                geometry=[Point(a, b) for a, b in zip(vx, vy, strict=True)],
                                crs=settings.WORK_CRS)
    return road_graph(roads), roads, fibre, villages


def test_measured_reach_matches_the_plans_reach_rule_in_every_pruning_state():
    # the per-village last state of last_reached must agree, state by state, with
    # fibre_distance_m on the existing fibre plus the spans still standing (exact: same rule)
    import geopandas as gpd
    import pandas as pd

    from phusong import settings
    from phusong.network.reach import fibre_distance_m
    from phusong.network.roads import cheapest_edge, snap_points
    from phusong.planning._curve_core import prune_steps
    from phusong.planning._curve_reach import last_reached
    from phusong.planning.candidates import fibre_road_nodes

    g, roads, fibre, villages = _grid_world()
    reach_m = 500.0
    before = fibre_distance_m(villages, fibre, roads, graph=g).to_numpy() <= reach_m
    open_ = villages[~before]
    node, off = snap_points(g, open_.geometry.x.to_numpy(), open_.geometry.y.to_numpy())
    prizes: dict = {}
    for n, o, h in zip(node.tolist(), off, open_["households"], strict=True):
        if o <= reach_m:  # as the plan's prizes: a village snapped to a road node within reach
            prizes[n] = prizes.get(n, 0.0) + h
    src = set(fibre_road_nodes(g, SimpleNamespace(fibre=fibre, fibre_nodes=None)))
    steps, exits = prune_steps(g, src, prizes, 100.0, 2.0)
    last = last_reached(g, exits, open_.geometry.x.to_numpy(), open_.geometry.y.to_numpy(),
                        reach_m=reach_m)
    assert len(steps) > 5 and (last >= 0).any()
    for k in range(len(steps)):
        spans = [cheapest_edge(g, *e)["geometry"] for e, out in exits.items() if out > k]
        net = gpd.GeoDataFrame(pd.concat([fibre, gpd.GeoDataFrame(
            geometry=spans, crs=settings.WORK_CRS)], ignore_index=True), crs=settings.WORK_CRS)
        now = fibre_distance_m(open_, net, roads, graph=g).to_numpy() <= reach_m
        assert (now == (last >= k)).all(), f"state {k}"


def test_fibre_curve_counts_households_a_route_passes():
    # the curve's top with measured reach is what the full tree really reaches: at least the
    # villages routed to, plus those the routes pass (here some are not snapped to any
    # prize node); without measurement the top is the prize households only
    from phusong.network.reach import fibre_distance_m
    from phusong.network.roads import snap_points
    from phusong.planning.candidates import fibre_road_nodes
    from phusong.planning.cost_curves import OpenVillages

    g, roads, fibre, villages = _grid_world()
    before = fibre_distance_m(villages, fibre, roads, graph=g).to_numpy() <= 500.0
    open_ = villages[~before]
    hh = open_["households"].to_numpy()
    node, _ = snap_points(g, open_.geometry.x.to_numpy(), open_.geometry.y.to_numpy())
    # only every third village is a prize: the others can only be reached on the way
    prizes = {int(n): float(h) for n, h in zip(node[::3], hh[::3], strict=True)}
    src = fibre_road_nodes(g, SimpleNamespace(fibre=fibre, fibre_nodes=None))
    total = float(villages["households"].sum())
    base = float(villages["households"][before].sum())
    kw = {"levels": (50, 100), "ftth_vnd_per_home": 100.0, "base_households": base,
          "total_households": total, "time_limit_s": 2.0}
    plain = fibre_cost_curve(g, src, prizes, **kw)
    measured = fibre_cost_curve(g, src, prizes, villages=OpenVillages(
        open_.geometry.x.to_numpy(), open_.geometry.y.to_numpy(), hh, 500.0), **kw)
    top_plain = max(p["households_covered"] for p in plain if p["reachable"])
    top = max(p["households_covered"] for p in measured if p["reachable"])
    assert top_plain == pytest.approx(base + sum(prizes.values()), rel=REL)
    assert top > top_plain  # the routes pass more villages than they were routed to
    # FTTH is paid for every household measured, at 100 VND each (float sums: REL)
    for p in measured:
        if p["reachable"]:
            assert p["ftth_cost_vnd"] == pytest.approx(100.0 * (p["households_covered"] - base),
                                                       rel=REL)
    with pytest.raises(DataError, match="villages: households"):
        fibre_cost_curve(g, src, prizes, villages=OpenVillages(
            open_.geometry.x.to_numpy(), open_.geometry.y.to_numpy(), hh * 100, 500.0), **kw)
