"""The multi-year plan: 4G and 5G sites, fibre, and a service for every village, year by year.

Each report year of the scenario starts from the network the previous years left
(:mod:`phusong.planning._plan_year`): candidates are generated afresh from the grown network (a
site built or upgraded in 2025 is a 5G candidate in 2030), backhaul is priced on the fibre as it
stands, and the year's money is the period's budget plus what was left (``carry_over``).

* **Objectives.** ``"budget"``: public-utility BTS for the villages without mobile broadband
  (households newly covered, budgeted maximal covering), then 5G (population) while a 5G target
  lies ahead, then fibre extensions buying the most households. ``"targets"``: for every target
  due that year, the least-cost set of actions reaching it (partial set covering: greedy,
  pruning, HiGHS MILP with the LP bound and gap reported; for fibre a Steiner tree or the
  smallest prize tree), capped at what any candidate can reach and at the money. Neither mode
  raises when a target cannot be met: the plan says why (:func:`missed_targets`).
* **Candidates** are generated; a user may offer more in the first year (``candidates=``,
  ``phusong plan --candidates FILE``), which compete with the generated ones.
* **5G** comes from upgrades of every tower carrying 4G, in the operator's licensed band
  (FACTS §6), and from new towers carrying 4G and 5G when a 5G target falls due; a scenario may
  add a low band.
* **Services.** Every village ends every year with fibre, 5G, 4G (or 3G/2G while on air), a
  costed fallback where no terrestrial action reaches it, or ``none`` with the reason
  (:mod:`phusong.planning._plan_services`). 2G and 3G leave the indicators from their switch-off
  years (``settings.SWITCH_OFF_YEAR``).
* **Cost curves** to 100 % for 4G, 5G and fibre households on the last year's network and
  candidates (:mod:`phusong.planning.cost_curves`).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd

from phusong import settings
from phusong.bundle import fingerprint
from phusong.crs import to_work
from phusong.errors import PhusongWarning
from phusong.planning._plan_curves import plan_cost_curves
from phusong.planning._plan_figures import (
    missed_targets,
    represented_share,
    totals,
    year_figures,
)
from phusong.planning._plan_kernels import CHILD_STEP, kernel_guard
from phusong.planning._plan_scoring import timed_villages, unscored_as_unknown
from phusong.planning._plan_services import village_services
from phusong.planning._plan_steps import empty_routes
from phusong.planning._plan_write import plan_report, write_plan
from phusong.planning._plan_year import (
    COMPILE_STEP,
    Context,
    PlanClock,
    YearState,
    plan_year,
    reach_of,
)
from phusong.planning.gaps import GapTables, check_demand, compute_gaps
from phusong.planning.scenario import DEFAULT_SCENARIO, Scenario
from phusong.planning.targets import target_columns
from phusong.site_communes import communes_with_site

__all__ = ["Plan", "make_plan", "plan_summary_lines", "ROADS_CUT", "FEEDERS_CUT",
           "RESERVE_CALLS_PER_YEAR", "RESERVE_MAX_SHARE"]


@dataclass
class Plan:
    """A multi-year plan (module doc); write it with :meth:`write`.

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
        Whole-plan figures (costs VND, sites, km, households and persons newly served).
    years : list of dict
        One entry per report year: money, spend, actions, solver figures, services, targets
        with the reasons of any miss.
    candidates : GeoDataFrame
        Every year's candidates (EPSG:4326) with ``selected``, ``rank``, ``year``.
    routes : GeoDataFrame
        New fibre (EPSG:4326), one row per road edge, with its ``year``.
    gaps : GapTables
        The gap tables before the plan (written as ``gaps_*.csv``).
    year_gaps : dict of int to GapTables
        The gap tables after each year, with that year's switch-offs.
    villages : DataFrame
        Service per village and year (long form: ``year``, ``service``, ``action_id``,
        ``cost_vnd``, ``reason``).
    cost_curves : dict
        Cost to reach 90 … 100 % per indicator (module doc).
    notes : list of str
        Things a reader must know.
    assumptions : list of str
        What the plan assumed for want of data (e.g. :data:`~phusong.planning.centres.
        POP_ASSUMPTION`); ``plan.json`` carries them under ``assumptions`` and the summary
        prints them first.
    fibre_assumption : str or None
        The assumed-POP label when the bundle had no fibre layer (``plan.json``
        ``fibre_assumption``), else None.
    feeders : phusong.planning.feeders.Feeders or None
        Inferred feeder routes when asked for (``phusong plan --infer-feeders``): drawn in
        ``plan.gpkg`` layer ``feeders_inferred``, summarised in ``plan.json``, never counted.
        None when not asked, or when a time limit came before their road graph or their
        route (:data:`FEEDERS_CUT` in ``time_limit.stopped``).
    time_limit : dict
        The scenario's wall-clock guard and where it acted (``plan.json`` ``time_limit``):
        ``time_limit_s`` (None: no guard), ``stopped_by_time_limit``, ``stopped`` (the
        steps it cut short: optimisations and routes keep their best answer so far, a year's
        candidates not scored in time are not offered, villages the existing network's scoring
        did not reach are ``unknown``, inferred feeders keep the router's first tree),
        ``seconds`` (the whole plan's wall time) and, under a limit, ``fixed_s`` (seconds per
        step the limit cannot cut once started, having no partial answer: fibre reach of
        routes bought, candidate generation, gap tables), ``background_s`` (the road work —
        road graph, the villages' projection, the existing fibre's reach — run in a thread
        the deadline stops, :mod:`phusong.planning._plan_roads`, when done in time; with
        ``--infer-feeders`` also their own ``feeder road graph``), ``reserve_s`` (seconds
        first kept back before the limit for the steps it cannot cut, estimated:
        :data:`RESERVE_CALLS_PER_YEAR`) and ``bookkeeping_s`` (those steps' seconds per block,
        measured: from the first block on, the reserve is twice the slowest block per block
        left when that is more than the first estimate, and ``past_limit_s`` (seconds of each
        of those steps that ran past the limit itself: where an overrun went),
        :meth:`~phusong.planning._plan_year.PlanClock.bookkeeping`). Past the deadline a year generates no candidates,
        buys no fibre extension and the fibre cost curve is not computed; road work not done
        by then leaves every village's fibre reach unknown (:data:`ROADS_CUT`); each is listed
        in ``stopped``. What still runs — a scoring chunk or candidate generation started in
        time, the gap tables, the fibre reach of routes bought in time and the years'
        bookkeeping — is what the plan may take beyond the reserve, and a note says by how
        much when it passes the limit.
    scoring : dict
        The engine's counts from scoring the existing network's villages (``plan.json``
        ``existing_network_scoring``; :func:`phusong.coverage.score_villages`
        ``attrs["stats"]``): receivers off the DEM, paths left out behind a DEM void longer
        than ``settings.MAX_VOID_BRIDGE_M``, paths bridged across a shorter void and the
        longest, paths ITM refused (error code ≥ 1000), receivers unknown; empty when the
        caller gave ``village_cov`` without them.
    sites_outside_communes : list of str
        Ids of the bundle's existing sites inside no commune polygon (``plan.json``
        ``sites_outside_communes``; the rule of ``twin stats``,
        :func:`phusong.site_communes.communes_with_site`): they count for no commune.
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
    year_gaps: dict = field(default_factory=dict)
    villages: pd.DataFrame = field(default_factory=pd.DataFrame)
    cost_curves: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    fibre_assumption: str | None = None
    feeders: object | None = None
    time_limit: dict = field(default_factory=lambda: {"time_limit_s": None,
                                                      "stopped_by_time_limit": False,
                                                      "stopped": [], "seconds": None})
    scoring: dict = field(default_factory=dict)
    sites_outside_communes: list[str] = field(default_factory=list)

    def report(self) -> dict:
        """The ``plan.json`` content."""
        return plan_report(self)

    def write(self, folder, *, overwrite: bool = False):
        """Write the plan folder (plan.json, plan.gpkg, gaps, villages_plan.csv), atomically."""
        return write_plan(self, folder, overwrite=overwrite)


def _check_scenario(s: Scenario, notes: list[str]) -> None:
    """Warn about money for a period in which no target falls due."""
    prev = 0
    for y in s.years:
        money = s.budget_for(y)
        due = [t for t in s.targets if prev < t.year <= y]
        if (money["fibre"] > 0 or money["mobile"] > 0) and not due:
            msg = (f"budgets.{y}: money but no target due in {prev + 1 if prev else '…'}–{y}; "
                   "the plan spends it on the most coverage it can buy")
            notes.append(msg)
            warnings.warn(msg, PhusongWarning, stacklevel=3)
        prev = y


#: The cut listed when the road work (graph, the villages' projection, the existing fibre's
#: reach) is not done by the deadline (module :mod:`phusong.planning._plan_roads`).
ROADS_CUT = ("road graph and fibre reach (not finished: time limit reached; fibre reach "
             "unknown for every village, no fibre step)")


def _start_roads(bundle, s: Scenario, fibre):
    """The road work in the background (:class:`~phusong.planning._plan_roads.RoadWork`), or
    None without roads."""
    if bundle.roads is None or not len(bundle.roads):
        return None
    from phusong.network.roads import urban_areas
    from phusong.planning._plan_roads import RoadWork

    urban = urban_areas(bundle.communes) if "type" in bundle.communes else None
    return RoadWork(bundle, costs=s.costs, urban=urban, reach_m=s.reach_m,
                    with_reach=fibre is None)


def _roads_now(bundle, s: Scenario, clock: PlanClock, fibre, roads_job):
    """The road graph, the villages' projection on it and the existing fibre's reach (None
    when not measured here): built now (no limit, as always), or taken from ``roads_job``
    when it is done by the deadline; ``(None, None, None, False)`` with the cut listed when
    not. Last item: whether the fibre reach is known."""
    if roads_job is not None:
        if not roads_job.wait(clock.deadline):
            clock.stopped.append(ROADS_CUT)
            return None, None, None, False
        got = roads_job.result()
        for k, v in got.seconds.items():
            clock.background[k] = clock.background.get(k, 0.0) + v
        return got.graph, got.snap, got.reach, True
    from phusong.network.roads import urban_areas
    from phusong.planning._plan_roads import road_work

    urban = urban_areas(bundle.communes) if "type" in bundle.communes else None
    # the same steps as the background work, here in the plan's thread; the villages'
    # projection once: every reach of the plan reuses it
    got = road_work(bundle, costs=s.costs, urban=urban, reach_m=s.reach_m, with_reach=False)
    for k, v in got.seconds.items():
        clock.fixed[k] = clock.fixed.get(k, 0.0) + v
    return got.graph, got.snap, None, True


#: The cut listed when ``--infer-feeders``' own road graph (built in the background under a
#: limit, after the plan's road work) is not done by the deadline, or the time is up before
#: their route: ``plan.feeders`` is None, ``plan.json`` ``feeders_inferred`` null.
FEEDERS_CUT = ("feeder routes (not inferred: time limit reached before their road graph or "
               "route; feeders_inferred is null)")


def _start_feeders(bundle, s: Scenario):
    """The inferred feeders' road graph in the background (the plan's road work is done)."""
    from phusong.planning._plan_roads import RoadWork, feeder_graph_work

    return RoadWork(bundle, work=feeder_graph_work, costs=s.costs)


#: The first estimate of the seconds a plan under a time limit keeps back for the steps it
#: cannot cut once the time is up — the bookkeeping blocks: the gap tables before the plan,
#: then each year's gap tables, services and figures — per block (plan years plus one), in
#: units of one :func:`~phusong.planning.centres.commune_centres` call on the bundle timed at
#: the start of the plan: the same kind of pandas/shapely work over the same communes and
#: villages (a gap-table call makes one such call and two more of the same size), so the
#: estimate follows the bundle's size and the machine's load. On the district-148 twin
#: (1,507 villages, quiet) one call took 0.06–0.08 s and a block 0.24–0.27 s (3–4.5 calls);
#: 6 leaves a margin of 1.3–2×, which also absorbs steps started in time that run past the
#: deadline. From the first block on the reserve is also measured and raised when the
#: bookkeeping proves slower than estimated, never lowered
#: (:meth:`~phusong.planning._plan_year.PlanClock.bookkeeping`, ``time_limit.bookkeeping_s``).
RESERVE_CALLS_PER_YEAR = 6.0
#: The reserve never takes more than this share of the limit (the rest is for the work).
RESERVE_MAX_SHARE = 0.5


def _reserve(bundle, s: Scenario):
    """The commune centres and the seconds kept back from ``s.time_limit_s`` (see
    :data:`RESERVE_CALLS_PER_YEAR`)."""
    from phusong.planning.centres import commune_centres

    t = time.perf_counter()
    centres = commune_centres(bundle)
    call = time.perf_counter() - t
    reserve = RESERVE_CALLS_PER_YEAR * call * (len(s.years) + 1)
    return centres, min(reserve, RESERVE_MAX_SHARE * float(s.time_limit_s))


def _context(bundle, s: Scenario, model: str, boundaries: str, fibre,
             candidates, clock: PlanClock, roads_job=None,
             centres=None) -> tuple[Context, list]:
    notes: list[str] = []
    from phusong.planning.centres import commune_centres

    villages = to_work(bundle.villages, "villages").reset_index(drop=True)
    centres = commune_centres(bundle) if centres is None else centres
    centre_ids = set(centres["village_id"].dropna())
    villages["is_centre"] = villages["village_id"].astype(str).isin(centre_ids).to_numpy()
    ids = pd.Index(villages["village_id"].astype(str), name="village_id")
    graph = snap = reach = None
    known = True
    if bundle.roads is not None and len(bundle.roads):
        from phusong.network.roads import graph_components

        graph, snap, reach, known = _roads_now(bundle, s, clock, fibre, roads_job)
        comps = graph_components(graph) if graph is not None else []
        if len(comps) > 1:
            msg = (f"road graph: {len(comps)} components (largest {len(comps[0])} nodes); "
                   "fibre is routed only within reach of the existing network")
            notes.append(msg)
            warnings.warn(msg, PhusongWarning, stacklevel=3)
    else:
        notes.append("no roads layer: fibre cannot be routed; backhaul priced as straight links")
    ctx = Context(bundle, s, model, boundaries, villages, ids,
                  villages["households"].to_numpy(float), villages["population"].to_numpy(float),
                  graph, fingerprint(bundle), np.zeros(len(villages), bool), clock=clock,
                  snap=snap, fibre_known=known)
    user = None
    if candidates is not None:
        from phusong.planning.candidates import check_candidates, fibre_road_nodes

        user = check_candidates(candidates, bundle, graph=graph,
                                fibre_nodes=fibre_road_nodes(graph, bundle), scenario=s) \
            if known else None  # not offered: nothing is generated or scored past the deadline
    if fibre is not None:
        fib0 = pd.Series(fibre).reindex(ids).fillna(False).astype(bool).to_numpy()
    elif not known:
        fib0 = np.zeros(len(ids), bool)  # unknown (ctx.fibre_known): never read as "no fibre"
    elif reach is not None:
        from phusong.network.roads import layer_digest
        from phusong.planning._plan_roads import reach_array

        fib0 = reach_array(reach, ids)  # measured in the background: kept for reach_of
        ctx.reaches[(layer_digest(bundle.fibre), layer_digest(bundle.fibre_nodes),
                     layer_digest(bundle.villages))] = fib0.copy()
    else:
        fib0 = reach_of(ctx, bundle)
    return Context(**{**ctx.__dict__, "fibre0": fib0, "user_candidates": user}), notes


def _early_check(candidates, bundle, s: Scenario) -> None:
    """Under a time limit the road graph may not come at all: the user's candidates are
    checked now without it (their errors, before any heavy work, limit or not), and priced on
    it once it is there."""
    from dataclasses import replace as dc_replace

    from phusong.planning.candidates import check_candidates

    no_roads = dc_replace(bundle, layers={k: v for k, v in bundle.layers.items()
                                          if k != "roads"})
    check_candidates(candidates, no_roads, graph=None, fibre_nodes=[], scenario=s)


def make_plan(bundle, *, scenario: Scenario | None = None, model: str | None = None,
              boundaries: str = "2020", village_cov: pd.DataFrame | None = None,
              fibre: pd.Series | None = None,
              candidates: gpd.GeoDataFrame | None = None, executor=None,
              infer_feeders: bool = False, provincial_pop: str | None = None) -> Plan:
    """Plan sites, 5G, fibre and a service per village for every year of ``scenario``.

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        Needs communes and villages; sites/cells, a DEM and roads for candidates. Fibre
        spans and/or nodes (a POP list) are the existing network; without either, a POP is
        assumed at every commune centre (:func:`phusong.planning.centres.assume_pops`) and
        the plan says so (``fibre_assumption``).
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
        The user's candidate sites, offered in the first year beside the generated ones
        (checked before any heavy work: :func:`phusong.planning.candidates.check_candidates`,
        inside the province, known bands and sites; priced where ``cost_vnd`` is missing).
        Their ids keep the user's, prefixed by the year (``2025-{candidate_id}``).
    executor : phusong.coverage.DaskExecutor, optional
        Score villages and candidate sites on dask.distributed (identical plan).
    infer_feeders : bool
        Also infer the likely feeder routes (:func:`phusong.planning.feeders.infer_feeders`,
        ``plan.feeders``) within the scenario's time limit.
    provincial_pop : str, optional
        Root POP of the inferred feeders.

    Returns
    -------
    Plan

    Raises
    ------
    DataError
        Empty demand, NaN weights, bad targets, malformed candidates or candidates outside the
        province.
    KernelsNotCompiled
        Under a time limit, when the engine's kernels are not in numba's cache and compiling
        them (in a child process, :mod:`phusong.planning._plan_kernels`) did not end within it.
    """
    t0 = time.perf_counter()
    s = scenario or DEFAULT_SCENARIO
    with kernel_guard(t0, s.time_limit_s) as kernels:
        return _make_plan(bundle, s, t0, kernels, model=model, boundaries=boundaries,
                          village_cov=village_cov, fibre=fibre, candidates=candidates,
                          executor=executor, infer_feeders=infer_feeders,
                          provincial_pop=provincial_pop)


def _make_plan(bundle, s: Scenario, t0: float, kernels, *, model, boundaries, village_cov, fibre,
               candidates, executor, infer_feeders, provincial_pop) -> Plan:
    """:func:`make_plan` from its start ``t0`` (``time.perf_counter()``); ``kernels``: the
    kernel guard under a limit (:func:`~phusong.planning._plan_kernels.kernel_guard`) or
    None."""
    model = model or s.model
    check_demand(bundle.villages)
    target_columns(s.targets)  # refuse bad targets before any heavy work
    from phusong.planning.centres import assume_pops

    source_fingerprint = fingerprint(bundle)  # outputs and plan apply refer to the bundle given
    # the existing sites inside no commune: reported (plan.json, a note), never joined to one
    _, sites_outside = communes_with_site(bundle.communes, bundle.sites)
    bundle = assume_pops(bundle)
    if infer_feeders:  # refused before any heavy work, limit or not
        from phusong.planning.feeders import check_feeders

        check_feeders(bundle, provincial_pop)
    clock = PlanClock(math.inf if s.time_limit_s is None else t0 + s.time_limit_s)
    roads_job = centres = None
    if s.time_limit_s is not None:  # the road work in a thread the deadline can stop
        if candidates is not None:
            _early_check(candidates, bundle, s)
        roads_job = _start_roads(bundle, s, fibre)
        centres, clock.reserve = _reserve(bundle, s)
        clock.end, clock.blocks_left = clock.deadline, len(s.years) + 1
        clock.reserve_floor = clock.reserve
        clock.reserve_cap = RESERVE_MAX_SHARE * float(s.time_limit_s)
        clock.deadline -= clock.reserve  # the cuttable work ends early enough for the rest
    reserve0 = clock.reserve  # the first estimate (plan.json reserve_s)
    if kernels is not None:  # a kernel-compiling child ends by the plan's deadline
        kernels.deadline = lambda: clock.deadline
    # the road graph first, as always (it also prices the user's candidates)
    ctx, notes = _context(bundle, s, model, boundaries, fibre, candidates, clock, roads_job,
                          centres)
    feeders_job = None
    if infer_feeders and roads_job is not None and ctx.graph is not None:
        # their own graph (all aerial) after the plan's, in the background, within the limit
        feeders_job = _start_feeders(bundle, s)
    if village_cov is None:
        with clock.compiling():
            village_cov, unscored = timed_villages(bundle, model=model, config=s.config,
                                                   executor=executor, deadline=clock.deadline)
        clock.note(f"existing network scoring: {unscored} of {len(ctx.ids)} villages not "
                   "scored, unknown", unscored)
    ctx = replace(ctx, fingerprint=source_fingerprint, executor=executor)
    _check_scenario(s, notes)
    scoring = dict(village_cov.attrs.get("stats", {}))
    if "village_id" in village_cov:
        village_cov = village_cov.set_index("village_id")
    cov0 = unscored_as_unknown(village_cov, ctx.ids)
    if s.time_limit_s is not None:  # villages the limit left unscored: service unknown
        ctx = replace(ctx, unscored=~ctx.ids.isin(village_cov.index))
    state = YearState(bundle, cov0, ctx.fibre0, {"fibre": 0.0, "mobile": 0.0}, 0)
    with clock.bookkeeping(), clock.fixed_step("gap tables"):
        gaps0 = compute_gaps(bundle, cov0, boundaries=boundaries, targets=s.targets,
                             config=s.config, fibre=_fibre_series(ctx, ctx.fibre0),
                             broadband_techs=s.broadband_techs)
    results, entries, services, year_gaps = [], [], [], {}
    prev_services = None
    for year in s.years:
        res = plan_year(ctx, state, year)
        notes.extend(res.notes)
        with clock.bookkeeping():
            with clock.fixed_step("gap tables"):
                gy = compute_gaps(bundle, res.after.cov, boundaries=boundaries,
                                  targets=s.targets, config=s.config,
                                  fibre=_fibre_series(ctx, res.after.fibre),
                                  broadband_techs=s.broadband_techs, year=year)
            sv = village_services(ctx, res, _on_air(gy, res.after.cov), res.after.fibre,
                                  np.asarray(res.fibre.lost, bool), prev_services)
            entry = year_figures(ctx, res, gaps0, gy, sv)
            entry["missed_targets"] = missed_targets(ctx, res, gy, sv)
        entries.append(entry)
        services.append(sv.assign(year=year))
        year_gaps[year] = gy
        results.append(res)
        prev_services, state = sv, res.after
    curves = plan_cost_curves(ctx, results[-1], _represented(gaps0)) if results else {}
    feeders = _feeders(ctx, provincial_pop, feeders_job) if infer_feeders else None
    if clock.stopped:
        notes.append(f"stopped by time limit (time_limit_s = {s.time_limit_s:g} s): "
                     + "; ".join(dict.fromkeys(clock.stopped))
                     + ". Optimisations and routes cut short kept their best answer so far "
                       "(gaps reported); candidates not scored were not offered; villages "
                       "not scored are unknown; a fibre reach not measured is unknown, not "
                       "absent; another machine or load may give another plan")
    if sites_outside:
        notes.append(f"{len(sites_outside)} existing site(s) inside no commune polygon "
                     f"({', '.join(sites_outside[:10])}{' …' if len(sites_outside) > 10 else ''}"
                     "): they count for no commune; check their coordinates or the communes")
    plan = _assemble(ctx, s, results, entries, services, gaps0, year_gaps, curves, notes)
    seconds = time.perf_counter() - t0  # the whole call, assembly included
    notes = plan.notes
    if kernels is not None and kernels.child_s:  # compiled in a child within the limit
        clock.fixed[CHILD_STEP] = kernels.child_s
        notes.append(f"numba compiled the engine's {model} kernels for {kernels.child_s:.1f} s "
                     "in a child process inside this plan's time limit (its cache was cold: a "
                     "first run after an install or upgrade); `python -m "
                     "phusong.coverage._warm` compiles them once, outside any plan")
    fixed = {k: round(v, 3) for k, v in clock.fixed.items()}
    if clock.fixed.get(COMPILE_STEP, 0.0) >= 1.0:
        notes.append(f"numba compiled the engine's kernels for {clock.fixed[COMPILE_STEP]:.1f} s "
                     "inside this plan (its cache was cold: a first run after an install or "
                     "upgrade); the time limit cannot cut a compilation. `python -m "
                     "phusong.coverage._warm` compiles them once, outside any plan")
    if s.time_limit_s is not None and seconds > s.time_limit_s:
        past = {k: v for k, v in clock.past.items() if v >= 0.05}
        notes.append(f"the plan took {seconds:.1f} s against time_limit_s = "
                     f"{s.time_limit_s:g} s: the limit cuts optimisations, routes and the "
                     "scoring of candidates and villages, and skips the steps it would find "
                     "past it, but not the steps without a partial answer once started ("
                     + ", ".join(f"{k} {v:.1f} s" for k, v in fixed.items())
                     + (("; past the limit: " + ", ".join(f"{k} {v:.1f} s"
                                                         for k, v in past.items()))
                        if past else "")
                     + "), a scoring chunk started in time or the years' bookkeeping")
    plan.feeders = feeders
    plan.scoring = scoring
    plan.sites_outside_communes = sites_outside
    plan.time_limit = {"time_limit_s": s.time_limit_s,
                       "stopped_by_time_limit": bool(clock.stopped),
                       "stopped": list(dict.fromkeys(clock.stopped)),
                       "seconds": round(seconds, 3)}
    if s.time_limit_s is not None:  # wall times: only where a limit makes them matter
        plan.time_limit["fixed_s"] = fixed
        plan.time_limit["background_s"] = {k: round(v, 3) for k, v in clock.background.items()}
        plan.time_limit["reserve_s"] = round(reserve0, 3)
        plan.time_limit["bookkeeping_s"] = [round(v, 3) for v in clock.blocks]
        plan.time_limit["past_limit_s"] = {k: round(v, 3) for k, v in clock.past.items()}
    return plan


def _fibre_series(ctx, fib: np.ndarray) -> pd.Series:
    """Fibre reach per village for the gap tables: NA everywhere when it was not measured
    (``ctx.fibre_known`` False: the time limit came before the road graph), never False."""
    if ctx.fibre_known:
        return pd.Series(fib, index=ctx.ids)
    return pd.Series(pd.NA, index=ctx.ids, dtype="boolean")


def _feeders(ctx, provincial_pop: str | None, job=None):
    """Inferred feeders within what the plan's guard leaves (module feeders). Without a limit
    as always (their graph built here). Under one, their graph comes from ``job`` (the
    background, :func:`_start_feeders`) by the deadline and the route starts only before it:
    else None and :data:`FEEDERS_CUT` listed; a route started in time keeps the router's first
    tree once the time is up, and that cut is listed."""
    from phusong.planning.feeders import infer_feeders as infer

    clock, graph = ctx.clock, None
    if math.isfinite(clock.deadline):
        if job is None or not job.wait(clock.deadline):  # no graph (roads cut) or not in time
            clock.stopped.append(FEEDERS_CUT)
            return None
        got = job.result()
        for k, v in got.seconds.items():
            clock.background[k] = clock.background.get(k, 0.0) + v
        if clock.skip(FEEDERS_CUT):
            return None
        graph = got.graph
    f = infer(ctx.bundle, graph=graph, costs=ctx.scenario.costs, provincial_pop=provincial_pop,
              time_limit_s=clock.left())
    ctx.clock.note("feeder routes (inferred; the router's tree, not improved further)",
                   f.stopped_by_time_limit)
    return f


def _on_air(gy: GapTables, cov: pd.DataFrame) -> pd.DataFrame:
    from phusong.planning.switchoff import switch_off

    return switch_off(cov, gy.year)


def _assemble(ctx, s, results, entries, services, gaps0, year_gaps, curves, notes) -> Plan:
    frames, routes = [], []
    rank = 0
    for res in results:
        c = res.candidates.copy()
        c["selected"] = False
        c["rank"] = 0
        c["year"] = 0
        c["households_new"] = np.round(res.hh_new, 3)
        c["population_new"] = np.round(res.pop_new, 3)
        for j in res.chosen:
            rank += 1
            c.iloc[j, c.columns.get_loc("selected")] = True
            c.iloc[j, c.columns.get_loc("rank")] = rank
            c.iloc[j, c.columns.get_loc("year")] = res.year
        frames.append(c)
        if len(res.fibre.routes):
            routes.append(res.fibre.routes)
        if res.candidates.attrs.get("dropped_outside"):
            notes.append(f"{res.year}: {res.candidates.attrs['dropped_outside']} generated "
                         "candidate(s) outside the province dropped")
    cands = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.STORE_CRS) \
        if frames else gpd.GeoDataFrame()
    if ctx.user_candidates is not None and results:
        mine = cands["candidate_id"].isin(
            [f"{s.years[0]}-{c}" for c in ctx.user_candidates["candidate_id"]]).to_numpy()
        notes.append(f"{s.years[0]}: {int(mine.sum())} user candidate(s) offered, "
                     f"{int((mine & cands['selected'].to_numpy()).sum())} chosen")
    rts = (gpd.GeoDataFrame(pd.concat(routes, ignore_index=True), crs=settings.STORE_CRS)
           if routes else empty_routes())
    budgets = {"fibre": float(sum(s.budget_for(y)["fibre"] for y in s.years)),
               "mobile": float(sum(s.budget_for(y)["mobile"] for y in s.years))}
    villages = pd.concat(services, ignore_index=True) if services else pd.DataFrame()
    tot = totals(ctx, entries, results, villages)
    from phusong.planning.centres import fibre_assumption

    label = fibre_assumption(ctx.bundle)
    assumed = ([label] if label else []) + _census_assumptions(gaps0)
    return Plan(ctx.bundle.name, ctx.fingerprint, ctx.bundle.synthetic, s, budgets, tot, entries,
                cands, rts, gaps0, year_gaps, villages, curves, list(dict.fromkeys(notes)),
                assumed, label)


def _represented(gaps: GapTables) -> dict:
    """Share (0–1) of the census households and persons the villages represent."""
    row = gaps.province.iloc[0]
    return {d: represented_share(row, d) for d in ("households", "population")}


def _census_assumptions(gaps: GapTables) -> list[str]:
    """The census share the villages represent, when below 100 % (module doc of gaps)."""
    row = gaps.province.iloc[0]
    unrep = float(row["households_unrepresented"])
    if unrep <= 0:
        return []
    return [f"the villages represent {float(row['households_represented_pct']):.1f} % of the "
            f"{float(row['census_households']):,.0f} census households; the other {unrep:,.0f} "
            "count as unknown (not served) in every percentage, so household targets above "
            "that share cannot be met until villages or a population raster represent them; "
            "the cost curves' levels are shares of what the villages carry, and each point's "
            "census_pct the same level as a share of the census"]


def plan_summary_lines(plan: Plan) -> list[str]:
    """Human-readable summary of a plan (CLI text output)."""
    from phusong.planning._plan_figures import summary_lines

    return summary_lines(plan)
