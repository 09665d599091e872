"""Targets as data: which indicator, counted over what, how high, by when (FACTS §2).

A target is a :class:`phusong.settings.Target` (``indicator``, ``denominator``,
``threshold_pct``, ``year``, ``origin``). The defaults are ``settings.TARGETS`` (Plan 785 and the
national 5G target); a scenario TOML may replace them with ``[[targets]]`` tables
(:func:`targets_from_records`).

Indicators
----------
``fibre_available``
    Fibre within reach along roads (:func:`phusong.network.reach.fibre_available`); counted over
    ``households``, ``population`` or ``villages``.
``fibre_commune``
    The commune centre (UBND village) has fibre within reach; counted over ``communes``.
``mobile_any``, ``mobile_broadband``, ``mobile_{tech}``, ``mobile_{tech}_{operator}``
    Village covered by any technology, by 4G or 5G, by one technology (best operator) or by one
    operator's technology (:func:`phusong.coverage.score_villages` columns); counted over
    ``households``, ``population`` or ``villages``.

Column names (shared by the gap tables and the plan report): the value of a target is
``{prefix}_{denominator}_pct`` where the prefix is ``fibre`` for ``fibre_available`` and for
``fibre_commune`` (so ``fibre_households_pct``, ``fibre_communes_pct``), else the indicator
(``mobile_4G_population_pct``). The gap is ``gap_{short}_{year}_pct`` where ``short`` is
``fibre`` (fibre households), ``fibre_communes`` or the indicator with a ``_{denominator}``
suffix when the denominator is not the usual one (households for fibre, population for mobile);
a later target with the same name as an earlier one (e.g. the national 99 % 5G in 2030 after
Plan 785's 100 %) gets ``_{threshold}`` appended.

Examples
--------
>>> from phusong import settings
>>> from phusong.planning.targets import target_columns
>>> [c.gap for c in target_columns(settings.TARGETS)][:3]
['gap_fibre_2025_pct', 'gap_fibre_communes_2025_pct', 'gap_mobile_4G_2025_pct']
>>> target_columns(settings.TARGETS)[0].value
'fibre_households_pct'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from phusong import settings
from phusong.errors import DataError
from phusong.settings import Target

__all__ = [
    "DENOMINATORS",
    "TargetColumns",
    "indicator_names",
    "check_target",
    "targets_from_records",
    "target_columns",
]

#: What a target may be counted over.
DENOMINATORS = ("households", "population", "villages", "communes")
_TARGET_KEYS = ("indicator", "denominator", "threshold_pct", "year", "origin")


def indicator_names() -> tuple[str, ...]:
    """Every indicator a target may name (see the module doc)."""
    names = ["fibre_available", "fibre_commune", "mobile_any", "mobile_broadband"]
    for tech in settings.TECHS:
        names.append(f"mobile_{tech}")
        names.extend(f"mobile_{tech}_{op}" for op in settings.OPERATORS)
    return tuple(names)


@dataclass(frozen=True)
class TargetColumns:
    """Where a target's value and gap live in the gap tables.

    Attributes
    ----------
    target : Target
        The target.
    prefix : str
        Indicator column prefix (``fibre``, ``mobile_4G`` …).
    value : str
        Column of the value, percent (``fibre_households_pct``).
    gap : str
        Column of the gap ``max(0, threshold − value)``, percentage points.
    meets : str
        Column (bool) saying whether a unit meets the target (``meets_fibre_2025``).
    """

    target: Target
    prefix: str
    value: str
    gap: str
    meets: str


def _prefix(indicator: str) -> str:
    return "fibre" if indicator in ("fibre_available", "fibre_commune") else indicator


def check_target(t: Target, where: str = "targets") -> Target:
    """Return ``t`` with numbers typed, or raise :class:`DataError` naming the bad field."""
    if t.indicator not in indicator_names():
        raise DataError(
            f"{where}: unknown indicator {t.indicator!r}; use fibre_available, fibre_commune, "
            "mobile_any, mobile_broadband, mobile_<tech> or mobile_<tech>_<operator>"
        )
    if t.denominator not in DENOMINATORS:
        raise DataError(f"{where}: denominator {t.denominator!r} is not one of {list(DENOMINATORS)}")
    if (t.indicator == "fibre_commune") != (t.denominator == "communes"):
        raise DataError(
            f"{where}: denominator 'communes' goes with indicator 'fibre_commune' only "
            f"(got {t.indicator!r} over {t.denominator!r})"
        )
    try:
        pct = float(t.threshold_pct)
        year = int(t.year)
    except (TypeError, ValueError):
        raise DataError(f"{where}: threshold_pct and year must be numbers") from None
    if not 0.0 <= pct <= 100.0:
        raise DataError(f"{where}: threshold_pct {t.threshold_pct!r} must be within 0..100 %")
    if year != t.year or not 2000 <= year <= 2100:
        raise DataError(f"{where}: year {t.year!r} must be a whole year within 2000..2100")
    return Target(t.indicator, t.denominator, pct, year, str(t.origin))


def targets_from_records(records: Iterable[Mapping], where: str = "[[targets]]") -> tuple[Target, ...]:
    """Targets from dicts (e.g. a TOML ``[[targets]]`` array); unknown keys are refused.

    Parameters
    ----------
    records : iterable of mapping
        Keys ``indicator``, ``denominator``, ``threshold_pct``, ``year`` and optional ``origin``.
    where : str
        Where the records come from, for messages.

    Returns
    -------
    tuple of Target
    """
    out = []
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            raise DataError(f"{where} entry {i}: must be a table of key = value")
        unknown = sorted(set(rec) - set(_TARGET_KEYS))
        if unknown:
            raise DataError(f"{where} entry {i}: unknown key {unknown[0]!r}; use {list(_TARGET_KEYS)}")
        missing = [k for k in _TARGET_KEYS[:4] if k not in rec]
        if missing:
            raise DataError(f"{where} entry {i}: missing key {missing[0]!r}")
        out.append(check_target(Target(**dict(rec)), f"{where} entry {i}"))
    if not out:
        raise DataError(f"{where}: no targets; give at least one [[targets]] table")
    return tuple(out)


def target_columns(targets: Iterable[Target]) -> list[TargetColumns]:
    """Column names of each target's value, gap and met flag (module doc), in target order."""
    targets = [check_target(t) for t in targets]
    keys = [(t.indicator, t.denominator, t.threshold_pct, t.year) for t in targets]
    for i, k in enumerate(keys):
        if k in keys[:i]:
            raise DataError(f"targets: {k[0]} over {k[1]} {k[2]:g} % by {k[3]} is given twice; "
                            "drop one")
    usual = {"fibre_available": "households", "fibre_commune": "communes"}
    shorts = []
    for t in targets:
        prefix = _prefix(t.indicator)
        base = "fibre_communes" if t.indicator == "fibre_commune" else prefix
        if t.denominator != usual.get(t.indicator, "population") and t.indicator != "fibre_commune":
            base = f"{base}_{t.denominator}"
        shorts.append(f"{base}_{t.year}")
    out = []
    for i, (t, short) in enumerate(zip(targets, shorts, strict=True)):
        if short in shorts[:i]:
            short = f"{short}_{t.threshold_pct:g}".replace(".", "p")
        prefix = _prefix(t.indicator)
        out.append(TargetColumns(t, prefix, f"{prefix}_{t.denominator}_pct", f"gap_{short}_pct",
                                 f"meets_{short}"))
    names = [c.gap for c in out]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"targets: two targets give the same column {dup!r}; drop one")
    return out
