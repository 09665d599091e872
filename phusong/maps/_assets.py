"""Inline Leaflet and Leaflet.markercluster into the page so a map opens offline.

folium links its JavaScript and CSS from CDNs; a briefing room often has no internet. The
vendored copies in ``_static/`` (Leaflet 1.9.3, BSD-2-Clause; Leaflet.markercluster 1.1.0, MIT;
licences beside them) are written into the HTML, CSS images as data URIs. Only the basemap
tiles stay remote, and every phusong layer is drawn without them.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path

import folium
from branca.element import Element

__all__ = ["inline_assets", "RawHtml"]

_STATIC = Path(__file__).with_name("_static")
_JS = ("leaflet.js", "leaflet.markercluster.js")
_CSS = ("leaflet.css", "MarkerCluster.css", "MarkerCluster.Default.css")


class RawHtml(Element):
    """An element rendered verbatim (no Jinja processing of its text)."""

    def __init__(self, text: str, name: str = "raw"):
        super().__init__()
        self._name = name
        self._text = text

    def render(self, **kwargs) -> str:  # noqa: D102 - branca API
        return self._text


def _data_uri(match: re.Match) -> str:
    path = _STATIC / Path(match.group(1)).name
    if not path.is_file():
        return match.group(0)
    return "url(data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() + ")"


@lru_cache(maxsize=1)
def _bundle_text() -> str:
    css = "\n".join(
        re.sub(r"url\((?:images/)?([\w-]+\.png)\)", _data_uri,
               (_STATIC / name).read_text(encoding="utf-8"))
        for name in _CSS
    )
    js = "\n".join((_STATIC / name).read_text(encoding="utf-8") for name in _JS)
    return f"<style>\n{css}\n</style>\n<script>\n{js}\n</script>\n"


def inline_assets(m: folium.Map) -> folium.Map:
    """Drop every CDN link of ``m`` and its children and inline the vendored copies instead."""
    stack = [m]
    while stack:
        el = stack.pop()
        if hasattr(el, "default_js"):
            el.default_js = []
        if hasattr(el, "default_css"):
            el.default_css = []
        stack.extend(el._children.values())
    header = m.get_root().header
    if "phusong_assets" not in header._children:
        header.add_child(RawHtml(_bundle_text(), "phusong_assets"), name="phusong_assets", index=0)
    return m
