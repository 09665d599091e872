"""The user's copy of the ITU digital maps of ΔN and N0 (P.1812 ``DN50.TXT``, ``N050.TXT``).

The maps are an integral part of the Recommendation and may not be redistributed, so phusong
does not ship them (``settings.P1812.delta_n``/``n0`` are planning values instead). A user who
has downloaded them from the ITU points ``--p1812-maps DIR`` at the folder holding both files;
ΔN and N0 are then interpolated bilinearly at each path centre (§3.4-§3.5: "the values at the
path centre"), on the maps' grid: 1.5° in latitude from 90° N (first row) to 90° S and in
longitude from 0° to 360° E (first and last columns the same meridian), 121 × 241 values as
whitespace-separated text.

Examples
--------
>>> import numpy as np
>>> m = RefractivityMaps(np.full(GRID_SHAPE, 45.0), np.full(GRID_SHAPE, 330.0), "example")
>>> m.at(np.array([20.8]), np.array([105.3]))
(array([45.]), array([330.]))
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from phusong.errors import DataError, InputFileError

__all__ = ["GRID_SHAPE", "MAP_FILES", "RefractivityMaps", "read_p1812_maps", "bilinear_map"]

#: Rows (90° N → 90° S) and columns (0° → 360° E) of DN50.TXT and N050.TXT, 1.5° spacing.
GRID_SHAPE = (121, 241)
#: The files of the ITU's P.1812 digital products that the reader takes.
MAP_FILES = ("DN50.TXT", "N050.TXT")
_STEP_DEG = 1.5


@njit(cache=True, nogil=True)
def bilinear_map(grid, lat_deg, lon_deg):
    """Bilinear interpolation of a 1.5° global grid (row 0 at 90° N, column 0 at 0° E)."""
    y = (90.0 - lat_deg) / _STEP_DEG
    lon = lon_deg + 360.0 if lon_deg < 0.0 else lon_deg
    x = lon / _STEP_DEG
    rows, cols = grid.shape
    r = min(max(int(math.floor(y)), 0), rows - 2)
    c = min(max(int(math.floor(x)), 0), cols - 2)
    fy = y - r
    fx = x - c
    top = grid[r, c] + fx * (grid[r, c + 1] - grid[r, c])
    bottom = grid[r + 1, c] + fx * (grid[r + 1, c + 1] - grid[r + 1, c])
    return top + fy * (bottom - top)


class RefractivityMaps:
    """ΔN (``dn50``, N-units/km) and N0 (``n050``, N-units) on the ITU's 1.5° grid.

    Attributes
    ----------
    dn50, n050 : ndarray
        (121, 241) float grids.
    source : str
        Where they were read from (reported in ``coverage.json``).
    """

    __slots__ = ("dn50", "n050", "source")

    def __init__(self, dn50, n050, source: str):
        self.dn50 = np.ascontiguousarray(dn50, float)
        self.n050 = np.ascontiguousarray(n050, float)
        self.source = str(source)

    def at(self, lat_deg, lon_deg) -> tuple[np.ndarray, np.ndarray]:
        """(ΔN, N0) at points, bilinear; arrays of degrees (WGS 84, east positive)."""
        lat = np.atleast_1d(np.asarray(lat_deg, float))
        lon = np.atleast_1d(np.asarray(lon_deg, float))
        dn = np.array([bilinear_map(self.dn50, a, b) for a, b in zip(lat, lon, strict=True)])
        n0 = np.array([bilinear_map(self.n050, a, b) for a, b in zip(lat, lon, strict=True)])
        return dn, n0

    def __repr__(self) -> str:
        return f"RefractivityMaps({self.source!r})"


def _read_one(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputFileError(f"{path}: not found; --p1812-maps needs a folder with "
                             f"{' and '.join(MAP_FILES)} from the ITU's P.1812 digital products")
    try:
        grid = np.loadtxt(path, dtype=float, ndmin=2)
    except ValueError as exc:
        raise DataError(f"{path}: not a grid of numbers ({str(exc).splitlines()[0]}); use the "
                        "ITU's text file unchanged") from None
    if grid.shape != GRID_SHAPE:
        raise DataError(f"{path}: grid of {grid.shape[0]} × {grid.shape[1]} values; the ITU's "
                        f"P.1812 maps have {GRID_SHAPE[0]} × {GRID_SHAPE[1]} (1.5° from 90° N "
                        "and 0° E); use the file unchanged")
    if not np.isfinite(grid).all():
        raise DataError(f"{path}: holds non-finite values; use the ITU's file unchanged")
    return grid


def read_p1812_maps(folder) -> RefractivityMaps:
    """Read ``DN50.TXT`` and ``N050.TXT`` from ``folder`` (the user's copy of the ITU maps).

    Raises
    ------
    InputFileError
        The folder or a file is missing (one line naming it).
    DataError
        A file is not a 121 × 241 grid of finite numbers, or its values lie outside P.1812's
        ranges (ΔN in (0, 157) N-units/km, N0 in 200–500 N-units).
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputFileError(f"{root}: no such folder; --p1812-maps needs a folder with "
                             f"{' and '.join(MAP_FILES)}")
    dn = _read_one(root / MAP_FILES[0])
    n0 = _read_one(root / MAP_FILES[1])
    if not ((dn > 0.0) & (dn < 157.0)).all():
        raise DataError(f"{root / MAP_FILES[0]}: ΔN values outside (0, 157) N-units/km; is it "
                        "the ITU's DN50.TXT?")
    if not ((n0 >= 200.0) & (n0 <= 500.0)).all():
        raise DataError(f"{root / MAP_FILES[1]}: N0 values outside 200–500 N-units; is it the "
                        "ITU's N050.TXT?")
    return RefractivityMaps(dn, n0, str(root))
