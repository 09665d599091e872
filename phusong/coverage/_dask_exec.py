"""The dask.distributed executor: a scheduler the user runs, or a LocalCluster of processes.

``DaskExecutor(scheduler="tcp://HOST:PORT")`` connects to a running scheduler;
``DaskExecutor(workers=N)`` starts a LocalCluster of N worker processes (one thread each) on
this machine. The engine submits pure work units (:mod:`._engine`'s pair batches,
:mod:`._dask_raster`'s site batches × receiver tiles) and reduces their results by max /
lowest-index, so the outputs are the local run's, byte for byte.

Read-only inputs (the prepared DEM, the transmitters) are sent to the cluster once per run,
as the argument of an identity task (:meth:`DaskExecutor.scatter`): a worker needing them
fetches them once from a peer, and if a worker dies the scheduler re-runs its tasks, and
re-creates those inputs, elsewhere. A scheduler that cannot be reached or is lost mid-run raises
:class:`phusong.errors.ClusterError` (CLI: one line, exit 1).

dask and distributed are an optional extra: ``pip install phusong[dask]``.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import time

from phusong.errors import ClusterError, DataError

__all__ = ["DaskExecutor", "worker_peak_rss_mb"]

#: Seconds to wait for a scheduler to answer (and for a LocalCluster to start).
CONNECT_TIMEOUT_S = 10.0


def _import():
    try:
        import distributed
    except ImportError:
        raise DataError("--workers/--scheduler need dask.distributed: pip install "
                        "'phusong[dask]'") from None
    return distributed


def worker_peak_rss_mb() -> float:
    """Peak resident memory of the calling process, MiB (Linux ``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _lost(exc: BaseException, where: str) -> ClusterError:
    why = " ".join(str(exc).split())  # one line
    return ClusterError(f"dask scheduler {where}: lost mid-run ({type(exc).__name__}: "
                        f"{why}); nothing was written, run again when it is back")


def _quiet_logs() -> None:
    """Silence distributed's loggers: failures reach the user as one ClusterError line."""
    for name in list(logging.root.manager.loggerDict):
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)


class DaskExecutor:
    """Run work units on dask.distributed (context manager; closes what it opened).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    workers : int, optional
        Start a LocalCluster of this many worker processes (one thread each) instead.
    progress : callable, optional
        ``progress(description, total)`` returning a context manager that yields
        ``advance(n, workers_alive)``; None shows nothing.
    timeout_s : float
        Connection timeout, s.

    Examples
    --------
    Two worker processes on this machine (``tests/test_coverage_dask.py`` runs this)::

        with DaskExecutor(workers=2) as ex:
            run_bundle(bundle, "out", executor=ex)
    """

    def __init__(self, *, scheduler: str | None = None, workers: int | None = None,
                 progress=None, timeout_s: float = CONNECT_TIMEOUT_S):
        if (scheduler is None) == (workers is None):
            raise DataError("give either a scheduler address or a number of workers")
        if workers is not None and workers < 1:
            raise DataError(f"--workers {workers}: use ≥ 1")
        self.scheduler, self.n_workers = scheduler, workers
        self.progress_factory = progress
        self.timeout_s = float(timeout_s)
        self.client = self.cluster = None
        self._scattered: dict = {}
        self.tasks = 0
        self.where = scheduler or f"LocalCluster of {workers} processes"

    def __enter__(self) -> DaskExecutor:
        distributed = _import()
        _quiet_logs()
        try:
            if self.scheduler is not None:
                self.client = distributed.Client(self.scheduler, timeout=self.timeout_s,
                                                 set_as_default=False)
            else:
                self.cluster = distributed.LocalCluster(
                    n_workers=self.n_workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL + 1)
                self.client = distributed.Client(self.cluster, timeout=self.timeout_s,
                                                 set_as_default=False)
        except (OSError, TimeoutError) as exc:
            self.close()
            why = " ".join(str(exc).split())
            raise ClusterError(f"dask scheduler {self.where}: cannot connect ({why}); start "
                               "it (dask scheduler) or check the address") from None
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and the LocalCluster it started (quietly, even half-open)."""
        for obj in (self.client, self.cluster):
            if obj is not None:
                with contextlib.suppress(Exception):
                    obj.close()
        self.client = self.cluster = None

    # -- data and tasks -------------------------------------------------------------------

    def slots(self) -> int:
        """Worker threads the scheduler knows now (≥ 1)."""
        info = self._call(lambda: self.client.scheduler_info(n_workers=-1))
        return max(1, sum(int(w.get("nthreads", 1)) for w in info["workers"].values()))

    def alive(self) -> int:
        """Workers alive now."""
        return len(self._call(lambda: self.client.scheduler_info(n_workers=-1))["workers"])

    def scatter(self, data):
        """Put ``data`` on the cluster once (a future, cached by the data's dask token: the
        same DEM given again is not sent again).

        The data travels as the argument of an identity task rather than through
        ``Client.scatter``: the scheduler then keeps it in the task's spec and re-creates it
        on another worker if the one holding it dies (scattered replicas are trimmed by the
        active memory manager and would be lost with their worker). Workers fetch it from
        each other, once each.
        """
        import dask
        from dask.base import tokenize

        key = tokenize(data)
        if key not in self._scattered:
            with dask.config.set({"distributed.admin.large-graph-warning-threshold": "64GiB"}):
                self._scattered[key] = self.submit(_identity, data, key=f"phusong-data-{key}")
        return self._scattered[key]

    def map_units(self, fn, chunks, ctx: tuple, *, description: str = "coverage (paths)"):
        """``[fn(*chunk, ctx) for chunk in chunks]`` on the workers, in order; every item of
        ``ctx`` (DEM, transmitters, receivers) is scattered once."""
        parts = [self.scatter(c) for c in ctx]
        return self.map_ordered(_apply_unit, chunks, fn, *parts, description=description)

    def submit(self, fn, *args, **kw):
        """A task (pure: re-run by the scheduler if its worker dies)."""
        self.tasks += 1
        return self._call(lambda: self.client.submit(fn, *args, pure=False, **kw))

    def results(self, futures, description: str, watch=()):
        """Yield ``(index, result)`` as ``futures`` finish, with a progress bar over them and
        the ``watch`` futures (tasks they depend on: counted, never fetched)."""
        from distributed import as_completed

        index = {f.key: i for i, f in enumerate(futures)}
        watch = [f for f in watch if f.key not in index]
        bar = (self.progress_factory(description, len(futures) + len(watch))
               if self.progress_factory else
               contextlib.nullcontext(lambda n=1, workers=None: None))
        last = 0.0
        with bar as advance:
            try:
                for fut in as_completed(list(futures) + watch, loop=self.client.loop):
                    now = time.monotonic()
                    alive = None
                    if now - last > 0.5:
                        alive, last = self.alive(), now
                    advance(1, alive)
                    if fut.key not in index:
                        if fut.status == "error":
                            fut.result()  # raises the task's error
                        fut.release()  # its dependents keep it as long as they need it
                        continue
                    res = fut.result()
                    yield index[fut.key], res
                    fut.release()
            except ClusterError:
                raise
            except self._comm_errors() as exc:
                raise _lost(exc, self.where) from None

    def map_ordered(self, fn, items, *args, description: str = "work units") -> list:
        """``[fn(item, *args) for item in items]`` on the workers, in order."""
        futs = [self.submit(fn, it, *args) for it in items]
        out = [None] * len(futs)
        for i, r in self.results(futs, description):
            out[i] = r
        return out

    def describe(self) -> dict:
        """What ran the work: kind, address, workers and threads, tasks submitted, and the
        peak resident memory of each worker process (MiB, whole process: Python, numba, DEM
        and the largest units it ran) and its CPU seconds so far (user + system)."""
        peak = self.peak_rss_mb()
        cpu = self._call(lambda: self.client.run(_worker_cpu_s))
        return {"kind": "scheduler" if self.scheduler else "LocalCluster",
                "address": self.scheduler or self.client.scheduler.address,
                "workers": len(peak), "threads": self.slots(), "tasks": self.tasks,
                "worker_peak_rss_mb": {k: round(v, 1) for k, v in sorted(peak.items())},
                "worker_cpu_s": {k: round(v, 1) for k, v in sorted(cpu.items())}}

    def peak_rss_mb(self) -> dict:
        """Peak resident memory of every worker process, MiB, by worker address."""
        return self._call(lambda: self.client.run(worker_peak_rss_mb))

    def _comm_errors(self):
        from distributed.comm.core import CommClosedError

        return (CommClosedError, OSError, TimeoutError, _cancelled())

    def _call(self, fn):
        try:
            return fn()
        except ClusterError:
            raise
        except self._comm_errors() as exc:
            raise _lost(exc, self.where) from None


def _identity(x):
    return x


def _apply_unit(chunk, fn, *ctx):
    return fn(*chunk, tuple(ctx))


def _cancelled():
    from concurrent.futures import CancelledError

    return CancelledError
