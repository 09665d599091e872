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


def test_one_site_without_land_cover_loads_no_clutter_models(tmp_path):
    """``predict_site`` without land cover imports neither P.2108/P.1812 surfaces nor
    scipy.special (≈ 0.1 s of a one-site run) and reads the DEM through a window."""
    dem = tmp_path / "dem.tif"
    code = ("import sys\n"
            "import numpy as np\n"
            "from affine import Affine\n"
            "from phusong.raster import Raster, write_raster\n"
            "z = np.full((200, 200), 300.0, np.float32)\n"
            f"write_raster(Raster(z, Affine(1/1200, 0, 105.45, 0, -1/1200, 21.35), "
            f"'EPSG:4326', 'm'), {str(dem)!r})\n"
            "from phusong.coverage._site import predict_site\n"
            f"predict_site({str(dem)!r}, 105.5, 21.3, height_m=30.0, freq_mhz=947.5, "
            "eirp_dbm=57.0, radius_km=1.0, resolution_m=100.0, model='itm')\n"
            "bad = {'scipy.special', 'phusong.coverage.clutter', 'phusong.coverage.p2108',\n"
            "       'phusong.coverage.p1812._surface'} & set(sys.modules)\n"
            "assert not bad, bad")
    assert "numba" in _loaded(code)  # the prediction ran in the child


def _site_command(dem, out) -> str:
    """Code running ``phusong coverage site`` on ``dem`` (1 km at 100 m) into ``out``."""
    return ("from phusong.cli import main\n"
            "try:\n"
            f"    main(['coverage', 'site', '--dem', {str(dem)!r}, '--lon', '105.5', '--lat',\n"
            "          '21.3', '--height-m', '30', '--freq-mhz', '947.5', '--eirp-dbm', '57',\n"
            "          '--radius-km', '1', '--resolution-m', '100', '--threads', '1',\n"
            f"          '--out', {str(out)!r}])\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n")


def test_coverage_site_command_loads_no_scipy_linalg(tmp_path):
    """``phusong coverage site`` runs its kernels without the ``scipy.linalg`` package (numba's
    set-up imports it for a BLAS check: ≈ 0.2 CPU-s; see ``coverage/_numba_setup.py``), nor
    the table stack; scipy.linalg imported afterwards in the same process still works, and
    numba still compiles BLAS calls against it. The garbage collector keeps running after
    the command (``gc.freeze`` only as the process exits: ``skip_exit_collection``)."""
    dem, out = tmp_path / "dem.tif", tmp_path / "site.tif"
    code = ("import sys, gc, atexit\n"
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
            "import numpy as np\n"
            "from affine import Affine\n"
            "from phusong.raster import Raster, write_raster\n"
            "z = (300 + 50 * np.random.default_rng(1).random((200, 200))).astype(np.float32)\n"
            f"write_raster(Raster(z, Affine(1/1200, 0, 105.45, 0, -1/1200, 21.35), "
            f"'EPSG:4326', 'm'), {str(dem)!r})\n"
            + _site_command(dem, out) +
            "assert gc.get_freeze_count() == 0 and gc.isenabled()\n"
            "mods = set(sys.modules)\n"
            "bad = {'scipy.linalg', 'scipy.special', 'scipy.spatial'} & mods\n"
            "assert not bad, bad\n"
            "import numba, scipy.linalg\n"
            "assert scipy.linalg.cython_blas.__pyx_capi__\n"
            "assert scipy.linalg.solve([[2.0]], [1.0])[0] == 0.5\n"
            "dot = numba.njit(lambda a: np.dot(a, a))\n"
            "assert dot(np.full((2, 2), 2.0))[0, 0] == 8.0\n"
            "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))")
    run = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True,
                         text=True, check=True)
    lines = run.stdout.strip().splitlines()
    assert lines[-1] == "frozen at exit: True", lines[-1:]
    mods = set(json.loads(lines[-2]))
    assert not mods & set(HEAVY), mods & set(HEAVY)
    assert out.is_file()


def test_warm_coverage_site_loads_kernels_without_numba_compiler_setup(tmp_path):
    """A second ``coverage site`` run loads its kernels from numba's cache without numba's
    typing and lowering registries and without importing numba's implementation modules for
    the kernels' environments (``_numba_setup``: ≈ 0.2 CPU-s of a warm run), and writes the
    same raster, bit for bit, as the first run (which may have compiled them)."""
    import numpy as np
    from affine import Affine

    from phusong.raster import Raster, read_raster, write_raster

    dem = tmp_path / "dem.tif"
    z = (300 + 80 * np.random.default_rng(2).random((200, 200))).astype(np.float32)
    write_raster(Raster(z, Affine(1 / 1200, 0, 105.45, 0, -1 / 1200, 21.35), "EPSG:4326",
                        "m"), dem)
    first, second = tmp_path / "first.tif", tmp_path / "second.tif"
    subprocess.run([sys.executable, "-c", _site_command(dem, first)], check=True,
                   capture_output=True, text=True)
    mods = _loaded(_site_command(dem, second) + "import sys\n"
                   "assert 'numba.np.arraymath' not in sys.modules, 'registries loaded'\n"
                   "assert 'numba.typed.dictobject' not in sys.modules, 'registries loaded'\n"
                   "assert 'numba.np.arrayobj' not in sys.modules, 'environment modules'\n")
    assert "numba" in mods
    a, b = read_raster(first).array, read_raster(second).array
    assert np.isfinite(a).sum() > 100  # the disk was computed
    np.testing.assert_array_equal(a, b)  # the same machine code: identical, NaN included


def test_cli_command_table_matches_the_area_modules():
    """The top-level commands load their area's module on first use (``phusong.cli``): the
    table of names must list every module's COMMANDS, and ``coverage site`` loads no other
    area's module."""
    import importlib

    from phusong.cli import _COMMAND_MODULES

    names = {}
    for module in set(_COMMAND_MODULES.values()):
        for cmd in importlib.import_module(f"phusong.cli.{module}").COMMANDS:
            names[cmd.name] = module
    assert names == _COMMAND_MODULES
    code = ("import sys\nfrom phusong.cli import main\n"
            "try:\n    main(['coverage', 'site', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('phusong.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == str(["phusong.cli._cluster", "phusong.cli._common", "phusong.cli._coverage"])
