"""Input checks, flattening of per-path profiles and the path-centre latitude for P.1812."""

from __future__ import annotations

import numpy as np

from phusong.errors import ModelError

__all__ = ["FlatPaths", "flatten_paths", "per_path", "path_centre_lat_deg", "check_range",
           "ZONES"]

#: Radio-climatic zone codes of P.1812 Table 2: 1 sea, 3 coastal land, 4 inland.
ZONES = (1, 3, 4)
#: Fewest profile points per path: the Recommendation needs intermediate points (§3).
MIN_POINTS = 5
_RE_KM = 6371.0  # mean Earth radius of P.2001 Attachment H


class FlatPaths:
    """Paths as flat float buffers plus a start offset and a point count per path."""

    __slots__ = ("d", "h", "r", "z", "start", "count")

    def __init__(self, d, h, r, z, start, count):
        self.d, self.h, self.r, self.z, self.start, self.count = d, h, r, z, start, count

    def __len__(self) -> int:
        return len(self.count)


def _as_paths(values, name: str) -> list[np.ndarray]:
    if isinstance(values, np.ndarray) and values.dtype != object:
        if values.ndim == 1:
            return [values]
        if values.ndim == 2:
            return list(values)
        raise ModelError(f"p1812: {name} must be 1-D (one path) or a sequence of 1-D arrays")
    return [np.asarray(v) for v in values]


def flatten_paths(distances_km, heights_m, zones, clutter_heights_m) -> FlatPaths:
    """Concatenate per-path arrays (any spacing) into :class:`FlatPaths`, checking each path.

    ``zones`` and ``clutter_heights_m`` may also be ``None`` (inland, no clutter) or a scalar
    for every point of every path.
    """
    ds = _as_paths(distances_km, "distances_km")
    hs = _as_paths(heights_m, "heights_m")
    if len(ds) != len(hs):
        raise ModelError(f"p1812: distances_km has {len(ds)} paths but heights_m {len(hs)}; "
                         "give one profile per path")
    counts = np.array([len(x) for x in ds], dtype=np.int64)

    def expand(values, name, default):
        if values is None or np.isscalar(values) or (isinstance(values, np.ndarray)
                                                     and values.ndim == 0):
            v = default if values is None else values
            return [np.full(c, v, dtype=float) for c in counts]
        out = _as_paths(values, name)
        if len(out) != len(ds):
            raise ModelError(f"p1812: {name} has {len(out)} paths but distances_km "
                             f"{len(ds)}; give one array per path")
        return out

    zs = expand(zones, "zones", 4)
    rs = expand(clutter_heights_m, "clutter_heights_m", 0.0)
    for k in range(len(ds)):
        for name, arr in (("heights_m", hs[k]), ("zones", zs[k]), ("clutter_heights_m", rs[k])):
            if len(arr) != counts[k]:
                raise ModelError(f"p1812: path {k}: {name} has {len(arr)} points but "
                                 f"distances_km {counts[k]}; give one value per point")
    if len(ds) == 0:
        e = np.zeros(0)
        return FlatPaths(e, e, e, np.zeros(0, np.int64), np.zeros(0, np.int64),
                         np.zeros(0, np.int64))
    d = np.concatenate(ds).astype(float)
    h = np.concatenate(hs).astype(float)
    r = np.concatenate(rs).astype(float)
    zf = np.concatenate(zs).astype(float)
    start = np.zeros(len(ds), np.int64)
    start[1:] = np.cumsum(counts)[:-1]
    fp = FlatPaths(d, h, r, zf.astype(np.int64), start, counts)
    check_profiles(fp, zf)
    return fp


def check_profiles(fp: FlatPaths, zones_float=None) -> None:
    """Raise :class:`ModelError` naming the first bad path and field (one line)."""
    short = np.flatnonzero(fp.count < MIN_POINTS)
    if short.size:
        k = int(short[0])
        raise ModelError(f"p1812: path {k} has {int(fp.count[k])} profile points; P.1812 needs "
                         f"at least {MIN_POINTS} (terminals plus intermediate points, §3)")
    zf = fp.z if zones_float is None else zones_float
    bad = ~np.isin(zf, ZONES)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        k = int(np.searchsorted(fp.start, i, side="right") - 1)
        raise ModelError(f"p1812: path {k}: zone code {zf[i]:g} is unknown; use 1 (sea), "
                         "3 (coastal land) or 4 (inland)")
    for name, arr in (("distances_km", fp.d), ("heights_m", fp.h),
                      ("clutter_heights_m", fp.r)):
        if not np.isfinite(arr).all():
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            k = int(np.searchsorted(fp.start, i, side="right") - 1)
            raise ModelError(f"p1812: path {k}: {name} holds a non-finite value; fill voids "
                             "before predicting")
    if (fp.r < 0).any():
        k = int(np.searchsorted(fp.start, int(np.flatnonzero(fp.r < 0)[0]), side="right") - 1)
        raise ModelError(f"p1812: path {k}: clutter_heights_m must be ≥ 0 m")
    first = fp.d[fp.start]
    if (first != 0.0).any():
        k = int(np.flatnonzero(first != 0.0)[0])
        raise ModelError(f"p1812: path {k}: distances_km must start at 0 (the transmitter), "
                         f"not {first[k]:g} km")
    step = np.diff(fp.d)
    inner = np.ones(len(step), bool)
    inner[fp.start[1:] - 1] = False  # the jumps between paths
    bad = (step <= 0) & inner
    if bad.any():
        k = int(np.searchsorted(fp.start, int(np.flatnonzero(bad)[0]) + 1, side="right") - 1)
        raise ModelError(f"p1812: path {k}: distances_km must increase strictly along the "
                         "profile")


def per_path(value, n: int, name: str, dtype=float) -> np.ndarray:
    """Broadcast a scalar or per-path array to length ``n`` (one line error otherwise)."""
    a = np.asarray(value, dtype=dtype)
    if a.ndim == 0:
        return np.full(n, a, dtype=dtype)
    if a.shape != (n,):
        raise ModelError(f"p1812: {name} has shape {a.shape}; give a scalar or one value per "
                         f"path ({n})")
    return np.ascontiguousarray(a)


def check_range(name: str, v: np.ndarray, lo: float, hi: float, unit: str,
                open_ends: bool = False) -> None:
    """Raise :class:`ModelError` unless every value of ``v`` lies within [lo, hi]."""
    bad = ~((v > lo) & (v < hi)) if open_ends else ~((v >= lo) & (v <= hi))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        lim = f"({lo:g}, {hi:g})" if open_ends else f"{lo:g}–{hi:g}"
        raise ModelError(f"p1812: {name} {v[k]:g} {unit} (path {k}) is outside {lim} {unit}, "
                         "the range of ITU-R P.1812")


def path_centre_lat_deg(tx_lat, tx_lon, rx_lat, rx_lon, dist_km) -> np.ndarray:
    """Latitude of the point ``dist_km`` from Tx along the great circle to Rx, degrees.

    ITU-R P.2001-4 Attachment H (eqs. (H.2.1)-(H.3.3)) with Re = 6371 km, as P.1812 §3.5
    asks for the path-centre latitude φ of β0 (the centre is at half the profile length).
    """
    pt, pr = np.radians(tx_lat), np.radians(rx_lat)
    dlon = np.radians(np.asarray(rx_lon, float) - np.asarray(tx_lon, float))
    r = np.sin(pt) * np.sin(pr) + np.cos(pt) * np.cos(pr) * np.cos(dlon)  # (H.2.1)
    x1 = np.sin(pr) - r * np.sin(pt)
    y1 = np.cos(pt) * np.cos(pr) * np.sin(dlon)
    bearing = np.arctan2(y1, x1)  # (H.2.2): bearing Tx → Rx from true north
    ang = np.asarray(dist_km, float) / _RE_KM
    s = np.sin(pt) * np.cos(ang) + np.cos(pt) * np.sin(ang) * np.cos(bearing)  # (H.3.1)
    return np.atleast_1d(np.degrees(np.arcsin(np.clip(s, -1.0, 1.0))))
