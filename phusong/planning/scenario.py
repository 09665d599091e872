"""Planning scenarios: budgets per period, targets, costs, candidate rules (TOML).

A scenario file names what a plan may spend and how candidates are made, and may override any
settings key (:mod:`phusong.config`: thresholds, bands, radio, costs, targets), which
``--set key=value`` on the command line overrides in turn. Every key is optional;
an unknown key or a value of the wrong type is refused with a one-line
:class:`~phusong.errors.DataError` naming the key. ``scenarios/plan785.toml`` (the default)
reproduces Plan 785's budget lines: 45 bn VND fibre and 440 bn VND mobile for 2022–2025.

::

    name = "Plan 785"
    years = [2025, 2030]          # report years; each period ends in one of them
    carry_over = true             # unspent budget moves to the next period
    model = "itm"                 # propagation model for candidate coverage
    time_limit_s = 600.0          # optional wall-clock guard on the whole plan, s
    objective = "budget"          # "budget": most coverage within the budgets;
                                  # "targets": each period's mobile targets at least cost

    [budgets.2025]                # spend in the period ending 2025, VND
    fibre_vnd = 45_000_000_000
    mobile_vnd = 440_000_000_000

    [costs]                       # settings.Costs and settings.PlanningCosts fields
    new_site_vnd = 3_825_000_000

    [thresholds_dbm]              # and [good_thresholds_dbm], [max_radius_km], [radio],
    "4G" = -105.0                 # [location_sigma_db], [indoor], [interference], [p1812],
                                  # [bands_mhz."4G"]: phusong.config keys (phusong settings)

    [candidates]                  # CandidateRules fields
    cluster_eps_m = 3000.0

    [planning]                    # broadband_techs, reach_m, centre_prize_households
    broadband_techs = ["4G", "5G"]

    [bands_5g]                    # 5G band per operator ("" = none); defaults FACTS §6
    Viettel = "n41"

    [[targets]]                   # replaces the default targets when present
    indicator = "fibre_available"
    denominator = "households"
    threshold_pct = 80.0
    year = 2025

Examples
--------
>>> from phusong.planning.scenario import Scenario, scenario_from_dict
>>> s = scenario_from_dict({"budgets": {"2025": {"fibre_vnd": 1e9, "mobile_vnd": 2e9}}})
>>> s.budget_for(2025)
{'fibre': 1000000000.0, 'mobile': 2000000000.0}
>>> scenario_from_dict({"budget": {}})
Traceback (most recent call last):
...
phusong.errors.DataError: scenario: unknown key 'budget'; use bands_5g, bands_mhz, budgets, candidates, carry_over, costs, dask, good_thresholds_dbm, indoor, interference, location_sigma_db, max_radius_km, model, name, objective, p1812, planning, radio, targets, thresholds_dbm, time_limit_s, years
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from phusong import settings
from phusong.config import (
    DEFAULT_SETTINGS,
    SETTINGS_SECTIONS,
    Settings,
    apply_doc,
    apply_sets,
    with_targets,
)
from phusong.errors import DataError, InputFileError
from phusong.planning.targets import targets_from_records
from phusong.settings import Costs, PlanningCosts, Target

__all__ = [
    "CandidateRules",
    "Period",
    "Scenario",
    "DEFAULT_SCENARIO",
    "load_scenario",
    "scenario_from_dict",
]


@dataclass(frozen=True)
class CandidateRules:
    """How candidate sites are generated (see :mod:`phusong.planning.candidates`).

    Attributes
    ----------
    cluster_eps_m : float
        DBSCAN neighbourhood of uncovered villages, m.
    cluster_max_radius_m : float
        Clusters wider than this are split with KMeans, m.
    ridge_window_m : float
        Hill tops are DEM cells highest within this square window, m.
    ridge_search_m : float
        Hill tops are taken within this distance of a cluster centre, m.
    ridges_per_cluster : int
        Highest hill tops kept per cluster.
    commune_centres : bool
        Add a candidate at each commune centre with uncovered villages.
    upgrade_4g, upgrade_5g : bool
        Existing towers as upgrade candidates: 4G where only 2G/3G, 5G on 4G sites.
    new_site_tech, new_site_band : str
        Radio of a new public-utility site (default 4G on B8, 947.5 MHz, for rural reach).
    low_band_5g : str
        A 5G low band every 5G site also gets (e.g. ``"n28"``, 700 MHz: an assumption, licensed
        to no operator today); ``""`` for none.
    new_site_height_m : float
        Antenna height of a new site, m.
    new_site_operator : str
        Operator of new sites: one of ``settings.OPERATORS`` or ``"shared"`` (passive sharing).
    max_new_sites : int
        Most new-site candidates kept (highest uncovered households nearby first).
    """

    cluster_eps_m: float = 3000.0
    cluster_max_radius_m: float = 5000.0
    ridge_window_m: float = 1500.0
    ridge_search_m: float = 5000.0
    ridges_per_cluster: int = 2
    commune_centres: bool = True
    upgrade_4g: bool = True
    upgrade_5g: bool = True
    new_site_tech: str = "4G"
    new_site_band: str = "B8"
    low_band_5g: str = ""
    new_site_height_m: float = settings.RADIO.tower_height_m
    new_site_operator: str = "shared"
    max_new_sites: int = 600


@dataclass(frozen=True)
class Period:
    """Money for the period ending in ``year``, VND."""

    year: int
    fibre_vnd: float
    mobile_vnd: float


@dataclass(frozen=True)
class Scenario:
    """A planning scenario (module doc); build with :func:`load_scenario` or the defaults.

    Attributes
    ----------
    name : str
        Label in reports.
    years : tuple of int
        Report years, ascending; each ends a spending period.
    budgets : tuple of Period
        Money per period; a year without an entry gets nothing new.
    carry_over : bool
        Unspent money moves to the next period.
    settings : phusong.config.Settings
        Thresholds, bands, radio, costs and targets: the defaults, this scenario's tables
        (``[thresholds_dbm]``, ``[radio]``, ``[costs]``, ``[[targets]]``…) and ``--set``
        (:func:`load_scenario`). ``targets``, ``costs`` and ``planning_costs`` read it.
    rules : CandidateRules
        Candidate generation.
    model : str
        Propagation model of the coverage engine.
    broadband_techs : tuple of str
        Technologies counted as mobile broadband (public-utility demand is the villages
        without any of them).
    bands_5g : tuple of (str, str)
        5G band per operator (and ``"shared"`` for new shared towers); default
        ``settings.BANDS_5G_BY_OPERATOR`` (FACTS §6). An operator without one gets no 5G.
    reach_m : float
        Fibre reach along roads, m.
    centre_prize_households : float
        Extra routing prize for a commune centre without fibre, households.
    time_limit_s : float or None
        Wall-clock guard on the whole plan, s (every optimisation and fibre route gets the
        time left; scoring coverage is not interrupted). Default None: no guard — each step
        stops by its own rule (gap, node limit, local optimum) and the plan is the same on
        any machine. When the guard cuts a step short, ``plan.json`` (``time_limit``, notes)
        and the briefing say "stopped by time limit".
    objective : str
        ``"budget"``: cover most demand within each period's budget; ``"targets"``: reach each
        mobile target due at a period's end at least cost (an error says what is reachable when
        the candidates or the budget cannot).
    source : str
        File it was read from, or ``"default"``.
    """

    name: str = "Plan 785"
    years: tuple[int, ...] = (2025, 2030)
    budgets: tuple[Period, ...] = (
        Period(2025, settings.PLAN785_BUDGET_VND["fibre"], settings.PLAN785_BUDGET_VND["mobile"]),
    )
    carry_over: bool = True
    rules: CandidateRules = CandidateRules()
    model: str = settings.DEFAULT_MODEL
    broadband_techs: tuple[str, ...] = ("4G", "5G")
    bands_5g: tuple[tuple[str, str], ...] = tuple(settings.BANDS_5G_BY_OPERATOR.items())
    reach_m: float = settings.FIBRE_REACH_M
    centre_prize_households: float = 500.0
    time_limit_s: float | None = None
    objective: str = "budget"
    # last but one (after every field whose default reads the settings module)
    config: Settings = DEFAULT_SETTINGS
    source: str = field(default="default", compare=False)

    @property
    def targets(self) -> tuple[Target, ...]:
        """Targets reported against (``settings.targets``)."""
        return self.config.targets

    @property
    def costs(self) -> Costs:
        """Unit costs (``settings.costs``)."""
        return self.config.costs

    @property
    def planning_costs(self) -> PlanningCosts:
        """Power, backhaul and sharing costs of new sites (``settings.planning_costs``)."""
        return self.config.planning_costs

    def budget_for(self, year: int) -> dict[str, float]:
        """New money of the period ending ``year``: ``{"fibre": VND, "mobile": VND}``."""
        for p in self.budgets:
            if p.year == year:
                return {"fibre": p.fibre_vnd, "mobile": p.mobile_vnd}
        return {"fibre": 0.0, "mobile": 0.0}

    def to_dict(self) -> dict:
        """Plain-data form (for ``plan.json``)."""
        d = asdict(replace(self, config=DEFAULT_SETTINGS)) | {
            "targets": [asdict(t) for t in self.targets], "costs": asdict(self.costs),
            "planning_costs": asdict(self.planning_costs),
            "settings": self.config.record()}
        d["bands_5g"] = dict(self.bands_5g)
        d["budgets"] = {str(p.year): {"fibre_vnd": p.fibre_vnd, "mobile_vnd": p.mobile_vnd}
                        for p in self.budgets}
        return d


#: Plan 785: 45 bn VND fibre, 440 bn VND mobile to 2025; targets of ``settings.TARGETS``.
DEFAULT_SCENARIO = Scenario()

_TOP = ("name", "years", "carry_over", "model", "time_limit_s", "objective", "budgets",
        "candidates", "planning", "targets", "bands_5g", *SETTINGS_SECTIONS)
OBJECTIVES = ("budget", "targets")
_PLANNING = ("broadband_techs", "reach_m", "centre_prize_households")


def _num(value, key: str, *, lo: float = 0.0, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"scenario: {key} must be a number, got {value!r}")
    if not math.isfinite(value) or value < lo:
        raise DataError(f"scenario: {key} must be a finite number ≥ {lo:g}, got {value!r}")
    if integer:
        if int(value) != value:
            raise DataError(f"scenario: {key} must be a whole number, got {value!r}")
        return int(value)
    return float(value)


def _typed(base, values: dict, section: str):
    """``replace(base, **values)`` with each value checked against the field's default type."""
    if not isinstance(values, dict):
        raise DataError(f"scenario: [{section}] must be a table")
    names = {f.name for f in fields(base)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise DataError(f"scenario: unknown key {unknown[0]!r} in [{section}]; use {sorted(names)}")
    out = {}
    for k, v in values.items():
        default = getattr(base, k)
        key = f"[{section}] {k}"
        if isinstance(default, bool):
            if not isinstance(v, bool):
                raise DataError(f"scenario: {key} must be true or false, got {v!r}")
            out[k] = v
        elif isinstance(default, int | float):
            out[k] = _num(v, key, integer=isinstance(default, int))
        else:
            if not isinstance(v, str):
                raise DataError(f"scenario: {key} must be text, got {v!r}")
            out[k] = v
    return replace(base, **out)


def _check_rules(r: CandidateRules) -> None:
    if r.new_site_tech not in settings.TECHS:
        raise DataError(f"scenario: [candidates] new_site_tech {r.new_site_tech!r} is not one of "
                        f"{list(settings.TECHS)}")
    for key, tech in (("new_site_band", r.new_site_tech), ("low_band_5g", "5G")):
        band = getattr(r, key)
        if band and band not in DEFAULT_SETTINGS.bands_mhz[tech]:
            raise DataError(f"scenario: [candidates] {key} {band!r} is not a {tech} band; use one of "
                            f"{list(DEFAULT_SETTINGS.bands_mhz[tech])}")
    if r.new_site_operator not in (*settings.OPERATORS, "shared"):
        raise DataError(f"scenario: [candidates] new_site_operator {r.new_site_operator!r}; use "
                        f"'shared' or one of {list(settings.OPERATORS)}")
    for key in ("cluster_eps_m", "cluster_max_radius_m", "ridge_window_m", "new_site_height_m"):
        if getattr(r, key) <= 0:
            raise DataError(f"scenario: [candidates] {key} must be > 0")


def scenario_from_dict(doc: dict, *, source: str = "scenario", sets=()) -> Scenario:
    """A :class:`Scenario` from parsed TOML (module doc); unknown keys are refused by name.

    Its :class:`~phusong.config.Settings` are the defaults with the document's settings
    tables (:data:`phusong.config.SETTINGS_SECTIONS`, ``[[targets]]``) and then ``sets``
    (``"key=value"`` strings of ``--set``) applied, in that order.
    """
    unknown = sorted(set(doc) - set(_TOP))
    if unknown:
        raise DataError(f"scenario: unknown key {unknown[0]!r}; use {', '.join(sorted(_TOP))}")
    s = Scenario(source=source)
    kw: dict = {}
    if "name" in doc:
        if not isinstance(doc["name"], str):
            raise DataError("scenario: name must be text")
        kw["name"] = doc["name"]
    if "years" in doc:
        ys = doc["years"]
        if not isinstance(ys, list) or not ys:
            raise DataError("scenario: years must be a non-empty list such as [2025, 2030]")
        years = tuple(_num(y, "years", lo=2000, integer=True) for y in ys)
        if list(years) != sorted(set(years)):
            raise DataError(f"scenario: years {list(years)} must be ascending without repeats")
        kw["years"] = years
    if "carry_over" in doc:
        if not isinstance(doc["carry_over"], bool):
            raise DataError("scenario: carry_over must be true or false")
        kw["carry_over"] = doc["carry_over"]
    if "model" in doc:
        if not isinstance(doc["model"], str):
            raise DataError("scenario: model must be text such as 'itm'")
        kw["model"] = doc["model"]
    if "time_limit_s" in doc:
        kw["time_limit_s"] = _num(doc["time_limit_s"], "time_limit_s")
        if kw["time_limit_s"] <= 0:
            raise DataError("scenario: time_limit_s must be > 0 s")
    if "objective" in doc:
        if doc["objective"] not in OBJECTIVES:
            raise DataError(f"scenario: objective {doc['objective']!r}; use one of {list(OBJECTIVES)}")
        kw["objective"] = doc["objective"]
    years = kw.get("years", s.years)
    if "budgets" in doc:
        kw["budgets"] = _budgets(doc["budgets"], years)
    cfg = apply_doc(DEFAULT_SETTINGS, doc)
    if "candidates" in doc:
        kw["rules"] = _typed(s.rules, doc["candidates"], "candidates")
        _check_rules(kw["rules"])
    if "planning" in doc:
        kw.update(_planning(doc["planning"]))
    if "targets" in doc:
        if not isinstance(doc["targets"], list):
            raise DataError("scenario: targets must be an array of tables [[targets]]")
        cfg = with_targets(cfg, targets_from_records(doc["targets"]))
    kw["config"] = apply_sets(cfg, sets)
    if "bands_5g" in doc:
        kw["bands_5g"] = _bands_5g(doc["bands_5g"])
    out = replace(s, **kw)
    _check_target_bands(out)
    return out


def _bands_5g(table) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, dict):
        raise DataError('scenario: [bands_5g] must be a table such as Viettel = "n41"')
    bands = dict(settings.BANDS_5G_BY_OPERATOR)
    for op, band in table.items():
        if op not in (*settings.OPERATORS, "shared"):
            raise DataError(f"scenario: [bands_5g] {op!r} is not an operator; use 'shared' or one "
                            f"of {list(settings.OPERATORS)}")
        if band == "":
            bands.pop(op, None)
        elif band not in DEFAULT_SETTINGS.bands_mhz["5G"]:
            raise DataError(f"scenario: [bands_5g] {op} = {band!r} is not a 5G band known to "
                            f"settings; use one of {list(DEFAULT_SETTINGS.bands_mhz['5G'])}")
        else:
            bands[op] = band
    return tuple(bands.items())


def _check_target_bands(s: Scenario) -> None:
    """A 5G target needs a 5G band: for its operator, or for some operator or shared sites."""
    bands = dict(s.bands_5g)
    for t in s.targets:
        if not t.indicator.startswith("mobile_5G"):
            continue
        op = t.indicator[len("mobile_5G_"):] or None
        if op is not None and op not in bands:
            raise DataError(f"scenario: target {t.indicator} ({t.year}) needs a 5G band for {op}; "
                            f"add it under [bands_5g] ({op} = \"n78\") or drop the target")
        if op is None and not bands:
            raise DataError(f"scenario: target {t.indicator} ({t.year}) needs a 5G band; [bands_5g] "
                            "names none")


def _budgets(table, years) -> tuple[Period, ...]:
    if not isinstance(table, dict):
        raise DataError("scenario: [budgets] must hold tables such as [budgets.2025]")
    out = []
    for key, val in table.items():
        if not str(key).isdigit() or int(key) not in years:
            raise DataError(f"scenario: [budgets.{key}] is not one of the years {list(years)}")
        if not isinstance(val, dict):
            raise DataError(f"scenario: [budgets.{key}] must be a table with fibre_vnd, mobile_vnd")
        unknown = sorted(set(val) - {"fibre_vnd", "mobile_vnd"})
        if unknown:
            raise DataError(f"scenario: unknown key {unknown[0]!r} in [budgets.{key}]; "
                            "use fibre_vnd, mobile_vnd")
        out.append(Period(int(key), _num(val.get("fibre_vnd", 0.0), f"[budgets.{key}] fibre_vnd"),
                          _num(val.get("mobile_vnd", 0.0), f"[budgets.{key}] mobile_vnd")))
    return tuple(sorted(out, key=lambda p: p.year))


def _planning(table) -> dict:
    if not isinstance(table, dict):
        raise DataError("scenario: [planning] must be a table")
    unknown = sorted(set(table) - set(_PLANNING))
    if unknown:
        raise DataError(f"scenario: unknown key {unknown[0]!r} in [planning]; use {list(_PLANNING)}")
    kw: dict = {}
    if "broadband_techs" in table:
        techs = table["broadband_techs"]
        if not isinstance(techs, list) or not techs or any(t not in settings.TECHS for t in techs):
            raise DataError(f"scenario: [planning] broadband_techs must list techs from "
                            f"{list(settings.TECHS)}, got {techs!r}")
        kw["broadband_techs"] = tuple(techs)
    if "reach_m" in table:
        kw["reach_m"] = _num(table["reach_m"], "[planning] reach_m")
    if "centre_prize_households" in table:
        kw["centre_prize_households"] = _num(table["centre_prize_households"],
                                             "[planning] centre_prize_households")
    return kw


def load_scenario(path: str | Path | None, sets=()) -> Scenario:
    """The one way settings are built: defaults, then the scenario TOML file (``None``: the
    defaults, :data:`DEFAULT_SCENARIO`), then ``sets`` (``--set key=value`` strings).

    Raises
    ------
    InputFileError
        No such file.
    DataError
        Invalid TOML, an unknown key or a bad value (the message names the key).
    """
    if path is None:
        return scenario_from_dict({}, source="default", sets=sets) if sets else DEFAULT_SCENARIO
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such scenario file; check the path")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: not valid UTF-8 TOML ({exc}); fix the syntax") from None
    try:
        s = scenario_from_dict(doc, source=str(p))
    except DataError as exc:
        raise DataError(f"{p}: {exc}") from None
    return replace(s, config=apply_sets(s.config, sets)) if sets else s
