"""Fallback service (phusong.planning.fallback): line of sight of microwave hops and pricing.

Every DEM is made here: a flat plain at 100 m on 50 m pixels in EPSG:32648, with ridges added
as north–south bands of columns. Paths run west–east along the row through ``YC`` so that
profile samples fall on pixel centres, where bilinear sampling returns a pixel's value exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from affine import Affine

from phusong import settings
from phusong.bundle import Raster
from phusong.coverage._terrain import EARTH_RADIUS_M
from phusong.errors import DataError
from phusong.planning.fallback import FALLBACK_COLUMNS, SATELLITE, SMALL_CELL, fallback_options

X0, Y0, PX = 600_000.0, 2_310_000.0, 50.0
GROUND_M = 100.0
#: A row of pixel centres: every path along it samples pixel centres (step = PX).
YC = Y0 - 100 * PX - PX / 2
C = settings.COSTS
HOP_VND = C.small_cell_vnd + C.microwave_hop_vnd


def _x(col: int) -> float:
    """Easting of the centre of pixel column ``col``, m."""
    return X0 + (col + 0.5) * PX


def _dem(ridges: dict[int, float] | None = None, cols: int = 400) -> Raster:
    """20 km × 10 km flat DEM; ``ridges`` maps a column to its height, m."""
    z = np.full((200, cols), GROUND_M, dtype=np.float32)
    for col, height_m in (ridges or {}).items():
        z[:, col] = height_m
    return Raster(z, Affine(PX, 0, X0, 0, -PX, Y0), settings.WORK_CRS, "m")


def _run(villages_col, households, sites_col, dem, *, site_height_m=30.0, **options):
    """fallback_options for villages and sites on the row ``YC``, given by pixel column."""
    vx = [_x(c) for c in villages_col]
    sx = [_x(c) for c in sites_col]
    return fallback_options(vx, [YC] * len(vx), households, sx, [YC] * len(sx),
                            [site_height_m] * len(sx), [f"S{i}" for i in range(len(sx))], dem,
                            **options)


def test_flat_ground_gives_line_of_sight_and_the_cheaper_fallback():
    big_hh = 200  # 200 × 600 USD = 120,000 USD > 45,000 USD for the small cell and its hop
    out = _run([20, 80], [big_hh, 1], [140], _dem())
    assert list(out.columns) == list(FALLBACK_COLUMNS)
    assert out["in_dem"].all() and out["los"].all()
    assert out["hop_site_id"].tolist() == ["S0", "S0"]
    # horizontal distances between pixel centres: exact up to float rounding (1e-6 m)
    np.testing.assert_allclose(out["hop_m"], [120 * PX, 60 * PX], atol=1e-6)
    # costs are sums and products of the settings: equal to rounding (relative 1e-12)
    np.testing.assert_allclose(out["small_cell_vnd"], [HOP_VND, HOP_VND], rtol=1e-12)
    np.testing.assert_allclose(out["satellite_vnd"],
                               [big_hh * C.satellite_vnd_per_household,
                                C.satellite_vnd_per_household], rtol=1e-12)
    assert out["fallback"].tolist() == [SMALL_CELL, SATELLITE]
    np.testing.assert_allclose(out["fallback_cost_vnd"], [HOP_VND, C.satellite_vnd_per_household],
                               rtol=1e-12)
    assert out["reason"].tolist() == ["line of sight to S0 (6.0 km)",
                                      "satellite cheaper (1 household)"]


def test_costs_come_from_the_costs_argument():
    # a satellite terminal dearer than the whole small cell: even one household takes the hop
    costs = settings.Costs(satellite_vnd_per_household=HOP_VND * 2)
    out = _run([80], [1], [140], _dem(), costs=costs)
    assert out["fallback"].tolist() == [SMALL_CELL]
    assert out["fallback_cost_vnd"].iloc[0] == pytest.approx(HOP_VND, rel=1e-12)


def test_a_ridge_blocks_the_hop_and_the_next_site_is_tried():
    ridge = {230: 400.0}  # 300 m above the plain, between village (col 200) and S0 (col 260)
    out = _run([200], [500], [260], _dem(ridge))
    assert not out["los"].iloc[0] and out["hop_site_id"].iloc[0] is None
    assert math.isnan(out["hop_m"].iloc[0]) and math.isnan(out["small_cell_vnd"].iloc[0])
    assert out["fallback"].iloc[0] == SATELLITE
    assert out["fallback_cost_vnd"].iloc[0] == pytest.approx(500 * C.satellite_vnd_per_household,
                                                             rel=1e-12)
    assert out["reason"].iloc[0] == "no line of sight to the only site within 15 km"
    # a farther site on the clear side (col 100, 5 km against 3 km) is used instead
    out = _run([200], [500], [260, 100], _dem(ridge))
    assert out["hop_site_id"].iloc[0] == "S1" and out["fallback"].iloc[0] == SMALL_CELL
    assert out["hop_m"].iloc[0] == pytest.approx(100 * PX, abs=1e-6)  # pixel centres: exact
    assert out["reason"].iloc[0] == "line of sight to S1 (5.0 km)"
    # three sites behind the ridge are nearer than the clear one: it is not among the 3 nearest
    out = _run([200], [500], [240, 250, 260, 100], _dem(ridge))
    assert out["reason"].iloc[0] == "no line of sight to the 3 nearest sites within 15 km"
    out = _run([200], [500], [240, 250, 260, 100], _dem(ridge), nearest=4)
    assert out["hop_site_id"].iloc[0] == "S3"
    # two sites behind the ridge and no other within reach
    out = _run([200], [500], [240, 250], _dem(ridge))
    assert out["reason"].iloc[0] == "no line of sight to the 2 sites within 15 km"


def test_village_outside_the_dem_gets_satellite():
    out = fallback_options([X0 - 5_000.0, _x(20)], [YC, YC], [300, 300], [_x(140)], [YC], [30.0],
                           ["S0"], _dem())
    assert out["in_dem"].tolist() == [False, True]
    first = out.iloc[0]
    assert first["fallback"] == SATELLITE and first["reason"] == "outside the DEM"
    assert not first["los"] and first["hop_site_id"] is None and math.isnan(first["hop_m"])
    assert first["fallback_cost_vnd"] == pytest.approx(300 * C.satellite_vnd_per_household,
                                                       rel=1e-12)
    assert out.iloc[1]["fallback"] == SMALL_CELL


def test_sites_off_the_dem_or_too_far_are_not_hubs():
    # S0 lies 5 km west of the DEM; S1 is 19 km away, beyond max_hop_m
    out = fallback_options([_x(10)], [YC], [300], [X0 - 5_000.0, _x(390)], [YC, YC], [30.0, 30.0],
                           ["S0", "S1"], _dem())
    assert out["reason"].tolist() == ["no site within 15 km"]
    out = fallback_options([_x(10)], [YC], [300], [_x(390)], [YC], [30.0], ["S1"], _dem(),
                           max_hop_m=20_000.0)
    assert out["hop_site_id"].tolist() == ["S1"]


def _fresnel_ridge_m(ratio: float, d_m: float, freq_mhz: float, top_m: float) -> float:
    """Height of a mid-path ridge that lies ``ratio`` F1 below the line, earth bulge included.

    F1 = sqrt(λ d1 d2 / d) with λ = c / f; bulge d1 d2 / (2 k a), k = 4/3, a = 6371 km.
    """
    lam_m = 299.792458 / freq_mhz
    d1 = d2 = d_m / 2
    f1_m = math.sqrt(lam_m * d1 * d2 / d_m)
    bulge_m = d1 * d2 / (2 * settings.RADIO.k_factor * EARTH_RADIUS_M)
    return top_m - bulge_m - ratio * f1_m


@pytest.mark.parametrize("ratio, clears", [(0.61, True), (0.59, False), (0.3, False)])
def test_fresnel_clearance_decides(ratio, clears):
    # village col 20 (mast 15 m), site col 220 (15 m): 10 km over flat ground, both antenna
    # tops at 115 m, line of sight at 15 GHz: F1 = 7.07 m at mid path (col 120), bulge 1.47 m.
    # ±0.01 F1 (7 cm) around the 0.6 F1 rule is far above the float32 storage of the ridge
    # (1e-5 m) and the ridge sits on a profile sample, so the criterion is pinned to 2 %.
    # A ridge below the line by ratio F1 at mid path is nearest the line there: both h and
    # F1 shrink toward the ends and the band is one pixel wide.
    height_m = _fresnel_ridge_m(ratio, 200 * PX, 15_000.0, GROUND_M + 15.0)
    assert height_m > GROUND_M  # the ridge is real terrain above the plain
    out = _run([20], [500], [220], _dem({120: height_m}), site_height_m=15.0)
    assert out["los"].iloc[0] == clears
    # bare line of sight (clearance 0) is enough for every ratio > 0
    bare = _run([20], [500], [220], _dem({120: height_m}), site_height_m=15.0,
                fresnel_clearance=0.0)
    assert bare["los"].iloc[0]


def test_earth_bulge_counts():
    # the same ridge 0.61 F1 below the straight line on a flat earth is 0.61 F1 − 1.47 m
    # below the curved one (k = 4/3): blocked; with a huge k the bulge vanishes and it clears
    lam_m = 299.792458 / 15_000.0
    f1_m = math.sqrt(lam_m * 5_000.0 * 5_000.0 / 10_000.0)
    height_m = GROUND_M + 15.0 - 0.61 * f1_m
    dem = _dem({120: height_m})
    assert not _run([20], [500], [220], dem, site_height_m=15.0)["los"].iloc[0]
    assert _run([20], [500], [220], dem, site_height_m=15.0, k_factor=1e9)["los"].iloc[0]


def test_empty_input_gives_empty_frame_and_series_keep_their_index():
    out = fallback_options([], [], [], [_x(10)], [YC], [30.0], ["S0"], _dem())
    assert len(out) == 0 and list(out.columns) == list(FALLBACK_COLUMNS)
    x = pd.Series([_x(20), _x(80)], index=["V7", "V9"])
    out = fallback_options(x, [YC, YC], [200, 1], [_x(140)], [YC], [30.0], ["S0"], _dem())
    assert out.index.tolist() == ["V7", "V9"] and out["hop_site_id"].tolist() == ["S0", "S0"]
    # no sites at all: satellite everywhere
    out = fallback_options(x, [YC, YC], [200, 1], [], [], [], [], _dem())
    assert out["fallback"].tolist() == [SATELLITE] * 2
    assert out["reason"].tolist() == ["no site within 15 km"] * 2


@pytest.mark.parametrize("change, field", [
    ({"y_m": [YC]}, "y_m"),
    ({"households": [10, -1]}, "households"),
    ({"x_m": [np.nan, _x(30)]}, "x_m"),
    ({"sites_y_m": [YC, YC]}, "sites_y_m"),
    ({"sites_height_m": [-5.0]}, "sites_height_m"),
    ({"sites_id": ["S0", "S1"]}, "sites_id"),
    ({"households": ["ten", "one"]}, "households"),
    ({"nearest": 0}, "nearest"),
    ({"nearest": 1.5}, "nearest"),
    ({"hop_freq_mhz": -1.0}, "hop_freq_mhz"),
    ({"fresnel_clearance": float("nan")}, "fresnel_clearance"),
])
def test_bad_input_raises_data_error_naming_the_field(change, field):
    args = {"x_m": [_x(20), _x(30)], "y_m": [YC, YC], "households": [10, 1],
            "sites_x_m": [_x(140)], "sites_y_m": [YC], "sites_height_m": [30.0],
            "sites_id": ["S0"], "dem": _dem()}
    args.update(change)
    with pytest.raises(DataError, match=f"^{field}: ") as err:
        fallback_options(**args)
    assert "\n" not in str(err.value)


def test_missing_dem_raises_data_error():
    with pytest.raises(DataError, match="no DEM"):
        fallback_options([_x(20)], [YC], [10], [_x(140)], [YC], [30.0], ["S0"], None)
