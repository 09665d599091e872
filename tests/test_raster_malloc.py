"""The raster engine's malloc tuning (``_raster_malloc``): freed blocks are reused, not faulted
in again, while a run lasts; nesting and overlapping runs restore the state once."""

from __future__ import annotations

import os
import resource
import threading

import numpy as np
import pytest

from phusong.coverage import _raster_malloc

pytestmark = pytest.mark.skipif(_raster_malloc._glibc() is None,
                                reason="needs glibc's mallopt (and no MALLOC_*_THRESHOLD_ set)")


def _faults_per_block(n=60, size=4 * 1024 * 1024):
    """Minor page faults per 4 MiB block allocated, written and freed ``n`` times."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        a = np.empty(size // 8)
        a[:] = 1.0
        del a
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n


def test_freed_blocks_are_reused_within_a_run():
    pages = 4 * 1024 * 1024 / os.sysconf("SC_PAGE_SIZE")
    with _raster_malloc.reuse_freed_memory():
        _faults_per_block(2)  # the heap grows once
        inside = _faults_per_block()
    # a block faulted in afresh costs ≈ one fault per page (1,024 at 4 KiB); reused, none
    # (5 % of the pages: room for the interpreter's own allocations meanwhile)
    assert inside < 0.05 * pages


def test_nested_and_threaded_runs_restore_once():
    done = threading.Barrier(3)

    def run():
        with _raster_malloc.reuse_freed_memory():
            done.wait(timeout=30)

    threads = [threading.Thread(target=run) for _ in range(2)]
    with _raster_malloc.reuse_freed_memory():
        for t in threads:
            t.start()
        with _raster_malloc.reuse_freed_memory():
            assert _raster_malloc._depth >= 2  # the threads may be inside too
        done.wait(timeout=30)
        for t in threads:
            t.join()
        assert _raster_malloc._depth == 1
    assert _raster_malloc._depth == 0
