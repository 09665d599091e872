"""CLI plumbing of the dask.distributed executor: ``--workers N`` / ``--scheduler ADDRESS``.

Without either option the commands run on local threads as always. With one, they open a
:class:`phusong.coverage.DaskExecutor` for the command's duration and show a rich progress
bar fed by the futures (tasks done / total, workers alive).
"""

from __future__ import annotations

import contextlib

import click

__all__ = ["cluster_options", "open_executor"]


def cluster_options(fn):
    """Add ``--workers`` and ``--scheduler`` to a command (keywords ``workers``, ``scheduler``)."""
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
def open_executor(workers: int | None, scheduler: str | None, *, quiet: bool = False):
    """Yield a connected :class:`DaskExecutor`, or None for the local threads.

    Both options at once is a usage error.
    """
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    if workers is None and scheduler is None:
        yield None
        return
    from phusong.coverage import DaskExecutor

    with DaskExecutor(workers=workers, scheduler=scheduler,
                      progress=None if quiet else _task_bar) as ex:
        yield ex
