"""Cross-checks of the geocoded commune centroids and relocation of the implausible ones.

The centroids of the facts were geocoded by ``vietnamadminunits``; a few contradict the other
facts (a unit geocoded in another district, two units sharing one point, a unit far from the
centre of the 2025 unit it merged into). Each check uses facts only; a flagged seed is moved
to the largest empty space of the zone where the facts say the unit must be.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import Delaunay, cKDTree

from phusong import settings
from phusong.crs import transform_points

__all__ = [
    "OUTLIER_FACTOR",
    "DUPLICATE_FRACTION",
    "UNIT_FACTOR",
    "implausible_centroids",
    "relocate_seeds",
]

#: (a) Implausible when the nearest centroid of the same district is farther than this many
#: times the sum of the two sizes sqrt(area) (district neighbours are about half that apart).
OUTLIER_FACTOR = 2.0
#: (b) Two centroids closer than this fraction of the smaller sqrt(area) are one geocode.
DUPLICATE_FRACTION = 0.1
#: (c) Implausible when farther from the centre of its 2025 unit than this many times the
#: unit's sqrt(area) — checked for units merged whole into a 2025 unit whose centre is itself
#: reliable (the median member lies within 1 × sqrt(area)). Over the 151 units the distance
#: is ≤ 1.0 × for all but a handful, which stand apart (≥ 1.29 ×).
UNIT_FACTOR = 1.2


def _xy(facts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return transform_points(facts["lon"], facts["lat"], settings.STORE_CRS, settings.WORK_CRS)


def _units(facts: pd.DataFrame):
    """Per commune: its 2025 unit's centre (x, y, m), size sqrt(area) (m), reliable flag."""
    from phusong.communes import crosswalk_2025, units_2025

    n = len(facts)
    ux = np.full(n, np.nan)
    uy = np.full(n, np.nan)
    usize = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    # the 2025 tables ship with phusong: a missing or broken one is an error, not a check off.
    # Custom facts tables whose codes are not in the crosswalk skip check (c) below (``has``).
    cw, units = crosswalk_2025(), units_2025()
    whole = cw[cw["share"] >= 1.0].drop_duplicates("commune_code").set_index("commune_code")
    units = units.set_index("unit_code")
    cx, cy = transform_points(units["lon"], units["lat"], settings.STORE_CRS, settings.WORK_CRS)
    centre = pd.DataFrame({"x": cx, "y": cy, "size": np.sqrt(units["area_km2"] * 1e6)},
                          index=units.index)
    codes = facts["commune_code"].astype(str).to_numpy()
    has = np.array([c in whole.index and whole.loc[c, "unit_code"] in centre.index
                    for c in codes])
    if not has.any():
        return ux, uy, usize, ok
    unit = np.array([whole.loc[c, "unit_code"] if h else "" for c, h in zip(codes, has,
                                                                          strict=True)])
    ux[has] = centre.loc[unit[has], "x"].to_numpy()
    uy[has] = centre.loc[unit[has], "y"].to_numpy()
    usize[has] = centre.loc[unit[has], "size"].to_numpy()
    x, y = _xy(facts)
    rel = np.hypot(x - ux, y - uy) / usize
    for u in set(unit[has]):
        members = unit == u
        ok[members] = np.nanmedian(rel[members]) <= 1.0
    return ux, uy, usize, ok


def implausible_centroids(facts: pd.DataFrame) -> np.ndarray:
    """Flag geocoded centroids that contradict the other facts.

    A centroid is implausible when

    (a) every other centroid of its district is far away (farther than :data:`OUTLIER_FACTOR`
        × (sqrt(area_i) + sqrt(area_j)) from the nearest one, j: districts are contiguous, so
        each unit has a district neighbour about (sqrt(area_i) + sqrt(area_j)) / 2 away);
    (b) it duplicates another unit's centroid (closer than :data:`DUPLICATE_FRACTION` × the
        smaller sqrt(area)); the unit listed first keeps the point;
    (c) it lies farther than :data:`UNIT_FACTOR` × sqrt(area) from the centre of the 2025 unit
        it merged into whole (:func:`phusong.communes.units_2025`), that centre being reliable.

    Parameters
    ----------
    facts : DataFrame
        ``commune_code``, ``lon``, ``lat`` (degrees), ``area_km2``, ``district_code``.

    Returns
    -------
    ndarray
        bool per row.
    """
    x, y = _xy(facts)
    side = np.sqrt(facts["area_km2"].to_numpy(dtype=float) * 1e6)
    district = facts["district_code"].astype(str).to_numpy()
    n = len(facts)
    bad = np.zeros(n, dtype=bool)
    for i in range(n):
        same = np.flatnonzero((district == district[i]) & (np.arange(n) != i))
        if len(same) == 0:
            continue
        d = np.hypot(x[same] - x[i], y[same] - y[i])
        j = int(np.argmin(d))
        if d[j] > OUTLIER_FACTOR * (side[i] + side[same[j]]):
            bad[i] = True
    for i, j in sorted(cKDTree(np.c_[x, y]).query_pairs(float(side.max()))):
        if np.hypot(x[i] - x[j], y[i] - y[j]) < DUPLICATE_FRACTION * min(side[i], side[j]):
            bad[max(i, j)] = True
    ux, uy, usize, ok = _units(facts)
    with np.errstate(invalid="ignore"):
        bad |= ok & (np.hypot(x - ux, y - uy) > UNIT_FACTOR * usize)
    return bad


def relocate_seeds(facts: pd.DataFrame, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seeds, m: the centroids, with each flagged one moved to where the facts say it must be.

    The zone is the unit's 2025 unit (within 0.8 × its sqrt(area) of a reliable centre) or else
    its district (within 1.5 mean unit sizes of a plausible member centroid), without points
    nearer another district's centroids than its own and, where possible, inside the hull of
    all plausible centroids; the seed goes to the zone's point farthest from every other seed
    (the largest empty circle: where an unplaced unit must lie).

    Returns
    -------
    (ndarray, ndarray)
        Seed easting and northing, m (WORK_CRS).
    """
    x, y = _xy(facts)
    x, y = x.copy(), y.copy()
    side = np.sqrt(facts["area_km2"].to_numpy(dtype=float) * 1e6)
    district = facts["district_code"].astype(str).to_numpy()
    ux, uy, usize, ok = _units(facts)
    n = len(x)
    hull = Delaunay(np.c_[x[~bad], y[~bad]]) if (~bad).sum() >= 4 else None
    for i in np.flatnonzero(bad):
        members = np.flatnonzero((district == district[i]) & ~bad)
        others = np.flatnonzero((district != district[i]) & ~bad)
        if len(members) == 0:
            continue
        pad = float(np.mean(side[members]))
        gx, gy = np.meshgrid(
            np.linspace(x[members].min() - pad, x[members].max() + pad, 80),
            np.linspace(y[members].min() - pad, y[members].max() + pad, 80),
        )
        cand = np.c_[gx.ravel(), gy.ravel()]
        d_own, _ = cKDTree(np.c_[x[members], y[members]]).query(cand)
        d_other = (cKDTree(np.c_[x[others], y[others]]).query(cand)[0] if len(others)
                   else np.full(len(cand), np.inf))
        zone = (d_own <= 1.5 * pad) & (d_own <= d_other)
        # A unit lies inside the province: prefer the hull of the plausible centroids.
        if hull is not None:
            in_hull = hull.find_simplex(cand) >= 0
            if (zone & in_hull).any():
                zone &= in_hull
        if ok[i]:
            near_unit = np.hypot(cand[:, 0] - ux[i], cand[:, 1] - uy[i]) <= 0.8 * usize[i]
            if (zone & near_unit).any():
                zone &= near_unit
        placed = np.flatnonzero(~bad | (np.arange(n) < i))
        placed = placed[placed != i]
        d_all, _ = cKDTree(np.c_[x[placed], y[placed]]).query(cand)
        k = int(np.argmax(np.where(zone, d_all, -np.inf)))
        x[i], y[i] = cand[k]
    return x, y
