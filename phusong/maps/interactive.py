"""The interactive briefing map (DESIGN §7): one self-contained HTML file.

Layers (with a layer control): commune choropleth, one radio-selectable layer per ``_pct``
indicator of the gaps table, with a legend that follows the selection; district outlines;
villages sized by households and coloured by their best technology; existing sites per operator
(clustered); the coverage raster; candidate BTS (new / upgrade) and fibre routes from a plan
folder. Leaflet is inlined (:mod:`phusong.maps._assets`): only basemap tiles need the network.

Examples
--------
>>> from phusong.maps._example import example_bundle, example_gaps
>>> from phusong.maps import build_map
>>> m = build_map(example_bundle(), gaps=example_gaps(example_bundle()), lang="en")
>>> html = m.get_root().render()
>>> "Fibre households (%)" in html and "cdn.jsdelivr" not in html
True
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.plugins import MarkerCluster

from phusong import settings
from phusong.atomic import atomic_path
from phusong.bundle import Bundle
from phusong.errors import DataError
from phusong.maps._assets import inline_assets
from phusong.maps._labels import (
    INDICATORS,
    SYNTHETIC_NOTICE,
    check_lang,
    esc,
    indicator_label,
    label,
)
from phusong.maps._layers import Features, HtmlControl, raster_png
from phusong.maps._plan import Plan, read_plan
from phusong.maps._units import gaps_tables, units

__all__ = ["build_map", "save_map", "TECH_COLOURS", "OPERATOR_COLOURS"]

TECH_COLOURS = {"5G": "#6a3d9a", "4G": "#1a9850", "3G": "#a6d96a", "2G": "#fdae61",
                "none": "#d73027", "unknown": "#9e9e9e"}
OPERATOR_COLOURS = {"Viettel": "#e31a1c", "VNPT": "#1f78b4", "MobiFone": "#ff7f00",
                    "Vietnamobile": "#33a02c"}
_DISPLAY_TOLERANCE_DEG = 0.0002  # ≈ 20 m: boundary simplification for the browser only


def _fmt(value, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (int, np.integer)) or digits == 0:
        return f"{float(value):,.0f}".replace(",", ".")
    return f"{float(value):,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def _table(rows: list[tuple[str, object]]) -> str:
    cells = "".join(f"<tr><th style='text-align:left;padding-right:6px'>{esc(k)}</th>"
                    f"<td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _feature_collection(gdf: gpd.GeoDataFrame, props: list[dict]) -> dict:
    geo = json.loads(gdf.geometry.to_json(to_wgs84=False))
    for f, p in zip(geo["features"], props, strict=True):
        f["properties"] = p
        f.pop("bbox", None)
    geo.pop("bbox", None)
    return geo


def _round_geoms(gdf: gpd.GeoDataFrame, simplify: bool) -> gpd.GeoDataFrame:
    g = gdf.geometry
    if simplify:
        g = g.simplify(_DISPLAY_TOLERANCE_DEG, preserve_topology=True)
    g = gpd.GeoSeries(g.set_precision(1e-6), crs=gdf.crs)
    return gdf.set_geometry(g)


def _colormap(column: str, values: pd.Series) -> cm.LinearColormap:
    colours = ["#d73027", "#fee08b", "#1a9850"]
    if column.startswith("gap_"):
        colours = colours[::-1]
    vmax = 100.0 if not column.startswith("gap_") else max(1.0, float(np.nanmax(values.fillna(0))))
    return cm.LinearColormap(colours, vmin=0.0, vmax=vmax)


def _legend_html(title: str, cmap: cm.LinearColormap, lang: str, synthetic: bool) -> str:
    stops = [cmap.vmin + (cmap.vmax - cmap.vmin) * k / 4 for k in range(5)]
    grad = ", ".join(cmap.rgb_hex_str(v) for v in stops)
    ticks = "".join(f"<span>{_fmt(v)}</span>" for v in stops)
    note = f"<div style='margin-top:4px;color:#b00'>{esc(SYNTHETIC_NOTICE)}</div>" if synthetic else ""
    return (f"<b>{esc(label('legend', lang))}: {esc(title)}</b>"
            f"<div style='height:10px;margin:4px 0;background:linear-gradient(to right, {grad})'>"
            f"</div><div style='display:flex;justify-content:space-between'>{ticks}</div>"
            f"<div><span style='display:inline-block;width:10px;height:10px;background:#bdbdbd'>"
            f"</span> {esc(label('no_data', lang))}</div>{note}")


def _pick_indicators(gaps: pd.DataFrame | None, wanted) -> list[str]:
    if gaps is None:
        return []
    pct = [c for c in gaps.columns if c.endswith("_pct")]
    if wanted is not None:
        missing = [c for c in wanted if c not in pct]
        if missing:
            raise DataError(f"gaps table: no indicator column(s) {missing}; present: {pct[:12]}")
        return list(wanted)
    curated = [c for c in INDICATORS if c in pct]  # the briefing's usual set, in its order
    return curated or pct


def _choropleths(m, u: gpd.GeoDataFrame, gaps: pd.DataFrame | None, lang: str,
                 synthetic: bool, wanted=None) -> tuple[str, dict[str, str]]:
    indicators = _pick_indicators(gaps, wanted)
    data = u.copy()
    if gaps is not None:
        key = "unit_code" if "unit_code" in gaps.columns else "commune_code"
        g = gaps[[key, *indicators]].rename(columns={key: "unit_code"})
        if not set(g["unit_code"]) & set(data["unit_code"]):
            raise DataError(f"gaps table: no {key} matches the map's units ({len(data)} units); "
                            "compute the gaps on the same --boundaries as the map")
        data = data.merge(g, on="unit_code", how="left")
    def base_rows(r):
        return [(label("name", lang), r["name"]), (label("code", lang), r["unit_code"]),
                (label("district", lang), r.get("district_name", "")),
                (label("households", lang), _fmt(r.get("households"))),
                (label("population", lang), _fmt(r.get("population")))]

    popups = []
    for _, r in data.iterrows():
        rows = base_rows(r) + [(indicator_label(c, lang), _fmt(r[c], 1)) for c in indicators]
        popups.append(_table(rows))
    data = _round_geoms(data, simplify=True)
    variants: dict[str, str] = {}
    if not indicators:  # plain outlines when there is no gaps table
        fg = folium.FeatureGroup(name=label("communes", lang), overlay=True)
        props = [{"_style": {"color": "#555", "weight": 1, "fillColor": "#bdbdbd",
                             "fillOpacity": 0.25},
                  "_tip": f"{esc(r['name'])} ({esc(r['unit_code'])})", "_popup": p}
                 for (_, r), p in zip(data.iterrows(), popups, strict=True)]
        Features(_feature_collection(data, props), pane="phusong_choropleth",
                 map_name=m.get_name()).add_to(fg)
        fg.add_to(m)
        return "", variants
    first = ""
    for i, col in enumerate(indicators):
        name = indicator_label(col, lang)
        cmap = _colormap(col, data[col])
        fg = folium.FeatureGroup(name=name, overlay=False, show=(i == 0))
        props = []
        for (_, r), p in zip(data.iterrows(), popups, strict=True):
            v = r[col]
            fill = cmap(float(v)) if pd.notna(v) else "#bdbdbd"
            props.append({"_style": {"color": "#444", "weight": 0.8, "fillColor": fill,
                                     "fillOpacity": 0.65},
                          "_tip": f"{esc(r['name'])} ({esc(r['unit_code'])}): "
                                  f"{esc(_fmt(v, 1))}",
                          "_popup": p})
        Features(_feature_collection(data, props), pane="phusong_choropleth",
                 map_name=m.get_name()).add_to(fg)
        fg.add_to(m)
        variants[name] = _legend_html(name, cmap, lang, synthetic)
        first = first or variants[name]
    return first, variants


def _villages(m, bundle: Bundle, vil_gaps: pd.DataFrame | None, lang: str) -> None:
    v = bundle.villages
    if v is None or len(v) == 0:
        return
    best = pd.Series("unknown", index=v.index)
    fibre = pd.Series(None, index=v.index, dtype=object)
    if vil_gaps is not None and "village_id" in vil_gaps.columns:
        g = vil_gaps.drop_duplicates("village_id").set_index("village_id")
        g = g.reindex(v["village_id"].to_numpy())
        # score_villages style (covered_4G) or GapTables.villages style (mobile_4G)
        prefix = "covered_" if any(f"covered_{t}" in g.columns for t in settings.TECHS) \
            else "mobile_"
        techs = [t for t in settings.TECHS if f"{prefix}{t}" in g.columns]
        if techs:
            best = pd.Series("none", index=v.index)
            for t in techs:  # later (newer) technologies win
                has = g[f"{prefix}{t}"].astype("boolean").fillna(False).to_numpy(dtype=bool)
                best[has] = t
        fcol = next((c for c in ("fibre_available", "fibre") if c in g.columns), None)
        if fcol is not None:
            fibre = pd.Series(g[fcol].to_numpy(), index=v.index)
    fg = folium.FeatureGroup(name=label("villages", lang))
    props = []
    for i, r in v.iterrows():
        hh = int(r["households"])
        col = TECH_COLOURS[best[i]]
        kind = best[i] if best[i] in settings.TECHS else label(best[i], lang)
        rows = [(label("village", lang), r.get("name") or r["village_id"]),
                (label("code", lang), r["village_id"]),
                (label("households", lang), _fmt(hh)),
                (label("population", lang), _fmt(r["population"])),
                (label("coverage", lang), kind)]
        if fibre[i] is not None and not pd.isna(fibre[i]):
            rows.append((label("fibre_available", lang), "✓" if bool(fibre[i]) else "✗"))
        props.append({"_style": {"radius": float(np.clip(2.5 + math.sqrt(hh) / 4.0, 3.0, 14.0)),
                                 "color": "#333", "weight": 0.6, "fillColor": col,
                                 "fillOpacity": 0.85},
                      "_tip": f"{esc(r.get('name') or r['village_id'])}: {esc(kind)}",
                      "_popup": _table(rows)})
    Features(_feature_collection(_round_geoms(v, False), props)).add_to(fg)
    fg.add_to(m)


def _sites(m, bundle: Bundle, lang: str) -> None:
    s = bundle.sites
    if s is None or len(s) == 0:
        return
    techs = {}
    if bundle.cells is not None:
        techs = bundle.cells.groupby("site_id")["tech"].agg(lambda t: ", ".join(sorted(set(t))))
    for op in [o for o in settings.OPERATORS if o in set(s["operator"])]:
        sub = s[s["operator"] == op]
        cluster = MarkerCluster(name=f"{label('sites', lang)}: {op}",
                                options={"maxClusterRadius": 40})
        props = []
        for _, r in sub.iterrows():
            t = techs.get(r["site_id"], "") if len(techs) else ""
            rows = [(label("code", lang), r["site_id"]), (label("operator", lang), op),
                    (label("tech", lang), t), (label("height_m", lang), _fmt(r["height_m"]))]
            props.append({"_style": {"radius": 6 if "5G" in t or "4G" in t else 4.5,
                                     "color": "#000", "weight": 1,
                                     "fillColor": OPERATOR_COLOURS.get(op, "#666"),
                                     "fillOpacity": 0.9},
                          "_tip": f"{esc(r['site_id'])} · {esc(op)} · {esc(t)}",
                          "_popup": _table(rows)})
        Features(_feature_collection(_round_geoms(sub, False), props), cluster=True).add_to(cluster)
        cluster.add_to(m)


def _plan_layers(m, plan: Plan, lang: str) -> None:
    sel = plan.selected_sites
    for kind, colour in (("new", "#e7298a"), ("upgrade", "#7570b3")):
        sub = sel[sel["kind"] == kind]
        fg = folium.FeatureGroup(name=label(f"candidates_{kind}", lang))
        if len(sub):
            props = []
            for _, r in sub.iterrows():
                rows = [(label("name", lang), r["name"]), (label("code", lang), r["candidate_id"]),
                        (label("kind", lang), label(kind, lang)),
                        (label("operator", lang), r["operator"]), (label("tech", lang), r["tech"]),
                        (label("cost_vnd", lang), _fmt(r["cost_vnd"])),
                        (label("households_new", lang), _fmt(r["households_new"])),
                        (label("rank", lang), _fmt(r["rank"]))]
                props.append({"_style": {"radius": 8, "color": "#000", "weight": 2,
                                         "fillColor": colour, "fillOpacity": 0.95},
                              "_tip": f"{esc(r['name'])} · {esc(_fmt(r['cost_vnd']))} VND",
                              "_popup": _table(rows)})
            Features(_feature_collection(_round_geoms(sub, False), props)).add_to(fg)
        fg.add_to(m)
    routes = plan.routes
    fg = folium.FeatureGroup(name=label("fibre_routes", lang))
    if len(routes):
        props = []
        for _, r in routes.iterrows():
            rows = [(label("code", lang), r["route_id"]),
                    (label("road_class", lang), r["road_class"]),
                    (label("purpose", lang), r["purpose"]),
                    (label("length_m", lang), _fmt(r["length_m"])),
                    (label("cost_vnd", lang), _fmt(r["cost_vnd"])),
                    (label("households_passed", lang), _fmt(r["households_passed"]))]
            props.append({"_style": {"color": "#e7298a", "weight": 4, "dashArray": "8 5"},
                          "_tip": f"{esc(r['route_id'])} · {esc(_fmt(r['cost_vnd']))} VND",
                          "_popup": _table(rows)})
        Features(_feature_collection(_round_geoms(routes, False), props)).add_to(fg)
    fg.add_to(m)


def _fibre(m, bundle: Bundle, lang: str) -> None:
    f = bundle.fibre
    if f is None or len(f) == 0:
        return
    fg = folium.FeatureGroup(name=label("fibre", lang), show=True)
    props = [{"_style": {"color": "#1f3a93", "weight": 2.5 if r.get("kind") == "backbone" else 1.5},
              "_tip": f"{esc(r['span_id'])} {esc(r.get('kind') or '')}", "_popup": ""}
             for _, r in f.iterrows()]
    Features(_feature_collection(_round_geoms(f, False), props)).add_to(fg)
    fg.add_to(m)


def build_map(bundle: Bundle, *, gaps=None, plan_dir: str | Path | None = None,
              coverage_raster: str | Path | None = None, lang: str = "vi",
              boundaries: str = "2020", check_plan: bool = True,
              indicators: list[str] | None = None) -> folium.Map:
    """Build the interactive briefing map of ``bundle``.

    Parameters
    ----------
    bundle : Bundle
        The province data (EPSG:4326 layers).
    gaps : GapTables, dict of DataFrame, DataFrame or None
        Gap tables (``.communes``/``["communes"]`` with ``unit_code`` and ``_pct`` columns, and
        optionally ``.villages`` with ``covered_{tech}``); a DataFrame is the communes table.
        When None, the tables of ``plan_dir`` are used if present.
    plan_dir : str or Path, optional
        Plan folder (candidate BTS, fibre routes); must come from ``bundle``.
    coverage_raster : str or Path, optional
        GeoTIFF (any CRS) drawn as a transparent overlay (e.g. best-server RSRP, dBm).
    lang : {"vi", "en"}
        Language of labels.
    boundaries : {"2020", "2025"}
        Commune boundaries: 151 units of 2020, or the 2025 units.
    check_plan : bool
        Refuse a plan whose ``bundle_fingerprint`` differs from ``bundle``'s (default True).
    indicators : list of str, optional
        ``_pct`` columns offered in the choropleth (default: fibre households, 4G/5G
        population, villages with signal and the gaps to the 2025/2030 targets, when present).

    Returns
    -------
    folium.Map
        Save it with :func:`save_map`.
    """
    check_lang(lang)
    plan = read_plan(plan_dir, bundle if check_plan else None) if plan_dir is not None else None
    tables = gaps_tables(gaps, plan)
    u = units(bundle, boundaries)
    bounds = u.total_bounds
    m = folium.Map(location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
                   zoom_start=10, tiles=None, control_scale=True, prefer_canvas=False)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    folium.TileLayer("OpenStreetMap", name=label("basemap", lang), overlay=True,
                     control=True).add_to(m)
    synthetic = bundle.synthetic or bool(plan and plan.meta.get("synthetic"))
    legend, variants = _choropleths(m, u, tables.get("communes"), lang, synthetic,
                                    indicators)
    districts = bundle.communes.dissolve(by="district_code", as_index=False)
    fg = folium.FeatureGroup(name=label("districts", lang))
    props = [{"_style": {"color": "#111", "weight": 2.5, "fill": False},
              "_tip": esc(r["district_name"]), "_popup": ""} for _, r in districts.iterrows()]
    Features(_feature_collection(_round_geoms(districts, True), props)).add_to(fg)
    fg.add_to(m)
    if coverage_raster is not None:
        png, rb, scale = raster_png(coverage_raster)
        uri = "data:image/png;base64," + base64.b64encode(png).decode()
        folium.raster_layers.ImageOverlay(uri, bounds=rb, name=label("coverage_raster", lang),
                                          opacity=1.0, interactive=False).add_to(m)
    _fibre(m, bundle, lang)
    _villages(m, bundle, tables.get("villages"), lang)
    _sites(m, bundle, lang)
    if plan is not None:
        _plan_layers(m, plan, lang)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    title = f"<b>{esc(label('title', lang))}</b> · {esc(bundle.name)} · " \
            f"{esc(label('boundaries', lang))} {esc(boundaries)}"
    if synthetic:
        title += f"<br><span style='color:#b00'>{esc(SYNTHETIC_NOTICE)}</span>"
    HtmlControl(title, position="topleft", css_class="phusong-title").add_to(m)
    tech_legend = "".join(
        f"<div><span style='display:inline-block;width:10px;height:10px;border-radius:5px;"
        f"background:{c}'></span> {esc(t if t in settings.TECHS else label(t, lang))}</div>"
        for t, c in TECH_COLOURS.items())
    HtmlControl(f"<b>{esc(label('villages', lang))}: {esc(label('coverage', lang))}</b>"
                f"{tech_legend}", position="bottomleft", css_class="phusong-villages").add_to(m)
    if legend or synthetic:
        HtmlControl(legend or f"<span style='color:#b00'>{esc(SYNTHETIC_NOTICE)}</span>",
                    position="bottomright", css_class="phusong-legend",
                    variants=variants).add_to(m)
    return inline_assets(m)


def save_map(m: folium.Map, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``m`` as one HTML file, atomically; an existing ``out`` is refused unless
    ``overwrite``."""
    inline_assets(m)
    html = m.get_root().render()
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return Path(out)
