"""Generated DEM: grid, range, determinism, the pvlib regional relief, and (with ../shared) its
statistics against SRTM30_PLUS over the province."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio import features
from scipy import ndimage

from phusong import settings
from phusong.crs import transform_points
from phusong.errors import DataError
from phusong.twin.terrain import MARGIN_M, coarse_altitude, make_dem


@pytest.fixture(scope="module")
def inside(communes, dem) -> np.ndarray:
    """DEM pixels inside the generated province."""
    work = communes.to_crs(settings.WORK_CRS)
    return features.rasterize(((g, 1) for g in work.geometry), out_shape=dem.shape,
                              transform=dem.transform) > 0


def test_grid(dem, communes):
    assert dem.crs == settings.WORK_CRS == "EPSG:32648"
    assert dem.unit == "m"
    assert dem.array.dtype == np.float32
    assert np.isfinite(dem.array).all()
    assert dem.transform.a == 90.0 and dem.transform.e == -90.0
    x0, y0, x1, y1 = communes.to_crs(settings.WORK_CRS).total_bounds
    left, bottom, right, top = dem.bounds
    # The province bbox plus at least 5 km on every side (issue brief), one pixel of rounding.
    for gap in (x0 - left, y0 - bottom, right - x1, top - y1):
        assert gap >= 5_000.0
        assert gap <= MARGIN_M + 90.0


def test_range_and_mean(dem, inside):
    z = dem.array[inside]
    print(f"province DEM at 90 m: min {z.min():.0f}, mean {z.mean():.0f}, "
          f"P10/P50/P90 {np.percentile(z, [10, 50, 90]).round(0)}, max {z.max():.0f} m")
    # Hòa Bình: lowest ≈ 10–20 m (Đà river, Lạc Thủy), peaks ≈ 1,400–1,500 m, mean ≈ 300 m.
    assert 0.0 < z.min() < 60.0
    assert 1_200.0 < z.max() <= 1_550.0
    # The regional relief is pvlib's 9 km grid (mean ≈ 280 m over the province); ±25 % of 300.
    assert 225.0 < z.mean() < 375.0


def test_valleys_are_flat_and_hills_steep(dem, inside):
    gy, gx = np.gradient(dem.array, 90.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))[inside]
    print(f"slope: median {np.median(slope):.1f}°, P90 {np.percentile(slope, 90):.1f}°")
    # Flat valley floors (villages, paddies) and steep mountain sides both exist.
    assert np.mean(slope < 2.0) > 0.10
    assert np.percentile(slope, 90) > 20.0


def test_deterministic_and_seeded(communes, dem):
    again = make_dem(communes, seed=0)
    assert np.array_equal(again.array, dem.array)
    other = make_dem(communes, seed=1)
    assert other.shape == dem.shape
    assert not np.array_equal(other.array, dem.array)
    # Same regional relief: the 10 km averages of two seeds agree closely.
    a = ndimage.uniform_filter(dem.array, 111)
    b = ndimage.uniform_filter(other.array, 111)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_resolution_option(communes):
    coarse = make_dem(communes, seed=0, resolution_m=300.0)
    assert coarse.transform.a == 300.0
    with pytest.raises(DataError, match="resolution_m"):
        make_dem(communes, resolution_m=0.0)


def test_coarse_altitude_is_pvlib_grid():
    # Cell centres reproduce the grid: the cell at 21.4583 N, 104.5417 E holds code 65
    # (65 × 28 − 450 = 1,370 m); the Red River delta east of the province is near sea level.
    z = coarse_altitude([104.5 + 1 / 24, 105.95], [21.5 - 1 / 24, 20.9])
    assert z[0] == pytest.approx(1_370.0, abs=0.5)
    assert z[1] < 60.0


# --- against SRTM30_PLUS (../shared; skipped on a fresh clone) --------------------------------


def test_statistics_vs_srtm30plus(hoabinh, dem, communes):
    import rasterio

    with rasterio.open(hoabinh / "dem" / "srtm30plus_bbox_75arcsec.tif") as src:
        real = src.read(1).astype(float)
        transform = src.transform
    rows, cols = np.indices(real.shape)
    lon = transform.c + (cols + 0.5) * transform.a
    lat = transform.f + (rows + 0.5) * transform.e
    x, y = transform_points(lon.ravel(), lat.ravel(), settings.STORE_CRS, settings.WORK_CRS)
    # The generated DEM averaged over ≈ 2.3 km (the SRTM30_PLUS cell), sampled at its centres.
    smooth = ndimage.uniform_filter(dem.array, 25)
    r = (dem.transform.f - y) / 90.0 - 0.5
    c = (x - dem.transform.c) / 90.0 - 0.5
    gen = ndimage.map_coordinates(smooth, [r, c], order=1, mode="nearest").reshape(real.shape)
    # The province: SRTM cells whose centre lies in the generated communes.
    work = communes.to_crs(settings.WORK_CRS)
    prov = features.rasterize(((g, 1) for g in work.geometry), out_shape=dem.shape,
                              transform=dem.transform) > 0
    m = ndimage.map_coordinates(prov.astype(float), [r, c], order=0).reshape(real.shape) > 0.5
    m &= np.isfinite(real)
    g, s = gen[m], real[m]
    pg, ps = np.percentile(g, [10, 50, 90]), np.percentile(s, [10, 50, 90])
    big_g = ndimage.gaussian_filter(gen, 2.0)[m]
    big_s = ndimage.gaussian_filter(np.where(np.isfinite(real), real, 0.0), 2.0)[m]
    corr = np.corrcoef(g, s)[0, 1]
    corr_big = np.corrcoef(big_g, big_s)[0, 1]
    print(f"2.3 km cells: generated mean {g.mean():.0f} P10/50/90 {pg.round(0)} "
          f"range {g.min():.0f}–{g.max():.0f}; SRTM30+ mean {s.mean():.0f} P10/50/90 "
          f"{ps.round(0)} range {s.min():.0f}–{s.max():.0f}; correlation {corr:.2f}, "
          f"at ≈ 5 km {corr_big:.2f}")
    # The regional relief comes from pvlib's 9 km grid (Mapzen tiles, 28 m steps), not from
    # SRTM30_PLUS: the two sources differ by ≈ 10 % in mean; local relief is random. Hence
    # mean within 15 %, each percentile within 25 % or 40 m, maximum within ±25 %.
    assert abs(g.mean() - s.mean()) / s.mean() < 0.15
    for a, b in zip(pg, ps, strict=True):
        assert abs(a - b) < max(0.25 * b, 40.0)
    assert abs(g.max() - s.max()) / s.max() < 0.25
    assert g.min() < 60.0 and s.min() < 60.0
    # Large-scale shape: the same mountains and lowlands.
    assert corr_big > 0.8
    assert corr > 0.4


def test_missing_pvlib_is_one_clear_error(monkeypatch, communes):
    import importlib.util

    from phusong.errors import CRSError, InputFileError
    from phusong.twin import terrain

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pvlib" else real(name, *a))
    with pytest.raises(InputFileError, match="pip install pvlib"):
        terrain._pvlib_file()
    with pytest.raises(CRSError, match="no CRS"):
        make_dem(communes.set_crs(None, allow_override=True))
