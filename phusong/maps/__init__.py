"""Outputs people use (DESIGN §7): the interactive map, operator GIS exports, the briefing pack.

``maps`` never computes coverage: it draws and writes what coverage, gaps and plan produced.
"""

from phusong.maps._plan import Plan, read_plan
from phusong.maps.interactive import build_map, save_map

__all__ = ["build_map", "save_map", "read_plan", "Plan"]
