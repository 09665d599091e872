"""A small seeded synthetic bundle for planning tests and benchmarks (labelled synthetic).

Real commune codes, names and districts (:func:`phusong.communes.commune_facts`) with made-up
geometry: each commune is its bounding box, villages are scattered in it, roads join each
village to its commune centre and the centres to each other, fibre runs along the roads between
the first centres, sites carry 2G/3G/4G cells, and the DEM is smooth hills in EPSG:32648.
Used only where the embedded twin is not needed (tests, benchmark fallback).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from shapely.geometry import LineString, Point, box

from phusong import settings
from phusong.bundle import Bundle, Provenance, Raster
from phusong.crs import transform_points

__all__ = ["synthetic_bundle", "disc_scores", "disc_coverage_matrix", "disc_engine",
           "site_outside_communes", "DISC_RADIUS_M",
           "gaussian_hills_dem", "sectorised_sites"]

_SPLIT = ("04891", "04957")  # two units split by the 2025 crosswalk (share 0.5 each part)


def synthetic_bundle(n_communes: int = 6, villages_per_commune: int = 8, *, seed: int = 0,
                     fibre_share: float = 0.5, sites_per_commune: int = 1) -> Bundle:
    """A seeded synthetic bundle (module doc).

    Parameters
    ----------
    n_communes : int
        Communes taken from the real list (the split units of 2025 first), ≤ 151.
    villages_per_commune : int
        Villages per commune (the first is the commune centre).
    seed : int
        Random seed.
    fibre_share : float
        Share of the communes whose centre is joined by fibre.
    sites_per_commune : int
        Existing tower sites per commune.
    """
    from phusong.communes import commune_facts

    rng = np.random.default_rng(seed)
    facts = commune_facts()
    order = list(_SPLIT) + [c for c in facts.commune_code if c not in _SPLIT]
    facts = facts.set_index("commune_code").loc[order[:n_communes]].reset_index()
    communes = gpd.GeoDataFrame(
        facts[["commune_code", "name", "type", "district_code", "district_name", "population",
               "households"]],
        geometry=[box(r.bbox_west, r.bbox_south, r.bbox_east, r.bbox_north)
                  for r in facts.itertuples()], crs=settings.STORE_CRS)
    vrows, roads = [], []
    for r in facts.itertuples():
        lon = r.lon + rng.uniform(-0.4, 0.4, villages_per_commune) * (r.bbox_east - r.bbox_west)
        lat = r.lat + rng.uniform(-0.4, 0.4, villages_per_commune) * (r.bbox_north - r.bbox_south)
        lon[0], lat[0] = r.lon, r.lat
        hh = rng.multinomial(max(r.households, villages_per_commune) - villages_per_commune,
                             np.full(villages_per_commune, 1 / villages_per_commune)) + 1
        for k in range(villages_per_commune):
            vrows.append({"village_id": f"{r.commune_code}-{k:02d}", "commune_code": r.commune_code,
                          "name": f"Thôn {k + 1} {r.name_short}", "households": int(hh[k]),
                          "population": int(round(hh[k] * 3.9)), "is_centre": k == 0,
                          "geometry": Point(lon[k], lat[k])})
            if k:
                roads.append(("commune", (r.lon, r.lat), (lon[k], lat[k])))
    villages = gpd.GeoDataFrame(vrows, crs=settings.STORE_CRS)
    centres = list(zip(facts.lon, facts.lat, strict=True))
    for a, b in zip(centres[:-1], centres[1:], strict=True):
        roads.append(("provincial", a, b))
    cost_factor = {"provincial": 1.5, "commune": 1.0}
    road_gdf = gpd.GeoDataFrame(
        {"road_id": [f"r{i}" for i in range(len(roads))],
         "road_class": [c for c, _, _ in roads],
         "cost_factor": [cost_factor[c] for c, _, _ in roads]},
        geometry=[LineString([a, b]) for _, a, b in roads], crs=settings.STORE_CRS)
    n_fibre = max(1, int(round(fibre_share * n_communes)))
    fibre = gpd.GeoDataFrame(
        {"span_id": [f"f{i}" for i in range(n_fibre - 1 or 1)], "kind": "ring"},
        geometry=[LineString([centres[i], centres[i + 1]]) for i in range(n_fibre - 1)]
        or [LineString([centres[0], (centres[0][0] + 1e-4, centres[0][1])])],
        crs=settings.STORE_CRS)
    sites, cells = [], []
    for i, r in enumerate(facts.itertuples()):
        for s in range(sites_per_commune):
            sid = f"S{i:03d}{s}"
            lon = r.lon + rng.uniform(-0.1, 0.1) * (r.bbox_east - r.bbox_west)
            lat = r.lat + rng.uniform(-0.1, 0.1) * (r.bbox_north - r.bbox_south)
            sites.append({"site_id": sid, "operator": settings.OPERATORS[(i + s) % 4],
                          "height_m": 30.0, "has_power": True, "has_backhaul": i < n_fibre,
                          "geometry": Point(lon, lat)})
            techs = ["2G", "3G"] + (["4G"] if (i + s) % 3 else [])
            for t in techs:
                band, f = next(iter(settings.BANDS_MHZ[t].items()))
                cells.append({"cell_id": f"{sid}-{t}", "site_id": sid, "tech": t, "band": band,
                              "freq_mhz": f, "eirp_dbm": settings.RADIO.eirp_dbm,
                              "azimuth_deg": np.nan, "tilt_deg": 2.0})
    sites = gpd.GeoDataFrame(sites, crs=settings.STORE_CRS)
    cells = pd.DataFrame(cells)
    dem = _dem(facts, rng)
    prov = Provenance(f"tests._synthetic seed {seed}", "CC0", synthetic=True,
                      note="made-up geometry on real commune codes, for tests")
    layers = {"communes": communes, "villages": villages, "sites": sites, "cells": cells,
              "fibre": fibre, "roads": road_gdf}
    return Bundle(f"synthetic-planning-{n_communes}", layers=layers, rasters={"dem": dem},
                  provenance={k: prov for k in [*layers, "dem"]}, meta={"seed": seed})


def _dem(facts, rng) -> Raster:
    west, south = facts.bbox_west.min() - 0.05, facts.bbox_south.min() - 0.05
    east, north = facts.bbox_east.max() + 0.05, facts.bbox_north.max() + 0.05
    x, y = transform_points([west, east], [south, north], settings.STORE_CRS, settings.WORK_CRS)
    res = 200.0
    x0, y1 = np.floor(x[0] / res) * res, np.ceil(y[1] / res) * res
    cols = int(np.ceil((x[1] - x0) / res)) + 1
    rows = int(np.ceil((y1 - y[0]) / res)) + 1
    gx, gy = np.meshgrid(x0 + res * (np.arange(cols) + 0.5), y1 - res * (np.arange(rows) + 0.5))
    z = np.full((rows, cols), 150.0)
    for _ in range(max(4, len(facts) * 2)):
        cx, cy = rng.uniform(x0, x0 + cols * res), rng.uniform(y1 - rows * res, y1)
        z += rng.uniform(200, 900) * np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2)
                                            / (2 * rng.uniform(1500, 5000) ** 2))
    return Raster(z.astype("float32"), Affine(res, 0, x0, 0, -res, y1), settings.WORK_CRS, "m")


def gaussian_hills_dem(rng, side_m: float, px_m: float, x0: float, y0: float, n_hills: int,
                       spread_m: tuple[float, float], height_m: tuple[float, float]) -> Raster:
    """A square DEM (EPSG:32648, top-left corner ``x0``, ``y0``) of 250 m plus ``n_hills``
    elliptical Gaussian hills (half-axes drawn in ``spread_m``, heights in ``height_m``, m)
    and 3 m of noise, drawn from ``rng`` in a fixed order (the same ``rng`` state gives the
    same terrain)."""
    n = int(side_m / px_m)
    yy, xx = np.mgrid[0:n, 0:n] * px_m
    z = np.full((n, n), 250.0)
    for _ in range(n_hills):
        cx, cy = rng.uniform(0, side_m, 2)
        sx, sy = rng.uniform(*spread_m, 2)
        z += rng.uniform(*height_m) * np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))
    z += rng.normal(0, 3, z.shape)
    return Raster(z.astype(np.float32), Affine(px_m, 0, x0, 0, -px_m, y0), "EPSG:32648", "m")


def sectorised_sites(rng, n_sites: int, side_m: float, x0: float, y0: float, *,
                     with_5g: bool = False) -> pd.DataFrame:
    """``n_sites`` sites of the 4 operators in turn, at least 1 km inside the square of side
    ``side_m`` below and right of (``x0``, ``y0``), m: a 2G omni cell (947.5 MHz, 55 dBm) and
    three 4G sectors (1842.5 MHz, 57 dBm, tilt 4°), plus with ``with_5g`` one 5G sector
    (3,500 MHz, 60 dBm, azimuth 60°, tilt 6°); 30 m masts. Positions are drawn from ``rng`` in
    a fixed order (x then y per site)."""
    rows = []
    for i in range(n_sites):
        x, y = x0 + rng.uniform(1000, side_m - 1000), y0 - rng.uniform(1000, side_m - 1000)
        op = settings.OPERATORS[i % 4]
        rows.append((f"S{i}", op, "2G", 947.5, 55.0, np.nan, np.nan, x, y))
        for az in (0.0, 120.0, 240.0):
            rows.append((f"S{i}", op, "4G", 1842.5, 57.0, az, 4.0, x, y))
        if with_5g:
            rows.append((f"S{i}", op, "5G", 3500.0, 60.0, 60.0, 6.0, x, y))
    tx = pd.DataFrame(rows, columns=["site_id", "operator", "tech", "freq_mhz", "eirp_dbm",
                                     "azimuth_deg", "tilt_deg", "x_m", "y_m"])
    tx["height_m"] = 30.0
    tx["cell_id"] = [f"C{i}" for i in range(len(tx))]
    return tx


#: Coverage radius per technology of the disc stand-in, m.
DISC_RADIUS_M = {"2G": 6000.0, "3G": 4000.0, "4G": 3000.0, "5G": 1000.0}


def disc_scores(bundle, *, model: str = settings.DEFAULT_MODEL, config=None) -> pd.DataFrame:
    """Disc stand-in for ``score_villages``: covered within ``DISC_RADIUS_M`` of a site with the tech.

    For tests and the benchmark's fallback only (no terrain, no propagation model, no
    reliability: the disc is the same at any percentage).
    """
    from phusong.crs import to_work

    del model, config  # a disc: no propagation model, no thresholds, no reliability
    v = to_work(bundle.villages, "villages")
    s = to_work(bundle.sites, "sites").set_index("site_id")
    cells = bundle.cells.merge(s[["operator"]], left_on="site_id", right_index=True)
    vx, vy = v.geometry.x.to_numpy(), v.geometry.y.to_numpy()
    out = pd.DataFrame(index=pd.Index(v["village_id"], name="village_id"))
    for t in settings.TECHS:
        any_t = np.zeros(len(v), bool)
        for op in settings.OPERATORS:
            ids = cells.loc[(cells.tech == t) & (cells.operator == op), "site_id"].unique()
            hit = np.zeros(len(v), bool)
            if len(ids):
                sx, sy = s.geometry[ids].x.to_numpy(), s.geometry[ids].y.to_numpy()
                d = np.hypot(vx[:, None] - sx[None], vy[:, None] - sy[None])
                hit = (d <= DISC_RADIUS_M[t]).any(axis=1)
            out[f"covered_{t}_{op}"] = hit
            any_t |= hit
        out[f"covered_{t}"] = any_t
    out["covered_any"] = out[[f"covered_{t}" for t in settings.TECHS]].any(axis=1)
    return out


def disc_coverage_matrix(tx: pd.DataFrame, x_m, y_m, dem=None, *,
                         model: str = settings.DEFAULT_MODEL, clutter=None, config=None):
    """Disc stand-in for ``coverage_matrix`` (receivers × transmitters, bool, CSR; clutter and
    the config's reliability ignored)."""
    import scipy.sparse as sp

    del dem, model, clutter, config
    r = np.array([DISC_RADIUS_M[t] for t in tx["tech"]])
    d = np.hypot(np.asarray(x_m)[:, None] - tx["x_m"].to_numpy()[None],
                 np.asarray(y_m)[:, None] - tx["y_m"].to_numpy()[None])
    return sp.csr_matrix(d <= r[None])


def disc_engine(monkeypatch, stats: dict | None = None) -> None:
    """Make the plan score with the disc model (:func:`disc_scores`,
    :func:`disc_coverage_matrix`); ``stats``: the engine's counts its village scores carry
    (``attrs["stats"]``, as :func:`phusong.coverage.score_villages` gives them)."""
    from phusong.planning import _plan_deps as deps

    def scores(b, **kw):
        out = disc_scores(b, model=kw.get("model", "itm"))
        if stats is not None:
            out.attrs["stats"] = dict(stats)
        return out

    monkeypatch.setattr(deps, "score_villages", scores)
    monkeypatch.setattr(deps, "coverage_matrix", disc_coverage_matrix)


def site_outside_communes(bundle: Bundle) -> tuple[Bundle, str]:
    """``bundle`` with its first site moved 0.5° east of every commune, and that site's id."""
    from dataclasses import replace

    from shapely.affinity import translate

    sites = bundle.sites.copy()
    first = sites.geometry.iloc[0]
    east = float(bundle.communes.total_bounds[2]) - float(first.x) + 0.5
    sites.loc[sites.index[0], "geometry"] = translate(first, xoff=east)
    return (replace(bundle, layers={**bundle.layers, "sites": sites}),
            str(sites["site_id"].iloc[0]))
