"""Outputs people use (DESIGN §7): the interactive map, operator GIS exports, the briefing pack.

``maps`` never computes coverage: it draws and writes what coverage, gaps and plan produced.
Functions for ``phusong demo``: :func:`build_map`/:func:`save_map`, :func:`export_plan`,
:func:`write_briefing`, :func:`render_charts`.
"""

from phusong.maps._plan import Plan, read_gaps, read_plan
from phusong.maps.briefing import summary, write_briefing, write_workbook
from phusong.maps.charts import province_figures, render_charts
from phusong.maps.export import ExportReport, dbf_field_names, export_plan
from phusong.maps.interactive import build_map, save_map

__all__ = [
    "build_map",
    "save_map",
    "export_plan",
    "ExportReport",
    "dbf_field_names",
    "write_briefing",
    "write_workbook",
    "summary",
    "render_charts",
    "province_figures",
    "read_plan",
    "read_gaps",
    "Plan",
]
