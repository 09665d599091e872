"""Shared fixtures. Real data lives in ../shared (never in this repository); tests that need it
skip with a reason when it is absent, as on a user's fresh clone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
