"""Coverage engine (DESIGN §5): terrain profiles, propagation models, best server, rasters.

Public API (CONTRACTS "Coverage"): :func:`transmitters`, :func:`score_villages`,
:func:`coverage_matrix`, the models in :mod:`phusong.coverage.models`, knife-edge diffraction
(:func:`bullington_db`, :func:`deygout_db`) and, once present, ``itm_p2p_loss_db``. Radio
realism (issue 17) lives in public modules: :mod:`.antenna` and :mod:`.msi` (patterns),
:mod:`.p2108` / :mod:`.clutter` (terminal clutter), :mod:`.p2109` (building entry loss),
:mod:`.reliability` and :mod:`.interference` (SINR, indoor).
"""

from phusong.coverage._diffraction import bullington_db, deygout_db
from phusong.coverage._engine import EngineOptions, link_pairs
from phusong.coverage._link import MODELS, sector_gain_db, transmitters
from phusong.coverage._run import predict_site, run_bundle
from phusong.coverage._score import coverage_matrix, score_points, score_villages
from phusong.coverage._terrain import Terrain, pair_profiles, prepare_terrain
from phusong.coverage.antenna import Antenna, gain_db, parametric_3gpp
from phusong.coverage.models import (
    cost231_db,
    fspl_db,
    hata_db,
    knife_edge_db,
    rma_db,
    uma_db,
)
from phusong.coverage.msi import read_msi, write_msi

__all__ = [
    "MODELS",
    "Antenna",
    "gain_db",
    "parametric_3gpp",
    "read_msi",
    "write_msi",
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
