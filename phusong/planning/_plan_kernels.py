"""A plan's time limit and numba's cache: compiled kernels, or compiling them within the limit.

The engine's kernels compile on their first call (numba ``cache=True``): on a cold cache (a
first run after an install or upgrade, or a new ``NUMBA_CACHE_DIR``) the villages' scoring
compiles ITM's for ≈ 45 CPU-s, and a compilation cannot be cut: a plan given 20 s took 421 s
(district twin, load 13). Under a time limit the plan therefore asks, before the engine's first
call (:func:`ensure_kernels`, called by :mod:`phusong.planning._plan_deps`), whether the kernels
of its model are in the cache for this machine (:func:`kernels_ready`: the list of kernels and
argument types a warm-up used, :func:`record_kernels`, each looked up in numba's own cache
index with the key numba would compute now: signature, CPU and LLVM target, bytecode, source
stamp, numba version). When they are not, it compiles them in a child process
(``python -m phusong.planning._plan_kernels MODEL``: the plan's point path on a synthetic DEM)
that is killed at the plan's deadline (its limit less the reserve it keeps for the steps it
cannot cut); the plan then stops with :class:`KernelsNotCompiled`, one
line, CLI exit code 2, naming ``python -m phusong.coverage._warm``. numba writes each kernel to
its cache as soon as it is compiled (atomically), so what a killed child compiled stays compiled.
A child that ends in time leaves the cache warm; its seconds are the plan's
(``time_limit.fixed_s`` :data:`CHILD_STEP`). Without a limit nothing here runs. With a dask
executor the check and the child are this machine's (a local cluster shares its cache; the
workers of a remote one compile in their own, which this does not see).
"""

from __future__ import annotations

import contextvars
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
#: The antenna pattern of the warm-up's sectored cell (parametric, no file: the twin's).
PATTERN = "3gpp-65"
#: The whole ``python -m phusong.coverage._warm`` on a cold cache, CPU-s (same machine: 121
#: CPU-s, 328 s wall at load 5-7).
WARM_ALL_CPU_S = 120.0


def _manifest_dir() -> Path:
    """numba's cache folder for the engine's kernels (``__pycache__`` beside the sources, or
    under ``NUMBA_CACHE_DIR``): the manifests live beside numba's index files."""
    from phusong.coverage._path_kernels import sample_paths

    return Path(sample_paths._cache.cache_path)


def _manifest(key: str, folder: Path | None) -> Path:
    return (folder or _manifest_dir()) / f"phusong-kernels-{key}.json"


def _cached_dispatchers():
    """Every ``cache=True`` numba dispatcher of phusong's imported modules with an overload
    (compiled or loaded from the cache in this process)."""
    from numba.core.caching import FunctionCache
    from numba.core.dispatcher import Dispatcher

    seen = {}
    for name, mod in list(sys.modules.items()):
        if not name.startswith("phusong.") or mod is None:
            continue
        for obj in list(vars(mod).values()):
            if (isinstance(obj, Dispatcher) and isinstance(getattr(obj, "_cache", None),
                                                           FunctionCache) and obj.overloads):
                f = obj.py_func
                seen[(f.__module__, f.__qualname__)] = obj
    return seen


def record_kernels(key: str, folder: Path | None = None) -> Path | None:
    """Write the manifest ``key`` (a model, or ``"all"``): every cached kernel this process
    compiled or loaded, with its argument types. Atomic; returns its path, or None (nothing
    written) when this process ran no cached kernel."""
    from phusong.atomic import atomic_path

    entries = sorted([mod, qual, str(tuple(sig))] for (mod, qual), d in
                     _cached_dispatchers().items() for sig in d.overloads)
    if not entries:
        return None
    path = _manifest(key, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"kernels": entries}, indent=1), encoding="utf-8")
    return path


def _in_cache(module: str, qualname: str, sig: str) -> bool:
    """Whether numba's cache index holds ``module.qualname`` for ``sig`` under the key numba
    would look up now (this CPU and LLVM target, this bytecode, this source file's stamp and
    numba's version), with its data file present."""
    from numba.core.caching import FunctionCache

    try:
        d = getattr(importlib.import_module(module), qualname)
    except (ImportError, AttributeError):
        return False  # a kernel renamed or removed since the manifest: not known compiled
    cache = getattr(d, "_cache", None)
    if not isinstance(cache, FunctionCache):
        return False
    _, magic, code = cache._index_key((), d.targetctx.codegen())
    files = cache._cache_file
    for k, name in files._load_index().items():  # {} when stale (source stamp, numba)
        if str(k[0]) == sig and k[1] == magic and k[2] == code \
                and os.path.exists(files._data_path(name)):
            return True
    return False


def kernels_ready(model: str, folder: Path | None = None) -> bool:
    """Whether every kernel of a warm-up of ``model`` (its own manifest, or the whole
    ``_warm``'s) is in numba's cache for this machine and these sources; False when no
    manifest exists (never warmed here, or another cache folder)."""
    for key in (model, "all"):
        try:
            doc = json.loads(_manifest(key, folder).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        kernels = doc.get("kernels") or []
        if kernels and all(_in_cache(*e) for e in kernels):
            return True
    return False


def warm_point_path(model: str) -> None:
    """The plan's point path for ``model`` (one site with an omni cell and a cell with an
    antenna pattern, one village, one thread: the kernels
    :func:`phusong.coverage.score_villages` and :func:`~phusong.coverage.coverage_matrix`
    call, the pattern's too: a plan on the twin compiled it for 3.9 s after a warm-up
    without it) on the warm-up's synthetic DEM."""
    import numpy as np
    import pandas as pd

    from phusong.config import DEFAULT_SETTINGS
    from phusong.coverage._engine import EngineOptions
    from phusong.coverage._score import score_points
    from phusong.coverage._warm import _synthetic_terrain
    from phusong.coverage.msi import antenna_by_name

    terrain = _synthetic_terrain()
    x0, y0 = terrain.x0_m, terrain.y0_m
    tx = pd.DataFrame({"site_id": ["a", "a"], "cell_id": ["a1", "a2"],
                       "operator": ["Viettel", "Viettel"], "tech": ["4G", "4G"],
                       "freq_mhz": [1800.0, 1800.0], "eirp_dbm": [60.0, 60.0],
                       "x_m": [x0 + 2000] * 2, "y_m": [y0 - 2000] * 2, "height_m": [30.0] * 2,
                       "radius_m": [3000.0] * 2, "azimuth_deg": [np.nan, 120.0],
                       "tilt_deg": [np.nan, 4.0], "ground_m": [np.nan] * 2,
                       "antenna": ["", PATTERN], "etilt_deg": [np.nan, np.nan]})
    tx.attrs["antennas"] = {PATTERN: antenna_by_name(PATTERN, None)}
    opts = EngineOptions.of(DEFAULT_SETTINGS, model=model, diffraction="bullington",
                            threads=1).check()
    score_points(tx, np.array([x0 + 3000.0]), np.array([y0 - 3000.0]), terrain, opts=opts)


def compile_in_child(model: str, end: float, limit_s: float) -> float:
    """Compile ``model``'s kernels in a child process killed at ``end``
    (``time.perf_counter()``); its seconds. Raises :class:`KernelsNotCompiled` when the
    limit ends first, ``RuntimeError`` (with the child's error) when it fails."""
    t = time.perf_counter()
    root = str(Path(__file__).resolve().parents[2])  # the phusong this process runs
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.Popen([sys.executable, "-m", "phusong.planning._plan_kernels", model],
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


if __name__ == "__main__":  # the child of compile_in_child
    _t = time.perf_counter()
    warm_point_path(sys.argv[1])
    engine_ran(sys.argv[1])
    print(f"{sys.argv[1]} kernels compiled or loaded in {time.perf_counter() - _t:.1f} s")
