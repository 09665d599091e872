"""Commune facts in metres and the extents the boundary generator trusts (private).

The facts give, per commune, a centroid, a bounding box (both geocoded by
``vietnamadminunits``) and an area. Some boxes are degenerate (a point geocode, a few hundred
metres across, for a 40 km² commune) or far too large; a box is trusted only when the commune's
area fills between :data:`FILL_MIN` and :data:`FILL_MAX` of it, which is what a polygon inside
its own bounding box can do. Untrusted boxes are replaced by a square centred on the centroid
whose fill is the median fill of the trusted boxes. Centroids that contradict the other facts
are moved first (:mod:`._geo_seeds`); their boxes are not trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from phusong import settings
from phusong.crs import transform_points
from phusong.errors import DataError
from phusong.twin._geo_seeds import implausible_centroids, relocate_seeds

__all__ = ["FILL_MIN", "FILL_MAX", "Extents", "commune_extents"]

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
        Seed easting/northing, m: the geocoded centroid, or where it was moved when implausible.
    left_m, right_m, down_m, up_m : ndarray
        Extent of the commune west, east, south and north of its centroid, m (> 0).
    box_m : ndarray
        (n, 4) box west, south, east, north, m: the trusted geocoded box, else the square.
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
    box_m: np.ndarray
    area_m2: np.ndarray
    trusted: np.ndarray
    relocated: np.ndarray
    district: np.ndarray

    def __len__(self) -> int:
        return len(self.x_m)

    def sides(self, x_m: np.ndarray, y_m: np.ndarray) -> tuple[np.ndarray, ...]:
        """(left, right, down, up) extents, m, of each box seen from seeds ``(x_m, y_m)``."""
        floor = _MIN_SIDE * np.sqrt(self.area_m2)
        b = self.box_m
        return (np.maximum(x_m - b[:, 0], floor), np.maximum(b[:, 2] - x_m, floor),
                np.maximum(y_m - b[:, 1], floor), np.maximum(b[:, 3] - y_m, floor))


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
    x, y = relocate_seeds(facts, bad)
    typical = float(np.median(fill[trusted])) if trusted.sum() >= 10 else 0.6
    half = np.sqrt(area / typical) / 2.0
    floor = _MIN_SIDE * side
    left = np.where(trusted, np.maximum(x - bx0, floor), half)
    right = np.where(trusted, np.maximum(bx1 - x, floor), half)
    down = np.where(trusted, np.maximum(y - by0, floor), half)
    up = np.where(trusted, np.maximum(by1 - y, floor), half)
    box = np.c_[x - left, y - down, x + right, y + up]
    return Extents(
        x_m=x, y_m=y, left_m=left, right_m=right, down_m=down, up_m=up, box_m=box, area_m2=area,
        trusted=trusted, relocated=bad, district=district,
    )
