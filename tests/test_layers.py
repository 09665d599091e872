"""Import direction (DESIGN §2): checked in fresh interpreters, through ``sys.modules``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


MODULES = ("phusong.twin", "phusong.planning", "phusong.network", "phusong.bundle",
           "phusong.coverage", "phusong.io")


def _start(module: str) -> subprocess.Popen:
    """A fresh interpreter that prints the ``phusong`` modules it holds after ``import module``."""
    code = (f"import json, sys; import {module}; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('phusong'))))")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    """For each module of MODULES, the ``phusong`` modules a fresh interpreter holds after
    importing it (the interpreters run side by side: each is still a process of its own)."""
    procs = {m: _start(m) for m in MODULES}
    out = {}
    for m, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, (m, stderr)
        out[m] = set(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _packages(mods: set[str]) -> set[str]:
    return {m.split(".")[1] for m in mods if m.count(".") >= 1}


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("phusong.twin", {"planning", "maps", "cli"}),
        ("phusong.planning", {"twin", "maps", "cli"}),
        ("phusong.network", {"twin", "planning", "maps", "cli", "coverage"}),
        ("phusong.bundle", {"io", "twin", "planning", "maps", "cli", "coverage", "network"}),
        ("phusong.coverage", {"twin", "planning", "maps", "cli", "network"}),
        ("phusong.io", {"twin", "planning", "maps", "cli", "coverage", "network"}),
    ],
)
def test_import_direction(loaded, module, forbidden):
    # twin and planning are siblings over network; bundle and io sit below them both, and
    # bundle no longer reaches into io for atomic writing (it lives in phusong.atomic)
    packages = _packages(loaded[module])
    assert not packages & forbidden, f"import {module} loads {sorted(packages & forbidden)}"


def test_twin_uses_the_network_layer(loaded):
    # the road graph and fibre reach the twin builds on come from phusong.network
    assert {"phusong.network.roads", "phusong.network.reach"} <= loaded["phusong.twin"]


def test_itm_is_part_of_the_coverage_api():
    # a failed import of the ITM kernel must raise, not drop itm_p2p_loss_db from the API
    import phusong.coverage as cov

    assert "itm_p2p_loss_db" in cov.__all__
    assert callable(cov.itm_p2p_loss_db)


def test_itm_import_failure_is_an_error():
    # a broken kernel module: using ITM through phusong.coverage must fail loudly, naming the
    # cause (the package loads its names on first use, so the failure comes at that use)
    code = ("import sys; sys.modules['phusong.coverage.itm'] = None\n"
            "import phusong.coverage\nphusong.coverage.itm_p2p_loss_db\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode != 0
    assert "phusong.coverage.itm" in out.stderr


def test_test_doubles_are_not_shipped():
    # the disc stand-ins and the synthetic planning bundle live in tests/, not in the package
    assert not list((ROOT / "phusong").rglob("*synthetic*.py"))
