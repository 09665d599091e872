"""The dask.distributed executor: a scheduler the user runs, or a LocalCluster of processes.

``DaskExecutor(scheduler="tcp://HOST:PORT")`` connects to a running scheduler;
``DaskExecutor(workers=N)`` starts a LocalCluster of N worker processes (one thread each) on
this machine. The engine submits pure work units (:mod:`._engine`'s pair batches,
:mod:`._dask_raster`'s site batches × receiver tiles) and reduces their results by max /
lowest-index, so the outputs are the local run's, byte for byte.

**The DEM reaches the workers by path** when the executor has a shared folder: the prepared DEM
(WORK_CRS heights) is written there once as a ``.npy`` file, the task graph carries only a
:class:`TerrainFile` (path, shape, georeferencing: a few hundred bytes), and every worker
process memory-maps the file once (copy-on-write, so workers on one machine share its pages).
A LocalCluster always has one (a temporary folder, removed on close). With ``--scheduler`` the
folder is ``--shared-dir PATH``, which every worker must be able to read at the same path (a
network file system, or the one machine's disk); without it the DEM is **scattered**: sent
once to the cluster as the argument of an identity task (:meth:`DaskExecutor.scatter`), from
which workers fetch it once from a peer. ``coverage.json`` reports which (``executor.dem``).
The other read-only inputs (the transmitters, small) are always scattered. If a worker dies the
scheduler re-runs its tasks, and re-creates the scattered inputs, elsewhere. A scheduler that cannot be reached or is lost mid-run raises
:class:`phusong.errors.ClusterError` (CLI: one line, exit 1).

dask and distributed are an optional extra: ``pip install phusong[dask]``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phusong.errors import ClusterError, DataError, OutputError

__all__ = ["DaskExecutor", "TerrainFile", "resolve_terrain", "worker_peak_rss_mb"]


def _import():
    try:
        import distributed
    except ImportError:
        raise DataError("--workers/--scheduler need dask.distributed: pip install "
                        "'phusong[dask]'") from None
    return distributed


def worker_peak_rss_mb() -> float:
    """Peak resident memory of the calling process, MiB: Linux's ``VmHWM`` (the process's own
    high-water mark; ``ru_maxrss`` carries over, across ``exec``, the resident set of the
    process that started it, e.g. a LocalCluster's client holding the bundle), elsewhere
    ``ru_maxrss`` (kilobytes)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
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


@dataclass(frozen=True)
class TerrainFile:
    """A prepared DEM in a folder every worker reads: what a task carries instead of the heights.

    Attributes
    ----------
    path : str
        The ``.npy`` file of the heights (float32, m, row 0 = north).
    shape : tuple of int
        Its rows and columns (checked on load).
    x0_m, y0_m, px_m, py_m : float
        Top-left corner and pixel sides, WORK_CRS metres (:class:`Terrain`).
    """

    path: str
    shape: tuple[int, int]
    x0_m: float
    y0_m: float
    px_m: float
    py_m: float


_TERRAINS: dict = {}  # per worker process: path -> Terrain (memory-mapped heights)


def resolve_terrain(t):
    """The :class:`Terrain` a task was given: ``t`` itself, or the one a :class:`TerrainFile`
    names, memory-mapped once per process (copy-on-write: writeable for the kernels, pages
    shared between the workers of one machine)."""
    if not isinstance(t, TerrainFile):
        return t
    hit = _TERRAINS.get(t.path)
    if hit is None:
        from phusong.coverage._terrain import Terrain

        try:
            z = np.load(t.path, mmap_mode="c", allow_pickle=False)
        except (OSError, ValueError) as exc:
            import socket

            raise ClusterError(f"worker on {socket.gethostname()} cannot read the shared DEM "
                               f"{t.path} ({type(exc).__name__}: {exc}); give --shared-dir a "
                               "folder every worker can read at the same path") from None
        if tuple(z.shape) != tuple(t.shape) or z.dtype != np.float32:
            raise ClusterError(f"shared DEM {t.path}: {z.shape} {z.dtype} on this worker, "
                               f"{tuple(t.shape)} float32 expected (a stale or foreign file)")
        hit = Terrain(np.asarray(z), t.x0_m, t.y0_m, t.px_m, t.py_m)
        _TERRAINS[t.path] = hit
    return hit


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
    timeout_s : float, optional
        How long to wait for the scheduler to answer (and for a LocalCluster to start), s.
        Default: the settings key ``dask.connect_timeout_s``
        (:attr:`phusong.settings.Dask.connect_timeout_s`, 10 s), which the CLI passes from
        ``--scenario``/``--set``.
    shared_dir : path, optional
        A folder every worker reads at the same path: the DEM goes there once and tasks carry
        its path (module docstring). Default: a temporary folder for a LocalCluster (removed
        on close); none with ``scheduler`` (the DEM is then scattered).

    Examples
    --------
    Two worker processes on this machine (``tests/test_coverage_dask.py`` runs this)::

        with DaskExecutor(workers=2) as ex:
            run_bundle(bundle, "out", executor=ex)
    """

    def __init__(self, *, scheduler: str | None = None, workers: int | None = None,
                 progress=None, timeout_s: float | None = None,
                 shared_dir: str | Path | None = None):
        if (scheduler is None) == (workers is None):
            raise DataError("give either a scheduler address or a number of workers")
        if workers is not None and workers < 1:
            raise DataError(f"--workers {workers}: use ≥ 1")
        self.scheduler, self.n_workers = scheduler, workers
        self.progress_factory = progress
        if timeout_s is None:
            from phusong.settings import DASK

            timeout_s = DASK.connect_timeout_s
        self.timeout_s = float(timeout_s)
        self.client = self.cluster = None
        self._scattered: dict = {}
        self.tasks = 0
        self.where = scheduler or f"LocalCluster of {workers} processes"
        self.shared_dir = None if shared_dir is None else Path(shared_dir)
        self._own_dir: Path | None = None  # a temporary shared folder this executor made
        self.dem = "none"  # how the last DEM reached the workers: path | scattered

    def __enter__(self) -> DaskExecutor:
        distributed = _import()
        _quiet_logs()
        if self.shared_dir is not None:
            try:
                self.shared_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"--shared-dir {self.shared_dir}: cannot create it "
                                  f"({exc.strerror}); choose a folder you can write") from None
        elif self.scheduler is None:
            self._own_dir = Path(tempfile.mkdtemp(prefix="phusong-dask-"))
            self.shared_dir = self._own_dir
        try:
            if self.scheduler is not None:
                self.client = distributed.Client(self.scheduler, timeout=self.timeout_s,
                                                 set_as_default=False)
            else:
                self.cluster = distributed.LocalCluster(
                    n_workers=self.n_workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL + 1,
                    # no dashboard, and the scheduler's own HTTP routes on a free port: the
                    # default 8787 is taken by any other cluster on the machine (a warning)
                    scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"})
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
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self.shared_dir = self._own_dir = None

    # -- data and tasks -------------------------------------------------------------------

    def _workers(self) -> dict:
        """The scheduler's workers now. A client whose scheduler went away answers from an
        emptied cache (no ``workers`` key): that is the scheduler lost, said as such."""
        info = self._call(lambda: self.client.scheduler_info(n_workers=-1))
        workers = info.get("workers") if isinstance(info, dict) else None
        if workers is None:
            raise _lost(ConnectionError("the scheduler no longer reports its workers"),
                        self.where)
        return workers

    def slots(self) -> int:
        """Worker threads the scheduler knows now (≥ 1)."""
        return max(1, sum(int(w.get("nthreads", 1)) for w in self._workers().values()))

    def alive(self) -> int:
        """Workers alive now."""
        return len(self._workers())

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

        from phusong.coverage._terrain import Terrain

        key = tokenize(data)
        if isinstance(data, Terrain):
            if self.shared_dir is not None:
                if key not in self._scattered:
                    self._scattered[key] = self._write_terrain(data, key)
                self.dem = "path"
                return self._scattered[key]
            self.dem = "scattered"
        if key not in self._scattered:
            with dask.config.set({"distributed.admin.large-graph-warning-threshold": "64GiB"}):
                self._scattered[key] = self.submit(_identity, data, key=f"phusong-data-{key}")
        return self._scattered[key]

    def _write_terrain(self, terrain, key: str) -> TerrainFile:
        """The DEM into the shared folder (atomically: a worker never sees half a file)."""
        path = self.shared_dir / f"dem-{key}.npy"
        if not path.exists():
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                with open(tmp, "wb") as f:
                    np.save(f, np.ascontiguousarray(terrain.z, np.float32), allow_pickle=False)
                os.replace(tmp, path)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise OutputError(f"--shared-dir {self.shared_dir}: cannot write the DEM "
                                  f"({exc.strerror}); choose a folder you can write") from None
        return TerrainFile(str(path.resolve()), tuple(int(n) for n in terrain.z.shape),
                           float(terrain.x0_m), float(terrain.y0_m), float(terrain.px_m),
                           float(terrain.py_m))

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
                "address": self.scheduler or self.client.scheduler.address, "dem": self.dem,
                "shared_dir": None if self._own_dir or self.shared_dir is None
                else str(self.shared_dir),
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
    return fn(*chunk, tuple(resolve_terrain(c) for c in ctx))


def _cancelled():
    from concurrent.futures import CancelledError

    return CancelledError
