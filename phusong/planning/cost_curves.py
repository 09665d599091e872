"""Cost curves to 100 %: the least cost of reaching each coverage level, mobile and fibre.

Pure functions for the plan loop (DESIGN §6). A curve is a list of dicts sorted by ``pct``, all
with the keys ``pct`` (level, % of the total, counting what is already covered), ``reachable``,
``max`` (the point buys all that can be bought), ``cost_vnd``, ``lower_bound_vnd`` (proven,
mobile only), ``gap``, ``covered_pct`` (% reached, may exceed ``pct``), ``households_covered``
and ``persons_covered`` (totals after the build), ``marginal_vnd_per_household`` and
``marginal_vnd_per_person`` (extra VND ÷ extra households / persons since the previous reachable
point; None for the first or when nothing is added) and ``method``; mobile adds ``sites``, fibre
``route_cost_vnd``, ``ftth_cost_vnd``, ``route_km`` and ``nodes``. Levels already met cost 0;
levels beyond what everything together reaches are unreachable (None values) and a ``max`` point
is added at the most that can be bought. Costs never decrease along a curve: a cheaper answer
found for a higher level also meets the lower ones and replaces theirs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

from phusong import settings
from phusong.errors import DataError, ModelError
from phusong.planning._curve_core import assemble, prune_steps
from phusong.planning._curve_reach import last_reached
from phusong.planning.siting import SetCovering

__all__ = ["LEVELS", "OpenVillages", "mobile_cost_curve", "fibre_cost_curve",
           "marginal_summary"]

#: Default coverage levels of a curve, % of the total weight.
LEVELS = (90.0, 95.0, 99.0, 99.5, 100.0)
def _check_levels(levels, time_limit_s: float | None) -> list[float]:
    lv = sorted({float(x) for x in levels})
    if not lv or not all(np.isfinite(x) and 0 < x <= 100 for x in lv):
        raise ModelError(f"levels must be percentages within (0, 100], got {list(levels)}")
    if time_limit_s is not None and not (np.isfinite(time_limit_s) and time_limit_s > 0):
        raise ModelError(f"time_limit_s must be > 0 seconds (or None), got {time_limit_s}")
    return lv


def mobile_cost_curve(coverage, weights, *, covered, costs, households=None, levels=LEVELS,
                      time_limit_s: float | None = None) -> list[dict]:
    """Least cost of new sites reaching each level of the weight (population), with LP bounds.

    One :class:`~phusong.planning.siting.SetCovering` problem (validated and prepared once) is
    solved per level with its target moved; the levels share ``time_limit_s``.

    Parameters
    ----------
    coverage : scipy.sparse matrix or array, villages × candidates
        Nonzero where a candidate covers a village.
    weights : array-like
        Population per village, persons; the levels are shares of its total.
    covered, costs : array-like
        Bool mask of villages already covered (they count, at no cost); VND per candidate.
    households : array-like, optional
        Households per village, for ``households_covered`` and the per-household marginal.
    levels : sequence of float
        Coverage levels, % of the total population, within (0, 100].
    time_limit_s : float, optional
        Wall-clock guard on the whole curve, s (each level gets the time left; default None:
        each solve stops by its gap or node limit; a level cut short by the guard says so in
        its ``method``).

    Returns
    -------
    list of dict
        The curve (see the module docstring); ``sites`` is the number of candidates chosen and
        ``method`` says ``set covering (<stage>, optimal|feasible)`` or ``already met``.

    Raises
    ------
    DataError
        Inputs of the wrong length, negative or not finite, or a population summing to 0.

    Examples
    --------
    Village 0 (80 persons) is already covered; candidate 0 (10 VND) covers village 1 (15),
    nothing covers village 2 (5), so 95 % is the most that can be bought:

    >>> import numpy as np
    >>> curve = mobile_cost_curve(np.array([[0], [1], [0]]), [80.0, 15.0, 5.0],
    ...                           covered=np.array([True, False, False]), costs=[10.0],
    ...                           levels=(80, 90, 100))
    >>> [(p["pct"], p["reachable"], p["max"], p["cost_vnd"]) for p in curve]
    [(80.0, True, False, 0.0), (90.0, True, False, 10.0), (95.0, True, True, 10.0), (100.0, False, False, None)]
    >>> curve[1]["marginal_vnd_per_person"]  # 10 VND more than at 80 % for 15 more persons
    0.6666666666666666
    """
    mask = np.asarray(covered)
    if mask.dtype != bool:
        raise DataError(f"covered must be a bool mask over villages, got dtype {mask.dtype}")
    lv = _check_levels(levels, time_limit_s)
    deadline = None if time_limit_s is None else time.perf_counter() + float(time_limit_s)
    prob = SetCovering.from_coverage(coverage, weights, target_pct=0.0, costs=costs,
                                     existing=mask)
    A = sp.csr_matrix(coverage).astype(bool).tocsr()
    A.eliminate_zeros()
    w = np.asarray(weights, dtype=np.float64).ravel()
    hh = None if households is None else np.asarray(households, dtype=np.float64).ravel()
    if hh is not None and (hh.shape != w.shape or not np.isfinite(hh).all() or (hh < 0).any()):
        raise DataError(f"households: give {len(w)} finite values ≥ 0, one per village")
    total = float(w.sum())
    if total <= 0:
        raise DataError("weights sum to 0: a coverage curve needs some population")
    base = float(w[mask].sum())
    best = float(w[mask | (np.diff(A.indptr) > 0)].sum())

    def solve(pct):
        if pct is None:
            chosen, cost, lb, gap, method = np.zeros(0, np.int64), 0.0, 0.0, 0.0, "already met"
        else:
            prob.target_pct = float(pct)
            left = None if deadline is None else max(1e-3, deadline - time.perf_counter())
            res = prob.solve(time_limit_s=left)
            chosen, cost, lb, gap = res.chosen, res.objective, res.lower_bound, res.gap
            method = f"set covering ({res.method}, {res.status}" + (
                ", stopped by time limit)" if res.stopped_by_time_limit else ")")
        now = mask | (np.asarray(A[:, chosen].sum(axis=1)).ravel() > 0)
        return {"cost_vnd": float(cost), "lower_bound_vnd": float(lb), "gap": float(gap),
                "covered_pct": 100 * float(w[now].sum()) / total,
                "households_covered": None if hh is None else float(hh[now].sum()),
                "persons_covered": float(w[now].sum()), "method": method,
                "sites": int(len(chosen))}

    return assemble(lv, total, base, best, solve)


@dataclass(frozen=True)
class OpenVillages:
    """Villages not yet within reach of the fibre, for measuring a curve's reach.

    Attributes
    ----------
    x_m, y_m : ndarray
        Positions in WORK_CRS, m.
    households : ndarray
        Households per village.
    reach_m : float
        The plan's fibre reach, m (:func:`phusong.network.reach.fibre_available`).
    """

    x_m: np.ndarray
    y_m: np.ndarray
    households: np.ndarray
    reach_m: float = settings.FIBRE_REACH_M


def fibre_cost_curve(graph, sources, node_households, *, levels=LEVELS,
                     ftth_vnd_per_home: float = settings.COSTS.ftth_vnd_per_home,
                     base_households: float = 0.0, total_households: float,
                     time_limit_s: float | None = None, villages: OpenVillages | None = None) -> list[dict]:
    """Cost of fibre extensions (route + FTTH per home) reaching each level of the households.

    A Steiner tree (:func:`~phusong.planning.fibre_router.route_fibre`) joins every node with
    households reachable from ``sources``; reverse greedy pruning then removes, one at a time,
    the leaf branch (leaf up to the nearest node that branches, holds households or is on the
    fibre) with the worst (route VND + FTTH × households) per household, recording each state.
    A level costs the cheapest recorded state reaching it. Heuristic: no lower bound.

    With ``villages``, the households of each state are *measured* as the plan measures them
    (:mod:`phusong.planning._curve_reach`: every village the routed spans bring within reach,
    including those a route passes on its way), and the access network is paid for each of
    them; without, a state counts the households of the nodes it joins.

    Parameters
    ----------
    graph : networkx graph
        Road graph; edges carry ``cost_vnd`` (VND) and ``length`` (m, as osmnx names it).
    sources : iterable of nodes
        Road nodes on the existing fibre.
    node_households : dict
        Road node → households not yet within reach snapped to it.
    levels : sequence of float
        Levels, % of ``total_households``, within (0, 100].
    ftth_vnd_per_home : float
        Access network cost per household brought within reach, VND.
    base_households, total_households : float
        Households already within reach, and all households (the denominator).
    time_limit_s : float, optional
        Wall-clock guard of the Steiner improvement phase, s (once for the whole curve;
        default None: the improvement runs to its end).
    villages : OpenVillages, optional
        The villages not within reach before (module doc); their households must not exceed
        ``total_households - base_households``.

    Returns
    -------
    list of dict
        The curve (module docstring); ``lower_bound_vnd`` and ``gap`` are None,
        ``marginal_vnd_per_person`` is None (households only).

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.Graph()
    >>> g.add_edge("F", "a", cost_vnd=10.0, length=100.0)
    >>> g.add_edge("a", "b", cost_vnd=50.0, length=500.0)
    >>> c = fibre_cost_curve(g, ["F"], {"a": 9, "b": 1}, levels=(90, 100), ftth_vnd_per_home=1.0,
    ...                      total_households=10)
    >>> [(p["pct"], p["cost_vnd"], p["route_km"]) for p in c]
    [(90.0, 19.0, 0.1), (100.0, 70.0, 0.6)]
    """
    if not isinstance(graph, nx.Graph):
        raise DataError(f"graph: expected a networkx graph, got {type(graph).__name__}")
    lv = _check_levels(levels, time_limit_s)
    t0 = time.perf_counter()  # the limit counts the checks and set-up below too
    src = set(sources)
    if not src or any(s not in graph for s in src):
        raise DataError("sources: give the road nodes on the existing fibre (at least one, all "
                        "nodes of the graph)")
    hh = {}
    for n, h in node_households.items():
        if n not in graph or not (np.isfinite(float(h)) and float(h) >= 0):
            raise DataError(f"node_households: {n!r} → {h!r}; give graph nodes → households ≥ 0")
        if float(h) > 0:
            hh[n] = hh.get(n, 0.0) + float(h)
    for name, val in (("ftth_vnd_per_home", ftth_vnd_per_home),
                      ("base_households", base_households)):
        if not (np.isfinite(val) and val >= 0):
            raise ModelError(f"{name} must be finite and ≥ 0, got {val}")
    total, base = float(total_households), float(base_households)
    if not (np.isfinite(total) and total > 0) or base + sum(hh.values()) > total * (1 + 1e-9):
        raise DataError(f"total_households {total:g} must be > 0 and at least base_households + "
                        f"node households ({base + sum(hh.values()):g})")
    und = graph.to_undirected(as_view=True) if graph.is_directed() else graph
    home = set().union(*(c for c in nx.connected_components(und) if not src.isdisjoint(c)))
    hh = {n: h for n, h in hh.items() if n in home}
    if villages is not None:
        open_hh = np.asarray(villages.households, dtype=float)
        if not np.isfinite(open_hh).all() or (open_hh < 0).any() or \
                base + open_hh.sum() > total * (1 + 1e-9):
            raise DataError("villages: households must be finite, ≥ 0 and at most "
                            "total_households - base_households")
    left = None if time_limit_s is None else max(
        1e-6, float(time_limit_s) - (time.perf_counter() - t0))
    steps, exits = prune_steps(graph, src, hh, float(ftth_vnd_per_home), left)
    if villages is not None:
        last = last_reached(graph, exits, villages.x_m, villages.y_m, reach_m=villages.reach_m)
        steps = [(float(open_hh[last >= k].sum()), c, m, n) for k, (_, c, m, n)
                 in enumerate(steps)]
    tol = 1e-9 * max(1.0, total)

    def solve(pct):
        need = -np.inf if pct is None else pct / 100 * total - base - tol
        h, c, m, k = min((s for s in steps if s[0] >= need),
                         key=lambda s: (s[1] + ftth_vnd_per_home * s[0], -s[0]))
        ftth = float(ftth_vnd_per_home) * h
        return {"cost_vnd": c + ftth, "covered_pct": 100 * (base + h) / total,
                "households_covered": base + h, "method": "steiner + reverse greedy pruning",
                "route_cost_vnd": c, "ftth_cost_vnd": ftth, "route_km": m / 1000, "nodes": k}

    best = base + (max(h for h, *_ in steps) if villages is not None else sum(hh.values()))
    return assemble(lv, total, base, best, solve)


def _fmt(vnd: float) -> str:
    for scale, unit in ((1e9, "bn VND"), (1e6, "M VND")):
        if abs(vnd) >= scale:
            return f"{vnd / scale:,.1f} {unit}"
    return f"{vnd:,.0f} VND"


def marginal_summary(curve: list[dict]) -> dict:
    """Cost of the last steps of a curve, in figures and one sentence for a briefing.

    Returns
    -------
    dict
        ``top_pct`` (most that can be bought, %), ``reaches_100``, ``cost_to_top_vnd``;
        ``cost_to_99_vnd``, ``cost_to_100_vnd``, ``cost_99_to_100_vnd``,
        ``households_99_to_100``, ``vnd_per_household_last_1pct`` and
        ``share_of_cost_last_1pct`` (of the cost to 100 %), None unless the curve has both
        99 and 100 % reachable; ``last_step_from_pct``, ``last_step_to_pct``,
        ``cost_last_step_vnd``, ``vnd_per_household_last_step`` between the two highest
        reachable points (None with one point); ``text``, the sentence.

    Examples
    --------
    >>> pts = [{"pct": p, "reachable": True, "cost_vnd": c, "households_covered": h}
    ...        for p, c, h in ((99, 8e9, 990), (100, 12e9, 1000))]
    >>> s = marginal_summary(pts)
    >>> s["cost_99_to_100_vnd"], s["vnd_per_household_last_1pct"]
    (4000000000.0, 400000000.0)
    >>> s["text"]
    'Reaching 99 % costs 8.0 bn VND; the last 1 % (99 → 100 %) costs 4.0 bn VND more (33 % of the 12.0 bn VND total), 400.0 M VND per household.'
    """
    ok = [p for p in curve if p.get("reachable")]
    if not ok:
        raise DataError("the curve has no reachable point; nothing to summarise")
    at = {round(float(p["pct"]), 9): p for p in ok}
    top, p99, p100 = ok[-1], at.get(99.0), at.get(100.0)

    def step(a, b):  # (VND, households, VND per household) from point a to point b
        if a is None or b is None:
            return None, None, None
        ha, hb = a.get("households_covered"), b.get("households_covered")
        dh = None if ha is None or hb is None else hb - ha
        dc = b["cost_vnd"] - a["cost_vnd"]
        return dc, dh, (dc / dh if dh else None)

    cost, dh, per = step(p99, p100)
    last = step(ok[-2] if len(ok) > 1 else None, top)
    out = {"top_pct": float(top["pct"]), "reaches_100": p100 is not None,
           "cost_to_top_vnd": top["cost_vnd"], "cost_to_99_vnd": p99 and p99["cost_vnd"],
           "cost_to_100_vnd": p100 and p100["cost_vnd"], "cost_99_to_100_vnd": cost,
           "households_99_to_100": dh, "vnd_per_household_last_1pct": per,
           "share_of_cost_last_1pct": cost / p100["cost_vnd"] if cost is not None
           and p100["cost_vnd"] > 0 else None,
           "last_step_from_pct": float(ok[-2]["pct"]) if len(ok) > 1 else None,
           "last_step_to_pct": float(top["pct"]) if len(ok) > 1 else None,
           "cost_last_step_vnd": last[0], "vnd_per_household_last_step": last[2]}
    if cost is not None:
        text = (f"Reaching 99 % costs {_fmt(p99['cost_vnd'])}; the last 1 % (99 → 100 %) costs "
                f"{_fmt(cost)} more")
        share = out["share_of_cost_last_1pct"]
        text += f" ({100 * share:.0f} % of the {_fmt(p100['cost_vnd'])} total)" if share else ""
    else:
        text = (f"Reaching 100 % costs {_fmt(top['cost_vnd'])}" if p100 else
                f"100 % is out of reach: at most {out['top_pct']:.2f} % can be covered, for "
                f"{_fmt(top['cost_vnd'])}")
        per = last[2]
        if last[0] is not None:
            text += (f"; the last step ({out['last_step_from_pct']:g} → {out['top_pct']:.2f} %)"
                     f" costs {_fmt(last[0])} more")
    out["text"] = text + (f", {_fmt(per)} per household." if per is not None else ".")
    return out
