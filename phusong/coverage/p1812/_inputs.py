"""Input checks, flattening of per-path profiles and the path-centre latitude for P.1812."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from phusong.errors import ModelError

__all__ = ["FlatPaths", "flatten_paths", "flatten_lists", "path_lists", "point_lists",
           "per_path", "path_centre_lat_deg", "centre_lat_deg", "one_value", "check_range",
           "ZONES", "path_centre_deg", "check_profiles", "first_bad_in", "profile_error"]

#: Radio-climatic zone codes of P.1812 Table 2: 1 sea, 3 coastal land, 4 inland.
ZONES = (1, 3, 4)
#: Fewest profile points per path: the Recommendation needs intermediate points (§3).
MIN_POINTS = 5
_RE_KM = 6371.0  # mean Earth radius of P.2001 Attachment H


class FlatPaths:
    """Paths as flat float buffers (zones as int8 codes) plus a start offset and a point count
    per path; ``first`` is the index of the first path among all the caller's paths (for the
    messages when the paths are flattened in chunks)."""

    __slots__ = ("d", "h", "r", "z", "start", "count", "first")

    def __init__(self, d, h, r, z, start, count, first=0):
        self.d, self.h, self.r, self.z, self.start, self.count = d, h, r, z, start, count
        self.first = first

    def __len__(self) -> int:
        return len(self.count)


def _as_paths(values, name: str) -> list[np.ndarray]:
    if isinstance(values, np.ndarray) and values.dtype != object:
        if values.ndim == 1:
            return [values]
        if values.ndim == 2:
            return list(values)
        raise ModelError(f"p1812: {name} must be 1-D (one path) or a sequence of 1-D arrays")
    if isinstance(values, (list, tuple)) and set(map(type, values)) <= {np.ndarray}:
        return values  # arrays already: no per-path conversion
    return [v if isinstance(v, np.ndarray) else np.asarray(v) for v in values]


def _concat(arrs: list[np.ndarray], total: int, dtype=np.float64) -> np.ndarray:
    """The paths' values end to end as one writable ``dtype`` (float64) array.

    When every path is a contiguous float64 array their buffers are joined
    (``bytearray.join``: about twice as fast as :func:`numpy.concatenate` on thousands of
    short arrays, where numpy's per-array set-up dominates; the join refuses a
    non-contiguous one, a 2-D one changes the size); otherwise numpy converts.
    """
    if arrs and {a.dtype for a in arrs} == {np.dtype(dtype)}:
        try:
            out = np.frombuffer(bytearray().join(arrs), dtype)
        except TypeError:  # a strided view is no bytes-like object: numpy copies it below
            out = None
        if out is not None and out.size == total:
            return out
    return np.concatenate(arrs, dtype=dtype) if arrs else np.zeros(0, dtype)


def _everywhere(value, total: int, dtype) -> np.ndarray:
    """One value for every point: a read-only zero-stride view (nothing written per point;
    built directly, :func:`numpy.broadcast_to` costs more than the view is worth per chunk)."""
    view = np.ndarray((total,), dtype, np.full(1, value, dtype), strides=(0,))
    view.flags.writeable = False
    return view


def _zone_error(k: int, code) -> ModelError:
    return ModelError(f"p1812: path {k}: zone code {code:g} is unknown; use 1 (sea), 3 "
                      "(coastal land) or 4 (inland)")


def one_value(values) -> bool:
    """A scalar or None: one value (or the default) for every point of every path."""
    return values is None or np.isscalar(values) or (isinstance(values, np.ndarray)
                                                     and values.ndim == 0)


def _zones(zones, total: int, start: np.ndarray, counts: np.ndarray, first: int) -> np.ndarray:
    """Zone codes as one flat int8 array (a scalar or None: every point, a zero-stride view),
    checked first."""
    if one_value(zones):
        code = 4.0 if zones is None else float(zones)
        if code not in ZONES:
            raise _zone_error(first, code)
        return _everywhere(int(code), total, np.int8)
    _check_counts(zones, counts, "zones", first)
    dtypes = {a.dtype for a in zones}
    if len(dtypes) == 1 and next(iter(dtypes)).kind in "iuf":  # one numeric type: joined as is
        zf = _concat(zones, total, next(iter(dtypes)))
    else:
        zf = _concat(zones, total)
    codes = np.empty(total, np.int8)
    i = _zone_codes(zf, codes)  # checked before the int8 cast, in one compiled pass
    if i >= 0:
        raise _zone_error(first + int(np.searchsorted(start, i, side="right") - 1), zf[i])
    return codes


@njit(cache=True, nogil=True)
def _zone_codes(zf, codes):
    """Copy the zone codes into ``codes`` (int8); the first point whose code is not 1, 3 or 4
    (NaN included), or −1."""
    for i in range(zf.shape[0]):
        v = zf[i]
        if not (v == 1 or v == 3 or v == 4):
            return i
        codes[i] = np.int8(v)
    return -1


def path_lists(distances_km, heights_m):
    """(distances, heights, point counts) of every path, checked: as many height profiles as
    distance profiles, one height per distance, at least :data:`MIN_POINTS` points."""
    ds = _as_paths(distances_km, "distances_km")
    hs = _as_paths(heights_m, "heights_m")
    if len(ds) != len(hs):
        raise ModelError(f"p1812: distances_km has {len(ds)} paths but heights_m {len(hs)}; "
                         "give one profile per path")
    counts = np.fromiter(map(len, ds), np.int64, len(ds))
    _check_counts(hs, counts, "heights_m", 0)
    short = np.flatnonzero(counts < MIN_POINTS)
    if short.size:
        k = int(short[0])
        raise ModelError(f"p1812: path {k} has {int(counts[k])} profile points; P.1812 needs "
                         f"at least {MIN_POINTS} (terminals plus intermediate points, §3)")
    return ds, hs, counts


def point_lists(values, name: str, n: int):
    """Per-point values (zones, clutter) as a list of ``n`` arrays, or the scalar / None that
    stands for every point."""
    if one_value(values):
        return values
    arrs = _as_paths(values, name)
    if len(arrs) != n:
        raise ModelError(f"p1812: {name} has {len(arrs)} paths but distances_km {n}; give "
                         "one array per path")
    return arrs


def _check_counts(arrs, counts, name, first):
    n_pts = np.fromiter(map(len, arrs), np.int64, len(arrs))
    if (n_pts != counts).any():
        k = int(np.flatnonzero(n_pts != counts)[0])
        raise ModelError(f"p1812: path {first + k}: {name} has {n_pts[k]} points but "
                         f"distances_km {counts[k]}; give one value per point")


def flatten_paths(distances_km, heights_m, zones, clutter_heights_m,
                  check_points: bool = True) -> FlatPaths:
    """Concatenate per-path arrays (any spacing) into :class:`FlatPaths`, checking each path.

    ``zones`` and ``clutter_heights_m`` may also be ``None`` (inland, no clutter) or a scalar
    for every point of every path. ``check_points=False`` leaves the per-point checks to the
    caller's kernel (:func:`check_profiles`); shapes, counts and zone codes are checked here.
    """
    ds, hs, counts = path_lists(distances_km, heights_m)
    return flatten_lists(ds, hs, counts, point_lists(zones, "zones", len(ds)),
                         point_lists(clutter_heights_m, "clutter_heights_m", len(ds)),
                         check_points)


def flatten_lists(ds, hs, counts, zones, clutter, check_points: bool = True,
                  first: int = 0) -> FlatPaths:
    """:func:`flatten_paths` of lists already checked by :func:`path_lists` and
    :func:`point_lists` (or slices of them: ``first`` is the index of the first path, for the
    messages)."""
    total = int(counts.sum())

    def flat(values, name, default):
        """One flat float array: a scalar (or None) stands for every point of every path (a
        zero-stride view)."""
        if one_value(values):
            return _everywhere(default if values is None else float(values), total, np.float64)
        _check_counts(values, counts, name, first)
        return _concat(values, total)

    start = np.zeros(len(ds), np.int64)
    start[1:] = np.cumsum(counts)[:-1]
    zf = _zones(zones, total, start, counts, first)
    r = flat(clutter, "clutter_heights_m", 0.0)
    if len(ds) == 0:
        e = np.zeros(0)
        return FlatPaths(e, e, e, zf, np.zeros(0, np.int64), np.zeros(0, np.int64), first)
    fp = FlatPaths(_concat(ds, total), _concat(hs, total), r, zf, start, counts, first)
    check_profiles(fp, check_points)
    return fp


@njit(cache=True, nogil=True)
def first_bad_in(d, h, r, z, a, b):
    """(kind, point) of the first bad value of the profile ``[a, b)``, or (0, -1): 1 zone
    code, 2 non-finite distance, 3 non-finite height, 4 non-finite or negative clutter, 5
    first distance not 0, 6 distances not strictly increasing. The kernel runs it on each path
    just before the path's loss (the points are then already in cache)."""
    if d[a] != 0.0:
        return 5, a
    for i in range(a, b):
        zi = z[i]
        if not (zi == 1.0 or zi == 3.0 or zi == 4.0):
            return 1, i
        if not math.isfinite(d[i]):
            return 2, i
        if not math.isfinite(h[i]):
            return 3, i
        if not (r[i] >= 0.0 and math.isfinite(r[i])):
            return 4, i
        if i > a and not d[i] > d[i - 1]:
            return 6, i
    return 0, -1


@njit(cache=True, nogil=True)
def _first_bad(d, h, r, z, start, count):
    """(kind, point) of the first bad value over all paths (:func:`first_bad_in`)."""
    for k in range(start.shape[0]):
        kind, i = first_bad_in(d, h, r, z, start[k], start[k] + count[k])
        if kind:
            return kind, i
    return 0, -1


def check_profiles(fp: FlatPaths, points: bool = True) -> None:
    """Raise :class:`ModelError` naming the first bad path and field (one line).

    The point counts were checked by :func:`path_lists`; with ``points=False`` nothing is
    checked here: the caller then runs the kernel that checks each path's values itself
    (:func:`profile_error` names the culprit).
    """
    if points:
        kind, i = _first_bad(fp.d, fp.h, fp.r, fp.z, fp.start, fp.count)
        if kind:
            raise profile_error(fp, kind, i)


def profile_error(fp: FlatPaths, kind: int, i: int) -> ModelError:
    """The one-line :class:`ModelError` for the bad value ``kind`` at flat point ``i``
    (:func:`first_bad_in`)."""
    k = fp.first + int(np.searchsorted(fp.start, i, side="right") - 1)
    what = {
        1: f"zone code {float(fp.z[i]):g} is unknown; use 1 (sea), 3 (coastal land) or 4 "
           "(inland)",
        2: "distances_km holds a non-finite value",
        3: "heights_m holds a non-finite value; fill voids before predicting",
        4: "clutter_heights_m must be finite and ≥ 0 m",
        5: f"distances_km must start at 0 (the transmitter), not {fp.d[i]:g} km",
        6: "distances_km must increase strictly along the profile",
    }[int(kind)]
    return ModelError(f"p1812: path {k}: {what}")


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
    return path_centre_deg(tx_lat, tx_lon, rx_lat, rx_lon, dist_km)[0]


def path_centre_deg(tx_lat, tx_lon, rx_lat, rx_lon, dist_km) -> tuple[np.ndarray, np.ndarray]:
    """(latitude, longitude) of the point ``dist_km`` from Tx along the great circle to Rx,
    degrees: :func:`path_centre_lat_deg` and the longitude of eq. (H.3.2).

    Scalars and per-path arrays broadcast; one compiled pass over the paths.
    """
    args = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in
                                 (tx_lat, tx_lon, rx_lat, rx_lon, dist_km)))
    shape = args[0].shape
    flat = [np.ascontiguousarray(a).reshape(-1) for a in args]
    lat, lon = _centre_kernel(*flat)
    return np.atleast_1d(lat.reshape(shape)), np.atleast_1d(lon.reshape(shape))


def centre_lat_deg(tx_lat, tx_lon, rx_lat, rx_lon, dist_km) -> np.ndarray:
    """:func:`path_centre_lat_deg` of per-path contiguous float64 arrays (no broadcasting);
    the latitude only (one compiled pass)."""
    return _centre_lat_kernel(tx_lat, tx_lon, rx_lat, rx_lon, dist_km)


@njit(cache=True, nogil=True)
def _centre_lat_kernel(tlat, tlon, rlat, rlon, dist):
    """Latitude of the great-circle point ``dist`` km from Tx toward Rx, degrees, per path
    (Attachment H, eqs. (H.2.1), (H.2.2), (H.3.1))."""
    n = tlat.shape[0]
    lat = np.empty(n)
    for k in range(n):
        pt = math.radians(tlat[k])
        pr = math.radians(rlat[k])
        dlon = math.radians(rlon[k] - tlon[k])
        spt = math.sin(pt)
        cpt = math.cos(pt)
        spr = math.sin(pr)
        cpr = math.cos(pr)
        cdl = math.cos(dlon)
        r = spt * spr + cpt * cpr * cdl  # (H.2.1)
        bearing = math.atan2(cpt * cpr * math.sin(dlon), spr - r * spt)  # (H.2.2)
        ang = dist[k] / _RE_KM
        s = spt * math.cos(ang) + cpt * math.sin(ang) * math.cos(bearing)
        lat[k] = math.degrees(math.asin(min(max(s, -1.0), 1.0)))  # (H.3.1)
    return lat


@njit(cache=True, nogil=True)
def _centre_kernel(tlat, tlon, rlat, rlon, dist):
    """Great-circle point ``dist`` km from Tx toward Rx, degrees, per path (Attachment H)."""
    n = tlat.shape[0]
    lat = np.empty(n)
    lon = np.empty(n)
    for k in range(n):
        pt = math.radians(tlat[k])
        pr = math.radians(rlat[k])
        dlon = math.radians(rlon[k] - tlon[k])
        r = math.sin(pt) * math.sin(pr) + math.cos(pt) * math.cos(pr) * math.cos(dlon)  # (H.2.1)
        x1 = math.sin(pr) - r * math.sin(pt)
        y1 = math.cos(pt) * math.cos(pr) * math.sin(dlon)
        bearing = math.atan2(y1, x1)  # (H.2.2): bearing Tx → Rx from true north
        ang = dist[k] / _RE_KM
        s = math.sin(pt) * math.cos(ang) + math.cos(pt) * math.sin(ang) * math.cos(bearing)
        la = math.asin(min(max(s, -1.0), 1.0))  # (H.3.1)
        x2 = math.cos(ang) - math.sin(pt) * math.sin(la)
        y2 = math.cos(pt) * math.sin(ang) * math.sin(bearing)
        lo = tlon[k] + math.degrees(math.atan2(y2, x2))  # (H.3.2)-(H.3.3)
        lat[k] = math.degrees(la)
        lon[k] = (lo + 180.0) % 360.0 - 180.0
    return lat, lon
