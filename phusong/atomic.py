"""Atomic writes: write to a temporary sibling, then move it into place in one step (DESIGN §7).

Nothing half-written is ever left behind: on any error the temporary file or folder is removed
and the target is untouched.

Folders are replaced by one atomic exchange on Linux (``renameat2(RENAME_EXCHANGE)``): the new
folder and the old output swap names, then the old one (now under the hidden temporary name) is
removed. A kill at any moment therefore leaves the old output or the new one at the target,
never neither. Where the exchange is not available (another OS, a file system that refuses it)
the old output is renamed aside to ``.NAME.old.PID.*`` and the new one renamed into place; a
kill between the two renames leaves the old output only in that hidden folder.

Recovery: every hidden sibling is named ``.NAME.tmp.PID.*`` or ``.NAME.old.PID.*`` after the
process that made it. The next write of the same output (and :func:`recover`) restores a
``.NAME.old.*`` folder whose process is dead when ``NAME`` itself is missing, and removes the
other leftovers of dead processes (temporary files and folders of killed runs). Leftovers of a
process still alive are never touched. The check is by pid on this machine: do not write one
output from two machines at once (on a shared file system one could remove the other's
temporary folder).

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
import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from phusong.errors import OutputError

__all__ = ["atomic_path", "atomic_dir", "atomic_files", "scratch_dir", "check_writable",
           "recover", "exchange_supported"]

#: Hidden siblings of an output ``NAME``: ``.NAME.tmp.PID.*`` (being written), ``.NAME.old.PID.*``
#: (the previous output moved aside), ``.NAME.commit.PID`` (a pair of files being committed).
_HIDDEN = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old|commit)\.(?P<pid>\d+)(?:\..*)?$")
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_renameat2 = None


def _load_renameat2():
    """libc's ``renameat2`` (glibc ≥ 2.28), or None on other systems."""
    global _renameat2
    if _renameat2 is None:
        fn = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
                fn = libc.renameat2
                fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                               ctypes.c_uint]
                fn.restype = ctypes.c_int
            except (OSError, AttributeError):
                fn = False
        _renameat2 = fn
    return _renameat2 or None


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` in one atomic step; False when the system cannot."""
    fn = _load_renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False  # file system or kernel without the exchange: the caller falls back
    raise OSError(err, os.strerror(err), str(b))


def exchange_supported(folder: str | Path) -> bool:
    """Whether ``folder``'s file system swaps two names atomically (probed with two empty
    folders, removed afterwards)."""
    folder = Path(folder)
    a = Path(tempfile.mkdtemp(prefix=f".probe.tmp.{os.getpid()}.", dir=folder))
    b = Path(tempfile.mkdtemp(prefix=f".probe.tmp.{os.getpid()}.", dir=folder))
    try:
        return _exchange(a, b)
    finally:
        os.rmdir(a)
        os.rmdir(b)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a pid reused by another process counts as alive: its
    leftovers are kept, never removed by mistake)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _stale(target: Path) -> dict[str, list[Path]]:
    """Hidden siblings of ``target`` left by dead processes, by kind (oldest first)."""
    out: dict[str, list[Path]] = {"tmp": [], "old": [], "commit": []}
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return out
    for p in entries:
        m = _HIDDEN.match(p.name)
        if m and m["name"] == target.name and not _alive(int(m["pid"])):
            out[m["kind"]].append(p)
    for v in out.values():
        v.sort(key=lambda q: (q.lstat().st_mtime_ns, q.name))
    return out


def recover(target: str | Path) -> list[str]:
    """Repair what killed writers of ``target`` left, and say what was done.

    In this order: a committed pair of files (:func:`atomic_files`) is finished; a previous
    output moved aside is moved back when ``target`` is missing; every other hidden leftover of
    a dead process is removed. Called by every atomic writer before it writes ``target``.

    Returns
    -------
    list of str
        One line per repair (empty when there was nothing to do).
    """
    target = Path(target)
    done: list[str] = []
    stale = _stale(target)
    for journal in stale["commit"]:
        for line in journal.read_text(encoding="utf-8").splitlines():
            tmp_name, _, final_name = line.partition("\t")
            tmp, final = target.parent / tmp_name, target.parent / final_name
            if tmp_name and final_name and tmp.exists():
                os.replace(tmp, final)
                done.append(f"{final}: finished an interrupted commit")
        journal.unlink()
    stale = _stale(target)
    if stale["old"] and not os.path.lexists(target):
        keep = stale["old"].pop()
        os.replace(keep, target)
        done.append(f"{target}: restored the previous output from {keep.name}")
    for p in stale["tmp"] + stale["old"]:
        _remove(p)
        done.append(f"{p}: removed a leftover of a killed run")
    return done


def _hidden(target: Path, kind: str, *, folder: bool, suffix: str = "") -> Path:
    prefix = f".{target.name}.{kind}.{os.getpid()}."
    try:
        if folder:
            return Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target.parent}: cannot write there ({exc.strerror})") from None
    os.close(fd)
    os.unlink(tmp)  # writers such as GDAL want to create the file themselves
    return Path(tmp)


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
    recover(target)
    tmp_path = _hidden(target, "tmp", folder=False, suffix=target.suffix)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if os.path.lexists(tmp_path):
            _remove(tmp_path)


@contextlib.contextmanager
def scratch_dir(target: str | Path) -> Iterator[Path]:
    """Yield a hidden working folder beside ``target``, removed at the end (and, after a kill,
    by the next write of ``target``)."""
    target = Path(target)
    recover(target)
    tmp = _hidden(target, "tmp", folder=True)
    try:
        yield tmp
    finally:
        _remove(tmp)


@contextlib.contextmanager
def atomic_files(targets: Sequence[str | Path], *, overwrite: bool = True) -> Iterator[list[Path]]:
    """Yield temporary paths for several files of one folder; commit them all or none.

    The commit point is one atomic rename of a journal ``.FIRST.commit.PID`` listing the
    temporary → final names; the files are then renamed in turn and the journal removed. A kill
    before the journal exists leaves the previous files (the temporaries are removed by the
    next write); a kill after it leaves the journal, and the next write of these outputs
    (:func:`recover`) finishes the renames, so the pair is always the old one or the new one
    once a writer has run. POSIX has no rename of several names at once: a reader looking in
    between a kill and the next write may see one new file beside an old one.

    Parameters
    ----------
    targets : sequence of str or Path
        Final file paths, all in the same folder; the first names the journal.
    overwrite : bool
        Replace existing files (default True).
    """
    paths = [check_writable(t, overwrite=overwrite) for t in targets]
    if len({p.parent.resolve() for p in paths}) != 1:
        raise OutputError(f"{paths[0]}: files committed together must share one folder")
    for p in paths:
        recover(p)
    tmps = [_hidden(p, "tmp", folder=False, suffix=p.suffix) for p in paths]
    journal = paths[0].parent / f".{paths[0].name}.commit.{os.getpid()}"
    try:
        yield tmps
        tmps.append(_hidden(paths[0], "tmp", folder=False, suffix=".journal"))
        tmps[-1].write_text("".join(f"{t.name}\t{p.name}\n"
                                    for t, p in zip(tmps, paths, strict=False)), encoding="utf-8")
        os.replace(tmps.pop(), journal)  # the commit point
        for t, p in zip(tmps, paths, strict=True):
            os.replace(t, p)
        journal.unlink()
    finally:
        for t in tmps:
            if os.path.lexists(t):
                _remove(t)


@contextlib.contextmanager
def atomic_dir(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; move it to ``target`` on success.

    With ``overwrite`` an existing ``target`` folder is replaced only after the new one is
    complete, by an atomic exchange where the system has one (see the module notes).
    """
    target = check_writable(target, overwrite=overwrite)
    recover(target)
    tmp = _hidden(target, "tmp", folder=True)
    try:
        yield tmp
        if not os.path.lexists(target):
            os.replace(tmp, target)
        elif _exchange(tmp, target):
            _remove(tmp)  # now the previous output, under the hidden name
        else:
            old = _hidden(target, "old", folder=True)
            os.rmdir(old)
            os.replace(target, old)
            os.replace(tmp, target)
            _remove(old)
    finally:
        if os.path.lexists(tmp):
            _remove(tmp)
