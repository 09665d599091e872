"""Candidate coverage under the plan's wall-clock guard (private).

Without a ``time_limit_s`` (the default) a year's candidates are scored in one call of
:func:`~phusong.planning.radios.candidate_coverage`, as always. Under a limit they are scored in
chunks, each started only when the time left allows it at the rate the previous chunk took, so
the scoring ends near the limit rather than after it; the candidates left unscored are **not
offered** that year (a candidate whose coverage is unknown cannot be chosen or ranked), and the
plan says how many in ``plan.json`` ``time_limit.stopped`` and the notes.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from phusong.planning.radios import candidate_coverage

__all__ = ["FIRST_CHUNK", "CHUNK", "timed_coverage"]

#: Candidates in the first chunk under a time limit (no rate known yet: kept small).
FIRST_CHUNK = 8
#: Candidates per later chunk (each call prepares its transmitters and profiles once).
CHUNK = 64


def timed_coverage(cands, x_m, y_m, dem, radio: dict, deadline: float = math.inf,
                   techs=("4G", "5G")) -> tuple[dict, np.ndarray]:
    """Coverage per technology of the candidates scored before ``deadline``.

    Parameters
    ----------
    cands : DataFrame
        Candidates (:func:`~phusong.planning.radios.candidate_coverage`).
    x_m, y_m : array_like
        Villages in WORK_CRS, m.
    dem : Raster
        Elevation.
    radio : dict
        Keywords of :func:`~phusong.planning.radios.candidate_coverage` (model, executor,
        clutter, config).
    deadline : float
        ``time.perf_counter()`` value of the plan's guard (inf: none, one call).
    techs : tuple of str
        Technologies returned.

    Returns
    -------
    (dict of str to scipy.sparse.csr_matrix, numpy.ndarray of bool)
        ``{tech: villages × scored candidates}`` and the mask of scored candidates (a prefix).
    """
    n = len(cands)
    if not math.isfinite(deadline) or n == 0:
        return candidate_coverage(cands, x_m, y_m, dem, techs=techs, **radio), np.ones(n, bool)
    parts: list[dict] = []
    done, rate = 0, None
    while done < n:
        k = min(FIRST_CHUNK if rate is None else CHUNK, n - done)
        left = deadline - time.perf_counter()
        if rate is not None:
            k = min(k, int(left / rate) if rate > 0 else k)
        if left <= 0 or k <= 0:
            break
        t = time.perf_counter()
        parts.append(candidate_coverage(cands.iloc[done:done + k], x_m, y_m, dem, techs=techs,
                                        **radio))
        rate = (time.perf_counter() - t) / k
        done += k
    n_v = len(np.asarray(x_m))
    cov = {t: (sp.hstack([p[t] for p in parts], format="csr").astype(bool) if parts
               else sp.csr_matrix((n_v, 0), dtype=bool)) for t in techs}
    scored = np.zeros(n, bool)
    scored[:done] = True
    return cov, scored
