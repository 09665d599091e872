"""The targets a briefing reports against: the plan's scenario, else the settings' defaults.

A plan folder records the scenario it was made with (``plan.json["scenario"]["targets"]``);
the map's popups and the workbook read the targets from there so that a briefing of a 2030
scenario shows the 2030 targets that scenario set, not the defaults. Without a plan (or with an
older ``plan.json`` lacking them) the defaults of ``settings.TARGETS`` are used and the caller
is told so (``source``).

Examples
--------
>>> from phusong.maps._targets import briefing_targets
>>> t = briefing_targets(None)
>>> t.source, t.columns[0].value, t.columns[0].gap
('settings', 'fibre_households_pct', 'gap_fibre_2025_pct')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from phusong.config import DEFAULT_SETTINGS
from phusong.errors import DataError
from phusong.planning.targets import TargetColumns, target_columns, targets_from_records

__all__ = ["BriefingTargets", "briefing_targets"]


@dataclass(frozen=True)
class BriefingTargets:
    """Targets and their gap-table columns.

    Attributes
    ----------
    columns : tuple of TargetColumns
        One per target, in the scenario's order (value, gap and met-flag column names).
    source : str
        ``"plan"`` (read from ``plan.json``) or ``"settings"`` (the defaults).
    """

    columns: tuple[TargetColumns, ...]
    source: str


def briefing_targets(plan) -> BriefingTargets:
    """Targets of ``plan`` (a :class:`phusong.maps.Plan` or None).

    Raises
    ------
    DataError
        ``plan.json`` records targets that are malformed (names the bad field).
    """
    scenario = (plan.meta.get("scenario") if plan is not None else None) or {}
    records = scenario.get("targets") if isinstance(scenario, Mapping) else None
    if records:
        where = f"{plan.path / 'plan.json'}: scenario.targets"
        try:
            targets = targets_from_records(records, where=where)
        except TypeError:
            raise DataError(f"{where}: not a list of target tables; re-run 'phusong plan'") from None
        return BriefingTargets(tuple(target_columns(targets)), "plan")
    return BriefingTargets(tuple(target_columns(DEFAULT_SETTINGS.targets)), "settings")
