"""File plumbing shared by the readers: existence checks, safe zip extraction, tables.

Inputs are only ever read: zips are extracted into a temporary folder that is removed
afterwards, never beside the input.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from phusong.errors import FormatError, InputFileError
from phusong.io._encoding import decode_text

__all__ = [
    "Imported",
    "require_file", "safe_extract", "opened", "read_table", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls")


def require_file(path: str | Path, what: str = "input") -> Path:
    """Return ``path`` as a Path if it is a non-empty file, else raise a one-line error."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: no such {what} file; check the path")
    if p.is_dir():
        raise InputFileError(f"{p}: is a folder, not a {what} file")
    if p.stat().st_size == 0:
        raise FormatError(f"{p}: the file is empty; export the {what} again")
    return p


def _unsafe_member(name: str) -> bool:
    posix = PurePosixPath(name.replace("\\", "/"))
    return posix.is_absolute() or ".." in posix.parts or (len(name) > 1 and name[1] == ":")


#: What :mod:`zipfile` raises on a corrupt, truncated, encrypted or exotic archive (found by
#: fuzzing, tests/test_fuzz_readers.py): bad headers and CRCs, invalid deflate streams, a
#: negative seek from a corrupt offset (OSError), unsupported methods/versions/flags,
#: passwords (RuntimeError), undecodable member names.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
              OSError, UnicodeDecodeError, ValueError)


def _why(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120] or type(exc).__name__


def safe_extract(zip_path: Path, dest: Path) -> list[Path]:
    """Extract ``zip_path`` into ``dest``, refusing members that would land outside it.

    Raises
    ------
    FormatError
        Not a zip, or a member with an absolute path or ``..`` (zip slip), or a symbolic link.
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except ZIP_ERRORS as exc:
        raise FormatError(f"{zip_path}: not a valid zip archive ({_why(exc)})") from None
    out: list[Path] = []
    root = dest.resolve()
    with zf:
        members = zf.infolist()
        for info in members:
            is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
            target = (root / info.filename).resolve()
            if _unsafe_member(info.filename) or is_link or not target.is_relative_to(root):
                raise FormatError(
                    f"{zip_path}: member {info.filename!r} points outside the archive folder "
                    "(absolute path, '..' or link); refusing to extract — re-create the zip "
                    "with relative paths"
                )
        for info in members:
            try:
                zf.extract(info, root)
            except ZIP_ERRORS as exc:
                raise FormatError(f"{zip_path}: member {info.filename!r} cannot be extracted "
                                  f"({_why(exc)}); re-create the zip (plain deflate, no "
                                  "password)") from None
            if not info.is_dir():
                out.append(root / info.filename)
    if not out:
        raise FormatError(f"{zip_path}: the zip archive is empty")
    return out


@contextlib.contextmanager
def opened(path: Path, suffixes: tuple[str, ...], what: str) -> Iterator[Path]:
    """Yield ``path`` itself, or for a ``.zip`` the single member with one of ``suffixes``.

    The zip is extracted (safely) into a temporary folder removed on exit.
    """
    if path.suffix.lower() != ".zip":
        yield path
        return
    tmp = Path(tempfile.mkdtemp(prefix="phusong-zip-"))
    try:
        files = safe_extract(path, tmp)
        hits = [f for f in files if f.suffix.lower() in suffixes and not f.name.startswith(".")]
        hits = [f for f in hits if "__MACOSX" not in f.parts]
        if not hits:
            raise FormatError(
                f"{path}: the zip holds no {what} file ({', '.join(suffixes)}); found "
                f"{[f.name for f in files][:6]}"
            )
        if len(hits) > 1:
            raise FormatError(
                f"{path}: the zip holds {len(hits)} {what} files {[f.name for f in hits][:6]}; "
                "zip one layer per file"
            )
        yield hits[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_table(path: str | Path, what: str = "table") -> tuple[pd.DataFrame, str]:
    """Read a CSV (any of UTF-8, Windows-1258, TCVN3) or an Excel sheet as strings.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.txt``/``.tsv`` or ``.xlsx``/``.xlsm`` (first sheet).
    what : str
        Kind of table for messages (``"sites"``…).

    Returns
    -------
    (DataFrame, str)
        All cells as text (``None`` when empty), and the encoding detected (``"xlsx"`` for
        Excel).
    """
    p = require_file(path, what)
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            df = pd.read_excel(p, sheet_name=0, dtype=str, engine="openpyxl")
        except (*ZIP_ERRORS, KeyError, SyntaxError, TypeError) as exc:
            # openpyxl on a corrupt part: xml ParseError (a SyntaxError), or TypeError from its
            # typed descriptors on a bad attribute (both found by fuzzing)
            raise FormatError(f"{p}: not a readable Excel workbook ({_why(exc)}); open and "
                              "save it again in Excel, or export CSV") from None
        encoding = "xlsx"
    elif suffix == ".xls":
        raise FormatError(f"{p}: old Excel .xls is not supported; save it as .xlsx or CSV")
    elif suffix in (".csv", ".txt", ".tsv"):
        raw = p.read_bytes()
        if raw[:4] == b"PK\x03\x04":
            raise FormatError(f"{p}: this is a zip/Excel file with a .csv name; rename it .xlsx")
        try:
            text, encoding = decode_text(raw)
        except UnicodeError as exc:
            raise FormatError(f"{p}: {exc}; save it as UTF-8 CSV") from None
        sep = "\t" if suffix == ".tsv" else None
        try:
            df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, engine="python",
                             skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, csv_error()) as exc:
            raise FormatError(f"{p}: not a readable CSV table ({exc})") from None
    else:
        raise FormatError(
            f"{p}: unsupported {what} format {suffix!r}; use CSV (UTF-8) or XLSX"
        )
    df.columns = [str(c).strip() for c in df.columns]
    df = df.dropna(how="all")
    if df.empty:
        raise FormatError(f"{p}: the {what} table has no data rows")
    df = df.astype(object).where(df.notna(), None)
    return df.reset_index(drop=True), encoding


def csv_error() -> type[Exception]:
    """The csv module's error class (pandas' python engine may raise it)."""
    import csv

    return csv.Error


@dataclass
class Imported:
    """A layer read from a user's file, with what the reader did to it.

    Attributes
    ----------
    data : DataFrame, GeoDataFrame or Raster
        The layer, in the bundle's schema (vector layers in EPSG:4326).
    source : str
        File name it came from.
    notes : list of str
        Decisions worth recording in the layer's provenance (defaults applied, encoding
        detected, rows dropped, CRS reprojected).
    """

    data: Any
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def note(self) -> str:
        """The notes joined into one provenance line."""
        return "; ".join(self.notes)
