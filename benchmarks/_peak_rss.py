"""Peak resident memory of the benchmark process over a block, without tracing its allocations.

``tracemalloc`` was used before 2026-12-04; it slows every Python and numpy allocation (the
province raster took 111 s under it against 85 s without, and pure-Python baselines such as
itmlogic suffer most, which flattered our ratios) and it does not see numba's own allocations.
This samples the resident set size from ``/proc/self/statm`` on a background thread instead.
"""

from __future__ import annotations

import os
import resource
import threading

__all__ = ["PeakRSS"]

_STATM = "/proc/self/statm"


def _rss_bytes() -> int | None:
    """Resident set size now, bytes (None where ``/proc`` is absent)."""
    try:
        with open(_STATM, encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class PeakRSS:
    """Context manager: peak resident memory while the block runs.

    Parameters
    ----------
    interval_s : float
        Sampling period, s. A peak shorter than this may be missed.

    Attributes
    ----------
    peak_mb : float
        Highest resident set size seen, MiB (the process's lifetime ``ru_maxrss`` where
        ``/proc`` is absent).
    growth_mb : float or None
        ``peak_mb`` minus the resident set size on entry, MiB (None where ``/proc`` is absent).
    """

    def __init__(self, interval_s: float = 0.02):
        self.interval_s = float(interval_s)
        self.peak_mb = 0.0
        self.growth_mb: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._base = self._peak = 0

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, _rss_bytes() or 0)

    def __enter__(self) -> PeakRSS:
        base = _rss_bytes()
        if base is not None:
            self._base = self._peak = base
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            return
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, _rss_bytes() or 0)
        self.peak_mb = self._peak / 2**20
        self.growth_mb = (self._peak - self._base) / 2**20
