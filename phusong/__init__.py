"""phusong — phủ sóng: mobile and fibre broadband coverage planner for a Vietnamese province.

The flow (DESIGN §1): bundle → coverage → gaps vs targets → plan → outputs. Each step is a
plain function over plain data; the ``phusong`` CLI is a thin layer over them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from phusong.errors import (
    CRSError,
    DataError,
    FormatError,
    InfeasibleError,
    InputFileError,
    ModelError,
    OutputError,
    PhusongError,
    SchemaError,
)

#: The main step of each stage, importable from ``phusong`` (loaded on first use, so that
#: ``import phusong`` and the CLI start fast).
_LAZY = {
    "Bundle": "phusong.bundle",
    "Provenance": "phusong.bundle",
    "Raster": "phusong.bundle",
    "load_bundle": "phusong.bundle",
    "save_bundle": "phusong.bundle",
    "validate": "phusong.bundle",
    "build_twin": "phusong.twin",
    "twin_stats": "phusong.twin",
    "import_bundle": "phusong.io",
    "score_villages": "phusong.coverage",
    "coverage_matrix": "phusong.coverage",
    "run_bundle": "phusong.coverage",
    "itm_p2p_loss_db": "phusong.coverage",
    "compute_gaps": "phusong.planning",
    "make_plan": "phusong.planning",
    "load_scenario": "phusong.planning",
    "MaximalCovering": "phusong.planning",
    "SetCovering": "phusong.planning",
    "route_fibre": "phusong.planning",
    "fibre_available": "phusong.planning",
    "build_map": "phusong.maps",
    "save_map": "phusong.maps",
    "export_plan": "phusong.maps",
    "write_briefing": "phusong.maps",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'phusong' has no attribute {name!r}")


__all__ = [
    *_LAZY,
    "__version__",
    "PhusongError",
    "DataError",
    "SchemaError",
    "CRSError",
    "FormatError",
    "InputFileError",
    "OutputError",
    "ModelError",
    "InfeasibleError",
]
