"""What a plan assumed, read defensively from ``plan.json`` for the map and the workbook.

``phusong plan`` records (``phusong.planning._plan_write``): ``fibre_assumption`` (the label of a
plan made on POPs assumed at the commune centres, None with a real fibre layer), ``assumptions``
(every assumption stated in words), ``census`` (the census households the villages represent)
and ``feeders_inferred`` (a summary of the inferred feeder routes drawn from ``plan.gpkg``).
An older plan or one of another tool lacks them, or holds another type: each reader then
returns None (or an empty list), never an error, and the outputs say "not recorded".

Examples
--------
>>> from phusong.maps._assumed import census_coverage, fibre_assumption
>>> fibre_assumption({"fibre_assumption": "ASSUMED: POPs at commune centres"})
'ASSUMED: POPs at commune centres'
>>> fibre_assumption({"fibre_assumption": 3}) is None
True
>>> census_coverage({"census": {"census_households": 1000, "households": 940,
...                             "households_unrepresented": 60,
...                             "households_represented_pct": 94.0}})["households_unrepresented"]
60.0
"""

from __future__ import annotations

import math

from phusong.maps._labels import number

__all__ = ["FIBRE_ASSUMPTION_LABEL", "FEEDERS_LAYER_LABEL", "fibre_assumption",
           "fibre_assumption_text", "plan_assumptions", "census_coverage", "census_text",
           "feeders_summary"]

#: Heading of the fibre assumption (vi, en).
FIBRE_ASSUMPTION_LABEL = ("Giả định cáp quang", "Fibre assumption")
#: Name of the inferred feeders' map layer (vi, en): INFERRED in both languages.
FEEDERS_LAYER_LABEL = ("Tuyến cáp trục SUY ĐOÁN (INFERRED)", "INFERRED feeder routes")

_CENSUS_KEYS = ("census_households", "census_population", "households", "population",
                "households_unrepresented", "population_unrepresented",
                "households_represented_pct")


def _meta(meta) -> dict:
    return meta if isinstance(meta, dict) else {}


def fibre_assumption(meta) -> str | None:
    """``plan.json["fibre_assumption"]`` when it is a non-empty text, else None."""
    v = _meta(meta).get("fibre_assumption")
    return v.strip() if isinstance(v, str) and v.strip() else None


def fibre_assumption_text(meta) -> tuple[str, str]:
    """(vi, en) statement of the fibre the plan used: the assumption label, the bundle's own
    fibre (key recorded as null), or "not recorded" (an older plan without the key)."""
    label = fibre_assumption(meta)
    if label is not None:
        return ("GIẢ ĐỊNH: không có lớp cáp quang — điểm truy nhập (POP) giả định tại trung tâm "
                "mọi xã", label)
    if "fibre_assumption" in _meta(meta):
        return "lớp cáp quang của bộ dữ liệu", "the bundle's fibre layer"
    return "không ghi trong plan.json", "not recorded in plan.json"


def plan_assumptions(meta) -> list[str]:
    """``plan.json["assumptions"]``: its texts (other entries dropped), in order."""
    v = _meta(meta).get("assumptions")
    if not isinstance(v, list):
        return []
    return [s.strip() for s in v if isinstance(s, str) and s.strip()]


def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def census_coverage(meta) -> dict[str, float] | None:
    """``plan.json["census"]`` as numbers (keys with a non-number dropped); None when absent or
    without ``census_households`` and ``households_represented_pct``."""
    v = _meta(meta).get("census")
    if not isinstance(v, dict):
        return None
    out = {k: n for k in _CENSUS_KEYS if (n := _number(v.get(k))) is not None}
    if "census_households" not in out or "households_represented_pct" not in out:
        return None
    return out


def census_text(meta) -> tuple[str, str] | None:
    """(vi, en) one-line census coverage: share of census households the villages represent
    and the households no village represents (unknown, counted as not served)."""
    c = census_coverage(meta)
    if c is None:
        return None
    pct, total = c["households_represented_pct"], c["census_households"]
    unknown = c.get("households_unrepresented")
    vi = f"thôn đại diện {number(pct, 1)} % của {number(total)} hộ điều tra 2019"
    en = (f"villages represent {number(pct, 1, 'en')} % of {number(total, 0, 'en')} census "
          "households (2019)")
    if unknown is not None:
        vi += f"; {number(unknown)} hộ chưa rõ (tính là chưa được phục vụ)"
        en += f"; {number(unknown, 0, 'en')} unknown (counted as not served)"
    return vi, en


def feeders_summary(meta) -> dict | None:
    """``plan.json["feeders_inferred"]`` when it is a dict (its ``label``, ``km``,
    ``pops_reached``, ``pops_unreachable`` as recorded), else None."""
    v = _meta(meta).get("feeders_inferred")
    return v if isinstance(v, dict) else None
