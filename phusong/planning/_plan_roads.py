"""A plan's road work under a time limit, in a background thread (private; issue 18).

Without a limit a plan builds the road graph, projects the villages on it and measures the
existing fibre's reach first, in the calling thread, as always. Under a ``time_limit_s`` those
steps — which have no partial answer — run in a background thread (:class:`RoadWork`) while
the plan scores the existing network's villages, and the plan waits for them only until its
deadline. When they are not done by then, the plan goes on without them: every village's fibre
reach is **unknown** (never "no fibre"), no fibre step runs, and the cut is listed in
``plan.json`` ``time_limit.stopped``; the thread is told to stop at the build's next stage
boundary (:func:`phusong.network.roads.road_graph` ``stop=``) and interrupted where it stands
(:func:`_interrupt`: CPython raises :class:`~phusong.network.roads.BuildStopped` in the thread
at its next bytecode, i.e. as soon as the C call under way — a shapely or numpy operation —
returns), so that it does not compete for the CPU with the rest of the plan. The thread works
on objects of its own only; an interrupted build shares nothing
(:func:`phusong.network.roads.shared_road_graph`).

``--infer-feeders`` prices its routes on a road graph of its own (every road aerial). Under a
limit that graph is built the same way (:func:`feeder_graph_work` in a :class:`RoadWork`),
started once the plan's road work is done so the two builds do not share the CPU, and waited
for only until the deadline: when not done, no feeders are inferred and the cut is listed.
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from phusong.network.roads import BuildStopped
from phusong.planning import _plan_deps as deps

__all__ = ["RoadWork", "RoadResult", "road_work", "feeder_graph_work"]


@dataclass
class RoadResult:
    """What the road work produced: the graph, the villages' projection on it (None without
    edges), the existing fibre's reach per village (None when not asked) and the seconds of
    each step (``road graph``, ``fibre reach``)."""

    graph: object
    snap: object = None
    reach: pd.Series | None = None
    seconds: dict = field(default_factory=dict)


def road_work(bundle, *, costs, urban, reach_m: float, with_reach: bool, stop=None) -> RoadResult:
    """Road graph, the villages' projection on it and (``with_reach``) the existing fibre's
    reach, as a plan makes them (:func:`phusong.network.reach.snap_villages`,
    :func:`phusong.network.reach.fibre_available`); ``stop`` as
    :func:`phusong.network.roads.road_graph`'s, also asked between the steps."""
    from phusong.network.reach import snap_villages

    secs: dict = {}
    t = time.perf_counter()
    try:
        g = deps.road_graph(bundle.roads, costs=costs, urban=urban, stop=stop)
    finally:
        secs["road graph"] = time.perf_counter() - t
    out = RoadResult(g, seconds=secs)
    if not g.number_of_edges():
        return out
    t = time.perf_counter()
    try:
        if stop is not None and stop():
            raise BuildStopped("fibre reach: stopped before the villages' projection")
        out.snap = snap_villages(g, bundle.villages)
        if with_reach:
            if stop is not None and stop():
                raise BuildStopped("fibre reach: stopped before the reach")
            out.reach = deps.fibre_available(bundle, reach_m=reach_m, graph=g, snap=out.snap)
    finally:
        secs["fibre reach"] = time.perf_counter() - t
    return out


def feeder_graph_work(bundle, *, costs, stop=None) -> RoadResult:
    """The inferred feeders' own road graph (:func:`phusong.planning.feeders.infer_feeders`
    builds it without urban areas: every road priced aerial), as that function makes it;
    ``stop`` as :func:`road_work`'s. Seconds under ``feeder road graph``."""
    t = time.perf_counter()
    try:
        g = deps.road_graph(bundle.roads, costs=costs, stop=stop)
    finally:
        secs = {"feeder road graph": time.perf_counter() - t}
    return RoadResult(g, seconds=secs)


def _interrupt(thread_id: int) -> bool:
    """Raise :class:`~phusong.network.roads.BuildStopped` in thread ``thread_id`` at its next
    bytecode (``PyThreadState_SetAsyncExc``, CPython's API for this); whether a thread got it."""
    n = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                   ctypes.py_object(BuildStopped))
    if n > 1:  # cannot happen for a live thread id; undo rather than hit several
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
    return n == 1


class RoadWork:
    """:func:`road_work` (or ``work``, e.g. :func:`feeder_graph_work`: a function of the bundle
    and ``stop=``, with ``kwargs``) running in a daemon thread from construction (module doc).

    A daemon thread: a process that ends (``phusong plan`` done) does not wait for it.
    """

    def __init__(self, bundle, work=road_work, **kwargs):
        self._work = work
        self._stop = threading.Event()
        self._done = threading.Event()
        self._guard = threading.Lock()  # the interruption only reaches the work itself
        self._busy = False
        self.interrupted = False
        self._value: RoadResult | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(bundle, kwargs), daemon=True,
                                        name="phusong-plan-roads")
        self._thread.start()

    def _run(self, bundle, kwargs) -> None:
        try:
            try:
                with self._guard:
                    self._busy = True
                value = self._work(bundle, stop=self._stop.is_set, **kwargs)
                with self._guard:
                    self._busy = False
                self._value = value
            except BaseException as exc:  # handed to the plan's thread by result()
                with self._guard:
                    self._busy = False
                self._error = exc
            finally:
                self._done.set()
        except BuildStopped:  # an interruption delivered after the work ended: nothing to do
            self._done.set()

    def wait(self, deadline: float) -> bool:
        """Wait until the work is done or ``deadline`` (``time.perf_counter()``) passes;
        whether it is done. When not, the work is stopped (module doc)."""
        if math.isfinite(deadline):
            done = self._done.wait(timeout=max(0.0, deadline - time.perf_counter()))
        else:
            done = self._done.wait()
        if not done:
            self._stop.set()
            with self._guard:
                if self._busy and self._thread.ident is not None:
                    self.interrupted = _interrupt(self._thread.ident)
        return done

    def result(self) -> RoadResult:
        """The work's result once :meth:`wait` said it is done (its error raised here: bad
        roads are refused as without a limit)."""
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end."""
        self._thread.join(timeout)


def reach_array(reach: pd.Series, ids: pd.Index) -> np.ndarray:
    """``reach`` (by ``village_id``) as bool per village in ``ids`` order (missing: False)."""
    return pd.Series(reach).reindex(ids).fillna(False).astype(bool).to_numpy()
