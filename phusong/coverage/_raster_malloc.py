"""Keep freed memory in the process while a raster run lasts (glibc ``malloc`` tuning).

Each site's work unit allocates and frees a few megabytes of arrays (the rays, the ray-slot
table, the grid-cell → ray-point mapping, the losses): ≈ 30 MB per site at 100 m. glibc serves
such blocks with fresh ``mmap`` pages or trims them off its heap when they are freed, so the
next site faults every page in again, zeroed by the kernel: on the province at 100 m
(1,350 sites, Hata + Bullington, one thread) that was 3.8 M page faults and ≈ 10 s of system
time out of ≈ 55 CPU-s. With the ``mmap`` threshold at its 64-bit maximum (32 MiB) and the trim
threshold at 1 GiB, freed blocks stay in the heap and the next site reuses them (45 k faults,
0.45 s of system time); nothing else changes: the same arrays hold the same values. This is a
one-thread matter (the main thread's heap, which glibc trims): with worker threads each works
in a glibc arena of its own, which kept its memory already (ITM at 200 m on two threads: 17 k
faults before, 22 k with this, 0.2 s of system time either way).

:func:`reuse_freed_memory` sets both thresholds while the outermost raster run lasts (runs may
nest or overlap on threads), then lowers the trim threshold to twice the mmap threshold (the
state glibc's own dynamic rule reaches after freeing a 32 MiB block; a fixed threshold turns
that rule off, and restoring the 128 KiB defaults would fault in every later block above them
again) and returns the freed memory to the system (``malloc_trim(0)``). It does nothing when
the C library is not glibc (no ``mallopt``), or when the user chose either threshold in the
environment (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``): their choice is kept.
"""

from __future__ import annotations

import ctypes
import os
import threading
from contextlib import contextmanager

__all__ = ["reuse_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: the largest mmap threshold glibc accepts on 64-bit: 4 MiB × sizeof(long)
_KEEP_MMAP_BYTES = 32 * 1024 * 1024
_KEEP_TRIM_BYTES = 1024 * 1024 * 1024
#: the trim threshold after a run: glibc's dynamic rule (twice the mmap threshold)
_AFTER_TRIM_BYTES = 2 * _KEEP_MMAP_BYTES
_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_lock = threading.Lock()
_depth = 0
_libc: object = None


def _glibc():
    """glibc's ``mallopt``/``malloc_trim`` (loaded once), or None when not applicable."""
    global _libc
    if _libc is None:
        _libc = False
        try:
            glibc = bool(os.confstr("CS_GNU_LIBC_VERSION"))
        except (AttributeError, ValueError, OSError):
            glibc = False
        if glibc and not any(k in os.environ for k in _ENV):
            lib = ctypes.CDLL(None)
            lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.mallopt.restype = ctypes.c_int
            lib.malloc_trim.argtypes = [ctypes.c_size_t]
            lib.malloc_trim.restype = ctypes.c_int
            _libc = lib
    return _libc or None


@contextmanager
def reuse_freed_memory():
    """Within the block, freed blocks up to 32 MiB stay in the process for reuse (glibc)."""
    global _depth
    lib = _glibc()
    if lib is None:
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            lib.mallopt(_M_MMAP_THRESHOLD, _KEEP_MMAP_BYTES)
            lib.mallopt(_M_TRIM_THRESHOLD, _KEEP_TRIM_BYTES)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                lib.mallopt(_M_TRIM_THRESHOLD, _AFTER_TRIM_BYTES)
                lib.malloc_trim(0)
