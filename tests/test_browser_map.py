"""The interactive map in a real browser: headless Chromium, network blocked (tiles fail)."""

from __future__ import annotations

import pytest

from phusong.maps import build_map, save_map
from phusong.maps._example import XSS, example_bundle, write_example_plan

pytestmark = pytest.mark.browser

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


def _open(chromium: str, html_path, shot_path):
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
            facts = {
                "paths": page.locator(".leaflet-overlay-pane path").count(),
                "choropleth": page.locator(".leaflet-phusong_choropleth-pane path").count(),
                "overlays": [t.strip() for t in
                             page.locator(".leaflet-control-layers-overlays label").all_inner_texts()],
                "bases": [t.strip() for t in
                          page.locator(".leaflet-control-layers-base label").all_inner_texts()],
                "legend": page.locator(".phusong-legend").inner_text(),
                "title": page.locator(".phusong-title").inner_text(),
            }
            # switch indicator: legend follows the radio button
            page.locator(".leaflet-control-layers-base label").nth(1).click()
            page.wait_for_timeout(200)
            facts["legend_after"] = page.locator(".phusong-legend").inner_text()
            # the newly shown indicator stays below the markers: a village is still on top
            facts["top_after"] = page.evaluate("""() => {
                const c = document.querySelector('.leaflet-overlay-pane path.village-probe')
                    || document.querySelectorAll('.leaflet-overlay-pane path')[5];
                const r = c.getBoundingClientRect();
                const el = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                return el.closest('.leaflet-pane').className;
            }""")
            page.screenshot(path=str(shot_path))
        finally:
            browser.close()
    real_console = [c for c in console if "Failed to load resource" not in c]
    return facts, errors, real_console, dialogs, blocked


def test_map_offline_in_chromium(chromium, tmp_path):
    b = example_bundle(hostile=True)
    plan = write_example_plan(b, tmp_path / "plan")
    html = save_map(build_map(b, plan_dir=plan, lang="vi"), tmp_path / "map.html")
    shot = tmp_path / "map.png"
    facts, errors, console, dialogs, blocked = _open(chromium, html, shot)
    print(f"screenshot: {shot}")
    assert errors == [] and console == [], (errors, console)
    assert dialogs == []  # alert(1) never ran
    assert blocked and all("tile.openstreetmap" in u for u in blocked)  # only tiles are remote
    # overlay pane: 2 districts + 2 fibre spans + 12 villages + 3 selected candidates + 2 routes
    # + 4 unclustered sites; the 4 communes of the shown indicator in their own lower pane
    assert facts["paths"] == 2 + 2 + 12 + 3 + 2 + 4
    assert facts["choropleth"] == 4
    assert "leaflet-overlay-pane" in facts["top_after"]
    assert facts["bases"][0] == "Hộ có cáp quang (%)" and len(facts["bases"]) == 5
    for name in ("Thôn/bản", "Trạm BTS hiện có: Viettel", "Trạm BTS đề xuất (mới)",
                 "Trạm BTS đề xuất (nâng cấp)", "Tuyến cáp quang đề xuất", "Ranh giới huyện (2020)"):
        assert name in facts["overlays"]
    assert "Dữ liệu minh họa tổng hợp" in facts["title"]
    assert "Hộ có cáp quang" in facts["legend"]
    assert "Dân số có sóng 4G" in facts["legend_after"]
    assert shot.stat().st_size > 10_000


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
