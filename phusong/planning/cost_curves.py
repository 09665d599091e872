"""Cost curves to 100 %: the least cost of reaching each coverage level, mobile and fibre.

Pure functions; the plan loop calls them (DESIGN §6, "the cost curve to 100 %"). Each curve is a
list of points, one per level (% of the total weight, counting what is already covered), sorted
by ``pct``, each a dict with the same keys:

``pct`` (%), ``reachable``, ``max`` (the point buys all that can be bought), ``cost_vnd``,
``lower_bound_vnd`` (proven, mobile only), ``gap``, ``covered_pct`` (% actually reached, may
exceed ``pct``), ``households_covered``, ``persons_covered`` (totals after the build, incl. what
was covered before), ``marginal_vnd_per_household`` and ``marginal_vnd_per_person`` (extra cost
÷ extra households / persons since the previous reachable point; None for the first or when
nothing is added), ``method``; mobile adds ``sites``, fibre adds ``route_cost_vnd``,
``ftth_cost_vnd``, ``route_km`` and ``nodes`` (road nodes with households connected).

Levels already met cost 0; levels above what everything together reaches have ``reachable``
False and None values, and one point with ``max`` True is added at the most that can be bought.
Costs are non-decreasing along a curve: a cheaper solution found for a higher level also meets
the lower ones and replaces theirs.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> cov = sp.csr_matrix(np.array([[1, 0], [0, 1], [0, 0]]))
>>> curve = mobile_cost_curve(cov, [80.0, 15.0, 5.0], covered=np.zeros(3, bool),
...                           costs=[10.0, 30.0], levels=(80, 95, 100))
>>> [(p["pct"], p["reachable"], p["cost_vnd"], p["max"]) for p in curve]
[(80.0, True, 10.0, False), (95.0, True, 40.0, True), (100.0, False, None, False)]
>>> curve[1]["marginal_vnd_per_person"]  # (40 − 10) VND for 15 more persons
2.0
>>> marginal_summary(curve)["top_pct"]
95.0
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import networkx as nx
import numpy as np
import scipy.sparse as sp

from phusong import settings
from phusong.errors import DataError, ModelError
from phusong.planning.fibre_router import route_fibre
from phusong.planning.siting import SetCovering

__all__ = ["LEVELS", "mobile_cost_curve", "fibre_cost_curve", "marginal_summary"]

#: Default coverage levels of a curve, % of the total weight.
LEVELS = (90.0, 95.0, 99.0, 99.5, 100.0)
_KEYS = ("cost_vnd", "lower_bound_vnd", "gap", "covered_pct", "households_covered",
         "persons_covered", "method")


def _check_levels(levels) -> list[float]:
    lv = sorted({float(x) for x in levels})
    if not lv or not all(np.isfinite(x) and 0 < x <= 100 for x in lv):
        raise ModelError(f"levels must be percentages within (0, 100], got {list(levels)}")
    return lv


def _drive(lv, total: float, base: float, best: float, solve: Callable) -> list[dict]:
    """Points of a curve; ``solve(pct or None)`` → solution fields (None: build nothing)."""
    tol = 1e-9 * max(1.0, total)
    top = 100.0 * best / total
    pts = []
    for level in lv:
        need = level / 100 * total
        sol = solve(None) if need <= base + tol else solve(min(level, top)) \
            if need <= best + tol else None
        pts.append({"pct": level, **(sol or {})})
    if any(len(p) == 1 for p in pts) and not any(len(p) > 1 and p["pct"] >= top - 1e-9
                                                    for p in pts):
        sol = solve(None) if best <= base + tol else solve(top)
        pts.append({"pct": top, **sol})
        pts.sort(key=lambda p: p["pct"])
    extra = [k for k in max(pts, key=len) if k != "pct" and k not in _KEYS]
    out = []
    for p in pts:
        ok = len(p) > 1
        q = {"pct": p["pct"], "reachable": ok, "max": ok and p["pct"] >= top - 1e-9}
        out.append(q | {k: p.get(k) for k in (*_KEYS, *extra)})
    ok = [p for p in out if p["reachable"]]
    for lo, hi in zip(ok[-2::-1], ok[:0:-1], strict=True):  # top down: cheaper above wins
        if hi["cost_vnd"] < lo["cost_vnd"]:
            lo.update({k: v for k, v in hi.items() if k not in ("pct", "max", "lower_bound_vnd")})
    lb = 0.0  # the least cost is non-decreasing in the level: so is its best bound
    for p in ok:
        if p["lower_bound_vnd"] is not None:
            lb = p["lower_bound_vnd"] = min(max(lb, p["lower_bound_vnd"]), p["cost_vnd"])
            c = p["cost_vnd"]
            p["gap"] = 0.0 if c <= 0 else max(0.0, (c - lb) / c)
    for p in out:
        p["marginal_vnd_per_household"] = p["marginal_vnd_per_person"] = None
    for prev, p in zip(ok, ok[1:], strict=False):
        dc = p["cost_vnd"] - prev["cost_vnd"]
        for key, what in (("marginal_vnd_per_household", "households_covered"),
                          ("marginal_vnd_per_person", "persons_covered")):
            if p[what] is not None and p[what] - prev[what] > tol:
                p[key] = dc / (p[what] - prev[what])
    return out


def _vector(values, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.shape[0] != n or not np.isfinite(arr).all() or (arr < 0).any():
        raise DataError(f"{what}: give {n} finite values ≥ 0 (one per village), got "
                        f"{arr.shape[0]} with min {arr.min() if arr.size else 'n/a'}")
    return arr


def mobile_cost_curve(coverage, weights, *, covered, costs, households=None, levels=LEVELS,
                      time_limit_s: float = 5.0) -> list[dict]:
    """Least cost of new sites reaching each level of the weight (population), with LP bounds.

    One :class:`~phusong.planning.siting.SetCovering` problem (validated and prepared once) is
    solved per level with its target moved; each solve gets ``time_limit_s``.

    Parameters
    ----------
    coverage : scipy.sparse matrix or array, villages × candidates
        Nonzero where a candidate covers a village.
    weights : array-like
        Population per village, persons; the levels are shares of its total.
    covered : array-like of bool
        Villages already covered (they count towards the levels, at no cost).
    costs : array-like
        Cost per candidate, VND.
    households : array-like, optional
        Households per village, for ``households_covered`` and the per-household marginal.
    levels : sequence of float
        Coverage levels, % of the total population, within (0, 100].
    time_limit_s : float
        Solver time per level, s.

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
    >>> import numpy as np
    >>> curve = mobile_cost_curve(np.eye(2), [90.0, 10.0], covered=np.array([True, False]),
    ...                           costs=[5.0, 7.0], levels=(90, 100))
    >>> [(p["pct"], p["cost_vnd"], p["sites"]) for p in curve]
    [(90.0, 0.0, 0), (100.0, 7.0, 1)]
    """
    mask = np.asarray(covered)
    if mask.dtype != bool:
        raise DataError(f"covered must be a bool mask over villages, got dtype {mask.dtype}")
    lv = _check_levels(levels)
    prob = SetCovering.from_coverage(coverage, weights, target_pct=0.0, costs=costs,
                                     existing=mask)
    A = sp.csr_matrix(coverage).astype(bool).tocsr()
    A.eliminate_zeros()
    w = np.asarray(weights, dtype=np.float64).ravel()
    hh = None if households is None else _vector(households, A.shape[0], "households")
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
            res = prob.solve(time_limit_s=time_limit_s)
            chosen, cost, lb, gap = res.chosen, res.objective, res.lower_bound, res.gap
            method = f"set covering ({res.method}, {res.status})"
        now = mask | (np.asarray(A[:, chosen].sum(axis=1)).ravel() > 0)
        return {"cost_vnd": float(cost), "lower_bound_vnd": float(lb), "gap": float(gap),
                "covered_pct": 100 * float(w[now].sum()) / total,
                "households_covered": None if hh is None else float(hh[now].sum()),
                "persons_covered": float(w[now].sum()), "method": method,
                "sites": int(len(chosen))}

    return _drive(lv, total, base, best, solve)


def _edge(graph, u, v) -> tuple[float, float]:
    """(cost_vnd, length_m) of the cheapest edge between u and v."""
    data = graph.get_edge_data(u, v)
    if graph.is_multigraph():
        data = min(data.values(), key=lambda d: float(d["cost_vnd"]))
    return float(data["cost_vnd"]), float(data.get("length_m", 0.0))


def _prune(graph, src: set, hh: dict, ftth: float, time_limit_s: float) -> list[tuple]:
    """Reverse greedy pruning of the Steiner tree: (households, route VND, route m, nodes)."""
    root = object()  # the existing fibre, contracted
    adj: dict = {}
    terms = [n for n in hh if n not in src]
    if terms:
        route = route_fibre(graph, terms, weight="cost_vnd", existing=sorted(src, key=str),
                            time_limit_s=time_limit_s)
        for u, v in route.edges:
            a, b = (root if u in src else u), (root if v in src else v)
            adj.setdefault(a, {})[b] = adj.setdefault(b, {})[a] = _edge(graph, u, v)
    h_tree = sum(hh[n] for n in terms)
    c_tree = sum(c for a in adj for c, _ in adj[a].values()) / 2
    m_tree = sum(m for a in adj for _, m in adj[a].values()) / 2
    steps = [(h_tree, c_tree, m_tree, len(terms))]
    heap, version, stop_of, seq = [], {}, {}, [0]

    def push(leaf):
        path, cost, metres, prev, cur = [leaf], 0.0, 0.0, leaf, next(iter(adj[leaf]))
        while True:
            c, m = adj[prev][cur]
            cost, metres = cost + c, metres + m
            if cur is root or len(adj[cur]) != 2 or hh.get(cur, 0.0) > 0:
                break
            path.append(cur)
            prev, cur = cur, next(x for x in adj[cur] if x is not prev)
        h = hh.get(leaf, 0.0)
        score = (cost + ftth * h) / h if h > 0 else np.inf
        version[leaf] = seq[0] = seq[0] + 1
        stop_of[leaf] = (cur, path, cost, metres, h)
        heapq.heappush(heap, (-score, -cost, seq[0], leaf))

    for n in list(adj):
        if n is not root and len(adj[n]) == 1:
            push(n)
    n_nodes = len(terms)
    while heap:
        _, _, ver, leaf = heapq.heappop(heap)
        if version.get(leaf) != ver:
            continue
        stop, path, cost, metres, h = stop_of.pop(leaf)
        del version[leaf]
        del adj[stop][path[-1]]
        for x in path:
            del adj[x]
        h_tree, c_tree, m_tree = h_tree - h, c_tree - cost, m_tree - metres
        n_nodes -= h > 0
        empty = stop is root and not adj[root]
        steps.append((h_tree, 0.0 if empty else c_tree, 0.0 if empty else m_tree, n_nodes))
        if stop is root:
            continue
        if len(adj[stop]) == 1:
            push(stop)
        elif len(adj[stop]) == 2 and hh.get(stop, 0.0) <= 0:
            for other, info in list(stop_of.items()):  # branches ending here now run on
                if info[0] is stop:
                    push(other)
    at_src = sum(h for n, h in hh.items() if n in src)
    steps = [(h + at_src, c, m, k + sum(1 for n in hh if n in src)) for h, c, m, k in steps]
    if at_src > 0:
        steps.append((0.0, 0.0, 0.0, 0))
    return steps


def fibre_cost_curve(graph, sources, node_households, *, levels=LEVELS,
                     ftth_vnd_per_home: float = settings.COSTS.ftth_vnd_per_home,
                     base_households: float = 0.0, total_households: float,
                     time_limit_s: float = 5.0) -> list[dict]:
    """Cost of fibre extensions (route + FTTH per home) reaching each level of the households.

    A Steiner tree (:func:`~phusong.planning.fibre_router.route_fibre`) joins every node with
    households reachable from ``sources``; reverse greedy pruning then removes, one at a time,
    the leaf branch (leaf up to the nearest node that branches, holds households or is on the
    fibre) with the worst (route VND + FTTH × households) per household, recording each state.
    A level costs the cheapest recorded state reaching it. Heuristic: no lower bound.

    Parameters
    ----------
    graph : networkx graph
        Road graph; edges carry ``cost_vnd`` (VND) and ``length_m`` (m).
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
    time_limit_s : float
        Time for the Steiner improvement phase, s (once for the whole curve).

    Returns
    -------
    list of dict
        The curve (module docstring); ``lower_bound_vnd`` and ``gap`` are None,
        ``marginal_vnd_per_person`` is None (households only).

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.Graph()
    >>> g.add_edge("F", "a", cost_vnd=10.0, length_m=100.0)
    >>> g.add_edge("a", "b", cost_vnd=50.0, length_m=500.0)
    >>> c = fibre_cost_curve(g, ["F"], {"a": 9, "b": 1}, levels=(90, 100), ftth_vnd_per_home=1.0,
    ...                      total_households=10)
    >>> [(p["pct"], p["cost_vnd"], p["route_km"]) for p in c]
    [(90.0, 19.0, 0.1), (100.0, 70.0, 0.6)]
    """
    if not isinstance(graph, nx.Graph):
        raise DataError(f"graph: expected a networkx graph, got {type(graph).__name__}")
    lv = _check_levels(levels)
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
                      ("base_households", base_households), ("time_limit_s", time_limit_s)):
        if not (np.isfinite(val) and val >= 0):
            raise ModelError(f"{name} must be finite and ≥ 0, got {val}")
    total, base = float(total_households), float(base_households)
    if not (np.isfinite(total) and total > 0) or base + sum(hh.values()) > total * (1 + 1e-9):
        raise DataError(f"total_households {total:g} must be > 0 and at least base_households + "
                        f"node households ({base + sum(hh.values()):g})")
    und = graph.to_undirected(as_view=True) if graph.is_directed() else graph
    home = set().union(*(nx.node_connected_component(und, s) for s in src))
    hh = {n: h for n, h in hh.items() if n in home}
    steps = _prune(graph, src, hh, float(ftth_vnd_per_home), time_limit_s)
    tol = 1e-9 * max(1.0, total)

    def solve(pct):
        need = -np.inf if pct is None else pct / 100 * total - base - tol
        h, c, m, k = min((s for s in steps if s[0] >= need),
                         key=lambda s: (s[1] + ftth_vnd_per_home * s[0], -s[0]))
        ftth = float(ftth_vnd_per_home) * h
        return {"cost_vnd": c + ftth, "covered_pct": 100 * (base + h) / total,
                "households_covered": base + h, "method": "steiner + reverse greedy pruning",
                "route_cost_vnd": c, "ftth_cost_vnd": ftth, "route_km": m / 1000, "nodes": k}

    return _drive(lv, total, base, base + sum(hh.values()), solve)


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
    out = {"top_pct": float(top["pct"]), "reaches_100": p100 is not None,
           "cost_to_top_vnd": top["cost_vnd"], "cost_to_99_vnd": p99 and p99["cost_vnd"],
           "cost_to_100_vnd": p100 and p100["cost_vnd"]}

    def step(a, b):
        cost = b["cost_vnd"] - a["cost_vnd"]
        ha, hb = a.get("households_covered"), b.get("households_covered")
        dh = None if ha is None or hb is None else hb - ha
        return cost, dh, (cost / dh if dh else None)

    cost, dh, per = step(p99, p100) if p99 and p100 else (None, None, None)
    out.update({"cost_99_to_100_vnd": cost, "households_99_to_100": dh,
                "vnd_per_household_last_1pct": per,
                "share_of_cost_last_1pct": cost / p100["cost_vnd"] if cost is not None
                and p100["cost_vnd"] > 0 else None})
    last = step(ok[-2], top) if len(ok) > 1 else (None, None, None)
    out.update({"last_step_from_pct": float(ok[-2]["pct"]) if len(ok) > 1 else None,
                "last_step_to_pct": out["top_pct"] if len(ok) > 1 else None,
                "cost_last_step_vnd": last[0], "vnd_per_household_last_step": last[2]})
    if cost is not None:
        text = (f"Reaching 99 % costs {_fmt(p99['cost_vnd'])}; the last 1 % (99 → 100 %) costs "
                f"{_fmt(cost)} more")
        share = out["share_of_cost_last_1pct"]
        text += f" ({100 * share:.0f} % of the {_fmt(p100['cost_vnd'])} total)" if share else ""
        text += f", {_fmt(per)} per household." if per is not None else "."
    else:
        text = (f"{'100 % is reached' if p100 else '100 % is out of reach; at most'} "
                f"{out['top_pct']:.2f} % for {_fmt(top['cost_vnd'])}")
        if last[0] is not None:
            text += (f"; the last step ({out['last_step_from_pct']:g} → {out['top_pct']:.2f} %)"
                     f" costs {_fmt(last[0])}")
            text += f", {_fmt(last[2])} per household." if last[2] is not None else "."
        else:
            text += "."
    out["text"] = text
    return out
