"""Coverage engine (DESIGN §5): terrain profiles, propagation models, best server, rasters.

Public API (CONTRACTS "Coverage"): :func:`transmitters`, :func:`score_villages`,
:func:`coverage_matrix`, the models in :mod:`phusong.coverage.models`, knife-edge diffraction
(:func:`bullington_db`, :func:`deygout_db`), :func:`itm_p2p_loss_db` and ITU-R P.1812
(:func:`p1812_loss_db`, :func:`p1812_field_dbuvm`). Radio realism (issue 17) lives in public
modules: :mod:`.antenna` and :mod:`.msi` (patterns), :mod:`.p2108` / :mod:`.clutter`
(terminal clutter), :mod:`.p2109` (building entry loss), :mod:`.reliability` and
:mod:`.interference` (SINR, indoor).

Names load on first use (PEP 562), so that ``phusong coverage site`` imports only the raster
path and not pandas, scipy.sparse or the village scoring.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "DaskExecutor": "_dask_exec",
    "bullington_db": "_diffraction",
    "deygout_db": "_diffraction",
    "EngineOptions": "_engine",
    "link_pairs": "_engine",
    "MODELS": "_link",
    "sector_gain_db": "_link",
    "transmitters": "_link",
    "run_bundle": "_run",
    "predict_site": "_site",
    "coverage_matrix": "_score",
    "score_points": "_score",
    "score_villages": "_score",
    "Terrain": "_terrain",
    "pair_profiles": "_terrain",
    "prepare_terrain": "_terrain",
    "cost231_db": "models",
    "fspl_db": "models",
    "hata_db": "models",
    "knife_edge_db": "models",
    "rma_db": "models",
    "uma_db": "models",
    "itm_p2p_loss_db": "itm",
    "Antenna": "antenna",
    "gain_db": "antenna",
    "parametric_3gpp": "antenna",
    "read_msi": "msi",
    "write_msi": "msi",
    "p1812_loss_db": "p1812",
    "p1812_field_dbuvm": "p1812",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
