"""What a command imports decides how long a user waits before it starts (issue 14).

Checked as module sets in a fresh interpreter, not as times (timings belong to benchmarks/).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "geopandas", "pyogrio", "sklearn", "matplotlib", "folium", "networkx")


def _loaded(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_loads_no_scientific_stack():
    mods = _loaded("from phusong.cli import main\n"
                   "try:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert not mods & {*HEAVY, "numpy", "rasterio", "pyproj", "numba", "shapely"}, mods


@pytest.mark.parametrize("module", ["phusong", "phusong.coverage"])
def test_packages_load_their_names_on_first_use(module):
    assert not _loaded(f"import {module}") & {*HEAVY, "numba"}


def test_single_site_path_loads_no_table_stack():
    mods = _loaded("import phusong.coverage._site, phusong.raster\n"
                   "from phusong.cli._coverage import COMMANDS")
    assert not mods & set(HEAVY), mods & set(HEAVY)
    assert {"numba", "rasterio", "pyproj"} <= mods  # what one site does need


def test_checking_options_loads_no_scipy_special():
    """EngineOptions.check() reads the reliability percentage: no scipy.special for it (its
    import is ≈ 0.2 s of a one-site run, numpy.f2py included)."""
    mods = _loaded("import sys\n"
                   "from phusong.coverage._engine import EngineOptions\n"
                   "EngineOptions(model='itm', reliability_pct=90.0).check()\n"
                   "assert 'scipy.special' not in sys.modules, 'scipy.special loaded'")
    assert "numba" in mods  # the check ran in the child
