"""Generated villages (thôn, bản, xóm, tổ dân phố) of the synthetic Hòa Bình (synthetic).

Each commune gets 5–20 villages (≈ ``per_commune`` on average, more in larger and more populous
communes), placed on lower, flatter ground of the generated DEM — where people in the
northern mountains live: valley floors and foot-slopes. Names are synthetic ("Xóm 3",
"Bản 2", "Tổ dân phố 4"); households and population are split among the villages and sum
exactly to the commune's 2019 census figures. One village per commune is the commune centre
(UBND, ``is_centre``), on low flat ground near the commune's geocoded centroid.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio import features

from phusong import settings
from phusong.bundle import Raster
from phusong.crs import parse_crs, to_work, transform_points
from phusong.errors import CRSError, DataError
from phusong.schema import check_layer

__all__ = ["village_counts", "apportion", "make_villages"]

#: Districts whose villages are mostly Thái "bản" (west); elsewhere Mường "xóm".
_BAN_DISTRICTS = {"150", "156"}
#: Slope scale of the placement weight, degrees (weight e^-1 at this slope).
_SLOPE_SCALE_DEG = 6.0
#: Relative-elevation scale of the placement weight (0 = commune's P5, 1 = its P95).
_RELEV_SCALE = 0.25
#: Minimum spacing between villages as a fraction of sqrt(commune area / n villages).
_SPACING = 0.45


def village_counts(communes: pd.DataFrame, *, per_commune: int = 10) -> np.ndarray:
    """Number of villages per commune: ≈ ``per_commune`` on average, 5–20, by size and people.

    The count grows with the square root of the commune's households and area relative to the
    province's medians (a commune twice as big or twice as populous has ≈ 1.4× the villages).

    Parameters
    ----------
    communes : DataFrame
        ``households`` and ``area_km2_fact`` (km²; else geometry area) per commune.
    per_commune : int
        Target mean number of villages per commune.

    Returns
    -------
    ndarray
        int per commune, in [max(1, per_commune // 2), 2 * per_commune].
    """
    if per_commune < 1:
        raise DataError(f"per_commune must be ≥ 1, got {per_commune}")
    hh = communes["households"].to_numpy(dtype=float)
    area = communes["area_km2_fact"].to_numpy(dtype=float)
    size = np.sqrt(hh / np.median(hh)) * 0.5 + np.sqrt(area / np.median(area)) * 0.5
    raw = per_commune * size / size.mean()
    return np.clip(np.round(raw), max(1, per_commune // 2), 2 * per_commune).astype(int)


def apportion(total: int, weights) -> np.ndarray:
    """Split integer ``total`` in proportion to ``weights`` (largest remainder; sum exact).

    Examples
    --------
    >>> apportion(10, [1, 1, 1]).tolist()
    [4, 3, 3]
    """
    w = np.asarray(weights, dtype=float)
    if w.sum() <= 0:
        w = np.ones_like(w)
    quota = total * w / w.sum()
    out = np.floor(quota).astype(int)
    rest = int(total - out.sum())
    if rest:
        order = np.argsort(-(quota - out), kind="stable")
        out[order[:rest]] += 1
    return out


def _slope_deg(dem: Raster) -> np.ndarray:
    res = abs(dem.transform.a)
    gy, gx = np.gradient(dem.array.astype(np.float32), res)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def _name(kind: str, k: int) -> str:
    return f"{kind} {k}"


def make_villages(
    communes: gpd.GeoDataFrame, dem: Raster, *, seed: int = 0, per_commune: int = 10
) -> gpd.GeoDataFrame:
    """Villages placed on low, flat ground, with census households split exactly.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        As :func:`phusong.twin.geography.make_communes` (``commune_code``, ``type``,
        ``district_code``, ``households``, ``population``, polygons, any CRS); an
        ``area_km2_fact`` column is used when present.
    dem : phusong.bundle.Raster
        Elevation, m, in ``settings.WORK_CRS`` covering the communes.
    seed : int
        Seed of the placement and of the split; same seed → identical villages.
    per_commune : int
        Mean number of villages per commune (each gets between half and twice that).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 points, schema layer ``villages``: ``village_id`` (``"{commune_code}-{k:02d}"``),
        ``commune_code``, ``name`` (synthetic), ``households``, ``population``, ``is_centre``,
        plus ``elevation_m`` and ``slope_deg`` (of the DEM pixel). Sums per commune equal the
        commune's ``households`` and ``population`` exactly.
    """
    if not parse_crs(dem.crs).equals(parse_crs(settings.WORK_CRS)):
        raise CRSError(f"dem: CRS {dem.crs} where {settings.WORK_CRS} expected; reproject it")
    work = to_work(communes, "communes").reset_index(drop=True)
    if "area_km2_fact" not in work.columns:
        work = work.assign(area_km2_fact=work.geometry.area / 1e6)
    counts = village_counts(work, per_commune=per_commune)
    rng = np.random.default_rng(seed)
    z = dem.array.astype(np.float32)
    slope = _slope_deg(dem)
    lab = features.rasterize(
        ((g, i + 1) for i, g in enumerate(work.geometry)), out_shape=z.shape,
        transform=dem.transform, fill=0, dtype="int32",
    ) - 1
    # Interior pixels (all 4 neighbours in the same commune) keep points off the boundaries.
    inner = lab.copy()
    inner[1:, :][lab[1:, :] != lab[:-1, :]] = -1
    inner[:-1, :][lab[:-1, :] != lab[1:, :]] = -1
    inner[:, 1:][lab[:, 1:] != lab[:, :-1]] = -1
    inner[:, :-1][lab[:, :-1] != lab[:, 1:]] = -1
    res = abs(dem.transform.a)
    flat = inner.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(len(work) + 1))
    cx, cy = _centroid_xy(work)
    rows_out = []
    for i, row in work.iterrows():
        pix = order[bounds[i] : bounds[i + 1]]
        if len(pix) == 0:
            pix = np.flatnonzero(lab.ravel() == i)
        if len(pix) == 0:
            raise DataError(
                f"communes: {row.commune_code} is smaller than one DEM pixel; use a finer DEM")
        rr, cc = np.divmod(pix, z.shape[1])
        zz, ss = z[rr, cc], slope[rr, cc]
        p5, p95 = np.percentile(zz, [5, 95])
        rel = (zz - p5) / max(p95 - p5, 1.0)
        weight = np.exp(-ss / _SLOPE_SCALE_DEG - np.clip(rel, 0, None) / _RELEV_SCALE)
        xs = dem.transform.c + (cc + 0.5) * res
        ys = dem.transform.f - (rr + 0.5) * res
        n = int(counts[i])
        chosen = _place(xs, ys, weight, n, cx[i], cy[i], float(row.area_km2_fact) * 1e6, rng)
        rows_out.append((i, pix[chosen], xs[chosen], ys[chosen], zz[chosen], ss[chosen]))
    return _assemble(work, rows_out, rng, res)


def _centroid_xy(work: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Geocoded centroid (facts) when the commune holds it, else a point inside the polygon."""
    from phusong.communes import commune_facts

    facts = commune_facts().set_index("commune_code")
    pts = work.geometry.representative_point()
    cx, cy = pts.x.to_numpy().copy(), pts.y.to_numpy().copy()
    known = work.commune_code.isin(facts.index).to_numpy()
    if known.any():
        f = facts.loc[work.commune_code[known]]
        fx, fy = transform_points(f.lon, f.lat, settings.STORE_CRS, settings.WORK_CRS)
        inside = gpd.GeoSeries(gpd.points_from_xy(fx, fy), crs=work.crs).within(
            work.geometry[known].reset_index(drop=True)).to_numpy()
        idx = np.flatnonzero(known)
        cx[idx[inside]], cy[idx[inside]] = fx[inside], fy[inside]
    return cx, cy


def _place(xs, ys, weight, n, cx, cy, area_m2, rng) -> np.ndarray:
    """Indices of ``n`` pixels (fewer if the commune has fewer): the centre, then weighted
    draws spaced apart (the spacing relaxes until enough are found)."""
    n = min(n, len(xs))
    d = np.hypot(xs - cx, ys - cy)
    near = d <= max(np.sqrt(area_m2) * 0.2, 600.0)
    if not near.any():
        near = d <= np.partition(d, min(20, len(d) - 1))[min(20, len(d) - 1)]
    centre = int(np.flatnonzero(near)[np.argmax(weight[near] * np.exp(-d[near] / 1500.0))])
    chosen = [centre]
    spacing = _SPACING * np.sqrt(area_m2 / max(n, 1))
    draws = rng.choice(len(xs), size=40 * n, replace=True, p=weight / weight.sum())
    while len(chosen) < n and spacing >= 1.0:
        for k in draws:
            if len(chosen) >= n:
                break
            if np.min(np.hypot(xs[chosen] - xs[k], ys[chosen] - ys[k])) >= spacing:
                chosen.append(int(k))
        spacing *= 0.7  # crowded commune: relax the spacing
    if len(chosen) < n:
        taken = set(chosen)
        rest = [int(k) for k in np.argsort(-weight, kind="stable") if int(k) not in taken]
        chosen.extend(rest[: n - len(chosen)])
    return np.array(chosen, dtype=int)


def _assemble(work, rows_out, rng, res) -> gpd.GeoDataFrame:
    recs = []
    for i, _pix, xs, ys, zz, ss in rows_out:
        c = work.loc[i]
        n = len(xs)
        kind = ("Tổ dân phố" if c["type"] in ("Phường", "Thị trấn") else
                "Bản" if str(c["district_code"]) in _BAN_DISTRICTS else "Xóm")
        w = rng.lognormal(0.0, 0.45, size=n)
        w[0] *= 2.0  # the centre is the largest settlement
        hh = apportion(int(c["households"]), w)
        pop = apportion(int(c["population"]), np.maximum(hh, 0))
        for k in range(n):
            recs.append({
                "village_id": f"{c['commune_code']}-{k + 1:02d}",
                "commune_code": c["commune_code"],
                "name": _name(kind, k + 1),
                "households": int(hh[k]),
                "population": int(pop[k]),
                "is_centre": k == 0,
                "elevation_m": float(zz[k]),
                "slope_deg": float(ss[k]),
                "x": float(xs[k]),
                "y": float(ys[k]),
            })
    df = pd.DataFrame.from_records(recs)
    x, y = df.pop("x").to_numpy(), df.pop("y").to_numpy()
    # Off the pixel lattice: jitter within the pixel, kept only where still inside the commune.
    jx = x + rng.uniform(-0.4, 0.4, len(x)) * res
    jy = y + rng.uniform(-0.4, 0.4, len(y)) * res
    polys = work.set_index("commune_code").geometry.loc[df["commune_code"]].to_numpy()
    ok = shapely.contains_xy(polys, jx, jy)
    x, y = np.where(ok, jx, x), np.where(ok, jy, y)
    lon, lat = transform_points(x, y, settings.WORK_CRS, settings.STORE_CRS)
    out = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(lon, lat), crs=settings.STORE_CRS)
    return check_layer(out, "villages")
