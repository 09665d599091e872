"""numba's one-time set-up of its CPU target, without importing all of ``scipy.linalg``.

The first compiled kernel a process calls, even from numba's cache, makes numba install every
implementation registry of its CPU target (``BaseContext.refresh``). One of them,
``numba.np.arraymath``, checks at import that BLAS is available by importing
``scipy.linalg.cython_blas``, and importing that submodule runs the whole ``scipy.linalg``
package: ≈ 0.17–0.2 CPU-s on this machine (scipy's vendored array-API layer touches every
attribute of numpy, which imports ``numpy.f2py`` and ``numpy.testing``), more than 10 % of a
whole ``phusong coverage site`` run. None of the engine's kernels calls BLAS or LAPACK.

:func:`setup_numba` runs that set-up with only the extension module
``scipy.linalg.cython_blas`` itself loaded (its own file, through the import system's
extension loader: ≈ 5 ms), then takes it out of ``sys.modules`` again: a later
``import scipy.linalg`` runs the package as usual and gets the same, already initialised,
module object (Cython modules initialise once per process), so scipy and numba's own
BLAS/LAPACK support work as before. When scipy's layout is not the expected one, the set-up
runs the ordinary way (the same results, 0.2 s slower); ``tests/test_startup.py`` fails
then, so the regression is seen.

**Cached kernels load without that set-up.** numba runs the set-up above before it loads
*any* function from its cache (``Cache.load_overload`` calls ``refresh`` first), yet loading
a cached function only links its machine code: it needs numba's runtime (NRT) and the C
symbols numba registers when the target is created, not the typing and lowering registries
of a compiler (≈ 0.12 CPU-s of imports: ``numba.np.arraymath``, ``numba.typed``, … and
≈ 0.05 CPU-s of typing-registry set-up, on each warm run). :func:`setup_numba` therefore
makes a phusong kernel's cache look-up initialise only the runtime and load the cached
machine code — the same object code as numba's own path, so the same results bit for bit.
On a miss (first run, or a kernel edited) the full set-up runs before numba compiles, as
before. Functions of other packages keep numba's own path. A kernel whose machine code
needs a symbol numba registers only with its registries would fail to link this way; the
one such symbol set is the string-hash secret (``numba.cpython.hashing``), which no phusong
kernel uses (they take numbers and arrays).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys

__all__ = ["setup_numba"]

_BLAS = "scipy.linalg.cython_blas"


def _load_cython_blas():
    """``scipy.linalg.cython_blas`` loaded without running ``scipy.linalg``; None if absent."""
    import scipy

    spec = importlib.machinery.PathFinder.find_spec(
        _BLAS, [f"{p}/linalg" for p in scipy.__path__])
    if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_BLAS] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_BLAS]
        raise
    return module


def _refresh_target() -> None:
    """Install numba's CPU target registries now, importing ``scipy.linalg.cython_blas`` alone.

    A no-op when numba's set-up has run already or ``scipy.linalg`` is imported (nothing to
    save then).
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    from numba.core.registry import cpu_target

    blas = None if _BLAS in sys.modules else _load_cython_blas()
    try:
        cpu_target.target_context.refresh()
    finally:
        if blas is not None and sys.modules.get(_BLAS) is blas and "scipy.linalg" not in \
                sys.modules:
            del sys.modules[_BLAS]


def _load_overload(self, sig, target_context):
    """``Cache.load_overload`` for phusong's kernels: the runtime, not the registries."""
    if not getattr(self._py_func, "__module__", "").startswith("phusong."):
        return _NUMBA_LOAD_OVERLOAD(self, sig, target_context)
    from numba.core import environment
    from numba.core.runtime import rtsys

    rtsys.initialize(target_context)  # the NRT functions the machine code calls
    environment._rebuild_env = _rebuild_env  # what the cache's pickles call (numba's lock held)
    try:
        with self._guard_against_spurious_io_errors():
            cres = self._load_overload(sig, target_context)
    finally:
        environment._rebuild_env = _NUMBA_REBUILD_ENV
    if cres is None:  # a miss: numba compiles next, after its full set-up
        _refresh_target()
    return cres


def _rebuild_env(modname, consts, env_name):
    """numba's ``_rebuild_env`` without importing numba's implementation modules for it.

    A cached function keeps one environment per function it inlined — ``np.empty`` and
    the like come from ``numba.np.arrayobj`` — and numba rebuilds each with its module's
    globals, importing the module (≈ 0.045 CPU-s: ``numba.np.arrayobj``, ``npyfuncs``,
    ``mathimpl`` …). Machine code compiled in nopython mode reads only an environment's
    constants; the globals serve object mode, which numba's own implementations do not use.
    So for a ``numba.*`` module not imported yet the environment gets just the module's
    name (what numba pickles it by), and its constants.
    """
    from numba.core import environment

    if modname in sys.modules or not str(modname).startswith("numba."):
        return _NUMBA_REBUILD_ENV(modname, consts, env_name)
    env = environment.lookup_environment(env_name)
    if env is None:
        env = environment.Environment({"__name__": modname})
        env.consts[:] = consts
        env.env_name = env_name
        environment.Environment._memo[env_name] = env
    return env


_NUMBA_LOAD_OVERLOAD = _NUMBA_REBUILD_ENV = None


def setup_numba() -> None:
    """Make phusong's cached kernels load without numba's compiler set-up; idempotent.

    Call it before the first compiled kernel of a process. A phusong kernel found in numba's
    cache is then loaded with only numba's runtime initialised (see the module's notes); a
    kernel that must be compiled gets numba's full set-up first, without importing the
    ``scipy.linalg`` package. Other packages' numba functions are not affected.
    """
    global _NUMBA_LOAD_OVERLOAD, _NUMBA_REBUILD_ENV
    from numba.core import environment
    from numba.core.caching import Cache

    if _NUMBA_LOAD_OVERLOAD is None and hasattr(Cache, "_guard_against_spurious_io_errors") \
            and hasattr(environment, "_rebuild_env"):
        _NUMBA_LOAD_OVERLOAD = Cache.load_overload
        _NUMBA_REBUILD_ENV = environment._rebuild_env
        Cache.load_overload = _load_overload
    elif _NUMBA_LOAD_OVERLOAD is None:  # another numba: its own path, with the set-up first
        _refresh_target()
