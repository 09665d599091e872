"""Leaflet building blocks for the interactive map: data layers and HTML controls.

Data go into the page only through Jinja's ``tojson`` filter (which escapes ``<``, ``>``, ``&``
and ``'``; compact, UTF-8: :data:`_ENV`), and every text from data is HTML-escaped in Python before that
(:func:`phusong.maps._labels.esc`), so a commune named ``<script>…`` is shown, never run.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from affine import Affine
from branca.element import MacroElement
from jinja2 import Environment

__all__ = ["Features", "SharedGeometry", "Choropleth", "HtmlControl", "raster_png"]


#: Jinja environment of phusong's map templates: ``tojson`` writes compact JSON with UTF-8
#: text (not ``\\uXXXX``), still HTML-safe (``<``, ``>``, ``&``, ``'`` escaped by Jinja).
_ENV = Environment(autoescape=False)
_ENV.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False,
                                      "separators": (",", ":")}


def Template(source: str):  # noqa: N802 - stands in for jinja2.Template
    """A template of :data:`_ENV`."""
    return _ENV.from_string(source)


class Features(MacroElement):
    """A GeoJSON FeatureCollection drawn by Leaflet with per-feature style, tooltip and popup.

    Each feature's properties hold ``_tip`` (already escaped HTML) and

    - a style: ``_style`` (Leaflet path options; for points also ``radius``) or ``_s``, an
      index into ``styles`` (shared by many features), with an optional ``_r`` radius;
    - a popup: ``_popup`` (escaped HTML) or ``_v``, a list of escaped values shown in a table
      against ``fields`` (escaped labels; empty values are left out). The compact forms keep
      the page small: the markup and styles are written once, not once per feature.

    Points become circle markers. Added to a folium ``FeatureGroup`` or a ``MarkerCluster``
    (then the markers go into the cluster one by one, so their tooltips work). With ``pane``
    (and the map's name) the features are drawn in their own pane at ``z_index``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {% if this.pane %}
        if (!{{ this.map_name }}.getPane({{ this.pane|tojson }})) {
            {{ this.map_name }}.createPane({{ this.pane|tojson }}).style.zIndex = {{ this.z_index }};
        }
        {% endif %}
        var {{ this.get_name() }} = (function () {
            var fields = {{ this.fields|tojson }};
            var styles = {{ this.styles|tojson }};
            function styleOf(p) {
                var s = p._style || styles[p._s] || {};
                return p._r ? Object.assign({}, s, {radius: p._r}) : s;
            }
            function popupOf(p) {
                if (p._popup) { return p._popup; }
                if (!p._v) { return ''; }
                var h = '';
                for (var i = 0; i < fields.length; i++) {
                    if (p._v[i] !== null && p._v[i] !== '') {
                        h += '<tr><th style="text-align:left;padding-right:6px">' + fields[i] +
                             '</th><td>' + p._v[i] + '</td></tr>';
                    }
                }
                return '<table>' + h + '</table>';
            }
            return L.geoJSON({{ this.data|tojson }}, {
                {% if this.pane %}pane: {{ this.pane|tojson }},{% endif %}
                style: function (f) { return styleOf(f.properties); },
                pointToLayer: function (f, latlng) {
                    return L.circleMarker(latlng, styleOf(f.properties));
                },
                onEachFeature: function (f, layer) {
                    if (f.properties._tip) { layer.bindTooltip(f.properties._tip, {sticky: true}); }
                    var pop = popupOf(f.properties);
                    if (pop) { layer.bindPopup(pop, {maxWidth: 360}); }
                }
            });
        })();
        {% if this.cluster %}
        {{ this._parent.get_name() }}.addLayers({{ this.get_name() }}.getLayers());
        {% else %}
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endif %}
        {% endmacro %}
        """
    )

    def __init__(self, data: dict, *, cluster: bool = False, pane: str | None = None,
                 map_name: str = "", z_index: int = 350, fields: list[str] | None = None,
                 styles: list[dict] | None = None):
        super().__init__()
        self._name = "Features"
        self.data = data
        self.cluster = cluster
        self.pane = pane
        self.map_name = map_name
        self.z_index = int(z_index)
        self.fields = list(fields or [])
        self.styles = list(styles or [])


class SharedGeometry(MacroElement):
    """A GeoJSON FeatureCollection written once into the page as a JavaScript variable, for
    several :class:`Choropleth` layers to draw (one per indicator) without repeating the
    polygons: the province's communes are then in the file once, not once per indicator.

    Each feature's properties hold ``_i`` (its index into the per-layer arrays) and ``_popup``
    (escaped HTML shared by every indicator layer). Add it to the map before the layers.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = {{ this.data|tojson }};
        {% endmacro %}
        """
    )

    def __init__(self, data: dict):
        super().__init__()
        self._name = "SharedGeometry"
        self.data = data


class Choropleth(MacroElement):
    """One indicator of the commune choropleth: draws a :class:`SharedGeometry` with a fill
    colour and a tooltip per feature (arrays indexed by the feature's ``_i``), in its own pane
    below Leaflet's overlay pane (z-index 350 < 400) so that markers stay on top."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        if (!{{ this.map_name }}.getPane({{ this.pane|tojson }})) {
            {{ this.map_name }}.createPane({{ this.pane|tojson }}).style.zIndex = {{ this.z_index }};
        }
        var {{ this.get_name() }} = (function () {
            var base = {{ this.style|tojson }};
            var fills = {{ this.fills|tojson }};
            var tips = {{ this.tips|tojson }};
            // a popup opens below the title box (Leaflet reads x, y when it pans the map)
            var belowTitle = {x: 10, get y() {
                var t = document.querySelector('.phusong-title');
                return t ? Math.ceil(t.getBoundingClientRect().bottom) + 10 : 10;
            }};
            return L.geoJSON({{ this.shared }}, {
                pane: {{ this.pane|tojson }},
                style: function (f) {
                    return Object.assign({}, base, {fillColor: fills[f.properties._i]});
                },
                onEachFeature: function (f, layer) {
                    layer.bindTooltip(tips[f.properties._i], {sticky: true});
                    if (f.properties._popup) {
                        layer.bindPopup(f.properties._popup, {maxWidth: 420, maxHeight: 460,
                                                              autoPanPaddingTopLeft: belowTitle});
                    }
                }
            });
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, shared: SharedGeometry, fills: list[str], tips: list[str], *,
                 style: dict, map_name: str, pane: str = "phusong_choropleth",
                 z_index: int = 350):
        super().__init__()
        self._name = "Choropleth"
        self.shared = shared.get_name()
        self.fills = list(fills)
        self.tips = list(tips)
        self.style = dict(style)
        self.map_name = map_name
        self.pane = pane
        self.z_index = int(z_index)


class HtmlControl(MacroElement):
    """A fixed Leaflet control showing escaped HTML; with ``variants`` the shown HTML follows the
    selected base layer (the choropleth indicator), keyed by layer name; with ``follows`` (an
    overlay's name) the control is shown only while that overlay is on (``shown``: at start)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var variants = {{ this.variants|tojson }};
            var ctl = L.control({position: {{ this.position|tojson }}});
            ctl.onAdd = function () {
                var div = L.DomUtil.create('div', 'phusong-control ' + {{ this.css_class|tojson }});
                div.style.cssText = 'background:rgba(255,255,255,0.92);padding:6px 9px;' +
                    'border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,0.35);' +
                    'font:12px/1.35 sans-serif;max-width:320px;';
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            ctl.addTo({{ this._parent.get_name() }});
            {% if this.follows %}
            var follows = {{ this.follows|tojson }};
            ctl.getContainer().style.display = {{ 'true' if this.shown else 'false' }} ? '' : 'none';
            {{ this._parent.get_name() }}.on('overlayadd overlayremove', function (e) {
                if (e.name === follows) {
                    ctl.getContainer().style.display = e.type === 'overlayadd' ? '' : 'none';
                }
            });
            {% endif %}
            if (Object.keys(variants).length) {
                {{ this._parent.get_name() }}.on('baselayerchange', function (e) {
                    if (variants.hasOwnProperty(e.name)) {
                        ctl.getContainer().innerHTML = variants[e.name];
                    }
                });
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html: str, *, position: str = "bottomright", css_class: str = "",
                 variants: dict[str, str] | None = None, follows: str = "",
                 shown: bool = True):
        super().__init__()
        self._name = "HtmlControl"
        self.follows = follows
        self.shown = bool(shown)
        self.html = html
        self.position = position
        self.css_class = css_class
        self.variants = variants or {}


def raster_png(path, *, max_px: int = 1600) -> tuple[bytes, list[list[float]], dict]:
    """Render band 1 of a GeoTIFF as a transparent PNG for a Leaflet ``imageOverlay``.

    The grid is reprojected to Web Mercator (EPSG:3857), the projection Leaflet draws in, so
    stretching the image between its lon/lat corners places every pixel right.

    Returns
    -------
    (bytes, bounds, scale)
        PNG bytes; ``[[south, west], [north, east]]`` in degrees; ``{"vmin", "vmax", "unit",
        "cmap"}`` of the colour scale (dBm when the raster's unit tag says so: −120 … −60).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    from phusong.bundle import read_raster

    r = read_raster(path)
    rows, cols = r.shape
    # corners computed here with ``@`` (Raster.bounds uses ``*``, deprecated in affine 3.1)
    xs, ys = zip(*(r.transform @ xy for xy in ((0, 0), (cols, rows))), strict=True)
    left, right, bottom, top = min(xs), max(xs), min(ys), max(ys)
    with warnings.catch_warnings():  # rasterio itself still multiplies Affines with ``*``
        warnings.filterwarnings("ignore", "Use `@` matmul", PendingDeprecationWarning)
        dst_t, w, h = calculate_default_transform(r.crs, "EPSG:3857", cols, rows, left, bottom,
                                                  right, top)
        scale_px = min(1.0, max_px / max(w, h))
        w2, h2 = max(1, int(w * scale_px)), max(1, int(h * scale_px))
        dst_t = dst_t @ Affine.scale(w / w2, h / h2)
        out = np.full((h2, w2), np.nan, dtype="float32")
        reproject(r.array, out, src_transform=r.transform, src_crs=r.crs, src_nodata=np.nan,
                  dst_transform=dst_t, dst_crs="EPSG:3857", dst_nodata=np.nan,
                  resampling=Resampling.nearest)
    finite = np.isfinite(out)
    if r.unit.lower() == "dbm":
        vmin, vmax = -120.0, -60.0
    elif finite.any():
        vmin, vmax = (float(v) for v in np.percentile(out[finite], [2, 98]))
    else:
        vmin, vmax = 0.0, 1.0
    norm = np.clip((out - vmin) / max(vmax - vmin, 1e-9), 0.0, 1.0)
    cmap = "viridis"
    rgba = plt.get_cmap(cmap)(np.where(finite, norm, 0.0))
    rgba[..., 3] = np.where(finite, 0.75, 0.0)
    if r.unit.lower() == "dbm":  # below the lowest threshold of any technology: transparent
        rgba[..., 3] = np.where(finite & (out >= vmin), 0.75, 0.0)
    buf = io.BytesIO()
    plt.imsave(buf, rgba, format="png")
    x0, y1 = dst_t @ (0, 0)
    x1, y0 = dst_t @ (w2, h2)
    west, south, east, north = transform_bounds("EPSG:3857", "EPSG:4326", x0, y0, x1, y1)
    return buf.getvalue(), [[south, west], [north, east]], {
        "vmin": vmin, "vmax": vmax, "unit": r.unit, "cmap": cmap}
