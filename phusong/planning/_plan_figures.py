"""Figures of a plan: per year, in total, why a target is missed, and the CLI summary."""

from __future__ import annotations

import numpy as np
import pandas as pd

from phusong.planning._plan_services import SERVICES, UNKNOWN
from phusong.planning.targets import target_columns

__all__ = ["year_figures", "missed_targets", "represented_share", "totals", "summary_lines"]

_HEADLINE = ("fibre_households_pct", "fibre_communes_pct", "mobile_any_population_pct",
             "mobile_broadband_population_pct", "mobile_4G_population_pct",
             "mobile_5G_population_pct")


def _f(x):
    x = float(x)
    return x if np.isfinite(x) else None


def _per(cost: float, n: float):
    return cost / n if n > 0 else None


def _service_counts(sv: pd.DataFrame) -> dict:
    out = {}
    unknown = (UNKNOWN,) if (sv["service"] == UNKNOWN).any() else ()  # only under a limit
    for k in SERVICES + unknown:
        m = sv["service"] == k
        out[k] = {"villages": int(m.sum()), "households": float(sv.loc[m, "households"].sum()),
                  "population": float(sv.loc[m, "population"].sum())}
    return out


def year_figures(ctx, res, gaps0, gy, sv: pd.DataFrame) -> dict:
    """``plan.json["years"]`` entry of one year."""
    p0, p1 = gaps0.province.iloc[0], gy.province.iloc[0]
    targets = []
    for c in target_columns(ctx.scenario.targets):
        t = c.target
        targets.append({"indicator": t.indicator, "denominator": t.denominator,
                        "threshold_pct": t.threshold_pct, "year": t.year, "origin": t.origin,
                        "baseline_pct": _f(p0[c.value]), "value_pct": _f(p1[c.value]),
                        "gap_pct": _f(p1[c.gap]),
                        "met": None if _not_measured(ctx, t) else bool(p1[c.meets]),
                        "due": t.year <= res.year})
    kinds = res.candidates.iloc[res.chosen]
    up = kinds["kind"] == "upgrade"
    fs = res.fibre
    fallback = float(sv["cost_vnd"].sum())
    total_hh = float(ctx.hh.sum())
    fixed = sv["service"].eq("fibre") | (sv["service"].ne("none") & sv["service"].ne(UNKNOWN)
                                         & pd.Series(fs.lost).to_numpy())
    fibre_known = getattr(ctx, "fibre_known", True)
    return {
        "year": res.year,
        "budget_vnd": dict(res.money),
        "spent_vnd": {"mobile": res.spent_mobile, "fibre": fs.extension_cost,
                      "fibre_routes": fs.route_cost, "ftth_access": fs.ftth_cost,
                      "backhaul_routes": fs.backhaul_cost,
                      "ftth_access_backhaul": fs.ftth_backhaul_cost, "fallback": fallback},
        "unspent_vnd": {"mobile": max(0.0, res.money["mobile"] - res.spent_mobile),
                        "fibre": max(0.0, res.money["fibre"] - fs.extension_cost)},
        "cost_vnd": res.spent_mobile + fs.extension_cost + fs.ftth_backhaul_cost + fallback,
        "candidates": int(len(res.candidates)),
        "new_sites": int((kinds["kind"] == "new").sum()),
        "new_sites_with_5G": int(((kinds["kind"] == "new") & (kinds["tech"] == "5G")).sum()),
        "upgrades_4G": int((up & (kinds["tech"] == "4G")).sum()),
        "upgrades_5G": int((up & (kinds["tech"] == "5G")).sum()),
        "fibre_km": fs.km,
        "backhaul_km": float(fs.routes.loc[fs.routes["purpose"] == "backhaul", "length_m"].sum())
        / 1000.0 if len(fs.routes) else 0.0,
        "households_newly_passed": fs.households_passed,
        "households_passed_by_backhaul": fs.ftth_backhaul_cost / ctx.scenario.costs.ftth_vnd_per_home
        if ctx.scenario.costs.ftth_vnd_per_home > 0 else None,
        "fibre_out_of_reach": fs.unreachable,
        "solver": {**res.solver, **({"fibre": fs.info} if fs.info else {})},
        "switched_off": list(getattr(gy, "switched_off", ()) or ()),
        "losing_service": {"villages": int(p1.get("villages_losing_service", 0)),
                           "households": float(p1.get("households_losing_service", 0.0))},
        "services": _service_counts(sv),
        # villages whose mobile coverage is unknown after the year (off the DEM, or behind a
        # flagged path with no site covering them): neither covered nor uncovered
        "unknown": {"villages": int(round(float(p1.get("unknown_villages", 0.0)))),
                    "households": float(p1.get("unknown_households", 0.0)),
                    "population": float(p1.get("unknown_population", 0.0))},
        "fibre_or_alternative_households_pct":
            100.0 * float(sv.loc[fixed, "households"].sum()) / total_hh
            if total_hh and fibre_known else None,
        "province_pct": {k: _f(p1[k]) for k in _HEADLINE if k in p1},
        "targets": targets,
    }


def _not_measured(ctx, t) -> bool:
    """Whether target ``t`` is a fibre target of a plan whose fibre reach was not measured
    (the time limit came first): neither met nor missed."""
    return t.indicator.startswith("fibre") and not getattr(ctx, "fibre_known", True)


def _techs(res, t) -> tuple:
    """The technologies of target ``t`` the year scored (all of them for a broadband target)."""
    tech = t.indicator.split("_")[1] if t.indicator.count("_") >= 1 else ""
    return (tech,) if tech in res.coverage else tuple(res.coverage)


def _target_reach(ctx, res, t) -> tuple[float, str]:
    """Share (%) the year's candidates could reach for target ``t`` and what limits it."""
    w = {"households": ctx.hh, "population": ctx.pop, "villages": np.ones(len(ctx.hh))}.get(
        t.denominator, ctx.hh)
    total = float(w.sum()) or 1.0
    if t.indicator == "fibre_available":
        ok = res.after.fibre | ~res.fibre.lost
        return 100.0 * float(w[ok].sum()) / total, "no road to the fibre"
    techs = _techs(res, t)
    ok = np.zeros(len(w), bool)
    for k in techs:
        ok |= np.asarray(res.coverage[k].sum(axis=1)).ravel() > 0
        col = f"covered_{k}"
        if col in res.after.cov:
            ok |= res.after.cov[col].fillna(False).astype(bool).to_numpy()
    return 100.0 * float(w[ok].sum()) / total, "no candidate covers the rest"


def represented_share(row, denominator: str) -> float:
    """Share (0–1) of the census households or persons the villages represent (1 otherwise)."""
    if denominator not in ("households", "population"):
        return 1.0
    known = float(row[denominator])
    total = known + float(row[f"{denominator}_unrepresented"])
    return known / total if total > 0 else 1.0


def _cheapest_useful_mobile(ctx, res, t) -> float:
    """Cost (VND) of the cheapest candidate not chosen this year that would cover a village
    still without target ``t``'s technology (inf when there is none)."""
    techs = _techs(res, t)
    mats = [res.coverage[k] for k in techs]
    if not mats:
        return float("inf")
    done = np.zeros(mats[0].shape[0], bool)
    for k in techs:
        col = f"covered_{k}"
        if col in res.after.cov:
            done |= res.after.cov[col].fillna(False).astype(bool).to_numpy()
    useful = np.zeros(mats[0].shape[1], bool)
    for m in mats:
        useful |= np.asarray(m[~done].sum(axis=0)).ravel() > 0
    useful[np.asarray(res.chosen, dtype=np.int64)] = False
    costs = res.candidates["cost_vnd"].to_numpy(float)
    return float(costs[useful].min()) if useful.any() else float("inf")


def _money_binds(ctx, res, t, known: float) -> str:
    """What stops target ``t`` short of what the candidates reach: ``"budget"`` only when the
    money left this year buys no further action that would move it.

    Mobile: the money left (VND) is compared with the cheapest unchosen candidate that covers
    a village still uncovered; when it would buy one, the siting (its solver and gap) stopped
    short, not the budget. Fibre: when the fibre step met the target on the households the
    villages carry, the money does not bind (the census share ``known``, 0–1, does); when
    less than one home's access network is left, the budget binds; otherwise the budget binds
    as the router fits it, and the money it could not place is said.
    """
    if t.indicator.startswith("fibre"):
        money = float(res.money.get("fibre", 0.0))
        left = money - float(res.fibre.extension_cost)
        if (res.fibre.info or {}).get("status") == "met":
            return (f"met on the households the villages carry; the census counts the "
                    f"{100.0 * (1.0 - known):.1f} % no village represents as unknown")
        if left < ctx.scenario.costs.ftth_vnd_per_home:
            return "budget"
        return (f"budget as the router fits it: {left:,.0f} VND of {money:,.0f} left, which no "
                "further extension found (routes and access network) fits")
    money = float(res.money.get("mobile", 0.0))
    left = money - float(res.spent_mobile)
    cheapest = _cheapest_useful_mobile(ctx, res, t)
    if left < cheapest:
        return "budget"
    return (f"the siting stopped short of the money: {left:,.0f} VND left would buy a "
            f"candidate covering more ({cheapest:,.0f} VND); see the solver gaps")


def missed_targets(ctx, res, gy, sv: pd.DataFrame) -> list[dict]:
    """Every target due by this year and missed: shortfall, what binds, the solver gaps."""
    out = []
    p1 = gy.province.iloc[0]
    for c in target_columns(ctx.scenario.targets):
        t = c.target
        if t.year > res.year or bool(p1[c.meets]) or t.denominator == "communes":
            continue
        if _not_measured(ctx, t):  # not known, so not missed (its "met" is None)
            continue
        value = float(p1[c.value])
        reach, limit = _target_reach(ctx, res, t)
        # reach is a share of what the villages carry; census households or persons no village
        # represents count as unknown (gaps module doc), so scale it to the census
        known = represented_share(p1, t.denominator)
        reach *= known
        binds = ([_money_binds(ctx, res, t, known)] if value < min(reach, t.threshold_pct) - 1e-6
                 else [])
        if 100.0 * known < t.threshold_pct - 1e-6:
            binds.append(f"villages represent {100.0 * known:.1f} % of the census "
                         f"{t.denominator}; the rest is unknown")
        if reach < t.threshold_pct - 1e-6 and reach < 100.0 * known - 1e-6:
            binds.append(limit)
        fb = sv["service"] == "fallback"
        if fb.any() and reach < t.threshold_pct - 1e-6:
            binds.append(f"fallback only for {int(fb.sum())} villages "
                         f"({float(sv.loc[fb, 'households'].sum()):,.0f} households)")
        gaps = {k: v.get("gap") for k, v in res.solver.items() if isinstance(v, dict)}
        out.append({"indicator": t.indicator, "denominator": t.denominator,
                    "threshold_pct": t.threshold_pct, "year": t.year, "value_pct": value,
                    "shortfall_pct": t.threshold_pct - value, "reachable_pct": reach,
                    "binds": binds, "solver_gaps": gaps})
    return out


def totals(ctx, entries: list[dict], results, villages: pd.DataFrame) -> dict:
    """Whole-plan figures."""
    def tsum(key, sub=None):
        return float(sum((e[key][sub] if sub else e[key]) for e in entries))

    cost = tsum("cost_vnd")
    last = villages[villages["year"] == villages["year"].max()] if len(villages) else villages
    fib0 = ctx.fibre0
    fib1 = results[-1].after.fibre if results else fib0
    new_fib = fib1 & ~fib0
    new = _newly(ctx, results)
    return {
        **new,
        "cost_per_household_vnd": _per(cost, new["households_new_any"]),
        "cost_per_person_vnd": _per(cost, new["population_new_any"]),
        "cost_vnd": cost,
        "mobile_vnd": tsum("spent_vnd", "mobile"),
        "fibre_vnd": tsum("spent_vnd", "fibre"),
        "ftth_access_vnd": tsum("spent_vnd", "ftth_access"),
        "ftth_access_backhaul_vnd": tsum("spent_vnd", "ftth_access_backhaul"),
        "backhaul_routes_vnd": tsum("spent_vnd", "backhaul_routes"),
        "fallback_vnd": tsum("spent_vnd", "fallback"),
        "new_sites": int(tsum("new_sites")),
        "upgrades_4G": int(tsum("upgrades_4G")),
        "upgrades_5G": int(tsum("upgrades_5G")),
        "fibre_km": tsum("fibre_km"),
        "fibre_vnd_per_household": _per(tsum("spent_vnd", "fibre"), float(ctx.hh[new_fib].sum())),
        "services_last_year": _service_counts(last) if len(last) else {},
    }


def _newly(ctx, results) -> dict:
    """Households and persons newly served per stream and by anything, vs the baseline."""
    from phusong.planning._plan_year import covered_mask

    if not results:
        return {"households_new_any": 0.0, "population_new_any": 0.0}
    c0, c1 = results[0].start_cov, results[-1].after.cov
    bb = ctx.scenario.broadband_techs
    streams = {"broadband": (covered_mask(c0, bb), covered_mask(c1, bb)),
               "5G": (covered_mask(c0, ["5G"]), covered_mask(c1, ["5G"])),
               "fibre": (ctx.fibre0, results[-1].after.fibre)}
    out, anything = {}, np.zeros(len(ctx.hh), bool)
    for k, (a, b) in streams.items():
        m = b & ~a
        anything |= m
        out[f"households_new_{k}"] = float(ctx.hh[m].sum())
        out[f"population_new_{k}"] = float(ctx.pop[m].sum())
    out["households_new_any"] = float(ctx.hh[anything].sum())
    out["population_new_any"] = float(ctx.pop[anything].sum())
    return out


def summary_lines(plan) -> list[str]:
    """Human-readable summary of a plan (CLI text output)."""
    t = plan.totals
    lines = [f"{plan.bundle_name}: scenario {plan.scenario.name!r} ({plan.scenario.objective})"
             + (" (synthetic data)" if plan.synthetic else ""),
             f"  total {t['cost_vnd'] / 1e9:,.2f} bn VND: mobile {t['mobile_vnd'] / 1e9:,.2f}, "
             f"fibre {t['fibre_vnd'] / 1e9:,.2f} (of which access network "
             f"{t['ftth_access_vnd'] / 1e9:,.2f}), fallbacks {t['fallback_vnd'] / 1e9:,.2f} "
             f"(budgets {plan.budgets_vnd['mobile'] / 1e9:,.0f} / "
             f"{plan.budgets_vnd['fibre'] / 1e9:,.0f})",
             f"  {t['new_sites']} new sites, {t['upgrades_4G']} 4G and {t['upgrades_5G']} 5G "
             f"upgrades, {t['fibre_km']:,.1f} km fibre",
             *(f"  {a}" for a in plan.assumptions)]
    for y in plan.years:
        pct = y["province_pct"]
        sv = y["services"]
        lines.append(
            f"  {y['year']}: {y['cost_vnd'] / 1e9:,.2f} bn VND; 4G "
            f"{pct.get('mobile_4G_population_pct') or 0:.2f} %, 5G "
            f"{pct.get('mobile_5G_population_pct') or 0:.2f} % of people; fibre "
            + ("unknown (not measured)" if "fibre_households_pct" in pct
               and pct["fibre_households_pct"] is None
               else f"{pct.get('fibre_households_pct') or 0:.2f} %")
            + " of households; villages: "
            + ", ".join(f"{k} {v['villages']}" for k, v in sv.items() if v["villages"]))
        unk = y.get("unknown") or {}
        if unk.get("villages"):
            lines.append(f"    coverage unknown (off the DEM or behind a long void): "
                         f"{unk['villages']} villages, {unk['households']:,.0f} households")
        for m in y.get("missed_targets", []):
            lines.append(f"    missed {m['indicator']} {m['threshold_pct']:g} % ({m['year']}): "
                         f"{m['value_pct']:.2f} %, short {m['shortfall_pct']:.2f} pts; binds: "
                         + ("; ".join(m["binds"]) or "unknown"))
    for key, curve in (plan.cost_curves or {}).items():
        if isinstance(curve, dict) and curve.get("summary"):
            lines.append(f"  cost curve {key}: {curve['summary'].get('text', '')}")
    lines.extend(f"  note: {n}" for n in plan.notes)
    return lines
