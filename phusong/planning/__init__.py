"""Planning: targets and gaps, candidate sites, siting, fibre routing, scenarios, the joint plan.

The flow (DESIGN §6): :func:`compute_gaps` measures where the province falls short of the
targets (2020 or 2025 boundaries); :func:`generate_candidates` proposes upgrades and new sites;
:class:`MaximalCovering` / :class:`SetCovering` choose among them; :func:`route_fibre` extends
the fibre along roads; :func:`make_plan` joins them under a :class:`Scenario`'s budgets.
:func:`switch_off` takes village coverage to a year without the 2G/3G networks.
"""

from __future__ import annotations

from phusong.network.reach import fibre_available
from phusong.network.roads import road_graph, snap_points
from phusong.planning.candidates import (
    candidate_transmitters,
    check_candidates,
    generate_candidates,
)
from phusong.planning.centres import assume_pops, commune_centres
from phusong.planning.feeders import infer_feeders
from phusong.planning.fibre_router import route_fibre
from phusong.planning.gaps import GapTables, compute_gaps
from phusong.planning.plan import Plan, make_plan
from phusong.planning.scenario import DEFAULT_SCENARIO, Scenario, load_scenario
from phusong.planning.siting import MaximalCovering, SetCovering
from phusong.planning.switchoff import switch_off, switched_off_techs
from phusong.planning.targets import target_columns, targets_from_records

__all__ = [
    "GapTables",
    "compute_gaps",
    "generate_candidates",
    "check_candidates",
    "candidate_transmitters",
    "Scenario",
    "DEFAULT_SCENARIO",
    "load_scenario",
    "Plan",
    "make_plan",
    "target_columns",
    "targets_from_records",
    "MaximalCovering",
    "SetCovering",
    "route_fibre",
    "road_graph",
    "snap_points",
    "fibre_available",
    "switch_off",
    "switched_off_techs",
    "commune_centres",
    "assume_pops",
    "infer_feeders",
]
