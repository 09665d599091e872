"""CLI commands of this area (registered by :mod:phusong.cli)."""

from __future__ import annotations

COMMANDS: list = []
