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


#: The module of each command (one per area). A command's module is imported when the command
#: runs or ``--help`` lists it, so ``phusong coverage site`` does not run the other areas'
#: modules (≈ 0.02 CPU-s); ``tests/test_startup.py`` checks this table against their COMMANDS.
_COMMAND_MODULES = {
    "data": "_data", "twin": "_twin", "coverage": "_coverage", "gaps": "_planning",
    "plan": "_planning", "map": "_outputs", "export": "_outputs", "briefing": "_outputs",
    "demo": "_demo", "settings": "_settings",
}


class _Commands(click.Group):
    """The top-level group: commands registered from their area's module on first use."""

    def list_commands(self, ctx):
        return sorted(_COMMAND_MODULES)

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in _COMMAND_MODULES:
            import importlib

            module = importlib.import_module(f"phusong.cli.{_COMMAND_MODULES[cmd_name]}")
            for cmd in module.COMMANDS:
                self.add_command(cmd)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="phusong")
def main() -> None:
    """phusong — phủ sóng: mobile and fibre broadband coverage planner (Hòa Bình first)."""
