"""Road networks and reach along roads: the layer both ``twin`` and ``planning`` use (DESIGN §2).

:func:`road_graph` turns a roads layer into an osmnx-shaped graph in ``settings.WORK_CRS``;
:func:`fibre_available` / :func:`fibre_distance_m` measure how far each village is from the
fibre network along those roads.
"""

from __future__ import annotations

from phusong.network.reach import fibre_available, fibre_distance_m
from phusong.network.roads import (
    graph_components,
    road_graph,
    snap_points,
    snap_to_edges,
    urban_areas,
)

__all__ = [
    "road_graph",
    "snap_points",
    "snap_to_edges",
    "graph_components",
    "urban_areas",
    "fibre_distance_m",
    "fibre_available",
]
