"""A plan's time limit and numba's cache: compiled kernels, or compiling them within the limit.

The engine's kernels compile on their first call (numba ``cache=True``): on a cold cache (a
first run after an install or upgrade, or a new ``NUMBA_CACHE_DIR``) the villages' scoring
compiles ITM's for ≈ 45 CPU-s, and a compilation cannot be cut: a plan given 20 s took 421 s
(district twin, load 13). Under a time limit the plan therefore asks, before the engine's first
call (:func:`ensure_kernels`, called by :mod:`phusong.planning._plan_deps`), whether the kernels
of its model are in the cache for this machine (:func:`~phusong.coverage._kernel_cache.
kernels_ready`: the list of kernels and argument types a warm-up used, each looked up in numba's
own cache index with the key numba would compute now). When they are not, it compiles them in a child process
(``python -m phusong.coverage._warm --point MODEL``: the plan's point path on a synthetic DEM)
that is killed at the plan's deadline (its limit less the reserve it keeps for the steps it
cannot cut); the plan then stops with :class:`KernelsNotCompiled`, one
line, CLI exit code 2, naming ``python -m phusong.coverage._warm``. numba writes each kernel to
its cache as soon as it is compiled (atomically), so what a killed child compiled stays compiled.
A child that ends in time leaves the cache warm; its seconds are the plan's
(``time_limit.fixed_s`` :data:`CHILD_STEP`). Without a limit nothing is checked or compiled
here; an engine run in this process only records its kernels (:func:`engine_ran`). With a dask
executor the check and the child are this machine's (a local cluster shares its cache; the
workers of a remote one compile in their own, which this does not see).
"""

from __future__ import annotations

import contextvars
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from phusong.coverage._kernel_cache import kernels_ready, record_kernels
from phusong.coverage._warm import warm_point_path
from phusong.errors import KernelsNotCompiled

__all__ = ["KernelsNotCompiled", "kernels_ready", "record_kernels", "ensure_kernels",
           "engine_ran", "warm_here", "warm_point_path", "kernel_guard", "compile_in_child",
           "CHILD_STEP", "COLD_COMPILE_CPU_S", "WARM_ALL_CPU_S"]

#: ``time_limit.fixed_s`` key of the seconds a child process compiled the kernels in.
CHILD_STEP = "kernel compilation (numba, child process)"

#: CPU seconds a cold cache takes to compile the plan's kernels (the point path, one thread),
#: measured with ``NUMBA_CACHE_DIR`` an empty folder (2-core machine, load 2.6): ITM 45 CPU-s
#: (83 s wall); the whole warm-up, every model and both paths (``_warm``), in the message.
COLD_COMPILE_CPU_S = {"itm": 45.0}
#: The whole ``python -m phusong.coverage._warm`` on a cold cache, CPU-s (same machine: 121
#: CPU-s, 328 s wall at load 5-7).
WARM_ALL_CPU_S = 120.0


def compile_in_child(model: str, end: float, limit_s: float) -> float:
    """Compile ``model``'s kernels in a child process killed at ``end``
    (``time.perf_counter()``); its seconds. Raises :class:`KernelsNotCompiled` when the
    limit ends first, ``RuntimeError`` (with the child's error) when it fails."""
    t = time.perf_counter()
    root = str(Path(__file__).resolve().parents[2])  # the phusong this process runs
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.Popen([sys.executable, "-m", "phusong.coverage._warm", "--point", model],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=max(0.0, end - t))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the child's own session: only it
        proc.communicate()
        spent = time.perf_counter() - t
        cpu = COLD_COMPILE_CPU_S.get(model)
        raise KernelsNotCompiled(
            f"kernels not compiled yet: numba's cache shows no compiled {model} kernels for "
            "this machine and these sources (a first run after an install or upgrade), and "
            f"compiling them{f' (≈ {cpu:.0f} CPU-s)' if cpu else ''} did not end in the "
            f"{spent:.1f} s the plan's time_limit_s = {limit_s:g} s left (what was compiled is "
            f"kept); run `python -m phusong.coverage._warm` once (≈ {WARM_ALL_CPU_S:.0f} "
            "CPU-s), or raise the scenario's time_limit_s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"compiling the {model} kernels in a child process failed "
                           f"(exit {proc.returncode}): {err.strip()[-2000:]}")
    return time.perf_counter() - t


@dataclass
class _Guard:
    end: float
    limit_s: float
    child_s: float = 0.0
    #: The ``time.perf_counter()`` a child must end by, asked when it starts: the plan's
    #: deadline (its limit less the reserve it keeps for the steps it cannot cut) once the
    #: plan set it, else the limit's end.
    deadline: Callable[[], float] | None = None


_GUARD: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar("phusong_kernel_guard",
                                                                       default=None)
#: Models whose kernels this process found in the cache or compiled in a child, and models
#: whose manifest this process checked after running the engine (:func:`engine_ran`).
_READY: set = set()
_RECORDED: set = set()


@contextmanager
def kernel_guard(t0: float, limit_s: float | None):
    """Under a plan's limit (``limit_s`` seconds from ``t0``, ``time.perf_counter()``),
    :func:`ensure_kernels` checks the kernels before the engine's first call; yields the guard
    (``child_s``: the seconds a child compiled), or None without a limit (nothing checked)."""
    if limit_s is None:
        yield None
        return
    g = _Guard(t0 + float(limit_s), float(limit_s))
    token = _GUARD.set(g)
    try:
        yield g
    finally:
        _GUARD.reset(token)


def engine_ran(model: str) -> None:
    """After the engine's call for ``model`` in this process (:mod:`~phusong.planning.
    _plan_deps`), once per process: write the manifest of the kernels it compiled or loaded
    when the cache's manifests do not already show them compiled, so a later plan under a
    limit finds them without a child. A folder numba cannot write either leaves no manifest
    (a later limited plan then asks a child, which finds the kernels compiled)."""
    if model in _RECORDED:
        return
    _RECORDED.add(model)
    if kernels_ready(model):
        _READY.add(model)
        return
    try:
        record_kernels(model)
    except OSError:
        return
    _READY.add(model)


def warm_here(model: str) -> None:
    """Compile (or load) ``model``'s kernels in this process and record them
    (:func:`warm_point_path`, :func:`engine_ran`): a plan under a limit then starts no child."""
    warm_point_path(model)
    _RECORDED.discard(model)
    engine_ran(model)


def ensure_kernels(model: str) -> None:
    """Before the engine's call under a plan's limit (:func:`kernel_guard`): return at once when
    ``model``'s kernels are in the cache (checked once per process), else compile them in a
    child killed at the plan's deadline (:func:`compile_in_child`). No guard: nothing."""
    g = _GUARD.get()
    if g is None or model in _READY:
        return
    if kernels_ready(model):
        _READY.add(model)
        return
    g.child_s += compile_in_child(model, min(g.end, g.deadline()) if g.deadline else g.end,
                                  g.limit_s)
    _READY.add(model)
