"""The embedded default: a calibrated synthetic Hòa Bình (DESIGN §3).

Real commune facts (codes, names, districts, census households) with generated boundaries,
terrain, villages, roads, mobile sites and fibre, calibrated to Plan 785's published figures and
labelled synthetic everywhere. :func:`build_twin` makes the whole bundle; :func:`twin_stats`
compares a bundle with the published figures.
"""

from phusong.twin.build import LABEL, build_twin
from phusong.twin.fibre import fibre_figures, make_fibre
from phusong.twin.geography import make_communes, make_province_outline
from phusong.twin.roads import make_roads
from phusong.twin.sites import calibrate_sites, make_sites
from phusong.twin.stats import twin_stats
from phusong.twin.terrain import make_dem
from phusong.twin.villages import make_villages

__all__ = [
    "LABEL",
    "build_twin",
    "calibrate_sites",
    "fibre_figures",
    "make_communes",
    "make_dem",
    "make_fibre",
    "make_province_outline",
    "make_roads",
    "make_sites",
    "make_villages",
    "twin_stats",
]
