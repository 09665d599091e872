"""2G / 3G switch-offs (FACTS §6, §8): which technologies a report year still has on air.

The GSM network runs to 15 September 2026 and 3G to September 2028
(:data:`phusong.settings.SWITCH_OFF_YEAR`). A report year describes 31 December, so a
technology counts in year ``y`` only when ``y < SWITCH_OFF_YEAR[tech]``
(:func:`phusong.settings.on_air`): 2G counts up to 2025, 3G up to 2027.

:func:`switch_off` takes a village coverage frame (:func:`phusong.coverage.score_villages`
output) to the year: every column of a switched-off technology says "no signal", and
``covered_any`` is recomputed from the technologies still on air. The gap tables
(:func:`phusong.planning.gaps.compute_gaps` with ``year=``) and the planner use it so that
switch-offs remove technologies from every indicator.

Examples
--------
>>> import pandas as pd
>>> cov = pd.DataFrame({"covered_2G": [True, True], "covered_4G": [False, True],
...                     "covered_any": [True, True]}, index=["thôn A", "thôn B"])
>>> switched_off_techs(2025), switched_off_techs(2030)
((), ('2G', '3G'))
>>> switch_off(cov, 2026)["covered_any"].tolist()
[False, True]
>>> losing_service(cov, switch_off(cov, 2026)).tolist()
[True, False]
>>> cov["covered_any"].tolist()  # the input is left as it was
[True, True]
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from phusong import settings
from phusong.errors import DataError, SchemaError

__all__ = ["YEAR_RANGE", "check_year", "switched_off_techs", "switch_off", "losing_service"]

#: Report years accepted by the switch-off logic (inclusive), years.
YEAR_RANGE = (2000, 2100)


def check_year(year) -> int | None:
    """Return ``year`` as an int (``None`` stays ``None``); raise :class:`DataError` otherwise.

    Parameters
    ----------
    year : int or None
        Report year (31 December of that year), within :data:`YEAR_RANGE`.

    >>> check_year(2030), check_year(None)
    (2030, None)
    """
    if year is None:
        return None
    if isinstance(year, bool) or not isinstance(year, numbers.Integral):
        raise DataError(f"year {year!r}: give a whole calendar year such as 2030")
    lo, hi = YEAR_RANGE
    if not lo <= int(year) <= hi:
        raise DataError(f"year {year}: outside {lo}..{hi}; give the report year, e.g. 2030")
    return int(year)


def switched_off_techs(year: int | None) -> tuple[str, ...]:
    """Technologies of ``settings.TECHS`` no longer on air on 31 December of ``year``.

    Parameters
    ----------
    year : int or None
        Report year; ``None`` means no switch-off (empty tuple).

    Returns
    -------
    tuple of str
        In ``settings.TECHS`` order, e.g. ``("2G",)`` for 2026 and 2027.

    >>> switched_off_techs(2026), switched_off_techs(None)
    (('2G',), ())
    """
    year = check_year(year)
    if year is None:
        return ()
    return tuple(t for t in settings.TECHS if not settings.on_air(t, year))


def _tech_of(column: str) -> str | None:
    """The technology a per-tech coverage column belongs to (``covered_2G_VNPT`` → ``2G``)."""
    for prefix in ("covered_", "rx_dbm_", "site_", "sinr_db_", "margin_db_"):
        if column.startswith(prefix):
            tech = column[len(prefix):].split("_", 1)[0]
            return tech if tech in settings.TECHS else None
    return None


def switch_off(village_cov: pd.DataFrame, year: int | None) -> pd.DataFrame:
    """Village coverage as it stands on 31 December of ``year`` (module doc).

    Parameters
    ----------
    village_cov : DataFrame
        :func:`phusong.coverage.score_villages` output: ``covered_{tech}``,
        ``covered_{tech}_{operator}``, ``covered_any``, and optionally ``rx_dbm_{tech}[_{op}]``
        (dBm), ``site_{tech}``, ``sinr_db_{tech}[_{op}]`` and ``margin_db_{tech}`` (dB).
    year : int or None
        Report year within :data:`YEAR_RANGE`; ``None`` means no switch-off.

    Returns
    -------
    DataFrame
        A new frame (the input is never modified), same index and columns. For every
        switched-off technology: ``covered_{tech}*`` False (indoor flags too), ``rx_dbm_{tech}*``
        −inf dBm (no signal), ``site_{tech}`` None, ``sinr_db_{tech}*`` and ``margin_db_{tech}``
        NaN (no serving cell, as :func:`phusong.coverage.score_villages` writes it). ``covered_any`` is the OR of the ``covered_{tech}``
        columns still on air. When nothing is switched off the frame is an unchanged copy.

    Raises
    ------
    SchemaError
        When a technology is switched off and the frame has no ``covered_{tech}`` column at
        all (``covered_any`` cannot be recomputed).
    DataError
        For a year that is not a whole number within :data:`YEAR_RANGE`.
    """
    off = switched_off_techs(year)
    out = village_cov.copy()
    if not off:
        return out
    present = [t for t in settings.TECHS if f"covered_{t}" in out.columns]
    if not present:
        raise SchemaError("village coverage: no covered_<tech> column; pass score_villages output")
    new = {}
    for col in out.columns:
        if _tech_of(col) not in off:
            continue
        if col.startswith("covered_"):
            new[col] = np.zeros(len(out), bool)
        elif col.startswith("rx_dbm_"):
            new[col] = np.full(len(out), -np.inf)
        elif col.startswith(("sinr_db_", "margin_db_")):
            new[col] = np.full(len(out), np.nan)  # no serving cell: as score_villages says it
        else:
            new[col] = pd.Series([None] * len(out), index=out.index, dtype=object)
    on = [t for t in present if t not in off]
    new["covered_any"] = np.logical_or.reduce(
        [out[f"covered_{t}"].fillna(False).astype(bool).to_numpy() for t in on]
        or [np.zeros(len(out), bool)])
    for col, values in new.items():
        out[col] = values
    return out


def losing_service(before: pd.DataFrame, after: pd.DataFrame) -> pd.Series:
    """Villages with some mobile coverage in ``before`` and none in ``after`` (bool).

    Parameters
    ----------
    before, after : DataFrame
        Coverage frames (``covered_any``, else ``covered_{tech}``), ``after`` holding every
        index of ``before``: the frame as scored and :func:`switch_off` of it.

    Returns
    -------
    Series of bool
        Indexed like ``before``.

    Raises
    ------
    DataError
        When ``after`` lacks a village of ``before``.
    """
    missing = before.index.difference(after.index)
    if len(missing):
        raise DataError(f"village coverage after switch-off: no row for village {missing[0]!r} "
                        f"({len(missing)} missing); pass switch_off() of the same frame")
    had = _any_coverage(before)
    has = _any_coverage(after.reindex(before.index))
    return pd.Series(had & ~has, index=before.index, name="loses_service")


def _any_coverage(cov: pd.DataFrame) -> np.ndarray:
    """``covered_any``, or the OR of the ``covered_{tech}`` columns when it is absent."""
    if "covered_any" in cov.columns:
        return cov["covered_any"].fillna(False).astype(bool).to_numpy()
    techs = [f"covered_{t}" for t in settings.TECHS if f"covered_{t}" in cov.columns]
    if not techs:
        raise SchemaError("village coverage: no covered_any or covered_<tech> column; pass "
                          "score_villages output")
    return np.logical_or.reduce([cov[c].fillna(False).astype(bool).to_numpy() for c in techs])
