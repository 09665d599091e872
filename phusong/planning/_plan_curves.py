"""Cost curves of a plan: 4G, 5G and fibre households to 100 % on the last year's network.

The curves start from the network at the start of the plan's last year (what the earlier years
left) and use that year's candidates: the cost of each level is what it would take *then*, the
question a planner asks of the 2030 targets (:mod:`phusong.planning.cost_curves`). The fibre
curve starts from the fibre after that year's backhaul (paid on the mobile line) and measures
the households each state brings within reach as the plan does, so its top agrees with what the
plan's own routes reach.

Levels are shares of what the villages carry (the persons for mobile, the households for
fibre). Where the villages represent less than the census (real data: villages that are not
the census), each point also gives ``census_pct``, the same level as a share of the census
(the unrepresented counted as not served, as the gap tables count them), and each curve its
``represented_pct``; on data whose villages are the census the two are equal.
"""

from __future__ import annotations

import numpy as np

from phusong.errors import DataError
from phusong.planning.cost_curves import (
    OpenVillages,
    fibre_cost_curve,
    marginal_summary,
    mobile_cost_curve,
)

__all__ = ["plan_cost_curves"]


def _covered(cov, tech: str) -> np.ndarray:
    col = f"covered_{tech}"
    return cov[col].fillna(False).astype(bool).to_numpy() if col in cov else \
        np.zeros(len(cov), bool)


def _with_summary(points: list[dict], **extra) -> dict:
    try:
        summary = marginal_summary(points)
    except DataError as exc:
        summary = {"text": str(exc)}
    return {**extra, "points": points, "summary": summary}


def _census(curve: dict, share: float) -> dict:
    """Each point's level and covered share also as a share of the census (``share``: 0–1 of
    the census the villages represent)."""
    curve["represented_pct"] = 100.0 * share
    for q in curve["points"]:
        q["census_pct"] = float(q["pct"]) * share
        if q.get("covered_pct") is not None:
            q["covered_census_pct"] = float(q["covered_pct"]) * share
    return curve


def plan_cost_curves(ctx, res, represented: dict | None = None) -> dict:
    """``plan.json["cost_curves"]``: per indicator the curve points and a summary.

    ``represented`` maps ``"population"`` and ``"households"`` to the share (0–1) of the census
    the villages represent (1 when absent; module doc).
    """
    share = {"population": 1.0, "households": 1.0, **(represented or {})}
    s = ctx.scenario
    cands, cov = res.candidates, res.coverage
    costs = cands["cost_vnd"].to_numpy(float)
    before = res.start_cov
    out: dict = {"year": res.year,
                 "from": f"the network at the start of {res.year}, with that year's candidates"}
    for tech in ("4G", "5G"):
        limit = ctx.clock.left()
        A = cov[tech]
        has = np.asarray(A.sum(axis=0)).ravel() > 0
        pts = mobile_cost_curve(A[:, has], ctx.pop, covered=_covered(before, tech),
                                costs=costs[has], households=ctx.hh, time_limit_s=limit)
        ctx.clock.note(f"cost curve mobile {tech}", any(
            "stopped by time limit" in str(q.get("method", "")) for q in pts))
        out[f"mobile_{tech}_population"] = _census(_with_summary(
            pts, denominator="population", method="least-cost set covering"),
            share["population"])
    fs = res.fibre
    if ctx.graph is not None and fs.sources and ctx.clock.skip(
            "cost curve fibre (not computed: time limit reached)"):
        pass  # plan.json has no fibre curve, as without roads
    elif ctx.graph is not None and fs.sources:
        reached = fs.base if len(fs.base) else res.start_fibre
        open_ = ~reached
        v = ctx.villages[open_]
        pts = fibre_cost_curve(ctx.graph, fs.sources, fs.prizes,
                               ftth_vnd_per_home=s.costs.ftth_vnd_per_home,
                               base_households=float(ctx.hh[reached].sum()),
                               total_households=float(ctx.hh.sum()),
                               time_limit_s=ctx.clock.left(),
                               villages=OpenVillages(v.geometry.x.to_numpy(),
                                                     v.geometry.y.to_numpy(), ctx.hh[open_],
                                                     s.reach_m))
        if ctx.clock.expired():  # the router's improvement ran against the guard
            ctx.clock.note("cost curve fibre", True)
            for q in pts:
                q["method"] = f"{q.get('method', '')} (stopped by time limit)"
        out["fibre_households"] = _census(_with_summary(
            pts, denominator="households", method="Steiner tree + reverse greedy pruning",
            reach="measured on the grown network, as the plan measures it (every household "
                  "a route brings within reach, not only those it was routed to)",
            base="the fibre at the start of the year with that year's backhaul"),
            share["households"])
    return out
