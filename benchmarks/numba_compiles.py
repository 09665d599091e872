"""pytest plugin: which test made numba compile which kernel (a compile, not a load from
numba's cache: that fires no event), and how many CPU-seconds it took — to find a suite's time lost to compiles no user would pay.

A kernel compiles once per argument *type*: a read-only array (what
``np.ascontiguousarray(np.broadcast_to(a, (n,)))`` returns for an ``a`` already of shape
``(n,)``) is another type than a writable one, so the same call with a scalar or with an array
compiles the kernel anew (seconds for a parallel kernel on a fresh cache, as CI's is).

Use it from the repository root, on a copy of the cache the install step made (CI's state)::

    cp -a "$WARM_CACHE" /tmp/nc && NUMBA_CACHE_DIR=/tmp/nc PYTHONPATH=benchmarks \\
      NUMBA_COMPILES_OUT=/tmp/compiles.json python -m pytest -q -p numba_compiles tests/...

where ``$WARM_CACHE`` was filled by ``NUMBA_CACHE_DIR=$WARM_CACHE python -m
phusong.coverage._warm``. It writes JSON: ``records`` (one per top-level compile: test,
kernel, argument types, wall and CPU seconds) and ``misses`` (per kernel, the
signatures compiled rather than loaded from the cache). Not a test; not run by ``make bench``.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time

import pytest

_current = {"test": "<collection>"}
_records: list[dict] = []


def _name(dispatcher) -> str:
    fn = getattr(dispatcher, "py_func", None)
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"


def pytest_configure(config):
    from numba.core import event

    class _Listener(event.Listener):
        def __init__(self):
            self.local = threading.local()

        def on_start(self, ev):
            stack = self.local.__dict__.setdefault("stack", [])
            stack.append((time.perf_counter(), time.process_time()))

        def on_end(self, ev):
            stack = self.local.stack
            t0, c0 = stack.pop()
            if stack:  # a function compiled inside another's compile: counted in the outer
                return
            data = ev.data or {}
            _records.append({"test": _current["test"], "fn": _name(data.get("dispatcher")),
                             "args": str(data.get("args")),
                             "wall_s": time.perf_counter() - t0,
                             "cpu_s": time.process_time() - c0})

    event.register("numba:compile", _Listener())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current["test"] = item.nodeid
    yield
    _current["test"] = "<between tests>"


def pytest_sessionfinish(session):
    from numba.core.registry import CPUDispatcher

    misses = []
    for obj in gc.get_objects():
        try:
            found = isinstance(obj, CPUDispatcher) and getattr(obj, "_cache_misses", None)
        except ReferenceError:  # a dead weak proxy among the heap's objects
            continue
        if found:
            misses += [{"fn": _name(obj), "signature": str(sig), "n": n}
                       for sig, n in obj._cache_misses.items()]
    out = os.environ.get("NUMBA_COMPILES_OUT", "numba_compiles.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"records": _records, "misses": misses}, f, indent=1)
    total = sum(r["cpu_s"] for r in _records)
    print(f"\nnumba: {len(_records)} compiles, {total:.1f} CPU-s → {out}")
