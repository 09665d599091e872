"""Exceptions of phusong.

One root, :class:`PhusongError`; every subclass also inherits the matching builtin so that
callers may catch ``ValueError`` or ``OSError`` as usual. Messages say what went wrong, where
(file, row, field) and how to fix it, in one line. The CLI turns any :class:`PhusongError` into
that one line on stderr and exit code 2 (a user error).

Examples
--------
>>> from phusong.errors import SchemaError
>>> try:
...     raise SchemaError("sites.csv: missing column 'lat'; map it with --col lat=LATITUDE")
... except ValueError as exc:
...     print(exc)
sites.csv: missing column 'lat'; map it with --col lat=LATITUDE
"""

from __future__ import annotations

__all__ = [
    "PhusongError",
    "DataError",
    "SchemaError",
    "CRSError",
    "FormatError",
    "InputFileError",
    "OutputError",
    "ModelError",
    "InfeasibleError",
    "ClusterError",
    "KernelsNotCompiled",
    "PhusongWarning",
    "RepairWarning",
    "ValidityWarning",
    "CoverageWarning",
]


class PhusongError(Exception):
    """Root of every error phusong raises on purpose (user errors: CLI exit code 2)."""


class DataError(PhusongError, ValueError):
    """Input data is wrong: values out of range, duplicates, unknown codes, bad geometry."""


class SchemaError(DataError):
    """A layer or table lacks a required column, or a column has the wrong type."""


class CRSError(DataError):
    """A coordinate reference system is missing, unknown or does not match."""


class FormatError(DataError):
    """A file is not in the format expected (wrong type, empty, unreadable encoding)."""


class InputFileError(PhusongError, FileNotFoundError):
    """An input file or folder does not exist or cannot be read."""


class OutputError(PhusongError, OSError):
    """An output cannot be written (unwritable folder, existing file without --overwrite)."""


class ModelError(PhusongError, ValueError):
    """A propagation or planning model was given parameters outside what it accepts."""


class InfeasibleError(PhusongError, ValueError):
    """A budget or target cannot be reached; the message says what is reachable."""


class KernelsNotCompiled(PhusongError, TimeoutError):
    """Under a time limit, the engine's numba kernels are not compiled and compiling them did
    not fit in the limit (run ``python -m phusong.coverage._warm`` once, or raise the limit)."""


class ClusterError(PhusongError, ConnectionError):
    """A dask scheduler cannot be reached or was lost mid-run (not the user's data: the CLI
    exits 1, see ``exit_code``)."""

    exit_code = 1


class PhusongWarning(UserWarning):
    """Root of phusong's warnings."""


class RepairWarning(PhusongWarning):
    """Input data was repaired (e.g. an invalid polygon made valid); the message says which."""


class ValidityWarning(PhusongWarning):
    """A model is used outside its published validity range (frequency, distance, height)."""


class CoverageWarning(PhusongWarning):
    """An input covers less than the analysis needs (e.g. the DEM misses communes): results
    there are unknown, not zero; the message says which."""
