"""phusong — phủ sóng: mobile and fibre broadband coverage planner for a Vietnamese province.

The flow (DESIGN §1): bundle → coverage → gaps vs targets → plan → outputs. Each step is a
plain function over plain data; the ``phusong`` CLI is a thin layer over them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from phusong.bundle import Bundle, Provenance, Raster, load_bundle, save_bundle, validate
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

__all__ = [
    "__version__",
    "Bundle",
    "Provenance",
    "Raster",
    "load_bundle",
    "save_bundle",
    "validate",
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
