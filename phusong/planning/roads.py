"""Moved to :mod:`phusong.network.roads` (issue 15); this alias lets branches in flight merge."""

from phusong.network.roads import *  # noqa: F403
from phusong.network.roads import __all__  # noqa: F401
