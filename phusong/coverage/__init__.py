"""Coverage engine (DESIGN §5): terrain profiles, propagation models, best server, rasters.

Public API (CONTRACTS "Coverage"): :func:`transmitters`, :func:`score_villages`,
:func:`coverage_matrix`, the models in :mod:`phusong.coverage.models`, knife-edge diffraction
(:func:`bullington_db`, :func:`deygout_db`), ITU-R P.1812 (:func:`p1812_loss_db`,
:func:`p1812_field_dbuvm`) and, once present, ``itm_p2p_loss_db``.
"""

from phusong.coverage._diffraction import bullington_db, deygout_db
from phusong.coverage._engine import EngineOptions, link_pairs
from phusong.coverage._link import MODELS, sector_gain_db, transmitters
from phusong.coverage._run import predict_site, run_bundle
from phusong.coverage._score import coverage_matrix, score_points, score_villages
from phusong.coverage._terrain import Terrain, pair_profiles, prepare_terrain
from phusong.coverage.models import (
    cost231_db,
    fspl_db,
    hata_db,
    knife_edge_db,
    rma_db,
    uma_db,
)
from phusong.coverage.p1812 import p1812_field_dbuvm, p1812_loss_db

__all__ = [
    "MODELS",
    "EngineOptions",
    "Terrain",
    "bullington_db",
    "cost231_db",
    "coverage_matrix",
    "deygout_db",
    "fspl_db",
    "hata_db",
    "knife_edge_db",
    "link_pairs",
    "p1812_field_dbuvm",
    "p1812_loss_db",
    "pair_profiles",
    "predict_site",
    "prepare_terrain",
    "rma_db",
    "run_bundle",
    "score_points",
    "score_villages",
    "sector_gain_db",
    "transmitters",
    "uma_db",
]

try:  # the ITM module is written separately; export it when present
    from phusong.coverage.itm import itm_p2p_loss_db  # noqa: F401
except ImportError:  # pragma: no cover - depends on the build
    pass
else:
    __all__.append("itm_p2p_loss_db")
