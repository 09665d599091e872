"""The functions planning borrows from coverage, roads, reach, siting and routing.

One indirection point, imported lazily, so gaps and plans depend on the other areas only at
call time (and tests can stand small doubles in for the heavy engines).
"""

from __future__ import annotations

from phusong import settings
from phusong.config import DEFAULT_SETTINGS, Settings

__all__ = [
    "score_villages",
    "bundle_clutter",
    "transmitters",
    "coverage_matrix",
    "road_graph",
    "snap_points",
    "fibre_available",
    "maximal_covering",
    "route_fibre",
]


def score_villages(bundle, *, model: str = settings.DEFAULT_MODEL, executor=None,
                   config: Settings = DEFAULT_SETTINGS):
    """:func:`phusong.coverage.score_villages` (``config``: the run's settings, incl. the
    reliability; the bundle's clutter). Under a plan's time limit, the kernels of ``model``
    are checked in numba's cache first (:func:`~phusong.planning._plan_kernels.ensure_kernels`)."""
    from phusong.coverage import score_villages as f
    from phusong.planning._plan_kernels import engine_ran, ensure_kernels

    ensure_kernels(model)
    out = f(bundle, model=model, executor=executor, config=config)
    if executor is None:  # the kernels ran here: the manifest a later limited plan checks
        engine_ran(model)
    return out


def bundle_clutter(bundle):
    """:func:`phusong.coverage.clutter.bundle_clutter` (None without a ``landcover.tif``)."""
    from phusong.coverage.clutter import bundle_clutter as f

    return f(bundle)


def transmitters(bundle):
    """:func:`phusong.coverage.transmitters`."""
    from phusong.coverage import transmitters as f

    return f(bundle)


def coverage_matrix(tx, x_m, y_m, dem, *, model: str = settings.DEFAULT_MODEL, executor=None,
                    clutter=None, config: Settings = DEFAULT_SETTINGS):
    """:func:`phusong.coverage.coverage_matrix` (threshold from each row's tech in
    ``config``, reliability ``config.radio.reliability_pct``, ``clutter`` the bundle's); the
    kernels checked first under a plan's time limit, as :func:`score_villages`."""
    from phusong.coverage import coverage_matrix as f
    from phusong.planning._plan_kernels import engine_ran, ensure_kernels

    ensure_kernels(model)
    out = f(tx, x_m, y_m, dem, model=model, executor=executor, clutter=clutter, config=config)
    if executor is None:
        engine_ran(model)
    return out


def road_graph(roads, *, costs=settings.COSTS, urban=None, stop=None):
    """:func:`phusong.network.roads.shared_road_graph` (``urban``: polygons priced buried;
    ``stop``: asked between the build's stages): one graph per process for the same roads,
    costs and urban areas; planning never modifies it."""
    from phusong.network.roads import shared_road_graph as f

    return f(roads, costs=costs, urban=urban, stop=stop)


def snap_points(graph, x_m, y_m):
    """:func:`phusong.network.roads.snap_points`."""
    from phusong.network.roads import snap_points as f

    return f(graph, x_m, y_m)


def fibre_available(bundle, *, reach_m: float = settings.FIBRE_REACH_M, graph=None, snap=None):
    """:func:`phusong.network.reach.fibre_available` (``snap``: the villages projected on
    ``graph`` once, :func:`phusong.network.reach.snap_villages`)."""
    from phusong.network.reach import fibre_available as f

    return f(bundle, reach_m=reach_m, graph=graph, snap=snap)


def maximal_covering(coverage, weights, *, costs, budget, existing=None, time_limit_s=None):
    """Solve :class:`phusong.planning.siting.MaximalCovering`; return the result.
    ``time_limit_s`` bounds the set-up (:meth:`~MaximalCovering.from_coverage`) and the solve
    together."""
    import time

    from phusong.planning.siting import MaximalCovering

    t0 = time.perf_counter()
    prob = MaximalCovering.from_coverage(coverage, weights, costs=costs, budget=budget,
                                         existing=existing)
    if time_limit_s is not None:
        time_limit_s = max(1e-6, time_limit_s - (time.perf_counter() - t0))
    return prob.solve(time_limit_s=time_limit_s)


def route_fibre(graph, terminals, *, existing, prizes=None, budget_vnd=None,
                time_limit_s: float | None = None):
    """:func:`phusong.planning.fibre_router.route_fibre` with ``weight="cost_vnd"``."""
    from phusong.planning.fibre_router import route_fibre as f

    return f(graph, terminals, weight="cost_vnd", existing=existing, prizes=prizes,
             budget_vnd=budget_vnd, time_limit_s=time_limit_s)
