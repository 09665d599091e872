"""Candidate coverage under the plan's wall-clock guard (private).

Without a ``time_limit_s`` (the default) a year's candidates are scored in one call of
:func:`~phusong.planning.radios.candidate_coverage`, as always. Under a limit they are scored in
chunks, each started only when it fits in half the time left at the rate the previous chunk
took (:data:`CHUNK_SHARE`), so the scoring ends near the limit rather than after it; the candidates left unscored are **not
offered** that year (a candidate whose coverage is unknown cannot be chosen or ranked), and the
plan says how many in ``plan.json`` ``time_limit.stopped`` and the notes.

The existing network's villages are scored the same way (:func:`timed_villages`): one call of
:func:`phusong.coverage.score_villages` without a limit; under one, chunks of villages (a
village's scores do not depend on the other villages, so the chunks give exactly the single
call's frame), each started only when the time left allows it (the first, before any rate is
measured, only when its estimated set-up fits: :data:`FIRST_CALL_S`); the villages left unscored are
``unknown`` (not covered by the existing network as far as the plan knows, counted apart in the
gap tables, never "not covered").
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from phusong import settings
from phusong.planning import _plan_deps as deps
from phusong.planning.radios import candidate_coverage

__all__ = ["FIRST_CHUNK", "CHUNK", "FIRST_VILLAGES", "VILLAGE_CHUNK", "CHUNK_SHARE",
           "FIRST_CALL_S", "VILLAGE_S",
           "timed_coverage", "timed_villages", "unscored_as_unknown"]

#: Candidates in the first chunk under a time limit (no rate known yet: kept small).
FIRST_CHUNK = 8
#: Candidates per later chunk (each call prepares its transmitters and profiles once).
CHUNK = 64
#: Villages in the first chunk of the existing network's scoring under a time limit.
FIRST_VILLAGES = 16
#: Estimated seconds of the first village-scoring call of a process, before any rate is
#: measured: its set-up (numba's cached kernels loaded, terrain and transmitters prepared)
#: plus :data:`VILLAGE_S` per village. On the district-148 twin (1,507 villages, quiet machine)
#: a first call of 64 villages took 2.3 s, a second one 1.2 s, one of a single village 0.3 s,
#: one of 512 villages 7.6 s (≈ 15 ms per village): ≈ 1.4 s of first-call set-up. The first
#: chunk starts only when this estimate fits in :data:`CHUNK_SHARE` of the time left, so a
#: plan whose road work left it too little time does not start a 2 s call at its deadline.
FIRST_CALL_S = 1.4
#: Estimated seconds per village scored (see :data:`FIRST_CALL_S`).
VILLAGE_S = 0.015
#: Villages per later chunk (each call prepares the terrain and transmitters once: about 1 s
#: on a district twin, so chunks stay large).
VILLAGE_CHUNK = 512
#: Share of the time left a chunk may take at the rate measured so far: a chunk that runs up
#: to 1 / CHUNK_SHARE times slower than the previous one (villages and candidates differ in
#: cost, the machine's load changes) still ends by the deadline. On the district twin a
#: 512-village chunk sized to the whole time left ran 1.7× slower than the chunk before it and
#: took the plan 2.8 s past a 20 s limit.
CHUNK_SHARE = 0.5


def _until(n: int, first: int, size: int, deadline: float, work,
           first_s=None) -> list[tuple[int, object]]:
    """``work(i, j)`` over consecutive chunks of ``range(n)`` — ``first`` items, then ``size``
    — each started only while it fits in :data:`CHUNK_SHARE` of the time left to ``deadline``
    at the rate the previous chunk took, and no smaller than ``first`` (near the deadline a
    call's own set-up would dominate a smaller one, so the scoring stops a little early rather
    than late); the first chunk, with no rate yet, only when ``first_s(k)`` (its estimated
    seconds, when given) fits the same way; ``[(chunk length, result), ...]`` of the chunks
    done (a prefix)."""
    out: list[tuple[int, object]] = []
    done, rate = 0, None
    while done < n:
        k = min(first if rate is None else size, n - done)
        left = deadline - time.perf_counter()
        if rate is None and first_s is not None and first_s(k) > CHUNK_SHARE * left:
            break
        if rate is not None and rate > 0:
            fits = int(CHUNK_SHARE * left / rate)
            if fits < min(first, n - done):
                break
            k = min(k, fits)
        if left <= 0 or k <= 0:
            break
        t = time.perf_counter()
        out.append((k, work(done, done + k)))
        rate = (time.perf_counter() - t) / k
        done += k
    return out


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
    parts = _until(n, FIRST_CHUNK, CHUNK, deadline, lambda i, j: candidate_coverage(
        cands.iloc[i:j], x_m, y_m, dem, techs=techs, **radio))
    done = sum(k for k, _ in parts)
    parts = [p for _, p in parts]
    n_v = len(np.asarray(x_m))
    cov = {t: (sp.hstack([p[t] for p in parts], format="csr").astype(bool) if parts
               else sp.csr_matrix((n_v, 0), dtype=bool)) for t in techs}
    scored = np.zeros(n, bool)
    scored[:done] = True
    return cov, scored


def _score(bundle, villages, radio: dict) -> pd.DataFrame:
    """:func:`phusong.coverage.score_villages` of ``villages`` (rows of ``bundle.villages``)."""
    return deps.score_villages(replace(bundle, layers={**bundle.layers, "villages": villages}),
                               **radio)


def _joined(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Chunks' frames as one with one call's ``attrs["stats"]``: counts of receivers, paths
    and links summed, maxima (``*_max_m``) the largest, the rest (properties of the
    transmitters and settings, the same in every chunk) the first chunk's."""
    out = pd.concat(parts) if len(parts) > 1 else parts[0].copy()
    stats: dict = {}
    for p in parts:
        for k, v in p.attrs.get("stats", {}).items():
            if k not in stats:
                stats[k] = v
            elif k.startswith(("receivers", "paths", "links")):
                stats[k] = stats[k] + v
            elif k.endswith("_max_m"):
                stats[k] = max(stats[k], v)
    out.attrs = {"stats": stats} if stats else {}
    return out


def timed_villages(bundle, *, model: str, config, executor=None,
                   deadline: float = math.inf) -> tuple[pd.DataFrame, int]:
    """The existing network's scores of the villages reached before ``deadline``.

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        As :func:`phusong.coverage.score_villages`.
    model : str
        Propagation model.
    config : phusong.config.Settings
        The run's settings.
    executor : phusong.coverage.DaskExecutor, optional
        Run on dask.distributed.
    deadline : float
        ``time.perf_counter()`` value of the plan's guard (inf: none, one call as always).

    Returns
    -------
    (pandas.DataFrame, int)
        :func:`~phusong.coverage.score_villages`'s frame for the villages scored (a prefix of
        ``bundle.villages``, in order) and the number of villages left unscored.
    """
    radio = dict(model=model, config=config)
    if executor is not None:
        radio["executor"] = executor
    v = bundle.villages
    n = len(v)
    if not math.isfinite(deadline):
        return deps.score_villages(bundle, **radio), 0
    parts = _until(n, FIRST_VILLAGES, VILLAGE_CHUNK, deadline,
                   lambda i, j: _score(bundle, v.iloc[i:j], radio),
                   first_s=lambda k: FIRST_CALL_S + VILLAGE_S * k)
    done = sum(k for k, _ in parts)
    parts = [p for _, p in parts]
    if not parts:  # nothing scored: no columns known yet (unscored_as_unknown fills them)
        return pd.DataFrame(index=pd.Index([], name="village_id")), n
    return _joined(parts), n - done


def unscored_as_unknown(cov: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """``cov`` (scored villages) over all ``ids``, the villages not scored marked ``unknown``.

    An unscored village is covered by nothing the plan knows of (``covered_*`` False,
    ``rx_dbm_*`` −inf, ``site_*`` None), ``unknown`` True (the gap tables count it apart) and
    ``in_dem`` missing (not looked at). Without unscored villages ``cov`` is reindexed only.
    """
    out = cov.reindex(ids)
    miss = ~ids.isin(cov.index)
    if not miss.any():
        return out
    for t in settings.TECHS:  # columns a scored frame always has, when nothing was scored
        for col, val in ((f"covered_{t}", False), (f"rx_dbm_{t}", -np.inf), (f"site_{t}", None)):
            if col not in out:
                out[col] = pd.Series(val, index=ids, dtype=object if val is None else None)
    for col in out.columns:
        if col.startswith("covered_"):
            out[col] = out[col].astype(object).where(~miss, False).astype(bool)
        elif col.startswith("rx_dbm_") and out[col].dtype.kind == "f":
            out.loc[miss, col] = -np.inf
        elif col.startswith("site_"):
            out[col] = out[col].astype(object).where(~miss, None)
    if "covered_any" not in out:
        out["covered_any"] = False
    out["unknown"] = (out["unknown"].astype(object).where(~miss, True).astype(bool)
                      if "unknown" in out else pd.Series(miss, index=ids))
    out["in_dem"] = (out["in_dem"].astype("boolean") if "in_dem" in out
                     else pd.Series(pd.NA, index=ids, dtype="boolean"))
    out.loc[miss, "in_dem"] = pd.NA
    return out
