"""Vietnamese / English labels of the outputs, and HTML escaping of data text.

Examples
--------
>>> from phusong.maps._labels import label, esc
>>> label("communes", "en")
'Communes'
>>> esc("<script>alert(`x${1}`)</script>")
'&lt;script&gt;alert(&#96;x&#36;{1}&#96;)&lt;/script&gt;'
"""

from __future__ import annotations

import html

from phusong.errors import DataError

__all__ = ["LANGS", "LABELS", "label", "indicator_label", "esc", "check_lang", "SYNTHETIC_NOTICE",
           "number"]

LANGS = ("vi", "en")

#: Both languages always shown together on synthetic outputs.
SYNTHETIC_NOTICE = "Dữ liệu minh họa tổng hợp / synthetic demonstration data"

#: key → (Vietnamese, English)
LABELS: dict[str, tuple[str, str]] = {
    "title": ("Phủ sóng di động và cáp quang", "Mobile and fibre coverage"),
    "communes": ("Xã/phường", "Communes"),
    "units_2025": ("Đơn vị hành chính 2025", "2025 administrative units"),
    "districts": ("Ranh giới huyện (2020)", "District outlines (2020)"),
    "villages": ("Thôn/bản", "Villages"),
    "sites": ("Trạm BTS hiện có", "Existing BTS sites"),
    "fibre": ("Cáp quang hiện có", "Existing fibre"),
    "coverage_raster": ("Lớp phủ sóng", "Coverage raster"),
    "candidates_new": ("Trạm BTS đề xuất (mới)", "Candidate BTS (new)"),
    "candidates_upgrade": ("Trạm BTS đề xuất (nâng cấp)", "Candidate BTS (upgrade)"),
    "fibre_routes": ("Tuyến cáp quang đề xuất", "Proposed fibre routes"),
    "basemap": ("Bản đồ nền", "Basemap"),
    "code": ("Mã", "Code"),
    "name": ("Tên", "Name"),
    "district": ("Huyện", "District"),
    "households": ("Số hộ", "Households"),
    "population": ("Dân số", "Population"),
    "operator": ("Nhà mạng", "Operator"),
    "tech": ("Công nghệ", "Technology"),
    "height_m": ("Độ cao anten (m)", "Antenna height (m)"),
    "cost_vnd": ("Chi phí (VND)", "Cost (VND)"),
    "length_m": ("Chiều dài (m)", "Length (m)"),
    "households_new": ("Hộ được phủ mới", "Newly covered households"),
    "households_passed": ("Hộ được kéo cáp qua", "Households passed"),
    "kind": ("Loại", "Kind"),
    "new": ("Xây mới", "New"),
    "upgrade": ("Nâng cấp", "Upgrade"),
    "rank": ("Thứ tự ưu tiên", "Priority rank"),
    "coverage": ("Phủ sóng tốt nhất", "Best coverage"),
    "none": ("Chưa phủ", "Not covered"),
    "unknown": ("Chưa rõ", "Unknown"),
    "no_data": ("Không có dữ liệu", "No data"),
    "legend": ("Chú giải", "Legend"),
    "indicator": ("Chỉ tiêu", "Indicator"),
    "boundaries": ("Ranh giới", "Boundaries"),
    "road_class": ("Cấp đường", "Road class"),
    "purpose": ("Mục đích", "Purpose"),
    "selected": ("Được chọn", "Selected"),
    "village": ("Thôn", "Village"),
    "fibre_available": ("Có cáp quang", "Fibre available"),
    "year": ("Năm", "Year"),
    "gap_pts": ("Thiếu (điểm %)", "Gap (points)"),
    "plan_sites": ("Trạm BTS theo kế hoạch", "Planned BTS"),
    "plan_fibre": ("Cáp quang theo kế hoạch", "Planned fibre"),
    "plan_cost": ("Chi phí kế hoạch", "Planned cost"),
    "bn_vnd": ("tỷ VND", "bn VND"),
    # charts and workbook
    "chart_tech": ("Phủ sóng theo công nghệ so với mục tiêu", "Coverage by technology vs target"),
    "chart_fibre_district": ("Hộ có cáp quang theo huyện", "Fibre households by district"),
    "chart_cost": ("Hộ được phủ mới theo chi phí tích lũy", "Households covered vs cumulative cost"),
    "chart_overview": ("Tổng quan", "Overview"),
    "share_pct": ("Tỷ lệ (%)", "Share (%)"),
    "target": ("Mục tiêu", "Target"),
    "value": ("Hiện trạng", "Current"),
    "cum_cost_bn": ("Chi phí tích lũy (tỷ VND)", "Cumulative cost (billion VND)"),
    "cum_households": ("Số hộ tích lũy", "Cumulative households"),
    "bts": ("Trạm BTS", "BTS sites"),
    "cost_bn": ("Chi phí (tỷ VND)", "Cost (billion VND)"),
    "reach_max": ("Mức tối đa các trạm đề xuất đạt được", "The most the candidates reach"),
    "chart_to_100": ("Chi phí để đạt 90–100 %", "Cost to reach 90–100 %"),
}

#: Indicator columns of the gaps table → (Vietnamese, English).
INDICATORS: dict[str, tuple[str, str]] = {
    "fibre_households_pct": ("Hộ có cáp quang (%)", "Fibre households (%)"),
    "mobile_2G_population_pct": ("Dân số có sóng 2G (%)", "Population with 2G (%)"),
    "mobile_3G_population_pct": ("Dân số có sóng 3G (%)", "Population with 3G (%)"),
    "mobile_4G_population_pct": ("Dân số có sóng 4G (%)", "Population with 4G (%)"),
    "mobile_5G_population_pct": ("Dân số có sóng 5G (%)", "Population with 5G (%)"),
    "mobile_any_villages_pct": ("Thôn có sóng di động (%)", "Villages with mobile signal (%)"),
    "mobile_any_population_pct": ("Dân số có sóng di động (%)", "Population with mobile (%)"),
    "fibre_communes_pct": ("Xã có cáp quang đến UBND (%)", "Communes with fibre at the centre (%)"),
    "gap_fibre_2025_pct": ("Thiếu so với mục tiêu cáp quang 2025 (điểm %)",
                           "Gap to 2025 fibre target (points)"),
    "gap_mobile_4G_2025_pct": ("Thiếu so với mục tiêu 4G 2025 (điểm %)",
                               "Gap to 2025 4G target (points)"),
    "gap_mobile_5G_2030_pct": ("Thiếu so với mục tiêu 5G 2030 (điểm %)",
                               "Gap to 2030 5G target (points)"),
}


def number(value, digits: int = 0, lang: str = "vi") -> str:
    """A number as its reader writes it: ``1.217`` / ``63,9`` in Vietnamese, ``1,217`` /
    ``63.9`` in English; ``–`` for a missing or non-finite value.

    Examples
    --------
    >>> number(1217.4), number(63.94, 1), number(1217.4, lang="en"), number(63.94, 1, "en")
    ('1.217', '63,9', '1,217', '63.9')
    >>> number(float("nan"))
    '–'
    """
    import math

    if value is None or not math.isfinite(float(value)):
        return "–"
    text = f"{float(value):,.{digits}f}"
    if lang == "en":
        return text
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is ``"vi"`` or ``"en"``, else raise :class:`DataError`."""
    if lang not in LANGS:
        raise DataError(f"unknown language {lang!r}; use --lang vi or --lang en")
    return lang


def label(key: str, lang: str = "vi") -> str:
    """The label ``key`` in ``lang`` (``"vi"`` or ``"en"``)."""
    vi, en = LABELS[key]
    return vi if lang == "vi" else en


def indicator_label(column: str, lang: str = "vi") -> str:
    """Readable name of a gaps indicator column (falls back to the column name)."""
    if column in INDICATORS:
        vi, en = INDICATORS[column]
        return vi if lang == "vi" else en
    from phusong.maps._sheets import header  # composed names of the gap tables' columns

    vi, en = header(column)
    if vi != column:
        return vi if lang == "vi" else en
    return column.removesuffix("_pct").replace("_", " ") + " (%)"


def esc(value) -> str:
    """HTML-escape ``value`` for any place in a page: element text, attributes, JS template
    literals and ``<script>`` blocks (``<``, ``>``, ``&``, quotes, backtick, ``$`` and ``\\``).
    """
    text = "" if value is None else str(value)
    text = html.escape(text, quote=True)
    return text.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")
