"""The data-quality figures of a plan, read defensively from ``plan.json`` for the briefing.

``phusong plan`` records the engine's counts on the existing network
(``existing_network_scoring``: paths ITM refused, paths left out behind a long DEM void, voids
bridged and the longest, receivers off the DEM), the villages whose coverage is ``unknown`` and
the existing ``sites_outside_communes`` (issue 18). A figure the plan did not record (an older
plan, or villages scored by the caller) is None — the briefing says "not recorded", never a
blank and never a zero; a recorded zero stays 0.

Examples
--------
>>> from phusong.maps._quality import data_quality
>>> q = {r["key"]: r["value"] for r in data_quality(
...     {"existing_network_scoring": {"paths": 10, "paths_itm_error": 0},
...      "sites_outside_communes": {"count": 1, "site_ids": ["S7"]}})}
>>> q["paths_itm_error"], q["paths_flagged_void"], q["sites_outside_communes"]
(0, None, 1)
"""

from __future__ import annotations

import math

__all__ = ["QUALITY_HEADING", "NOT_RECORDED", "data_quality"]

#: Heading of the block (vi, en).
QUALITY_HEADING = ("Chất lượng dữ liệu (mạng hiện có)", "Data quality (existing network)")
#: What a figure the plan did not record reads as.
NOT_RECORDED = "không ghi trong plan.json / not recorded in plan.json"

# (key, where in plan.json, field, vi, en); a count is a problem when > 0 except "paths"
_ROWS = (
    ("paths", "existing_network_scoring", "paths",
     "Đường truyền đã tính (trạm → thôn)", "Paths scored (cell → village)"),
    ("paths_itm_error", "existing_network_scoring", "paths_itm_error",
     "Đường truyền ITM từ chối (mã lỗi ≥ 1000, không tính suy hao)",
     "Paths ITM refused (error code ≥ 1000, no loss)"),
    ("paths_flagged_void", "existing_network_scoring", "paths_flagged_void",
     "Đường truyền bỏ qua do vùng trống DEM dài", "Paths left out behind a long DEM void"),
    ("paths_void_bridged", "existing_network_scoring", "paths_void_bridged",
     "Đường truyền nội suy qua vùng trống DEM", "Paths bridged across a DEM void"),
    ("void_bridged_max_m", "existing_network_scoring", "void_bridged_max_m",
     "Vùng trống dài nhất đã nội suy (m)", "Longest void bridged (m)"),
    ("receivers_outside_dem", "existing_network_scoring", "receivers_outside_dem",
     "Thôn ngoài DEM", "Villages off the DEM"),
    ("villages_unknown", "unknown", "villages",
     "Thôn chưa rõ vùng phủ (ngoài DEM hoặc vùng trống)",
     "Villages of unknown coverage (off the DEM or behind a void)"),
    ("households_unknown", "unknown", "households",
     "Hộ chưa rõ vùng phủ", "Households of unknown coverage"),
    ("sites_outside_communes", "sites_outside_communes", "count",
     "Trạm hiện có nằm ngoài mọi xã", "Existing sites inside no commune"),
)


def _number(v):
    """An int or float figure, or None (not a number, NaN, a bool)."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return int(v) if float(v).is_integer() else float(v)


def data_quality(meta) -> list[dict]:
    """The data-quality rows of a plan.

    Parameters
    ----------
    meta : dict
        ``plan.json`` content.

    Returns
    -------
    list of dict
        One per figure, in order: ``key``, ``vi``, ``en``, ``value`` (int, float — metres for
        ``void_bridged_max_m`` — or None when not recorded), ``problem`` (a count > 0 the
        planner should look at), ``note`` (the void limit, the ids of sites outside; may be "").
    """
    meta = meta if isinstance(meta, dict) else {}
    out = []
    for key, block, field, vi, en in _ROWS:
        b = meta.get(block)
        value = _number(b.get(field)) if isinstance(b, dict) else None
        note = ""
        if key == "paths_flagged_void":
            limit = _number((meta.get(block) or {}).get("max_void_m")
                            if isinstance(meta.get(block), dict) else None)
            note = f"> {limit:g} m" if limit is not None else ""
        elif key == "sites_outside_communes" and isinstance(b, dict):
            ids = [str(i) for i in b.get("site_ids") or []]
            note = ", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")
        problem = key not in ("paths", "void_bridged_max_m") and bool(value)
        out.append({"key": key, "vi": vi, "en": en, "value": value, "problem": problem,
                    "note": note})
    return out
