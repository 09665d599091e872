"""The ``phusong`` command line (DESIGN §8): a thin layer over the library.

Every command has ``--help``; commands that report take ``--json``; long steps show progress
on stderr (``--quiet`` silences it). Exit codes: 0 ok, 1 failure (a bug), 2 user error with a
one-line message naming the file, row or field and the fix.

Command modules (one per area, so each area owns its file): ``_data`` (data import/validate),
``_twin`` (twin build/stats), ``_coverage``, ``_planning`` (gaps, plan), ``_outputs`` (map,
export), ``_demo``, ``_settings`` (the keys of ``--set``).
"""

from __future__ import annotations

import click

from phusong import __version__

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="phusong")
def main() -> None:
    """phusong — phủ sóng: mobile and fibre broadband coverage planner (Hòa Bình first)."""


def _register() -> None:
    from phusong.cli import _coverage, _data, _demo, _outputs, _planning, _settings, _twin

    for module in (_data, _twin, _coverage, _planning, _outputs, _demo, _settings):
        for cmd in module.COMMANDS:
            main.add_command(cmd)


_register()
