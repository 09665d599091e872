"""Atomic writes: write to a temporary sibling, then rename into place (DESIGN §7).

Nothing half-written is ever left behind: on any error the temporary file or folder is removed
and the target is untouched.

Examples
--------
>>> import tempfile, pathlib
>>> from phusong.atomic import atomic_path
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_path(d / "a.txt") as tmp:
...     _ = tmp.write_text("ok")
>>> (d / "a.txt").read_text()
'ok'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from phusong.errors import OutputError

__all__ = ["atomic_path", "atomic_dir", "check_writable"]


def check_writable(target: str | Path, *, overwrite: bool = False) -> Path:
    """Return ``target`` as a Path if it may be written, else raise :class:`OutputError`.

    Refuses an existing target unless ``overwrite``; refuses a parent folder that does not exist
    or is not writable.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists; pass --overwrite or choose another path")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{parent}: cannot create the output folder ({exc.strerror})") from None
    if not parent.is_dir():
        raise OutputError(f"{parent}: cannot create the output folder (a file is in the way)")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: output folder is not writable; choose another --out")
    return target


@contextlib.contextmanager
def atomic_path(target: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary file path beside ``target``; rename it to ``target`` on success.

    Parameters
    ----------
    target : str or Path
        Final file path.
    overwrite : bool
        Replace an existing ``target`` (default True); if False an existing one is refused.
    """
    target = check_writable(target, overwrite=overwrite)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target.parent}: cannot write there ({exc.strerror})") from None
    os.close(fd)
    os.unlink(tmp)  # writers such as GDAL want to create the file themselves
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; move it to ``target`` on success.

    With ``overwrite`` an existing ``target`` folder is replaced only after the new one is
    complete.
    """
    target = check_writable(target, overwrite=overwrite)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"{target.parent}: cannot write there ({exc.strerror})") from None
    try:
        yield tmp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.rmdir(old)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
