"""One plan year as small functions over an immutable state (:func:`plan_year`).

A year starts from :class:`YearState` (the network as earlier years left it, the village
coverage and fibre reach it gives, the money carried over) and returns a :class:`YearResult`
whose ``after`` is the next year's state. Steps, each a function below:

1. :func:`year_candidates`: upgrades of the grown network, then new sites around the demand
   that no upgrade reaches (in the first year also the user's candidates), with their coverage
   per technology;
2. :func:`mobile_actions`: budget mode (public-utility BTS, then 5G) or targets mode (least cost
   per target due, capped at what the candidates reach and at the budget);
3. :func:`~phusong.planning._plan_fibre.fibre_actions`: backhaul, then extensions (FTTH per home
   priced in);
4. the grown bundle (:func:`phusong.planning.grow.grow_bundle`), its fibre reach, the services
   per village and the gap tables with the switch-offs of the year.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from phusong import settings
from phusong.planning import _plan_deps as deps
from phusong.planning._plan_fibre import FibreStep, fibre_actions
from phusong.planning._plan_scoring import timed_coverage
from phusong.planning._plan_steps import apply_sites, ranked_households, siting_step, target_step
from phusong.planning.candidates import fibre_road_nodes, generate_candidates
from phusong.planning.grow import grow_bundle

__all__ = ["Context", "YearState", "YearResult", "plan_year", "year_candidates", "mobile_actions",
           "covered_mask", "MOBILE_INDICATORS", "PlanClock", "RESERVE_SLOWDOWN",
           "COMPILE_STEP"]

#: Target indicators the mobile steps plan for, and the technologies that count.
MOBILE_INDICATORS = {"mobile_4G": ("4G",), "mobile_5G": ("5G",)}


#: ``time_limit.fixed_s`` key of the seconds numba spent compiling kernels in a limited plan.
COMPILE_STEP = "kernel compilation (numba)"

#: The reserve of a plan under a time limit keeps, for each bookkeeping block still to run,
#: this many times the slowest block measured (:meth:`PlanClock.bookkeeping`): a block may run
#: up to this much slower than the slowest one before it (the machine's load changes; the same
#: margin as the scoring chunks', 1 / :data:`~phusong.planning._plan_scoring.CHUNK_SHARE`).
RESERVE_SLOWDOWN = 2.0


@dataclass
class PlanClock:
    """The plan's wall-clock guard (scenario ``time_limit_s``) and where it acted.

    Without a limit (the default) nothing is timed: every optimisation stops by its own rule
    (gap, node limit, local optimum) and the plan is the same on any machine.
    """

    deadline: float = math.inf
    stopped: list = field(default_factory=list)
    #: Seconds spent per step the guard cannot cut (no partial answer), summed over the plan.
    fixed: dict = field(default_factory=dict)
    #: Seconds of the road work run in the background under a limit
    #: (:mod:`phusong.planning._plan_roads`), when it finished by the deadline.
    background: dict = field(default_factory=dict)
    #: Seconds kept back from the limit for the steps it cannot cut (``deadline`` is the limit
    #: less this), first estimated (:data:`phusong.planning.plan.RESERVE_CALLS_PER_YEAR`), then
    #: measured (:meth:`bookkeeping`).
    reserve: float = 0.0
    #: The limit's own end (``time.perf_counter()``; inf: no limit), and the bookkeeping blocks
    #: (gap tables before the plan, then each year's) still to run.
    end: float = math.inf
    blocks_left: int = 0
    #: Seconds of each bookkeeping block measured so far (``plan.json``
    #: ``time_limit.bookkeeping_s``), and the cap on the reserve (s).
    blocks: list = field(default_factory=list)
    reserve_cap: float = math.inf
    #: The first estimate (s): a floor under the measured reserve. The reserve is only ever
    #: raised by what is measured, never lowered: the first estimate's slack also absorbs the
    #: steps started in time that run past the deadline (a year's candidate generation, the
    #: siting's set-up, the fibre reach); lowering it let them run past the limit (district
    #: twin, 10 s: 10.5/11.8/12.5 s against 9.4/10.1/11.0 s with the estimate alone).
    reserve_floor: float = 0.0
    #: Seconds of each step the guard cannot cut that ran past the limit's own end
    #: (``end``), summed over the plan (``plan.json`` ``time_limit.past_limit_s``): where an
    #: overrun went.
    past: dict = field(default_factory=dict)

    @contextmanager
    def compiling(self):
        """Under a limit, add the seconds numba spends compiling kernels inside the block (the
        engine's first call after an install or upgrade, when its cache is cold: the limit
        cannot cut a compilation) to ``fixed`` under :data:`COMPILE_STEP`; a cache hit is not
        a compilation (numba's ``numba:compile`` event)."""
        if not math.isfinite(self.end):
            yield
            return
        from numba.core import event

        def add(seconds: float) -> None:
            self.fixed[COMPILE_STEP] = self.fixed.get(COMPILE_STEP, 0.0) + seconds
            past = min(seconds, time.perf_counter() - self.end)  # the event ends now
            if past > 0:
                self.past[COMPILE_STEP] = self.past.get(COMPILE_STEP, 0.0) + past

        with event.install_timer("numba:compile", add):
            yield

    @contextmanager
    def bookkeeping(self):
        """Time one block of the steps the guard cannot cut (the gap tables before the plan, a
        year's gap tables, services and figures), then keep back for the blocks still to run
        :data:`RESERVE_SLOWDOWN` × the slowest block measured each, or ``reserve_floor`` (the
        first estimate) when larger, at most ``reserve_cap``: the deadline the cuttable work
        sees moves to the limit less that. Without a limit only the block runs."""
        t = time.perf_counter()
        try:
            yield
        finally:
            if math.isfinite(self.end):
                self.blocks.append(time.perf_counter() - t)
                self.blocks_left = max(0, self.blocks_left - 1)
                measured = RESERVE_SLOWDOWN * max(self.blocks) * self.blocks_left
                self.reserve = min(self.reserve_cap, max(self.reserve_floor, measured))
                self.deadline = self.end - self.reserve

    @contextmanager
    def fixed_step(self, what: str):
        """Time a step the guard cannot cut (``plan.json`` ``time_limit.fixed_s``), and the part
        of it past the limit's end (``past``)."""
        t = time.perf_counter()
        try:
            yield
        finally:
            now = time.perf_counter()
            self.fixed[what] = self.fixed.get(what, 0.0) + now - t
            if now > self.end:
                self.past[what] = self.past.get(what, 0.0) + now - max(t, self.end)

    def left(self) -> float | None:
        """Seconds left for the next optimisation (None: no limit). Once the time is up a
        step gets 1 µs: it keeps its first answer (greedy, the router's construction) and
        reports the cut."""
        if not math.isfinite(self.deadline):
            return None
        return max(1e-6, self.deadline - time.perf_counter())

    def expired(self) -> bool:
        """Whether the guard's time is up (a step that ended after it may have been cut)."""
        return time.perf_counter() >= self.deadline

    def skip(self, what: str) -> bool:
        """Whether to skip a step the guard cannot cut once started (no partial answer): True
        once the time is up, recording ``what`` as cut. Never without a limit."""
        if self.expired():
            self.stopped.append(what)
            return True
        return False

    def note(self, what: str, stopped) -> None:
        """Record that the guard cut ``what`` short (when ``stopped``)."""
        if stopped:
            self.stopped.append(what)


@dataclass(frozen=True)
class Context:
    """What stays fixed over the years: the original bundle, villages, roads, scenario."""

    bundle: object
    scenario: object
    model: str
    boundaries: str
    villages: gpd.GeoDataFrame  # WORK_CRS
    ids: pd.Index
    hh: np.ndarray
    pop: np.ndarray
    graph: object
    fingerprint: str
    fibre0: np.ndarray
    #: Checked user candidates offered in the first year (:func:`check_candidates`), or None.
    user_candidates: object = None
    executor: object = None  # a DaskExecutor for the candidate coverage matrices, or None
    clock: PlanClock = field(default_factory=PlanClock)
    #: The villages projected on ``graph`` once (:func:`phusong.network.reach.snap_villages`),
    #: reused by every fibre reach of the plan, or None.
    snap: object = None
    #: Fibre reach per fibre network already measured (:func:`reach_of`), by layer content.
    reaches: dict = field(default_factory=dict)
    #: False when the time limit came before the road graph and the existing fibre's reach
    #: (:mod:`phusong.planning._plan_roads`): every village's fibre reach is unknown, and
    #: ``fibre0`` (all False) must not be read as "no fibre".
    fibre_known: bool = True
    #: Villages the existing network's scoring did not reach under the limit (bool per
    #: village), or None: their mobile coverage is unknown.
    unscored: object = None


@dataclass(frozen=True)
class YearState:
    """The network at the start of a year (immutable; each year makes a new one)."""

    bundle: object
    cov: pd.DataFrame
    fibre: np.ndarray
    carry: dict
    prev_year: int


@dataclass
class YearResult:
    """What one year planned, and the state it leaves."""

    year: int
    money: dict
    candidates: gpd.GeoDataFrame
    coverage: dict
    chosen: np.ndarray
    solver: dict
    spent_mobile: float
    fibre: FibreStep
    after: YearState
    start_cov: pd.DataFrame = field(default_factory=pd.DataFrame)
    start_fibre: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    hh_new: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pop_new: np.ndarray = field(default_factory=lambda: np.zeros(0))
    notes: list = field(default_factory=list)


def covered_mask(cov: pd.DataFrame, techs) -> np.ndarray:
    """Villages covered by any of ``techs`` (``covered_{tech}`` columns)."""
    cols = [f"covered_{t}" for t in techs if f"covered_{t}" in cov.columns]
    if not cols:
        return np.zeros(len(cov), bool)
    return cov[cols].fillna(False).astype(bool).to_numpy().any(axis=1)


def _due(s, prev: int, year: int, prefix: str) -> list:
    return [t for t in s.targets if prev < t.year <= year and t.indicator.startswith(prefix)]


def year_candidates(ctx: Context, state: YearState, year: int):
    """Candidates of the year from the grown network and their coverage per technology."""
    s = ctx.scenario
    b = state.bundle
    due_5g = bool(_due(s, state.prev_year, year, "mobile_5G"))
    # past the deadline none could be scored: none is generated (the empty frame, no work:
    # no fibre nodes to price backhaul to, no clutter to score with)
    late = _skip_generation(ctx, year)
    fnodes = [] if late else fibre_road_nodes(ctx.graph, b)
    x, y = ctx.villages.geometry.x.to_numpy(), ctx.villages.geometry.y.to_numpy()
    # candidates see the clutter and reliability (config) the existing network was scored with
    radio = dict(model=ctx.model, executor=ctx.executor,
                 clutter=None if late else deps.bundle_clutter(b), config=s.config)
    dl = ctx.clock.deadline  # under a time limit, candidates left unscored are not offered
    with ctx.clock.fixed_step("candidate generation"):
        ups = generate_candidates(b, state.cov, scenario=s, graph=ctx.graph, fibre_nodes=fnodes,
                                  kinds=() if late else ("upgrade",))
    with ctx.clock.compiling():
        a_up, ok_up = timed_coverage(ups, x, y, b.dem, radio, dl)
    user = ctx.user_candidates if state.prev_year == 0 else None
    if user is not None:  # the user's own, scored before the generated new sites
        with ctx.clock.compiling():
            a_user, ok_user = timed_coverage(user, x, y, b.dem, radio, dl)
    demand = ~covered_mask(state.cov, s.broadband_techs)
    if due_5g:
        reach5 = np.asarray(a_up["5G"].sum(axis=1)).ravel() > 0
        demand |= ~covered_mask(state.cov, ["5G"]) & ~reach5
    # the upgrades' scoring may have used the time up: the clock is asked again
    late = late or _skip_generation(ctx, year, "new-site ")
    with ctx.clock.fixed_step("candidate generation"):
        news = generate_candidates(b, state.cov, scenario=s, graph=ctx.graph,
                                   fibre_nodes=fnodes, demand=demand, with_5g=due_5g,
                                   kinds=() if late else ("new",))
    with ctx.clock.compiling():
        a_new, ok_new = timed_coverage(news, x, y, b.dem, radio, dl)
    dropped = ups.attrs.get("dropped_outside", 0) + news.attrs.get("dropped_outside", 0)
    parts, mats, oks = [ups, news], [a_up, a_new], [ok_up, ok_new]
    if user is not None:
        parts.append(user)
        mats.append(a_user)
        oks.append(ok_user)
    unscored = sum(int((~ok).sum()) for ok in oks)
    if unscored:
        ctx.clock.note(f"{year} candidate scoring ({unscored} of {sum(map(len, oks))} "
                       "candidates not scored, so not offered)", True)
        parts = [f[ok] for f, ok in zip(parts, oks, strict=True)]
    # an empty frame (no new-site candidate, as on a sparse real bundle) would turn every
    # numeric column to object in the concat, and plan.gpkg would store costs as text
    cands = pd.concat(parts, ignore_index=True).infer_objects()
    cands = gpd.GeoDataFrame(cands, geometry="geometry", crs=settings.STORE_CRS)
    cands.attrs["dropped_outside"] = dropped
    cands["candidate_id"] = [f"{year}-{c}" for c in cands["candidate_id"]]
    cands["year_offered"] = year
    cov = {t: sp.hstack([m[t] for m in mats], format="csr").astype(bool) for t in a_up}
    return cands, cov


def _skip_generation(ctx: Context, year: int, kind: str = "") -> bool:
    """Whether the guard's time is up before the year's candidates (``kind``: all, or
    ``"new-site "``) are generated (then none is: none could be scored, so none would be
    offered; the cut is listed). Also when the limit cut the road work (``fibre_known``
    False): candidates are priced on the road graph, which generating them would otherwise
    build here, unbounded, even where a later deadline (the reserve measured) left time."""
    if ctx.clock.skip(f"{year} {kind}candidate generation (not started: time limit "
                      "reached; no candidate offered)"):
        return True
    if not ctx.fibre_known:
        ctx.clock.stopped.append(f"{year} {kind}candidate generation (not started: the road "
                                 "graph was not built in time; no candidate offered)")
        return True
    return False


def _pools(cands):
    """Candidate pools: public-utility broadband (new sites, 4G upgrades) and 5G radios."""
    new = (cands["kind"] == "new").to_numpy()
    up4 = ~new & (cands["tech"] == "4G").to_numpy()
    five = np.array(["5G:" in str(b) for b in cands["bands"]], dtype=bool)
    return {"broadband": new | up4, "5G": five}


def _broadband(cov: dict, techs) -> sp.csr_matrix:
    """Villages × candidates: covered by any of ``techs``."""
    mats = [cov[t].astype(np.int8) for t in techs if t in cov]
    shape = next(iter(cov.values())).shape
    total = sum(mats[1:], mats[0]) if mats else sp.csr_matrix(shape, dtype=np.int8)
    return sp.csr_matrix(total > 0)


def mobile_actions(ctx: Context, state: YearState, year: int, cands, cov, money: float):
    """Chosen candidates in rank order, solver figures per step, cost (VND), coverage after, and
    per candidate the households and persons its step newly covered."""
    s = ctx.scenario
    pools = _pools(cands)
    costs = cands["cost_vnd"].to_numpy(float)
    built = np.zeros(len(cands), bool)
    village_cov = state.cov
    chosen_all, solver, spent = [], {}, 0.0
    gains = (np.zeros(len(cands)), np.zeros(len(cands)))
    a_bb = _broadband(cov, s.broadband_techs)
    weights = {"households": ctx.hh, "population": ctx.pop, "villages": np.ones(len(ctx.hh))}
    for key, pool, A, w, techs, target in _tasks(s, state.prev_year, year, pools, cov, a_bb,
                                                 weights):
        mask = covered_mask(village_cov, techs)
        left = money - spent
        label = f"{year} mobile ({key})"
        if target is None:
            chosen, info = siting_step(A, w, mask, pool & ~built, costs, left, ctx.clock.left(),
                                       label)
        else:
            chosen, info = target_step(A, w, mask, pool & ~built, costs, target, left,
                                       ctx.clock.left(), label)
        ctx.clock.note(label, info.get("stopped_by_time_limit") or (
            info.get("budget_solver") or {}).get("stopped_by_time_limit"))
        solver[key] = info
        for j, h, p in ranked_households(A, chosen, mask, ctx.hh, ctx.pop):
            gains[0][j], gains[1][j] = h, p
        spent += float(costs[chosen].sum())
        built[chosen] = True
        village_cov = apply_sites(village_cov, cov, cands, chosen)
        chosen_all.append(chosen)
    chosen = np.concatenate(chosen_all) if chosen_all else np.zeros(0, dtype=np.int64)
    return chosen, solver, spent, village_cov, gains


def _tasks(s, prev, year, pools, cov, a_bb, weights):
    """Mobile steps: (label, pool, matrix, weights, techs, target % or None)."""
    if s.objective == "budget":
        tasks = [("public-utility BTS", pools["broadband"], a_bb, weights["households"],
                  s.broadband_techs, None)]
        if any(t.indicator.startswith("mobile_5G") and t.year >= year for t in s.targets):
            tasks.append(("5G", pools["5G"], cov["5G"], weights["population"], ("5G",), None))
        return tasks
    tasks = []
    due = [t for t in s.targets if prev < t.year <= year and
           (t.indicator in MOBILE_INDICATORS or t.indicator == "mobile_broadband")]
    for t in sorted(due, key=lambda t: (t.indicator == "mobile_5G", -t.threshold_pct)):
        techs = MOBILE_INDICATORS.get(t.indicator, s.broadband_techs)
        A = cov["5G"] if techs == ("5G",) else (cov["4G"] if techs == ("4G",) else a_bb)
        pool = pools["5G"] if techs == ("5G",) else pools["broadband"]
        tasks.append((f"{t.indicator} {t.threshold_pct:g} % of {t.denominator}", pool, A,
                      weights[t.denominator], techs, t.threshold_pct))
    return tasks


def _money(s, year: int, carry: dict) -> dict:
    return {k: v + carry.get(k, 0.0) for k, v in s.budget_for(year).items()}


def plan_year(ctx: Context, state: YearState, year: int) -> YearResult:
    """Plan one year from ``state`` (module doc)."""
    s = ctx.scenario
    money = _money(s, year, state.carry)
    cands, cov = year_candidates(ctx, state, year)
    chosen, solver, spent_m, village_cov, (hh_new, pop_new) = mobile_actions(
        ctx, state, year, cands, cov, money["mobile"])
    notes: list[str] = []
    fs = fibre_actions(ctx, state, year, cands, chosen, money["fibre"], notes)
    actions = cands.iloc[chosen].copy()
    actions["x_m"], actions["y_m"] = cands["x_m"].to_numpy()[chosen], cands["y_m"].to_numpy()[chosen]
    grown = grow_bundle(state.bundle, actions, fs.routes, year=year, plan_name=s.name,
                        source_fingerprint=ctx.fingerprint, bands_5g=dict(s.bands_5g))
    fib = state.fibre | fs.reach
    carry = ({"mobile": max(0.0, money["mobile"] - spent_m),
              "fibre": max(0.0, money["fibre"] - fs.extension_cost)} if s.carry_over
             else {"mobile": 0.0, "fibre": 0.0})
    after = YearState(grown, village_cov, fib, carry, year)
    return YearResult(year, money, cands, cov, chosen, solver, spent_m, fs, after, state.cov,
                      state.fibre, hh_new, pop_new, notes)


def reach_of(ctx: Context, bundle) -> np.ndarray:
    """Fibre within reach per village (in ``ctx.ids`` order) for ``bundle``'s fibre.

    Measured once per fibre network: a year that adds no fibre (no route, or none in time)
    gets the reach already measured for the same layers (compared by content), not a new
    measurement of the same thing.
    """
    from phusong.network.roads import layer_digest

    with ctx.clock.fixed_step("fibre reach"):
        key = (layer_digest(bundle.fibre), layer_digest(bundle.fibre_nodes),
               layer_digest(bundle.villages))
        if key not in ctx.reaches:
            r = deps.fibre_available(bundle, reach_m=ctx.scenario.reach_m, graph=ctx.graph,
                                     snap=ctx.snap)
            ctx.reaches[key] = pd.Series(r).reindex(ctx.ids).fillna(False).astype(bool) \
                .to_numpy()
    return ctx.reaches[key].copy()
