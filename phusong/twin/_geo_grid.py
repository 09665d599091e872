"""Commune facts in metres and the extents the boundary generator trusts (private).

The facts give, per commune, a centroid, a bounding box (both geocoded by
``vietnamadminunits``) and an area. Some boxes are degenerate (a point geocode, a few hundred
metres across, for a 40 km² commune) or far too large; a box is trusted only when the commune's
area fills between :data:`FILL_MIN` and :data:`FILL_MAX` of it, which is what a polygon inside
its own bounding box can do. Untrusted boxes are replaced by a square centred on the centroid
whose fill is the median fill of the trusted boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from phusong import settings
from phusong.crs import transform_points
from phusong.errors import DataError

__all__ = ["FILL_MIN", "FILL_MAX", "Extents", "commune_extents", "implausible_centroids"]

#: A trusted box is filled at least this much by the commune's area (a convex-ish unit fills
#: 0.4–0.8 of its box; below 0.2 the box caught something else).
FILL_MIN = 0.2
#: A polygon cannot fill more than its bounding box.
FILL_MAX = 1.0
#: Smallest extent either side of the centroid, as a fraction of sqrt(area) (a geocoded
#: centroid on the very edge of its box would otherwise give a zero-width side).
_MIN_SIDE = 0.2

_NEEDED = ("commune_code", "district_code", "area_km2", "lon", "lat")
_BOX = ("bbox_west", "bbox_south", "bbox_east", "bbox_north")


@dataclass(frozen=True)
class Extents:
    """Per-commune geometry facts in ``settings.WORK_CRS``.

    Attributes
    ----------
    x_m, y_m : ndarray
        Centroid easting/northing, m.
    left_m, right_m, down_m, up_m : ndarray
        Extent of the commune west, east, south and north of its centroid, m (> 0).
    area_m2 : ndarray
        Area fact, m².
    trusted : ndarray
        bool, True where the geocoded bounding box was used as is.
    relocated : ndarray
        bool, True where the geocoded centroid was implausible (see
        :func:`implausible_centroids`) and the seed was moved into its district.
    district : ndarray
        District code per commune (str).
    """

    x_m: np.ndarray
    y_m: np.ndarray
    left_m: np.ndarray
    right_m: np.ndarray
    down_m: np.ndarray
    up_m: np.ndarray
    area_m2: np.ndarray
    trusted: np.ndarray
    relocated: np.ndarray
    district: np.ndarray

    def __len__(self) -> int:
        return len(self.x_m)


def commune_extents(facts: pd.DataFrame) -> Extents:
    """Centroids, trusted extents and areas of the communes in metres.

    Parameters
    ----------
    facts : DataFrame
        As :func:`phusong.communes.commune_facts`: ``area_km2`` (km²), ``lon``, ``lat``
        (degrees) and optionally ``bbox_west/south/east/north`` (degrees).

    Returns
    -------
    Extents

    Raises
    ------
    DataError
        A needed column is missing or an area is not positive.
    """
    missing = [c for c in _NEEDED if c not in facts.columns]
    if missing:
        raise DataError(f"commune facts: missing column(s) {missing}; use commune_facts()")
    area = facts["area_km2"].to_numpy(dtype=float) * 1e6
    if not np.all(np.isfinite(area) & (area > 0)):
        row = int(np.flatnonzero(~(np.isfinite(area) & (area > 0)))[0])
        raise DataError(f"commune facts: row {row + 1}, area_km2 must be a positive number")
    x, y = transform_points(facts["lon"], facts["lat"], settings.STORE_CRS, settings.WORK_CRS)
    side = np.sqrt(area)
    if all(c in facts.columns for c in _BOX):
        w, s, e, n = (facts[c].to_numpy(dtype=float) for c in _BOX)
        # Project all four corners: the box in metres is the hull of their images.
        xs, ys = transform_points(
            np.concatenate([w, e, w, e]), np.concatenate([s, s, n, n]),
            settings.STORE_CRS, settings.WORK_CRS,
        )
        k = len(facts)
        xs, ys = xs.reshape(4, k), ys.reshape(4, k)
        bx0, bx1, by0, by1 = xs.min(0), xs.max(0), ys.min(0), ys.max(0)
        fill = area / np.maximum((bx1 - bx0) * (by1 - by0), 1.0)
        inside = (x > bx0) & (x < bx1) & (y > by0) & (y < by1)
        trusted = inside & (fill >= FILL_MIN) & (fill <= FILL_MAX) & np.isfinite(fill)
    else:
        bx0 = bx1 = by0 = by1 = fill = np.full(len(facts), np.nan)
        trusted = np.zeros(len(facts), dtype=bool)
    bad = implausible_centroids(facts)
    trusted &= ~bad
    district = facts["district_code"].astype(str).to_numpy()
    x, y = _relocate(x, y, side, district, bad)
    typical = float(np.median(fill[trusted])) if trusted.sum() >= 10 else 0.6
    half = np.sqrt(area / typical) / 2.0
    floor = _MIN_SIDE * side
    left = np.where(trusted, np.maximum(x - bx0, floor), half)
    right = np.where(trusted, np.maximum(bx1 - x, floor), half)
    down = np.where(trusted, np.maximum(y - by0, floor), half)
    up = np.where(trusted, np.maximum(by1 - y, floor), half)
    return Extents(
        x_m=x, y_m=y, left_m=left, right_m=right, down_m=down, up_m=up, area_m2=area,
        trusted=trusted, relocated=bad, district=district,
    )


#: A centroid is implausible when its district's nearest other centroid is farther than this
#: many times the sum of the two units' sizes sqrt(area) (neighbours are about half that).
OUTLIER_FACTOR = 2.0
#: Two centroids closer than this fraction of the smaller unit's sqrt(area) are duplicates.
DUPLICATE_FRACTION = 0.1


def implausible_centroids(facts: pd.DataFrame) -> np.ndarray:
    """Flag geocoded centroids that contradict the other facts.

    A centroid is implausible when (a) it is far from every other centroid of its own district
    (farther than :data:`OUTLIER_FACTOR` × (sqrt(area_i) + sqrt(area_j)) from the nearest one,
    j; districts are contiguous, so every unit has a district neighbour about
    (sqrt(area_i) + sqrt(area_j)) / 2 away), or (b) it duplicates another unit's centroid
    (closer than :data:`DUPLICATE_FRACTION` × the smaller sqrt(area)); of a duplicate pair the
    unit listed first keeps the point.

    Parameters
    ----------
    facts : DataFrame
        ``lon``, ``lat`` (degrees), ``area_km2``, ``district_code``.

    Returns
    -------
    ndarray
        bool per row.
    """
    x, y = transform_points(facts["lon"], facts["lat"], settings.STORE_CRS, settings.WORK_CRS)
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
    return bad


def _relocate(x, y, side, district, bad):
    """Move each implausible seed to the point of its district farthest from all other seeds.

    The district's region is approximated by the hull of its plausible centroids, buffered by
    the mean unit size; the move fills its largest empty circle (where the unit must be).
    """
    x, y = x.copy(), y.copy()
    for i in np.flatnonzero(bad):
        members = np.flatnonzero((district == district[i]) & ~bad)
        if len(members) == 0:
            continue
        pad = float(np.mean(side[members]))
        gx, gy = np.meshgrid(
            np.linspace(x[members].min() - pad, x[members].max() + pad, 60),
            np.linspace(y[members].min() - pad, y[members].max() + pad, 60),
        )
        cand = np.c_[gx.ravel(), gy.ravel()]
        # Inside the buffered district: within ``pad`` of a member... and not nearer another
        # district's centroid than its own members (a unit lies within its district).
        d_own, _ = cKDTree(np.c_[x[members], y[members]]).query(cand)
        others = np.flatnonzero((district != district[i]) & ~bad)
        d_other, _ = cKDTree(np.c_[x[others], y[others]]).query(cand)
        ok = (d_own <= 1.5 * pad) & (d_own <= d_other)
        placed = np.flatnonzero(~bad | (np.arange(len(x)) < i))
        placed = placed[placed != i]
        d_all, _ = cKDTree(np.c_[x[placed], y[placed]]).query(cand)
        score = np.where(ok, d_all, -np.inf)
        k = int(np.argmax(score))
        x[i], y[i] = cand[k]
    return x, y
