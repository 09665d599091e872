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
runs the ordinary way (the same results, 0.2 s slower); ``tests/test_site_imports.py`` fails
then, so the regression is seen.
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


def setup_numba() -> None:
    """Install numba's CPU target registries now, importing ``scipy.linalg.cython_blas`` alone.

    A no-op when numba's set-up has run already or ``scipy.linalg`` is imported (nothing to
    save then). Call it before the first compiled kernel of a process that does not need
    ``scipy.linalg`` otherwise.
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
