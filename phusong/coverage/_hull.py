"""Upper convex hull of points added left to right, and its two queries (numba, O(log n)).

One implementation for every ray walk that keeps a hull of the samples behind the receiver:
the Bullington geometry (:mod:`phusong.coverage._ray_hull`), ITM's horizons along rays
(:mod:`phusong.coverage._itm_rays`) and P.1812 along rays
(:mod:`phusong.coverage.p1812._rays`). The hull is a stack ``hd[:n]``, ``hz[:n]`` of vertex
coordinates with abscissae increasing (Andrew's monotone chain: amortised O(1) per point);
its edge slopes decrease, so both queries are binary searches.
"""

from __future__ import annotations

from numba import njit

__all__ = ["hull_push", "hull_support", "hull_tangent"]

_JIT = {"cache": True, "nogil": True}


@njit(**_JIT)
def hull_push(hd, hz, n, d, z):
    """Append ``(d, z)`` (``d`` beyond every vertex) to the upper hull ``hd``/``hz[:n]``;
    returns the new vertex count (the point is always the last vertex, at ``n_new − 1``).
    A vertex on or below the chord from its predecessor to the new point is dropped."""
    while n >= 2:
        d1 = hd[n - 2]
        z1 = hz[n - 2]
        if (hz[n - 1] - z1) * (d - d1) <= (z - z1) * (hd[n - 1] - d1):
            n -= 1
        else:
            break
    hd[n] = d
    hz[n] = z
    return n + 1


@njit(**_JIT)
def hull_support(hd, hz, n, s):
    """Position (in the hull) of the vertex maximising ``z − s d``; the first one on ties."""
    lo = 0
    hi = n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if hz[mid + 1] - hz[mid] > s * (hd[mid + 1] - hd[mid]):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(**_JIT)
def hull_tangent(hd, hz, n, qd, qz, later):
    """Position of the vertex maximising ``(z − qz)/(qd − d)`` for a point Q right of every
    vertex (the tangent from Q; unimodal along the upper hull): the first vertex on ties, or
    the last with ``later``."""
    lo = 0
    hi = n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        lhs = (hz[mid + 1] - hz[mid]) * (qd - hd[mid])  # next vertex above the line mid → Q
        rhs = (qz - hz[mid]) * (hd[mid + 1] - hd[mid])
        if lhs > rhs or (later and lhs == rhs):
            lo = mid + 1
        else:
            hi = mid
    return lo
