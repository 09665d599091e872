"""Keep solver chatter off stdout (private).

HiGHS, as scipy ships it, prints some diagnostics from C++ straight to file descriptor 1
whatever ``disp`` says (seen: ``HighsMipSolverData::transformNewIntegerFeasibleSolution
tmpSolver.run();`` during a low-band 2030 plan). ``phusong plan --json`` promises one JSON
document on stdout, so every HiGHS call runs with descriptor 1 pointed at descriptor 2: the
text still reaches the user, on stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

__all__ = ["solver_stdout_to_stderr"]

_LOCK = threading.RLock()


@contextlib.contextmanager
def solver_stdout_to_stderr():
    """Within the block, anything written to file descriptor 1 goes to descriptor 2.

    Python's own ``sys.stdout`` is flushed before and after, so nothing printed by Python
    changes place or order. Process-wide (descriptors are), hence serialised by a lock.
    """
    with _LOCK:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            saved = os.dup(1)
        except OSError:  # no descriptor 1 at all (daemonised): nothing to protect
            yield
            return
        try:
            os.dup2(2, 1)
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
