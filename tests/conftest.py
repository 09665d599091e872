"""Shared fixtures. Real data lives in ../shared (never in this repository); tests that need it
skip with a reason when it is absent, as on a user's fresh clone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # ``make test`` runs the suite in 2 processes
        _serialize_numba_cache_saves()


def _serialize_numba_cache_saves() -> None:
    """Make each numba cache save whole while other test processes save too.

    numba's ``IndexDataCacheFile.save`` reads a kernel's index, picks the first free data
    file name for a new signature, and writes index and data (each by an atomic rename). Two
    pytest-xdist workers saving new signatures of one kernel at once could interleave those
    steps and leave one signature's index entry pointing at the other's data file. An
    exclusive ``flock`` on a file beside the cache, held for the whole save, orders them;
    loads need no lock (every file appears by an atomic rename).
    """
    import fcntl

    from numba.core import caching

    save = caching.IndexDataCacheFile.save
    if getattr(save, "_suite_locked", False):
        return

    def locked(self, key, data):
        with open(os.path.join(self._cache_path, "suite-save.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            return save(self, key, data)

    locked._suite_locked = True
    caching.IndexDataCacheFile.save = locked
SHARED = Path(os.environ.get("PHUSONG_SHARED", ROOT.parent / "shared")).resolve()
HOABINH = SHARED / "data" / "hoabinh"
ORACLES = SHARED / "oracles"


@pytest.fixture(scope="session")
def hoabinh() -> Path:
    """Folder of the real Hòa Bình reference data; skips when ../shared is absent."""
    if not HOABINH.is_dir():
        pytest.skip(f"real data not present at {HOABINH} (../shared is absent on a fresh clone)")
    return HOABINH


@pytest.fixture(scope="session")
def oracles() -> Path:
    """Folder of the reference oracles (NTIA ITM vectors); skips when absent."""
    if not ORACLES.is_dir():
        pytest.skip(f"oracles not present at {ORACLES} (../shared is absent on a fresh clone)")
    return ORACLES


@pytest.fixture(scope="session")
def ogrinfo() -> str:
    """Path of GDAL's ogrinfo; skips when gdal-bin is not installed (CI installs it)."""
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.skip("ogrinfo not found: install Debian gdal-bin (.ci/run does)")
    return exe


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a Chromium executable; skips when absent (CI installs Debian chromium)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    pytest.skip("chromium not found: install Debian chromium (.ci/run does)")


@pytest.fixture(scope="session")
def communes():
    """The generated commune boundaries of the embedded default (seed 0); modules may override."""
    from phusong.twin.geography import make_communes

    return make_communes(seed=0)


@pytest.fixture(scope="session")
def dem(communes):
    """The generated DEM of the embedded default (seed 0)."""
    from phusong.twin.terrain import make_dem

    return make_dem(communes, seed=0)
