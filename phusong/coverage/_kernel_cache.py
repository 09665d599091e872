"""The list of compiled kernels beside numba's cache, and whether numba's cache holds them now.

A warm-up (``python -m phusong.coverage._warm``) or an engine run records the ``cache=True``
kernels it compiled or loaded, with their argument types, in a manifest
``phusong-kernels-<key>.json`` beside numba's index files (:func:`record_kernels`).
:func:`kernels_ready` looks each of them up in numba's own cache index with the key numba
would compute now (signature, CPU and LLVM target, bytecode, source stamp, numba version): a
plan under a time limit (:mod:`phusong.planning._plan_kernels`) asks it before its first
scoring, so that it never compiles unbounded inside its limit.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

__all__ = ["record_kernels", "kernels_ready"]


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
