"""Moved to :mod:`phusong.network.reach` (issue 15); this alias lets branches in flight merge."""

from phusong.network.reach import *  # noqa: F403
from phusong.network.reach import __all__  # noqa: F401
