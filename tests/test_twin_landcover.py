"""The twin's land cover: consistent with its terrain and villages (issue 17 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from phusong import settings
from phusong.crs import transform_points
from phusong.twin.landcover import (
    DAM_LONLAT,
    RESERVOIR_LEVEL_M,
    SHORE_M,
    landcover_shares,
    make_landcover,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def made(communes, dem):
    from phusong.twin.villages import make_villages

    villages = make_villages(communes, dem, seed=0)
    return villages, make_landcover(communes, villages, dem, seed=0)


def _slope(dem):
    z = np.asarray(dem.array, float)
    gy, gx = np.gradient(np.where(np.isfinite(z), z, np.nanmean(z)), dem.transform.a,
                         dem.transform.a)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def _pixels(lc, villages):
    x, y = transform_points(villages.geometry.x, villages.geometry.y, "EPSG:4326",
                            settings.WORK_CRS)
    t = lc.transform
    return (np.floor((t.f - np.asarray(y)) / -t.e).astype(int),
            np.floor((np.asarray(x) - t.c) / t.a).astype(int))


def test_classes_grid_and_determinism(made, communes, dem):
    villages, lc = made
    assert lc.crs == dem.crs and lc.transform == dem.transform and lc.unit == "class"
    shares = landcover_shares(lc)
    assert set(shares) == {10, 20, 40, 50, 80}
    # Hòa Bình is about half forest; the twin's generated shares stay in a plausible band
    assert 0.3 < shares[10] < 0.7 and 0.005 < shares[50] < 0.05
    again = make_landcover(communes, villages, dem, seed=0)
    assert np.array_equal(again.array, lc.array, equal_nan=True)
    other = make_landcover(communes, villages, dem, seed=1)
    assert not np.array_equal(other.array, lc.array, equal_nan=True)  # the shrub noise moves


def test_forest_on_steep_slopes_cropland_on_valley_floors(made, dem):
    _, lc = made
    a, s = lc.array, _slope(dem)
    steep = (s > 15.0) & ~np.isin(a, (40.0, 50.0, 80.0))  # villages' rings and cores aside
    assert (a[steep] == 10.0).all()
    # flat ground below the forest line (700 m: uplands are forest whatever the slope) is
    # cropland unless a village's built-up core or the reservoir is there
    flat = (s < 6.0) & (np.asarray(dem.array) <= 700.0)
    assert flat.sum() > 1000  # the rule is exercised on many pixels
    assert np.isin(a[flat], (40.0, 50.0, 80.0)).all()


def test_villages_stand_in_fields_or_built_up_land_never_in_water(made):
    villages, lc = made
    r, c = _pixels(lc, villages)
    cls = lc.array[r, c]
    assert np.isin(cls, (40.0, 50.0)).all()
    centre = villages["is_centre"].to_numpy(bool)
    assert (cls[centre] == 50.0).all()  # commune centres are built-up
    water = lc.array == 80.0
    dist = ndimage.distance_transform_edt(~water, sampling=lc.transform.a)
    # no village within the shore distance of the reservoir (one pixel of grid slack)
    assert dist[r, c].min() >= SHORE_M - lc.transform.a


def test_reservoir_upstream_of_the_dam_below_its_level(made, dem):
    _, lc = made
    water = lc.array == 80.0
    assert water.sum() * lc.transform.a ** 2 / 1e6 > 10.0  # a lake, not a puddle (km²)
    assert (dem.array[water] <= RESERVOIR_LEVEL_M).all()
    dx, _ = transform_points([DAM_LONLAT[0]], [DAM_LONLAT[1]], "EPSG:4326", settings.WORK_CRS)
    cols = np.nonzero(water)[1]
    assert (lc.transform.c + (cols + 0.5) * lc.transform.a < dx[0]).all()  # west of the dam
    assert ndimage.label(water)[1] == 1  # one connected lake
