"""The joint plan: public-utility BTS, 5G upgrades and fibre extensions under the budgets.

For each period of the scenario (ending in each report year), with that period's money (plus
what is left from the previous one when ``carry_over``):

1. **Public-utility BTS** (mobile budget): only villages without mobile broadband count; new
   sites and 4G upgrades are chosen by the maximal-covering optimiser
   (:class:`phusong.planning.siting.MaximalCovering`, households newly covered, budgeted,
   warm-started exact MILP with a reported gap) and ranked by cost per newly covered household.
   Their cost includes power and backhaul (:mod:`phusong.planning.candidates`).
2. **5G upgrades** (what is left of the mobile budget), when a 5G target falls in or after the
   period: existing 4G towers, population newly covered by 5G.
3. **Backhaul** of the chosen new sites (and upgrades of towers without backhaul): a Steiner
   tree on the road graph from the existing fibre (:func:`phusong.planning.route_fibre`); its
   cost is part of the mobile line (priced per site in step 1; the tree shares roads, so it is
   never dearer than the sum).
4. **Fibre extensions** (fibre budget): a prize-collecting Steiner tree from the existing fibre
   (now including the backhaul) where the prize of a road node is the households of villages
   snapped to it that are not yet within reach, plus ``centre_prize_households`` for a commune
   centre without fibre.

After each period the village coverage and the fibre reach are recomputed (the new routes join
the fibre layer; :func:`phusong.planning.reach.fibre_available`) and the targets re-measured
(:func:`phusong.planning.gaps.compute_gaps`). A road graph in several pieces is not an error:
terminals the fibre cannot reach are left out and counted (a warning says how many).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from phusong import settings
from phusong.bundle import fingerprint
from phusong.crs import to_work
from phusong.errors import DataError, PhusongWarning
from phusong.planning import _plan_deps as deps
from phusong.planning._plan_steps import (
    apply_sites,
    cover_step,
    empty_routes,
    fibre_step,
    ranked_households,
    siting_step,
)
from phusong.planning._plan_write import plan_report, write_plan
from phusong.planning.candidates import (
    candidate_transmitters,
    check_candidates,
    fibre_road_nodes,
    generate_candidates,
)
from phusong.planning.gaps import GapTables, check_demand, compute_gaps
from phusong.planning.scenario import DEFAULT_SCENARIO, Scenario
from phusong.planning.targets import target_columns

__all__ = ["Plan", "make_plan", "plan_summary_lines"]


@dataclass
class Plan:
    """A joint plan (module doc); write it with :meth:`write`.

    Attributes
    ----------
    bundle_name, bundle_fingerprint : str
        The bundle planned (``phusong.bundle.fingerprint``).
    synthetic : bool
        True when the bundle holds synthetic data.
    scenario : Scenario
        The scenario used.
    budgets_vnd : dict
        ``{"fibre": VND, "mobile": VND}`` summed over the periods.
    totals : dict
        Whole-plan figures (costs VND, sites, km, households and persons newly served, cost per
        household and per person).
    years : list of dict
        One entry per report year: spend, what was built, targets reached.
    candidates : GeoDataFrame
        Every candidate site (EPSG:4326) with ``selected``, ``rank``, ``year``.
    routes : GeoDataFrame
        New fibre (EPSG:4326), one row per road edge.
    gaps : GapTables
        The gap tables before the plan (written as ``gaps_*.csv``).
    notes : list of str
        Things a reader must know (unreachable terminals, skipped steps).
    """

    bundle_name: str
    bundle_fingerprint: str
    synthetic: bool
    scenario: Scenario
    budgets_vnd: dict
    totals: dict
    years: list[dict]
    candidates: gpd.GeoDataFrame
    routes: gpd.GeoDataFrame
    gaps: GapTables
    notes: list[str] = field(default_factory=list)

    def report(self) -> dict:
        """The ``plan.json`` content."""
        return plan_report(self)

    def write(self, folder, *, overwrite: bool = False):
        """Write the plan folder (CONTRACTS: plan.json, plan.gpkg, gaps_*.csv), atomically."""
        return write_plan(self, folder, overwrite=overwrite)


def _mask_from(cov: pd.DataFrame, techs) -> np.ndarray:
    cols = [f"covered_{t}" for t in techs if f"covered_{t}" in cov.columns]
    if not cols:
        return np.zeros(len(cov), bool)
    return cov[cols].fillna(False).astype(bool).to_numpy().any(axis=1)


def make_plan(bundle, *, scenario: Scenario | None = None, model: str | None = None,
              boundaries: str = "2020", village_cov: pd.DataFrame | None = None,
              fibre: pd.Series | None = None, candidates: gpd.GeoDataFrame | None = None,
              coverage=None) -> Plan:
    """Plan BTS sites, 5G upgrades and fibre extensions for ``bundle`` (module doc).

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        Needs communes, villages, fibre and roads; sites/cells and a DEM for mobile candidates.
    scenario : Scenario, optional
        Budgets, targets, costs, rules (default: Plan 785, :data:`DEFAULT_SCENARIO`).
    model : str, optional
        Propagation model (default: the scenario's).
    boundaries : {"2020", "2025"}
        Vintage of the gap tables.
    village_cov : DataFrame, optional
        :func:`phusong.coverage.score_villages` output, when already computed.
    fibre : Series of bool, optional
        Fibre within reach per village, when already computed.
    candidates : GeoDataFrame, optional
        Candidate sites to use instead of generated ones (checked: inside the province).
    coverage : scipy.sparse matrix, optional
        Villages × candidates coverage, when already computed (with ``candidates``).

    Returns
    -------
    Plan

    Raises
    ------
    DataError
        Empty demand, NaN weights, candidates outside the province, a bundle without fibre.
    InfeasibleError
        A period's budget buys no candidate or cannot reach the fibre to any terminal
        (the message says what is reachable).
    """
    s = scenario or DEFAULT_SCENARIO
    model = model or s.model
    check_demand(bundle.villages)
    target_columns(s.targets)  # refuse bad targets before any heavy work
    if bundle.fibre is None or not len(bundle.fibre):
        raise DataError("fibre: the bundle has no fibre layer; the plan extends the existing "
                        "fibre network — add it")
    villages = to_work(bundle.villages, "villages").reset_index(drop=True)
    ids = pd.Index(villages["village_id"].astype(str), name="village_id")
    hh = villages["households"].to_numpy(float)
    pop = villages["population"].to_numpy(float)
    graph = None
    notes: list[str] = []
    if bundle.roads is not None and len(bundle.roads):
        graph = deps.road_graph(bundle.roads, costs=s.costs)
    else:
        notes.append("no roads layer: fibre cannot be routed; backhaul priced as straight links")
    if village_cov is None:
        village_cov = deps.score_villages(bundle, model=model)
    cov0 = village_cov.reindex(ids) if "village_id" not in village_cov else \
        village_cov.set_index("village_id").reindex(ids)
    if fibre is None:
        fibre = deps.fibre_available(bundle, reach_m=s.reach_m, graph=graph)
    fibre0 = pd.Series(fibre).reindex(ids).fillna(False).astype(bool)
    gaps0 = compute_gaps(bundle, cov0, boundaries=boundaries, targets=s.targets, fibre=fibre0,
                         broadband_techs=s.broadband_techs)
    fnodes = fibre_road_nodes(graph, bundle)
    if candidates is None:
        cands = generate_candidates(bundle, cov0, scenario=s, graph=graph, fibre_nodes=fnodes)
    else:
        cands = check_candidates(candidates, bundle, graph=graph, fibre_nodes=fnodes, scenario=s)
    if cands.attrs.get("dropped_outside"):
        notes.append(f"{cands.attrs['dropped_outside']} generated candidate(s) outside the "
                     "province dropped")
    if coverage is None:
        tx = candidate_transmitters(cands, bundle.dem)
        coverage = (deps.coverage_matrix(tx, villages.geometry.x.to_numpy(),
                                         villages.geometry.y.to_numpy(), bundle.dem, model=model)
                    if len(tx) else sp.csr_matrix((len(villages), 0), dtype=bool))
    A = sp.csr_matrix(coverage, dtype=bool)
    if A.shape != (len(villages), len(cands)):
        raise DataError(f"coverage: shape {A.shape} does not match {len(villages)} villages × "
                        f"{len(cands)} candidates")
    if graph is not None:
        from phusong.planning.roads import graph_components

        comps = graph_components(graph)
        if len(comps) > 1:
            msg = (f"road graph: {len(comps)} components (largest {len(comps[0])} nodes); "
                   "fibre is routed only within reach of the existing network")
            notes.append(msg)
            warnings.warn(msg, PhusongWarning, stacklevel=2)

    cov = cov0.copy()
    fib = fibre0.copy()
    fibre_layer = bundle.fibre
    built = np.zeros(len(cands), bool)
    year_of = np.zeros(len(cands), dtype=np.int64)
    rank = np.zeros(len(cands), dtype=np.int64)
    hh_new = np.zeros(len(cands))
    pop_new = np.zeros(len(cands))
    route_frames: list[gpd.GeoDataFrame] = []
    years: list[dict] = []
    carry = {"fibre": 0.0, "mobile": 0.0}
    fibre_sources = list(fnodes)
    served0 = _served(cov0, fibre0, s)
    costs = cands["cost_vnd"].to_numpy(float)
    is_new = (cands["kind"] == "new").to_numpy()
    pool_bb = cands["tech"].isin(s.broadband_techs).to_numpy() & (
        is_new | (cands["tech"] != "5G").to_numpy())
    pool_5g = (cands["tech"] == "5G").to_numpy() & ~is_new
    prev = -1
    for year in s.years:
        money = {k: v + carry[k] for k, v in s.budget_for(year).items()}
        entry: dict = {"year": year, "budget_vnd": dict(money), "solver": {}}
        spent_m = 0.0
        picked = []
        # 1–2. public-utility BTS, then 5G upgrades (module doc)
        for key, pool, w, techs, target in _mobile_tasks(s, year, prev, pool_bb, pool_5g, hh, pop):
            mask = _mask_from(cov, techs)
            label = f"{year} mobile ({key})"
            if target is None:
                chosen, info = siting_step(A, w, mask, pool & ~built, costs,
                                           money["mobile"] - spent_m, s.time_limit_s, label,
                                           strict=key == "public-utility BTS")
            else:
                chosen, info = cover_step(A, w, mask, pool & ~built, costs, target,
                                          money["mobile"] - spent_m, s.time_limit_s, label)
            entry["solver"][key] = info
            for j, h_add, p_add in ranked_households(A, chosen, mask, hh, pop):
                rank[j] = rank.max() + 1
                hh_new[j], pop_new[j] = h_add, p_add
            spent_m += float(costs[chosen].sum())
            built[chosen] = True
            year_of[chosen] = year
            cov = apply_sites(cov, A, cands, chosen)
            picked.append(chosen)
        chosen = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
        # 3–4. backhaul and fibre extensions
        fs = fibre_step(graph, cands, chosen, villages, fib, fibre_sources, money["fibre"], s,
                        year, notes)
        fibre_sources = fs.sources
        if len(fs.routes):
            route_frames.append(fs.routes)
            fibre_layer = pd.concat([fibre_layer, fs.routes_as_fibre], ignore_index=True)
            b2 = _with_fibre(bundle, fibre_layer)
            fib = deps.fibre_available(b2, reach_m=s.reach_m, graph=graph).reindex(ids) \
                .fillna(False).astype(bool) | fib
        gy = compute_gaps(bundle, cov, boundaries=boundaries, targets=s.targets, fibre=fib,
                          broadband_techs=s.broadband_techs)
        entry.update(_year_figures(year, entry, gaps0, gy, s, cands, chosen, fs, spent_m,
                                   served0, cov, fib, hh, pop))
        years.append(entry)
        prev = year
        if s.carry_over:
            carry = {"mobile": max(0.0, money["mobile"] - spent_m),
                     "fibre": max(0.0, money["fibre"] - fs.extension_cost)}
    cands = cands.copy()
    cands["selected"] = built
    cands["rank"] = rank
    cands["year"] = year_of
    cands["households_new"] = np.round(hh_new, 3)
    cands["population_new"] = np.round(pop_new, 3)
    routes = (gpd.GeoDataFrame(pd.concat(route_frames, ignore_index=True), crs=settings.STORE_CRS)
              if route_frames else empty_routes())
    budgets = {"fibre": float(sum(s.budget_for(y)["fibre"] for y in s.years)),
               "mobile": float(sum(s.budget_for(y)["mobile"] for y in s.years))}
    totals = _totals(years, served0, cov, fib, hh, pop, s)
    return Plan(bundle.name, fingerprint(bundle), bundle.synthetic, s, budgets, totals, years,
                cands, routes, gaps0, notes)


def _mobile_tasks(s: Scenario, year: int, prev: int, pool_bb, pool_5g, hh, pop):
    """Mobile steps of a period: (label, pool, weights, techs, target % or None)."""
    if s.objective == "budget":
        tasks = [("public-utility BTS", pool_bb, hh, s.broadband_techs, None)]
        if any(t.indicator.startswith("mobile_5G") and t.year >= year for t in s.targets):
            tasks.append(("5G upgrades", pool_5g, pop, ("5G",), None))
        return tasks
    weights = {"households": hh, "population": pop, "villages": np.ones(len(hh))}
    tasks = []
    for t in s.targets:
        if prev < t.year <= year and t.indicator in ("mobile_4G", "mobile_broadband", "mobile_5G"):
            techs = {"mobile_4G": ("4G",), "mobile_5G": ("5G",)}.get(t.indicator, s.broadband_techs)
            pool = pool_5g if t.indicator == "mobile_5G" else pool_bb
            tasks.append((f"{t.indicator} {t.threshold_pct:g} % of {t.denominator}", pool,
                          weights[t.denominator], techs, t.threshold_pct))
    return tasks


def _with_fibre(bundle, fibre_layer):
    from phusong.bundle import Bundle

    layers = dict(bundle.layers)
    layers["fibre"] = gpd.GeoDataFrame(fibre_layer, crs=settings.STORE_CRS)
    return Bundle(bundle.name, layers, bundle.rasters, bundle.provenance, bundle.boundaries,
                  bundle.meta, bundle.path)


def _served(cov: pd.DataFrame, fib: pd.Series, s: Scenario) -> dict[str, np.ndarray]:
    """Per village: mobile broadband, 5G and fibre within reach."""
    return {"broadband": _mask_from(cov, s.broadband_techs), "5G": _mask_from(cov, ["5G"]),
            "fibre": fib.to_numpy(bool)}


def _newly(served0: dict, served: dict, hh, pop) -> dict:
    """Households and persons newly served per stream and by anything, vs the baseline."""
    out = {}
    anything = np.zeros(len(hh), bool)
    for k in served:
        new = served[k] & ~served0[k]
        anything |= new
        out[f"households_new_{k}"] = float(hh[new].sum())
        out[f"population_new_{k}"] = float(pop[new].sum())
    out["households_new_any"] = float(hh[anything].sum())
    out["population_new_any"] = float(pop[anything].sum())
    return out


def _per(cost: float, n: float):
    return cost / n if n > 0 else None


def _year_figures(year, entry, gaps0, gy, s, cands, chosen, fs, spent_m, served0, cov, fib,
                  hh, pop) -> dict:
    p0, p1 = gaps0.province.iloc[0], gy.province.iloc[0]
    targets = []
    for c in target_columns(s.targets):
        t = c.target
        targets.append({"indicator": t.indicator, "denominator": t.denominator,
                        "threshold_pct": t.threshold_pct, "year": t.year, "origin": t.origin,
                        "baseline_pct": _f(p0[c.value]), "value_pct": _f(p1[c.value]),
                        "gap_pct": _f(p1[c.gap]), "met": bool(p1[c.meets]),
                        "due": t.year <= year})
    kinds = cands.iloc[chosen] if len(chosen) else cands.iloc[:0]
    cost = spent_m + fs.extension_cost
    return {
        "spent_vnd": {"mobile": spent_m, "fibre": fs.extension_cost,
                      "backhaul_routes": fs.backhaul_cost},
        "cost_vnd": cost,
        "new_sites": int((kinds["kind"] == "new").sum()),
        "upgrades_4G": int(((kinds["kind"] == "upgrade") & (kinds["tech"] == "4G")).sum()),
        "upgrades_5G": int(((kinds["kind"] == "upgrade") & (kinds["tech"] == "5G")).sum()),
        "fibre_km": fs.km,
        "fibre_out_of_reach": fs.unreachable,
        "cumulative_since_baseline": _newly(served0, _served(cov, fib, s), hh, pop),
        "province_pct": {k: _f(p1[k]) for k in ("fibre_households_pct", "fibre_communes_pct",
                                                "mobile_broadband_population_pct",
                                                "mobile_4G_population_pct",
                                                "mobile_5G_population_pct") if k in p1},
        "targets": targets,
    }


def _totals(years, served0, cov, fib, hh, pop, s) -> dict:
    cost = float(sum(y["cost_vnd"] for y in years))
    mobile = float(sum(y["spent_vnd"]["mobile"] for y in years))
    fibre = float(sum(y["spent_vnd"]["fibre"] for y in years))
    new = _newly(served0, _served(cov, fib, s), hh, pop)
    return {
        "cost_vnd": cost,
        "mobile_vnd": mobile,
        "fibre_vnd": fibre,
        "backhaul_routes_vnd": float(sum(y["spent_vnd"]["backhaul_routes"] for y in years)),
        "new_sites": int(sum(y["new_sites"] for y in years)),
        "upgrades_4G": int(sum(y["upgrades_4G"] for y in years)),
        "upgrades_5G": int(sum(y["upgrades_5G"] for y in years)),
        "fibre_km": float(sum(y["fibre_km"] for y in years)),
        **new,
        "cost_per_household_vnd": _per(cost, new["households_new_any"]),
        "cost_per_person_vnd": _per(cost, new["population_new_any"]),
        "fibre_vnd_per_household": _per(fibre, new["households_new_fibre"]),
        "mobile_vnd_per_person": _per(mobile, new["population_new_broadband"]
                                      + new["population_new_5G"]),
    }


def _f(x):
    x = float(x)
    return x if np.isfinite(x) else None


def plan_summary_lines(plan: Plan) -> list[str]:
    """Human-readable summary of a plan (CLI text output)."""
    t = plan.totals
    lines = [f"{plan.bundle_name}: scenario {plan.scenario.name!r}"
             + (" (synthetic data)" if plan.synthetic else ""),
             f"  total {t['cost_vnd'] / 1e9:,.2f} bn VND: mobile {t['mobile_vnd'] / 1e9:,.2f}, "
             f"fibre {t['fibre_vnd'] / 1e9:,.2f} (budgets {plan.budgets_vnd['mobile'] / 1e9:,.0f} / "
             f"{plan.budgets_vnd['fibre'] / 1e9:,.0f})",
             f"  {t['new_sites']} new sites, {t['upgrades_4G']} 4G and {t['upgrades_5G']} 5G "
             f"upgrades, {t['fibre_km']:,.1f} km fibre",
             f"  newly served: {t['households_new_broadband']:,.0f} households with mobile "
             f"broadband, {t['population_new_5G']:,.0f} persons with 5G, "
             f"{t['households_new_fibre']:,.0f} households with fibre in reach"]
    if t["cost_per_household_vnd"]:
        lines.append(f"  {t['cost_per_household_vnd'] / 1e6:,.2f} M VND per household and "
                     f"{t['cost_per_person_vnd'] / 1e6:,.2f} M VND per person newly served")
    for y in plan.years:
        reached = ", ".join(
            f"{g['indicator']} {g['value_pct']:.1f}/{g['threshold_pct']:g} %"
            + (" ✓" if g["met"] else "") for g in y["targets"] if g["year"] == y["year"]
            and g["value_pct"] is not None)
        lines.append(f"  {y['year']}: {y['cost_vnd'] / 1e9:,.2f} bn VND; {reached or 'no target due'}")
    lines.extend(f"  note: {n}" for n in plan.notes)
    return lines

