"""The interactive map in a real browser: headless Chromium, network blocked (tiles fail)."""

from __future__ import annotations

import pytest

from phusong.maps import build_map, save_map
from phusong.maps._example import XSS, example_bundle, write_example_plan

pytestmark = pytest.mark.browser

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


def _keep(shot, name: str) -> None:
    """Copy a screenshot into $PHUSONG_SHOTS (when set) for people to look at."""
    import os
    import shutil

    folder = os.environ.get("PHUSONG_SHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        shutil.copy(shot, os.path.join(folder, name))


def _open(chromium: str, html_path, shots, villages: str):
    sync_api = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    console: list[str] = []
    blocked: list[str] = []
    dialogs: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:  # offline: basemap tiles (and anything else remote) fail
            blocked.append(url)
            r.abort()

    def overlay_paths(page):
        return page.locator(".leaflet-overlay-pane path").count()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.route("**/*", route)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(html_path.as_uri())
            page.wait_for_timeout(800)
            page.screenshot(path=str(shots["open"]))
            control = page.locator(".leaflet-control-layers")
            facts = {
                "paths": overlay_paths(page),
                "choropleth": page.locator(".leaflet-phusong_choropleth-pane path").count(),
                "collapsed": "leaflet-control-layers-expanded" not in (
                    control.get_attribute("class") or ""),
                "control_box": control.bounding_box(),
                "village_legend": page.locator(".phusong-villages").is_visible(),
                "images": page.locator("img.leaflet-image-layer").count(),
                "legend": page.locator(".phusong-legend").inner_text(),
                "title": page.locator(".phusong-title").inner_text(),
            }
            # the commune popup: figures, targets, the plan's actions
            page.evaluate("""() => {
                const el = document.querySelectorAll('.leaflet-phusong_choropleth-pane path')[3];
                const r = el.getBoundingClientRect();
                el.dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: r.x + 4,
                                                           clientY: r.y + r.height / 2}));
            }""")
            page.wait_for_timeout(300)
            facts["popup"] = page.locator(".leaflet-popup-content").inner_text()
            facts["popup_box"] = page.locator(".leaflet-popup").bounding_box()
            facts["title_box"] = page.locator(".phusong-title").bounding_box()
            page.screenshot(path=str(shots["popup"]))
            page.locator(".leaflet-popup-close-button").click()
            # open the (collapsed) layer control: every layer one click away
            control.hover()
            page.wait_for_timeout(300)
            facts["overlays"] = [t.strip() for t in page.locator(
                ".leaflet-control-layers-overlays label").all_inner_texts()]
            facts["checked"] = [t.strip() for t in page.locator(
                ".leaflet-control-layers-overlays label:has(input:checked)").all_inner_texts()]
            facts["bases"] = [t.strip() for t in page.locator(
                ".leaflet-control-layers-base label").all_inner_texts()]
            page.screenshot(path=str(shots["layers"]))
            # switch indicator: legend follows the radio button
            page.locator(".leaflet-control-layers-base label").nth(1).click()
            page.wait_for_timeout(200)
            facts["legend_after"] = page.locator(".phusong-legend").inner_text()
            # turn the villages on: their markers appear, with their legend
            page.locator(".leaflet-control-layers-overlays label").filter(
                has_text=villages).locator("input").check()
            page.wait_for_timeout(200)
            facts["paths_villages"] = overlay_paths(page)
            facts["village_legend_after"] = page.locator(".phusong-villages").is_visible()
            page.screenshot(path=str(shots["villages"]))
            page.mouse.move(640, 5)  # the control folds away
            page.wait_for_timeout(300)
            # the newly shown indicator stays below the markers: every village is on top
            facts["top_after"] = page.evaluate("""() => {
                const paths = [...document.querySelectorAll('.leaflet-overlay-pane path')];
                return paths.slice(-12).map(c => {
                    const r = c.getBoundingClientRect();
                    const el = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                    const pane = el && el.closest('.leaflet-pane');
                    return pane ? pane.className : String(el && el.className);
                });
            }""")
        finally:
            browser.close()
    real_console = [c for c in console if "Failed to load resource" not in c]
    return facts, errors, real_console, dialogs, blocked


#: Per language: (first indicator, second indicator, overlays in the control, the popup's
#: words for target and planned cost, synthetic notice).
_WORDS = {
    "vi": ("Hộ có cáp quang (%)", "Dân số có sóng 4G", ["Bản đồ nền", "Thôn/bản",
           "Trạm BTS hiện có: Viettel", "Trạm BTS đề xuất (mới)", "Trạm BTS đề xuất (nâng cấp)",
           "Tuyến cáp quang đề xuất", "Ranh giới huyện (2020)", "Cáp quang hiện có",
           "Lớp phủ sóng"], ("Mục tiêu", "Chi phí kế hoạch")),
    "en": ("Fibre households (%)", "Population with 4G", ["Basemap", "Villages",
           "Existing BTS sites: Viettel", "Candidate BTS (new)", "Candidate BTS (upgrade)",
           "Proposed fibre routes", "District outlines (2020)", "Existing fibre",
           "Coverage raster"], ("Target", "Planned cost")),
}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_map_opens_as_a_briefing(chromium, tmp_path, lang):
    b = example_bundle(hostile=True)
    plan = write_example_plan(b, tmp_path / "plan")
    raster = _example_raster(b, tmp_path / "cov.tif")
    html = save_map(build_map(b, plan_dir=plan, coverage_raster=raster, lang=lang),
                    tmp_path / "map.html")
    shots = {k: tmp_path / f"map_{lang}_{k}.png" for k in ("open", "popup", "layers", "villages")}
    facts, errors, console, dialogs, blocked = _open(chromium, html, shots, _WORDS[lang][2][1])
    for k, shot in shots.items():
        print(f"screenshot: {shot}")
        _keep(shot, f"example_map_{lang}_{k}.png")
        assert shot.stat().st_size > 10_000
    assert errors == [] and console == [], (errors, console)
    assert dialogs == []  # alert(1) never ran
    assert blocked and all("tile.openstreetmap" in u for u in blocked)  # only tiles are remote
    first, second, overlays, (target_word, cost_word) = _WORDS[lang]
    # opens as a briefing: 2 district outlines + 2 selected new sites + 1 upgrade + 2 routes;
    # villages (12), existing sites (4), existing fibre (2) and the raster are off
    assert facts["paths"] == 2 + 3 + 2
    assert facts["choropleth"] == 4
    assert facts["images"] == 0  # the coverage raster is in the page, off
    assert facts["collapsed"] and facts["control_box"]["width"] < 60  # a button, not a panel
    assert not facts["village_legend"]
    assert facts["bases"][0] == first and len(facts["bases"]) == 5
    assert set(overlays) <= set(facts["overlays"]), facts["overlays"]
    # on: basemap, proposed sites (new, upgrade), proposed routes, district outlines
    assert sorted(facts["checked"]) == sorted(overlays[i] for i in (0, 3, 4, 5, 6))
    # the popup: the commune's figures against its targets, and what the plan does there
    assert target_word in facts["popup"] and cost_word in facts["popup"]
    # the popup opens below the title box, not under it (the map pans to make room)
    pop, title = facts["popup_box"], facts["title_box"]
    assert pop["y"] >= title["y"] + title["height"], (pop, title)
    # the target of the plan's scenario, written as each language writes numbers
    assert {"vi": "85,0 (2025)", "en": "85.0 (2025)"}[lang] in facts["popup"]
    assert "Dữ liệu minh họa tổng hợp" in facts["title"]
    assert first.removesuffix(" (%)") in facts["legend"]
    assert second in facts["legend_after"]
    # villages one click away, with their legend
    assert facts["paths_villages"] == facts["paths"] + 12
    assert facts["village_legend_after"]
    # (a few villages may sit under a legend box; none under the choropleth)
    assert not any("choropleth" in t for t in facts["top_after"]), facts["top_after"]
    assert sum("leaflet-overlay-pane" in t for t in facts["top_after"]) >= 8, facts["top_after"]


def _example_raster(bundle, path):
    """A small dBm GeoTIFF over the example province (EPSG:4326)."""
    import numpy as np
    from affine import Affine

    from phusong.bundle import Raster, write_raster

    w, s, e, n = bundle.communes.total_bounds
    arr = np.linspace(-115.0, -65.0, 40 * 80, dtype="float32").reshape(40, 80)
    write_raster(Raster(arr, Affine((e - w) / 80, 0, w, 0, -(n - s) / 40, n), "EPSG:4326",
                        unit="dBm"), path)
    return path


def test_hostile_name_is_shown_as_text(chromium, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    b = example_bundle(hostile=True)
    html = save_map(build_map(b, lang="en"), tmp_path / "map.html")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = browser.new_page()
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
                       else r.abort())
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(html.as_uri())
            page.wait_for_timeout(300)
            # hover the hostile commune (third box): the tooltip shows the literal name
            box = page.locator(".leaflet-phusong_choropleth-pane path").nth(2).bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 5)
            page.wait_for_timeout(200)
            tip = page.locator(".leaflet-tooltip").inner_text()
        finally:
            browser.close()
    assert XSS in tip
    assert dialogs == []
