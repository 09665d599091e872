"""Moved to :mod:`phusong.atomic` (issue 15); this alias lets branches in flight merge."""

from phusong.atomic import *  # noqa: F403
from phusong.atomic import __all__  # noqa: F401
