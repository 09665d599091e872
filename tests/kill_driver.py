"""Run the phusong CLI and SIGKILL it at the k-th file-system change under a folder.

Usage: ``python tests/kill_driver.py K WATCH COUNT_FILE -- CLI ARGS…``

Every call that creates, writes, renames or removes something under ``WATCH`` (``open`` for
writing, ``os.replace``/``rename``/``mkdir``/``rmdir``/``unlink``, ``shutil.rmtree``,
``tempfile.mkdtemp``/``mkstemp``, the atomic folder exchange of :mod:`phusong.atomic`) is an
event (with ``KILL_DRIVER_NO_EXCHANGE`` set the exchange is reported unavailable, so the
two-rename path of other systems runs); just before event ``K`` (1-based) the process
sends itself SIGKILL — no ``finally`` block, no ``atexit``, like ``kill -9`` or a power cut. With
``K`` = 0 nothing is killed and the events (``[kind, path, target]``) are written to
``COUNT_FILE`` as JSON at exit.
Used by ``tests/test_kill.py``; not part of the package.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

K = 0
WATCH = ""
_n = 0
_log: list = []


def _under(path) -> bool:
    try:
        p = os.path.realpath(os.fspath(path))
    except TypeError:
        return False
    return p == WATCH or p.startswith(WATCH + os.sep)


def _event(kind: str, path, target=None) -> None:
    global _n
    if not _under(path):
        return
    _n += 1
    if _n == K:
        os.kill(os.getpid(), signal.SIGKILL)
    if K == 0:
        _log.append([kind, os.path.realpath(os.fspath(path)),
                     None if target is None else os.path.realpath(os.fspath(target))])


def _wrap(fn, kind: str, write_only: bool = False):
    def inner(*a, **kw):
        if a and (not write_only or _writes(a, kw)):
            _event(kind, a[0], a[1] if kind in ("replace", "rename", "exchange") and len(a) > 1
                   else None)
        return fn(*a, **kw)
    return inner


def _writes(a, kw) -> bool:
    mode = a[1] if len(a) > 1 else kw.get("mode", "r")
    return isinstance(mode, str) and any(c in mode for c in "wax+")


def _mkdtemp(*a, **kw):
    out = _real_mkdtemp(*a, **kw)
    _event("mkdtemp", out)
    return out


def _mkstemp(*a, **kw):
    fd, out = _real_mkstemp(*a, **kw)
    _event("mkstemp", out)
    return fd, out


def _install() -> None:
    """Wrap the file-system calls (only when run as a script: pytest imports this module)."""
    global _real_mkdtemp, _real_mkstemp
    builtins.open = io.open = _wrap(io.open, "open", write_only=True)
    for name in ("replace", "rename", "mkdir", "rmdir", "unlink", "remove"):
        setattr(os, name, _wrap(getattr(os, name), name))
    shutil.rmtree = _wrap(shutil.rmtree, "rmtree")
    _real_mkdtemp, _real_mkstemp = tempfile.mkdtemp, tempfile.mkstemp
    tempfile.mkdtemp, tempfile.mkstemp = _mkdtemp, _mkstemp
    import phusong.atomic as atomic

    if os.environ.get("KILL_DRIVER_NO_EXCHANGE"):  # the two-rename path of other systems
        atomic._exchange = lambda a, b: False
    atomic._exchange = _wrap(atomic._exchange, "exchange")


if __name__ == "__main__":
    K = int(sys.argv[1])
    WATCH = os.path.realpath(sys.argv[2])
    count_file = sys.argv[3]
    args = sys.argv[sys.argv.index("--") + 1:]
    _install()
    from phusong.cli import main

    try:
        main(args, standalone_mode=False)
    finally:
        if K == 0:
            Path(count_file).write_text(json.dumps(_log))
