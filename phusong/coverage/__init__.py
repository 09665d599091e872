"""Coverage engine (DESIGN §5): terrain profiles, propagation models, best server, rasters.

Public API (CONTRACTS "Coverage"): :func:`transmitters`, :func:`score_villages`,
:func:`coverage_matrix`, the models in :mod:`phusong.coverage.models`, knife-edge diffraction
(:func:`bullington_db`, :func:`deygout_db`) and, once present, ``itm_p2p_loss_db``.
"""

from phusong.coverage._dask_exec import DaskExecutor
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

__all__ = [
    "MODELS",
    "DaskExecutor",
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
