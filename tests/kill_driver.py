"""Run the phusong CLI and SIGKILL it at the k-th file-system change under a folder.

Usage: ``python tests/kill_driver.py K WATCH COUNT_FILE -- CLI ARGS…`` (one run), or
``python tests/kill_driver.py --serve`` (many runs, see below).

Every call that creates, writes, renames or removes something under ``WATCH`` (``open`` for
writing, ``os.replace``/``rename``/``mkdir``/``rmdir``/``unlink``, ``shutil.rmtree``,
``tempfile.mkdtemp``/``mkstemp``, the atomic folder exchange of :mod:`phusong.atomic`) is an
event (with ``KILL_DRIVER_NO_EXCHANGE`` set the exchange is reported unavailable, so the
two-rename path of other systems runs) — except the removal or restoring of what killed runs
left (hidden siblings named for another pid: :func:`phusong.atomic.recover`), so that event
``K`` is the same moment of the run's own writing whether or not an earlier kill left
something to clean; just before event ``K`` (1-based) the process
sends itself SIGKILL — no ``finally`` block, no ``atexit``, like ``kill -9`` or a power cut. With
``K`` = 0 nothing is killed and the events (``[kind, path, target]``) are written to
``COUNT_FILE`` as JSON at exit; with ``K`` > 0 the event killed before is written there (the
file must be outside ``WATCH``).

``--serve``: a fork server, so that a test's dozens of runs do not each pay Python's and the
CLI's start-up (imports: seconds a run). It reads one job a line on stdin (JSON: ``k``,
``watch``, ``count_file``, ``args``, ``exchange``, ``stderr``) and for each forks a child process
that does exactly what one run above does — its own pid, the CLI called from scratch, its own
SIGKILL at event ``k`` — with its stdout discarded and its stderr written to the file
``stderr``; it waits for the child and answers one JSON line ``{"returncode": …}`` on stdout
(minus the signal number when killed, as :mod:`subprocess` reports it). The server itself
writes nothing under any watched folder and never runs a command: it imports the package's
modules at its start and then those its children imported (so the next child finds them
loaded) and forks, with no other thread.
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
import threading
from pathlib import Path

from phusong.atomic import _HIDDEN

K = 0
WATCH = ""
COUNT_FILE = ""
_real_open = open
_n = 0
_log: list = []


def _under(path) -> bool:
    try:
        p = os.path.realpath(os.fspath(path))
    except TypeError:
        return False
    return p == WATCH or p.startswith(WATCH + os.sep)


def _leftover(path) -> bool:
    """Whether ``path`` is a hidden sibling made by another (killed) process: removing or
    restoring those is the run's recovery, not its own writing (see :func:`_event`)."""
    m = _HIDDEN.match(os.path.basename(os.fspath(path)))
    return m is not None and int(m["pid"]) != os.getpid()


def _event(kind: str, path, target=None) -> None:
    global _n
    if not _under(path) or _leftover(path):
        return
    _n += 1
    event = [kind, os.path.realpath(os.fspath(path)),
             None if target is None else os.path.realpath(os.fspath(target))]
    if _n == K:  # the event the run is killed before, for the test to check the moment
        with _real_open(COUNT_FILE, "w", encoding="utf-8") as f:
            f.write(json.dumps(event))
        os.kill(os.getpid(), signal.SIGKILL)
    if K == 0:
        _log.append(event)


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


def _run(k: int, watch: str, count_file: str, args: list) -> None:
    """One run: wrap, call the CLI, kill at event ``k`` (0: none, write the events)."""
    global K, WATCH, COUNT_FILE
    K, WATCH, COUNT_FILE = k, os.path.realpath(watch), count_file
    _install()
    from phusong.cli import main

    try:
        main(args, standalone_mode=False)
    finally:
        if K == 0:
            Path(count_file).write_text(json.dumps(_log))


def _child(job: dict) -> None:
    """In the forked child: the run of ``job``, with the process's stdout and stderr redirected
    to /dev/null and ``job["stderr"]``; ends the process as a script's run would end."""
    out = os.open(os.devnull, os.O_WRONLY)
    err = os.open(job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)
    sys.stdin = open(os.devnull, encoding="utf-8")  # the jobs pipe is the server's
    if not job.get("exchange", True):
        os.environ["KILL_DRIVER_NO_EXCHANGE"] = "1"
    signal.alarm(600)  # a hung run ends (SIGALRM: the test sees returncode -14)
    _run(job["k"], job["watch"], job["count_file"], job["args"])
    # returning ends the process as any script ends (an exception: traceback and exit 1)


def _write_modules(path: str) -> None:
    """At a child's normal exit: the names of the modules it imported, for the server."""
    Path(path).write_text("\n".join(sorted(sys.modules)), encoding="utf-8")


def _serve() -> bool:
    """The fork server's loop; True in a forked child, which then finishes its run."""
    import importlib
    import pkgutil

    import phusong

    for m in pkgutil.walk_packages(phusong.__path__, "phusong."):  # the CLI and all it may
        importlib.import_module(m.name)  # import, once (while the test prepares its inputs)

    reply = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # nothing else may write on the replies
    for line in sys.stdin:
        job = json.loads(line)
        modules_file = job["stderr"] + ".modules"
        if threading.active_count() != 1:  # forking a process with threads is not a copy
            raise RuntimeError(f"kill_driver --serve: {threading.enumerate()} before a fork")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            import atexit

            atexit.register(_write_modules, modules_file)
            _child(job)
            return True
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        reply.write(json.dumps({"returncode": code}) + "\n")
        reply.flush()
        if os.path.exists(modules_file):  # a run that ended: load what it used, for the next
            for name in Path(modules_file).read_text(encoding="utf-8").split():
                if name not in sys.modules and not name.startswith("__"):
                    try:
                        importlib.import_module(name)
                    except Exception:  # a module that cannot be imported alone
                        continue
            os.unlink(modules_file)
    return False


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        _serve()
    else:
        _run(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[sys.argv.index("--") + 1:])
