"""CLI plumbing of the dask.distributed executor: ``--workers N`` / ``--scheduler ADDRESS``.

Without either option the commands run on local threads as always. With one, they open a
:class:`phusong.coverage.DaskExecutor` for the command's duration and show a rich progress
bar fed by the futures (tasks done / total, workers alive).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

__all__ = ["cluster_options", "open_executor"]


def cluster_options(fn):
    """Add ``--workers``, ``--scheduler`` and ``--shared-dir`` to a command (keywords
    ``workers``, ``scheduler``, ``shared_dir``)."""
    fn = click.option(
        "--shared-dir", default=None, type=click.Path(file_okay=False, path_type=Path),
        help="With --scheduler: a folder every worker reads at the same path; the DEM is "
        "written there once and tasks carry its path (default: the DEM is sent to the "
        "cluster once). --workers always uses a temporary one.")(fn)
    fn = click.option(
        "--scheduler", default=None, metavar="tcp://HOST:PORT",
        help="Run on this dask.distributed scheduler (output identical to a local run; "
        "needs phusong[dask]).")(fn)
    return click.option(
        "--workers", type=click.IntRange(min=1), default=None,
        help="Run on a local dask cluster of this many worker processes (output identical "
        "to a local run; needs phusong[dask]).")(fn)


def _task_bar(description: str, total: int):
    """A rich bar on stderr: tasks done / total, workers alive, elapsed."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def bar():
        with Progress(TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} tasks"),
                      TextColumn("{task.fields[workers]} workers"), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as p:
            task = p.add_task(description, total=total, workers="?")

            def advance(n=1, workers=None):
                p.advance(task, n)
                if workers is not None:
                    p.update(task, workers=workers)

            yield advance

    return bar()


@contextlib.contextmanager
def open_executor(workers: int | None, scheduler: str | None, *, quiet: bool = False,
                  shared_dir: Path | None = None, config=None):
    """Yield a connected :class:`DaskExecutor`, or None for the local threads.

    ``config`` (:class:`phusong.config.Settings`, the run's settings) gives the connection
    timeout (``dask.connect_timeout_s``); None: the default.

    Both options at once is a usage error, and so is ``shared_dir`` without ``scheduler``.
    """
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    if shared_dir is not None and scheduler is None:
        raise click.UsageError("--shared-dir goes with --scheduler (--workers uses a "
                               "temporary folder of its own)")
    if workers is None and scheduler is None:
        yield None
        return
    from phusong.coverage import DaskExecutor

    timeout_s = None if config is None else config.dask.connect_timeout_s
    with DaskExecutor(workers=workers, scheduler=scheduler, shared_dir=shared_dir,
                      progress=None if quiet else _task_bar, timeout_s=timeout_s) as ex:
        yield ex
