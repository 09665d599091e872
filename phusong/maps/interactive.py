"""The interactive briefing map (DESIGN §7): one self-contained HTML file.

The map opens as a briefing: the commune choropleth (one radio-selectable layer per ``_pct``
indicator of the gaps table, with a legend that follows the selection), district outlines, and
the plan's candidate BTS (new / upgrade) and fibre routes. Villages (sized by households,
coloured by their best technology), existing sites per operator (clustered), existing fibre and
the coverage raster are in the page but off, one click away in the folded layer control. A
commune's popup gives its figures against each target of the plan's scenario and what the plan
does there (sites, fibre, cost). The communes' polygons are written once and shared by every
indicator layer, popups and styles are built in the browser from compact values, coordinates
are rounded to ≈ 1 m and boundaries simplified at map scale: a province map stays a few MB.
Leaflet is inlined (:mod:`phusong.maps._assets`): only basemap tiles need the network.

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
import shapely
from folium.plugins import MarkerCluster

from phusong import settings
from phusong.atomic import atomic_path
from phusong.bundle import Bundle
from phusong.errors import DataError
from phusong.maps._actions import unit_actions
from phusong.maps._assets import inline_assets
from phusong.maps._assumed import (
    FEEDERS_LAYER_LABEL,
    FIBRE_ASSUMPTION_LABEL,
    census_text,
    feeders_summary,
    fibre_assumption,
    fibre_assumption_text,
)
from phusong.maps._labels import (
    INDICATORS,
    SYNTHETIC_NOTICE,
    check_lang,
    esc,
    indicator_label,
    label,
    number,
)
from phusong.maps._layers import Choropleth, Features, HtmlControl, SharedGeometry, raster_png
from phusong.maps._plan import Plan, read_plan
from phusong.maps._targets import briefing_targets
from phusong.maps._units import SOURCE_LABELS, gaps_tables, units, units_source

__all__ = ["build_map", "save_map", "TECH_COLOURS", "OPERATOR_COLOURS"]

TECH_COLOURS = {"5G": "#6a3d9a", "4G": "#1a9850", "3G": "#a6d96a", "2G": "#fdae61",
                "none": "#d73027", "unknown": "#9e9e9e"}
OPERATOR_COLOURS = {"Viettel": "#e31a1c", "VNPT": "#1f78b4", "MobiFone": "#ff7f00",
                    "Vietnamobile": "#33a02c"}
_DISPLAY_TOLERANCE_DEG = 0.0003  # ≈ 30 m: boundary simplification for the browser only
#: Longest side of the coverage raster overlay, pixels (≈ 100 m per pixel across the province).
RASTER_MAX_PX = 1200




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
    """Geometry for the browser: coordinates on a 1e-5° grid (≈ 1 m; five decimals in the
    page) and, with ``simplify``, polygons simplified at map scale (≈ 30 m: under a screen
    pixel up to zoom 12; the whole province fills the screen at zoom 9–10). A valid coverage
    (communes sharing their edges) is simplified as a whole so that neighbours keep one common
    border, no slivers."""
    g = gdf.geometry
    if simplify:
        arr = g.to_numpy()
        if len(arr) > 1 and bool(shapely.coverage_is_valid(arr)):
            g = gpd.GeoSeries(shapely.coverage_simplify(arr, _DISPLAY_TOLERANCE_DEG),
                              index=g.index, crs=gdf.crs)
        else:
            g = g.simplify(_DISPLAY_TOLERANCE_DEG, preserve_topology=True)
    g = gpd.GeoSeries(g.set_precision(1e-5), crs=gdf.crs)
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
    ticks = "".join(f"<span>{number(v, 0, lang)}</span>" for v in stops)
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


def _popup(r, indicators: list[str], targets, actions: bool, lang: str) -> str:
    """A unit's popup: its figures, each target with value, threshold and gap, and the plan's
    actions in it (escaped HTML)."""
    head = _table([(k, v) for k, v in (
        (label("name", lang), r["name"]), (label("code", lang), r["unit_code"]),
        (label("district", lang), r.get("district_name", "")),
        (label("households", lang), number(r.get("households"), 0, lang)),
        (label("population", lang), number(r.get("population"), 0, lang)))
        if v is not None and v != ""])
    rows, shown = [], set()
    for c in targets.columns:
        if c.value not in r.index or pd.isna(r[c.value]):
            continue
        t = c.target
        gap = r[c.gap] if c.gap in r.index else max(0.0, t.threshold_pct - float(r[c.value]))
        rows.append((indicator_label(c.value, lang), number(r[c.value], 1, lang),
                     f"{number(t.threshold_pct, 1, lang)} ({t.year})", number(gap, 1, lang)))
        shown.add(c.value)
    for col in indicators:
        if col not in shown and not col.startswith("gap_") and col in r.index:
            rows.append((indicator_label(col, lang), number(r[col], 1, lang), "", ""))
    heads = (label("indicator", lang), label("value", lang), label("target", lang),
             label("gap_pts", lang))
    fig = ""
    if rows:
        th = "".join(f"<th style='padding:0 4px'>{esc(h)}</th>" for h in heads)
        body = "".join("<tr>" + "".join(
            f"<td style='padding:0 4px;text-align:{'left' if i == 0 else 'right'}'>{esc(v)}</td>"
            for i, v in enumerate(row)) + "</tr>" for row in rows)
        fig = f"<table style='margin-top:4px;border-top:1px solid #999'><tr>{th}</tr>{body}</table>"
    act = ""
    if actions:
        act = "<div style='margin-top:4px;border-top:1px solid #999'>" + _table([
            (label("plan_sites", lang), f"{number(r['sites_new'], 0, lang)} "
                                        f"{label('new', lang).lower()}, "
                                        f"{number(r['sites_upgrade'], 0, lang)} "
                                        f"{label('upgrade', lang).lower()}"),
            (label("plan_fibre", lang), f"{number(r['fibre_km'], 1, lang)} km"),
            (label("plan_cost", lang), f"{number(r['plan_cost_vnd'] / 1e9, 2, lang)} "
                                       f"{label('bn_vnd', lang)}")]) + "</div>"
    return head + fig + act


def _choropleths(m, u: gpd.GeoDataFrame, gaps: pd.DataFrame | None, lang: str,
                 synthetic: bool, wanted=None, plan: Plan | None = None
                 ) -> tuple[str, dict[str, str]]:
    indicators = _pick_indicators(gaps, wanted)
    data = u.copy()
    if gaps is not None:
        key = "unit_code" if "unit_code" in gaps.columns else "commune_code"
        extra = [c for c in gaps.columns if (c.endswith("_pct")) and c not in indicators]
        g = gaps[[key, *indicators, *extra]].rename(columns={key: "unit_code"})
        if not set(g["unit_code"]) & set(data["unit_code"]):
            raise DataError(f"gaps table: no {key} matches the map's units ({len(data)} units); "
                            "compute the gaps on the same --boundaries as the map")
        data = data.merge(g, on="unit_code", how="left")
    if plan is not None:
        data = data.merge(unit_actions(u, plan), on="unit_code", how="left")
    targets = briefing_targets(plan)
    popups = [_popup(r, indicators, targets, plan is not None, lang) for _, r in data.iterrows()]
    data = _round_geoms(data, simplify=True)
    shared = SharedGeometry(_feature_collection(
        data, [{"_i": i, "_popup": p} for i, p in enumerate(popups)]))
    shared.add_to(m)
    variants: dict[str, str] = {}
    names = [f"{esc(r['name'])} ({esc(r['unit_code'])})" for _, r in data.iterrows()]
    if not indicators:  # plain outlines when there is no gaps table
        fg = folium.FeatureGroup(name=label("communes", lang), overlay=True)
        Choropleth(shared, ["#bdbdbd"] * len(data), names,
                   style={"color": "#555", "weight": 1, "fillOpacity": 0.25},
                   map_name=m.get_name()).add_to(fg)
        fg.add_to(m)
        return "", variants
    first = ""
    for i, col in enumerate(indicators):
        name = indicator_label(col, lang)
        cmap = _colormap(col, data[col])
        fills = [cmap(float(v)) if pd.notna(v) else "#bdbdbd" for v in data[col]]
        tips = [f"{n}: {esc(number(v, 1, lang))}"
                for n, v in zip(names, data[col], strict=True)]
        fg = folium.FeatureGroup(name=name, overlay=False, show=(i == 0))
        Choropleth(shared, fills, tips, style={"color": "#444", "weight": 0.8, "fillOpacity": 0.65},
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
        if "unknown" in g.columns:  # off the DEM or behind a flagged void: not "none"
            unk = g["unknown"].astype("boolean").fillna(False).to_numpy(dtype=bool)
            best[unk & (best == "none").to_numpy()] = "unknown"
        fcol = next((c for c in ("fibre_available", "fibre") if c in g.columns), None)
        if fcol is not None:
            fibre = pd.Series(g[fcol].to_numpy(), index=v.index)
    fg = folium.FeatureGroup(name=label("villages", lang), show=False)
    kinds = list(TECH_COLOURS)
    styles = [{"color": "#333", "weight": 0.6, "fillColor": TECH_COLOURS[k], "fillOpacity": 0.85}
              for k in kinds]
    fields = [esc(label(k, lang)) for k in ("village", "code", "households", "population",
                                            "coverage", "fibre_available")]
    props = []
    for i, r in v.iterrows():
        hh = int(r["households"])
        kind = best[i] if best[i] in settings.TECHS else label(best[i], lang)
        name = r.get("name") or r["village_id"]
        fib = "" if fibre[i] is None or pd.isna(fibre[i]) else ("✓" if bool(fibre[i]) else "✗")
        props.append({"_s": kinds.index(best[i]),
                      "_r": round(float(np.clip(2.5 + math.sqrt(hh) / 4.0, 3.0, 14.0)), 1),
                      "_tip": f"{esc(name)}: {esc(kind)}",
                      "_v": [esc(name), esc(r["village_id"]), number(hh, 0, lang),
                             number(r["population"], 0, lang),
                             esc(kind), fib]})
    Features(_feature_collection(_round_geoms(v, False), props), fields=fields,
             styles=styles).add_to(fg)
    fg.add_to(m)


def _sites(m, bundle: Bundle, lang: str) -> None:
    s = bundle.sites
    if s is None or len(s) == 0:
        return
    techs = {}
    if bundle.cells is not None:
        techs = bundle.cells.groupby("site_id")["tech"].agg(lambda t: ", ".join(sorted(set(t))))
    fields = [esc(label(k, lang)) for k in ("code", "operator", "tech", "height_m")]
    for op in [o for o in settings.OPERATORS if o in set(s["operator"])]:
        sub = s[s["operator"] == op]
        cluster = MarkerCluster(name=f"{label('sites', lang)}: {op}", show=False,
                                options={"maxClusterRadius": 40})
        colour = OPERATOR_COLOURS.get(op, "#666")
        styles = [{"radius": radius, "color": "#000", "weight": 1, "fillColor": colour,
                   "fillOpacity": 0.9} for radius in (4.5, 6)]
        props = []
        for _, r in sub.iterrows():
            t = techs.get(r["site_id"], "") if len(techs) else ""
            props.append({"_s": int("5G" in t or "4G" in t),
                          "_tip": f"{esc(r['site_id'])} · {esc(op)} · {esc(t)}",
                          "_v": [esc(r["site_id"]), esc(op), esc(t),
                                 number(r["height_m"], 0, lang)]})
        Features(_feature_collection(_round_geoms(sub, False), props), cluster=True,
                 fields=fields, styles=styles).add_to(cluster)
        cluster.add_to(m)


def _plan_layers(m, plan: Plan, lang: str) -> None:
    sel = plan.selected_sites
    has_year = "year" in sel.columns
    fields = [esc(label(k, lang)) for k in ("name", "code", "kind", "operator", "tech", "year",
                                            "cost_vnd", "households_new", "rank")]
    # new sites stand out; upgrades (often hundreds, on existing towers) stay small
    for kind, colour, radius, weight in (("new", "#e7298a", 7, 2), ("upgrade", "#7570b3", 4.5, 1)):
        sub = sel[sel["kind"] == kind]
        fg = folium.FeatureGroup(name=label(f"candidates_{kind}", lang))
        if len(sub):
            props = [{"_s": 0, "_tip": f"{esc(r['name'])} · "
                                       f"{esc(number(r['cost_vnd'], 0, lang))} VND",
                      "_v": [esc(r["name"]), esc(r["candidate_id"]), esc(label(kind, lang)),
                             esc(r["operator"]), esc(r["tech"]),
                             esc(r["year"]) if has_year else "", number(r["cost_vnd"], 0, lang),
                             number(r["households_new"], 0, lang), number(r["rank"], 0, lang)]}
                     for _, r in sub.iterrows()]
            Features(_feature_collection(_round_geoms(sub, False), props), fields=fields,
                     styles=[{"radius": radius, "color": "#000", "weight": weight,
                              "fillColor": colour, "fillOpacity": 0.95}]).add_to(fg)
        fg.add_to(m)
    _feeders(m, plan, lang)
    routes = plan.routes
    fg = folium.FeatureGroup(name=label("fibre_routes", lang))
    if len(routes):
        has_year = "year" in routes.columns
        fields = [esc(label(k, lang)) for k in ("code", "road_class", "purpose", "year",
                                                "length_m", "cost_vnd", "households_passed")]
        props = [{"_s": 0, "_tip": f"{esc(r['route_id'])} · "
                                   f"{esc(number(r['cost_vnd'], 0, lang))} VND",
                  "_v": [esc(r["route_id"]), esc(r["road_class"]), esc(r["purpose"]),
                         esc(r["year"]) if has_year else "", number(r["length_m"], 0, lang),
                         number(r["cost_vnd"], 0, lang), number(r["households_passed"], 0, lang)]}
                 for _, r in routes.iterrows()]
        Features(_feature_collection(_round_geoms(routes, False), props), fields=fields,
                 styles=[{"color": "#e7298a", "weight": 4, "dashArray": "8 5"}]).add_to(fg)
    fg.add_to(m)


def _feeders(m, plan: Plan, lang: str) -> None:
    """The plan's inferred feeder routes: off by default, named and tipped INFERRED (they are
    not an operator's network and count for nothing in the plan)."""
    f = plan.feeders
    if f is None or len(f) == 0:
        return
    name = FEEDERS_LAYER_LABEL[lang == "en"]
    fg = folium.FeatureGroup(name=name, show=False)
    status = (feeders_summary(plan.meta) or {}).get("label")
    status = status if isinstance(status, str) else "INFERRED"
    props = [{"_s": 0, "_tip": f"{esc(name)} · {esc(number(r['length_m'], 0, lang))} m — "
                               f"{esc(status)}"}
             for _, r in f.iterrows()]
    Features(_feature_collection(_round_geoms(f, False), props),
             styles=[{"color": "#636363", "weight": 2, "dashArray": "2 6",
                      "opacity": 0.9}]).add_to(fg)
    fg.add_to(m)


def _fibre(m, bundle: Bundle, lang: str) -> None:
    f = bundle.fibre
    if f is None or len(f) == 0:
        return
    fg = folium.FeatureGroup(name=label("fibre", lang), show=False)
    props = [{"_s": int(r.get("kind") == "backbone"),
              "_tip": f"{esc(r['span_id'])} {esc(r.get('kind') or '')}"}
             for _, r in f.iterrows()]
    Features(_feature_collection(_round_geoms(f, False), props),
             styles=[{"color": "#1f3a93", "weight": w} for w in (1.5, 2.5)]).add_to(fg)
    fg.add_to(m)


def build_map(bundle: Bundle, *, gaps=None, plan_dir: str | Path | None = None,
              coverage_raster: str | Path | None = None, lang: str = "vi",
              boundaries: str = "2020", check_plan: bool = True,
              indicators: list[str] | None = None, config=None) -> folium.Map:
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
    config : phusong.config.Settings, optional
        Settings whose covered thresholds the villages legend states; default those the plan
        (``plan.json``) or the gap tables (``GapTables.settings``) record, else the defaults.

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
                                    indicators, plan)
    districts = bundle.communes.dissolve(by="district_code", as_index=False)
    fg = folium.FeatureGroup(name=label("districts", lang))
    props = [{"_s": 0, "_tip": esc(r["district_name"])} for _, r in districts.iterrows()]
    Features(_feature_collection(_round_geoms(districts, True), props),
             styles=[{"color": "#111", "weight": 2.5, "fill": False}]).add_to(fg)
    fg.add_to(m)
    if coverage_raster is not None:
        png, rb, scale = raster_png(coverage_raster, max_px=RASTER_MAX_PX)
        uri = "data:image/png;base64," + base64.b64encode(png).decode()
        folium.raster_layers.ImageOverlay(uri, bounds=rb, name=label("coverage_raster", lang),
                                          opacity=1.0, interactive=False, show=False).add_to(m)
    _fibre(m, bundle, lang)
    _villages(m, bundle, tables.get("villages"), lang)
    _sites(m, bundle, lang)
    if plan is not None:
        _plan_layers(m, plan, lang)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    title = f"<b>{esc(label('title', lang))}</b> · {esc(bundle.name)} · " \
            f"{esc(label('boundaries', lang))} {esc(boundaries)}"
    if boundaries == "2025":
        title += f" ({esc(SOURCE_LABELS[units_source(bundle)][lang == 'en'])})"
    if synthetic:
        title += f"<br><span style='color:#b00'>{esc(SYNTHETIC_NOTICE)}</span>"
    if plan is not None:
        title += _assumed_lines(plan.meta, lang)
    HtmlControl(title, position="topleft", css_class="phusong-title").add_to(m)
    th = _legend_thresholds(config, plan, gaps)
    tech_legend = "".join(
        f"<div><span style='display:inline-block;width:10px;height:10px;border-radius:5px;"
        f"background:{c}'></span> {esc(t if t in settings.TECHS else label(t, lang))}"
        f"{esc(f' ≥ {th[t]:g} dBm') if t in th else ''}</div>"
        for t, c in TECH_COLOURS.items())
    HtmlControl(f"<b>{esc(label('villages', lang))}: {esc(label('coverage', lang))}</b>"
                f"{tech_legend}", position="bottomleft", css_class="phusong-villages",
                follows=label("villages", lang), shown=False).add_to(m)
    if legend or synthetic:
        HtmlControl(legend or f"<span style='color:#b00'>{esc(SYNTHETIC_NOTICE)}</span>",
                    position="bottomright", css_class="phusong-legend",
                    variants=variants).add_to(m)
    return inline_assets(m)


def _legend_thresholds(config, plan, gaps) -> dict:
    """Covered threshold per technology, dBm, for the villages legend: ``config``, else the
    settings the plan or the gap tables record, else the defaults."""
    from phusong.config import DEFAULT_SETTINGS, from_record

    if config is None and plan is not None:
        sc = plan.meta.get("scenario")
        if isinstance(sc, dict) and sc.get("settings") is not None:
            config = from_record(sc["settings"], where="plan.json scenario")
    if config is None and isinstance(getattr(gaps, "settings", None), dict):
        config = from_record(gaps.settings, where="gap tables")
    return dict((config or DEFAULT_SETTINGS).thresholds_dbm)


def _assumed_lines(meta: dict, lang: str) -> str:
    """Title lines of what the plan assumed: the fibre assumption (assumed POPs at commune
    centres) and the census households the villages represent."""
    en = lang == "en"
    out = ""
    if fibre_assumption(meta) is not None:
        out += (f"<br><span class='phusong-assumed' style='color:#a15c00'>"
                f"<b>{esc(FIBRE_ASSUMPTION_LABEL[en])}:</b> "
                f"{esc(fibre_assumption_text(meta)[en])}</span>")
    census = census_text(meta)
    if census is not None:
        out += f"<br><span class='phusong-census'>{esc(census[en])}</span>"
    return out


def save_map(m: folium.Map, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``m`` as one HTML file, atomically; an existing ``out`` is refused unless
    ``overwrite``."""
    inline_assets(m)
    html = m.get_root().render()
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return Path(out)
