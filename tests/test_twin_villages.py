"""Generated villages: counts, exact census sums, placement inside communes on low flat ground,
commune centres, determinism."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from rasterio import features

from phusong import settings
from phusong.bundle import Raster
from phusong.communes import commune_facts
from phusong.errors import CRSError, DataError
from phusong.schema import check_layer
from phusong.twin._geo_seeds import implausible_centroids
from phusong.twin.villages import apportion, make_villages, village_counts


@pytest.fixture(scope="module")
def villages(communes, dem):
    return make_villages(communes, dem, seed=0)


def test_schema_counts_ids(villages, communes):
    check_layer(villages, "villages")
    assert villages.crs.to_string() == "EPSG:4326"
    assert villages.village_id.is_unique
    assert villages.village_id.str.fullmatch(r"\d{5}-\d{2}").all()
    n = villages.groupby("commune_code").size().reindex(communes.commune_code)
    assert n.notna().all()
    assert n.between(5, 20).all()
    # ≈ 10 per commune on average (rounding of 151 counts moves the total by a few).
    assert abs(n.sum() - 1_510) <= 30
    # Bigger / more populous communes have more villages.
    assert np.corrcoef(n.to_numpy(), communes.households.to_numpy())[0, 1] > 0.3


def test_exact_census_sums(villages, communes):
    sums = villages.groupby("commune_code")[["households", "population"]].sum()
    ref = communes.set_index("commune_code")[["households", "population"]]
    assert (sums.reindex(ref.index) == ref).all().all()
    assert (villages.households > 0).all()
    assert (villages.population >= villages.households).all()


def test_inside_own_commune(villages, communes):
    joined = gpd.sjoin(villages, communes[["commune_code", "geometry"]], predicate="within",
                       how="left", lsuffix="v", rsuffix="c")
    assert len(joined) == len(villages)
    assert (joined.commune_code_v == joined.commune_code_c).all()


def test_one_centre_near_the_centroid(villages, communes):
    centres = villages[villages.is_centre]
    assert centres.commune_code.is_unique and len(centres) == len(communes)
    facts = commune_facts().set_index("commune_code")
    ok = ~implausible_centroids(commune_facts())
    codes = commune_facts().commune_code[ok]
    c = centres.set_index("commune_code").loc[codes].to_crs(settings.WORK_CRS)
    f = gpd.GeoSeries(gpd.points_from_xy(facts.loc[codes].lon, facts.loc[codes].lat),
                      crs=settings.STORE_CRS).to_crs(settings.WORK_CRS)
    d = c.geometry.distance(f.set_axis(c.index)).to_numpy()
    area = communes.set_index("commune_code").loc[codes].area_km2_fact.to_numpy() * 1e6
    # The centre is sought within max(600 m, 0.2 sqrt(area)) of the geocoded centroid (plus
    # half a pixel of jitter).
    assert np.all(d <= np.maximum(600.0, 0.2 * np.sqrt(area)) + 90.0)
    # Centres are the largest settlement more often than not (weight × 2).
    largest = villages.loc[villages.groupby("commune_code").households.idxmax()]
    assert largest.is_centre.mean() > 0.5


def test_low_flat_ground(villages, communes, dem):
    work = communes.to_crs(settings.WORK_CRS)
    lab = features.rasterize(((g, i + 1) for i, g in enumerate(work.geometry)),
                             out_shape=dem.shape, transform=dem.transform) - 1
    gy, gx = np.gradient(dem.array, 90.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    rows = []
    for i, code in enumerate(work.commune_code):
        v = villages[villages.commune_code == code]
        m = lab == i
        rows.append((v.slope_deg.median(), np.median(slope[m]),
                     v.elevation_m.median(), np.median(dem.array[m])))
    s_v, s_c, z_v, z_c = np.array(rows).T
    print(f"median over communes: village slope {np.median(s_v):.1f}° vs commune "
          f"{np.median(s_c):.1f}°; village elevation {np.median(z_v):.0f} m vs commune "
          f"{np.median(z_c):.0f} m; communes where villages are flatter {np.mean(s_v < s_c):.0%},"
          f" lower {np.mean(z_v < z_c):.0%}")
    # Placement weights favour low slope and low relative elevation: nearly every commune's
    # villages sit lower and flatter than its land (a flat urban ward may tie).
    assert np.mean(s_v < s_c) > 0.9
    assert np.mean(z_v < z_c) > 0.9
    assert np.median(s_v) < 0.5 * np.median(s_c)


def test_names_synthetic_and_by_type(villages, communes):
    kind = villages.commune_code.map(communes.set_index("commune_code")["type"])
    assert villages.name[kind == "Phường"].str.startswith("Tổ dân phố").all()
    assert villages.name[kind == "Xã"].str.match(r"^(Xóm|Bản) \d+$").all()


def test_deterministic_and_seeded(villages, communes, dem):
    again = make_villages(communes, dem, seed=0)
    assert again.drop(columns="geometry").equals(villages.drop(columns="geometry"))
    assert again.geometry.geom_equals_exact(villages.geometry, 0.0).all()
    other = make_villages(communes, dem, seed=1)
    assert not other.geometry.geom_equals_exact(villages.geometry, 1e-9).all()


def test_options_and_errors(communes, dem):
    n = village_counts(communes, per_commune=4)
    assert n.min() >= 2 and n.max() <= 8
    with pytest.raises(DataError, match="per_commune"):
        make_villages(communes, dem, per_commune=0)
    wrong = Raster(dem.array, dem.transform, "EPSG:4326", "m")
    with pytest.raises(CRSError, match="EPSG:32648"):
        make_villages(communes, wrong)


def test_apportion_exact():
    rng = np.random.default_rng(3)
    for _ in range(50):
        total = int(rng.integers(0, 10_000))
        w = rng.random(int(rng.integers(1, 25)))
        out = apportion(total, w)
        assert out.sum() == total and (out >= 0).all()
        # Largest remainder: each share is within one of its exact quota.
        assert np.all(np.abs(out - total * w / w.sum()) < 1.0)
