"""Shared CLI plumbing: error handling (exit codes 0/1/2), --json output, progress."""

from __future__ import annotations

import atexit
import functools
import gc
import json
import os
import sys
import warnings
from contextlib import contextmanager

import click

from phusong.errors import PhusongError, PhusongWarning

__all__ = ["command_errors", "emit", "progress", "quiet_option", "json_option", "resolve_threads",
           "threads_option", "to_jsonable", "settings_options", "run_settings",
           "skip_exit_collection"]

quiet_option = click.option("--quiet", is_flag=True, help="Silence progress output.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")
threads_option = click.option(
    "--threads", type=click.IntRange(min=0), default=0, show_default=True,
    help="Worker threads (0 = every core this process may use); results are identical for "
    "any number.")


def settings_options(fn):
    """``--scenario FILE`` and ``--set KEY=VALUE`` (repeatable): the run's settings are the
    defaults, then the scenario's tables, then each ``--set`` (:func:`run_settings`)."""
    fn = click.option(
        "--set", "sets", multiple=True, metavar="KEY=VALUE",
        help="Override one setting, after --scenario (repeatable), e.g. --set "
        "thresholds_dbm.4G=-105; `phusong settings` lists the keys, types and units.")(fn)
    return click.option(
        "--scenario", "scenario_path", type=click.Path(dir_okay=False), default=None,
        help="Scenario TOML whose settings tables ([thresholds_dbm], [radio], [costs], "
        "[[targets]]…) override the defaults.")(fn)


def run_settings(scenario_path, sets):
    """The run's :class:`phusong.config.Settings`: defaults → scenario → ``--set``.

    Without a scenario only :mod:`phusong.config` is imported (the planning package, which
    reads the rest of a scenario, is not needed to score coverage).
    """
    if scenario_path is None:
        from phusong.config import DEFAULT_SETTINGS, apply_sets

        return apply_sets(DEFAULT_SETTINGS, sets)
    from phusong.planning.scenario import load_scenario

    return load_scenario(scenario_path, sets).config


def to_jsonable(obj):
    """Convert numpy scalars/arrays, paths and sets into JSON-serialisable values."""
    import numpy as np  # here, not at import: ``phusong --help`` must not load numpy

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if hasattr(obj, "__fspath__"):
        return str(obj)
    return obj


def emit(report: dict, *, as_json: bool, lines: list[str] | None = None) -> None:
    """Print ``report`` as JSON (``--json``) or ``lines`` as text."""
    if as_json:
        click.echo(json.dumps(to_jsonable(report), ensure_ascii=False, indent=1))
    else:
        for line in lines or [f"{k}: {v}" for k, v in report.items()]:
            click.echo(line)


def command_errors(fn):
    """Turn :class:`PhusongError` into one line on stderr and exit 2 (or the error's
    ``exit_code``: 1 for :class:`phusong.errors.ClusterError`); other errors exit 1.

    phusong warnings are printed as one line each on stderr, prefixed ``warning:``.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PhusongWarning)
            try:
                result = fn(*args, **kwargs)
            except PhusongError as exc:
                _flush(caught)
                click.echo(f"error: {exc}", err=True)
                sys.exit(getattr(exc, "exit_code", 2))
            except KeyboardInterrupt:
                click.echo("interrupted", err=True)
                sys.exit(1)
            except click.exceptions.Exit:
                raise
            except click.ClickException:
                raise
            except Exception as exc:  # a bug, not a user error: one line plus exit 1
                _flush(caught)
                click.echo(f"internal error: {type(exc).__name__}: {exc} (please report)", err=True)
                sys.exit(1)
        _flush(caught)
        return result

    return wrapper


def _flush(caught) -> None:
    for w in caught:
        if issubclass(w.category, PhusongWarning):
            click.echo(f"warning: {w.message}", err=True)
        else:  # let library warnings through unchanged
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


@contextmanager
def progress(description: str, total: int | None = None, *, quiet: bool = False):
    """A rich progress bar on stderr; yields ``advance(n=1)``. Silent with ``quiet``."""
    if quiet:
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def resolve_threads(n: int) -> int:
    """Worker threads for ``--threads n``: ``n``, or every core this process may use when 0.

    Parameters
    ----------
    n : int
        Threads asked for (≥ 0); 0 means all the cores of the process's CPU affinity.

    Returns
    -------
    int
        Threads to run, ≥ 1.
    """
    if n:
        return int(n)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no CPU affinity on this platform (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def skip_exit_collection() -> None:
    """Spare the process the garbage collector's passes over its objects at exit.

    When Python exits it clears every module and collects the reference cycles left, numba's
    type registries and compiled-code objects included: ≈ 0.2–0.3 CPU-s after a one-site run
    of about 1.4 (measured with ``/usr/bin/time`` against ``time.process_time()`` at the end
    of the command). :func:`gc.freeze`, registered with :mod:`atexit`, runs as the exit
    begins, after the command has written and closed its outputs: the collector then skips
    the objects that existed, which the operating system reclaims with the process. Until
    then the collector runs as usual (in-process callers, e.g. tests, keep collecting). Python
    does not promise ``__del__`` of objects alive at exit anyway; atexit handlers, the
    flushing of stdout/stderr and ``weakref.finalize`` callbacks still run.
    """
    atexit.register(gc.freeze)
