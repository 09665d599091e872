"""Fallback service for villages no terrestrial candidate reaches: small cell or satellite.

A village without a planned mobile or fibre service still needs one (DESIGN §6). Two fallbacks
are priced per village:

- **small cell + microwave**: a small cell on a light mast (``mast_m`` above the village
  ground) whose backhaul is one point-to-point microwave hop to a hub site. The hop needs line
  of sight: along the terrain profile from the hub to the village every point must lie below
  the straight line between the antenna tops by at least ``fresnel_clearance`` times the
  radius of the first Fresnel zone, ``F1 = sqrt(λ d1 d2 / d)``, with the earth bulge
  ``d1 d2 / (2 k a)`` added to the terrain (k = 4/3 by default). Up to ``nearest`` hub sites
  within ``max_hop_m`` are tried, nearest first; the first clear one is used.
- **satellite**: one terminal per household.

The cheaper one is chosen (satellite when the hop is impossible). Costs are the engineering
assumptions of :class:`phusong.settings.Costs`.

The check reuses the coverage engine's compiled pieces: :func:`pair_profiles` samples the
terrain and :func:`~phusong.coverage._diffraction.path_geometry` gives, per path, the largest
``G = h sqrt(2 d / (d1 d2))`` of any profile point (``h``: height above the line, bulge
included). As ``h / F1 = G / sqrt(2 λ)``, the hop clears iff ``G ≤ −c sqrt(2 λ)``.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> from phusong.bundle import Raster
>>> flat = np.full((100, 100), 200.0, dtype="float32")  # 5 km × 5 km at 200 m, 50 m pixels
>>> dem = Raster(flat, Affine(50.0, 0, 600_000.0, 0, -50.0, 2_310_000.0), "EPSG:32648", "m")
>>> out = fallback_options([601_000.0, 602_000.0, 620_000.0], [2_309_000.0] * 3, [120, 3, 90],
...                        [604_000.0], [2_307_000.0], [30.0], ["S1"], dem)
>>> for row in out.itertuples():
...     print(f"{row.fallback:22} {row.fallback_cost_vnd / 1e6:8.1f} M VND  {row.reason}")
small cell + microwave   1147.5 M VND  line of sight to S1 (3.6 km)
satellite                  45.9 M VND  satellite cheaper (3 households)
satellite                1377.0 M VND  outside the DEM
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from phusong import settings
from phusong.coverage import pair_profiles, prepare_terrain
from phusong.coverage._diffraction import path_geometry
from phusong.errors import DataError

__all__ = ["fallback_options", "FALLBACK_COLUMNS", "SMALL_CELL", "SATELLITE"]

#: Names of the two fallbacks in the ``fallback`` column.
SMALL_CELL = "small cell + microwave"
SATELLITE = "satellite"

#: Columns of :func:`fallback_options`, in order.
FALLBACK_COLUMNS = ("in_dem", "hop_site_id", "hop_m", "los", "small_cell_vnd", "satellite_vnd",
                    "fallback", "fallback_cost_vnd", "reason")

#: Profile samples held at once (pairs × samples), bounding memory to ~16 MB per batch.
_BATCH_SAMPLES = 2_000_000


def fallback_options(x_m, y_m, households, sites_x_m, sites_y_m, sites_height_m, sites_id, dem,
                     *, costs: settings.Costs = settings.COSTS, mast_m: float = 15.0,
                     max_hop_m: float = 15_000.0, nearest: int = 3,
                     hop_freq_mhz: float = 15_000.0, fresnel_clearance: float = 0.6,
                     k_factor: float = settings.RADIO.k_factor) -> pd.DataFrame:
    """Price a fallback (small cell with a microwave hop, or satellite) for every village.

    Parameters
    ----------
    x_m, y_m : array_like
        Village points, ``settings.WORK_CRS`` (EPSG:32648) metres. A pandas Series keeps its
        index in the result.
    households : array_like
        Households per village (≥ 0).
    sites_x_m, sites_y_m : array_like
        Candidate hub sites (existing towers able to take a microwave dish), WORK_CRS metres.
    sites_height_m : array_like
        Antenna height of each hub above its ground, m.
    sites_id : array_like
        Site identifiers (turned into text).
    dem : phusong.bundle.Raster
        Elevation, m, any CRS (``bundle.dem``). Hub sites off the DEM (or on void cells) are
        not considered.
    costs : settings.Costs
        Unit costs, VND: ``small_cell_vnd``, ``microwave_hop_vnd``,
        ``satellite_vnd_per_household``.
    mast_m : float
        Height of the small cell's mast (and its microwave dish) above the village ground, m.
    max_hop_m : float
        Longest microwave hop considered, m.
    nearest : int
        How many of the nearest hub sites within ``max_hop_m`` are checked.
    hop_freq_mhz : float
        Microwave frequency, MHz (sets the Fresnel-zone radius).
    fresnel_clearance : float
        Required clearance below the line of sight as a fraction of the first Fresnel-zone
        radius (0.6 is the usual planning rule; 0 asks for bare line of sight).
    k_factor : float
        Effective earth-radius factor of the earth bulge.

    Returns
    -------
    pandas.DataFrame
        One row per village, in input order: ``in_dem`` (bool: the point lies on valid DEM
        cells), ``hop_site_id`` (str or None), ``hop_m`` (horizontal hop length, m; NaN when
        none), ``los`` (bool: a clear hop exists), ``small_cell_vnd`` (small cell + hop, VND;
        NaN without line of sight), ``satellite_vnd`` (terminals for every household, VND),
        ``fallback`` (``"small cell + microwave"`` when clear and strictly cheaper, else
        ``"satellite"``), ``fallback_cost_vnd`` (VND) and ``reason`` (text).

    Raises
    ------
    DataError
        Lengths differ, coordinates are not finite, households or heights are negative, an
        option is out of range, or the DEM is missing or void.
    """
    x, y, hh, sx, sy, sh, sid = _check_inputs(x_m, y_m, households, sites_x_m, sites_y_m,
                                              sites_height_m, sites_id)
    _check_options(mast_m, max_hop_m, nearest, hop_freq_mhz, fresnel_clearance, k_factor)
    index = x_m.index if isinstance(x_m, pd.Series) else pd.RangeIndex(len(x))
    n = len(x)
    site = np.full(n, -1, dtype=np.int64)
    hop_m = np.full(n, np.nan)
    in_dem = np.zeros(n, dtype=bool)
    checked = np.zeros(n, dtype=np.int64)
    if n:
        terrain = prepare_terrain(dem)
        in_dem = np.isfinite(terrain.sample(x, y))
        on_dem = np.flatnonzero(np.isfinite(terrain.sample(sx, sy)))
        if len(on_dem):
            dist, idx = _nearest_sites(x, y, sx[on_dem], sy[on_dem], in_dem, nearest, max_hop_m)
            checked = np.isfinite(dist).sum(axis=1)
            hop = _Hop(terrain, mast_m, hop_freq_mhz, fresnel_clearance, k_factor)
            for rank in range(dist.shape[1]):
                todo = np.flatnonzero((site < 0) & np.isfinite(dist[:, rank]))
                cand = on_dem[idx[todo, rank]]
                clear = hop.clears(sx[cand], sy[cand], sh[cand], x[todo], y[todo])
                site[todo[clear]] = cand[clear]
                hop_m[todo[clear]] = dist[todo[clear], rank]
    return _price(index, in_dem, site, hop_m, checked, hh, sid, costs, nearest, max_hop_m)


class _Hop:
    """The line-of-sight test of microwave hops, one batch of hub → village paths at a time."""

    def __init__(self, terrain, mast_m, freq_mhz, clearance, k_factor):
        self.terrain = terrain
        self.mast_m = float(mast_m)
        self.k_factor = float(k_factor)
        lam_m = 299.792458 / float(freq_mhz)
        # h / F1 = G / sqrt(2 λ): clearance c·F1 below the line ⇔ G ≤ −c sqrt(2 λ)
        self.g_max = -float(clearance) * math.sqrt(2.0 * lam_m)

    def clears(self, hub_x, hub_y, hub_height_m, vil_x, vil_y) -> np.ndarray:
        """True for each path whose every profile point clears the line by c·F1."""
        out = np.zeros(len(hub_x), dtype=bool)
        longest_m = float(np.max(np.hypot(hub_x - vil_x, hub_y - vil_y), initial=0.0))
        batch = max(1, int(_BATCH_SAMPLES // (longest_m / self.terrain.step_m + 2)))
        for s in range(0, len(out), batch):
            b = slice(s, s + batch)
            prof, nv, step, _d, ok = pair_profiles(self.terrain, hub_x[b], hub_y[b], vil_x[b],
                                                   vil_y[b])
            # Deygout's principal edge is the largest G over every interior profile point
            g = path_geometry(prof, nv, step, hub_height_m[b], self.mast_m, method="deygout",
                              k_factor=self.k_factor)[:, 0]
            out[b] = ok & (g <= self.g_max)
        return out


def _nearest_sites(x, y, sx, sy, in_dem, nearest, max_hop_m):
    """(distance, index) of up to ``nearest`` sites within ``max_hop_m`` (inf where none)."""
    k = min(int(nearest), len(sx))
    dist = np.full((len(x), k), np.inf)
    idx = np.zeros((len(x), k), dtype=np.int64)
    q = np.flatnonzero(in_dem)
    if len(q):
        d, i = cKDTree(np.c_[sx, sy]).query(np.c_[x[q], y[q]], k=k, distance_upper_bound=max_hop_m)
        d, i = d.reshape(len(q), k), i.reshape(len(q), k)
        found = np.isfinite(d)
        dist[q] = d
        idx[q] = np.where(found, i, 0)
    return dist, idx


def _price(index, in_dem, site, hop_m, checked, hh, sid, costs, nearest, max_hop_m):
    los = site >= 0
    small = np.where(los, costs.small_cell_vnd + costs.microwave_hop_vnd, np.nan)
    sat = costs.satellite_vnd_per_household * hh
    use_small = los & (small < sat)
    km = max_hop_m / 1000.0
    reasons = []
    for i in range(len(site)):
        if not in_dem[i]:
            reasons.append("outside the DEM")
        elif use_small[i]:
            reasons.append(f"line of sight to {sid[site[i]]} ({hop_m[i] / 1000.0:.1f} km)")
        elif los[i]:
            noun = "household" if hh[i] == 1 else "households"
            reasons.append(f"satellite cheaper ({hh[i]:.10g} {noun})")
        elif checked[i] == 0:
            reasons.append(f"no site within {km:g} km")
        elif checked[i] == nearest:
            many = "site" if nearest == 1 else "sites"
            reasons.append(f"no line of sight to the {nearest} nearest {many} within {km:g} km")
        else:
            which = "only site" if checked[i] == 1 else f"{checked[i]} sites"
            reasons.append(f"no line of sight to the {which} within {km:g} km")
    return pd.DataFrame({
        "in_dem": in_dem,
        "hop_site_id": pd.Series([sid[s] if s >= 0 else None for s in site], index=index,
                                 dtype=object),
        "hop_m": hop_m,
        "los": los,
        "small_cell_vnd": small,
        "satellite_vnd": sat,
        "fallback": np.where(use_small, SMALL_CELL, SATELLITE).astype(object),
        "fallback_cost_vnd": np.where(use_small, small, sat),
        "reason": pd.Series(reasons, index=index, dtype=object),
    }, index=index, columns=list(FALLBACK_COLUMNS))


def _check_inputs(x_m, y_m, households, sites_x_m, sites_y_m, sites_height_m, sites_id):
    x = _numbers("x_m", x_m)
    n = len(x)
    y = _numbers("y_m", y_m, n, "villages")
    hh = _numbers("households", households, n, "villages", lo=0.0)
    sx = _numbers("sites_x_m", sites_x_m)
    m = len(sx)
    sy = _numbers("sites_y_m", sites_y_m, m, "sites")
    sh = _numbers("sites_height_m", sites_height_m, m, "sites", lo=0.0)
    sid = np.asarray(sites_id, dtype=object).ravel()
    if np.ndim(sites_id) != 1 or len(sid) != m:
        raise DataError(f"sites_id: {len(sid)} values for {m} sites; give one id per site")
    return x, y, hh, sx, sy, sh, np.array([str(s) for s in sid], dtype=object)


def _numbers(name, values, n=None, what="", *, lo=None) -> np.ndarray:
    """``values`` as a finite 1-D float array (of length ``n``, each ≥ ``lo``) or DataError."""
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name}: must be numbers; convert the column "
                        f"(e.g. pandas.to_numeric)") from None
    if a.ndim != 1:
        raise DataError(f"{name}: must be one value per row (1-D), got shape {a.shape}")
    if n is not None and len(a) != n:
        raise DataError(f"{name}: {len(a)} values for {n} {what}; give one value per row")
    bad = np.flatnonzero(~np.isfinite(a))
    if len(bad):
        raise DataError(f"{name}: row {bad[0]} is {a[bad[0]]}; fill or drop the rows without a "
                        "value")
    if lo is not None and (a < lo).any():
        i = int(np.argmax(a < lo))
        raise DataError(f"{name}: row {i} is {a[i]:g}; values must be ≥ {lo:g}")
    return a


def _check_options(mast_m, max_hop_m, nearest, hop_freq_mhz, fresnel_clearance, k_factor):
    for key, v, lo, strict in (("mast_m", mast_m, 0.0, False), ("max_hop_m", max_hop_m, 0.0, True),
                               ("hop_freq_mhz", hop_freq_mhz, 0.0, True),
                               ("fresnel_clearance", fresnel_clearance, 0.0, False),
                               ("k_factor", k_factor, 0.0, True), ("nearest", nearest, 1.0, False)):
        ok = isinstance(v, (int, float, np.number)) and math.isfinite(v) and (
            v > lo if strict else v >= lo)
        if not ok:
            raise DataError(f"{key}: {v!r} must be a finite number {'>' if strict else '≥'} {lo:g}")
    if int(nearest) != nearest:
        raise DataError(f"nearest: {nearest!r} must be a whole number of sites (≥ 1)")
