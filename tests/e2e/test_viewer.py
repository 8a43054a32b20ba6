"""The viewer in headless Debian chromium: add the demo scene, and it appears where it is."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.tiling.helpers import decode

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("COGSIGHT_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--ignore-gpu-blocklist",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def page(live_server):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.outside_requests = []  # type: ignore[attr-defined]
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith((live_server, "data:", "blob:"))
                else page.outside_requests.append(r.url)
            ),
        )  # type: ignore[attr-defined]
        page.goto(f"{live_server}/")
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        yield page
        browser.close()


def _settle(page) -> None:
    page.wait_for_function(
        "() => { const v = window.cogsight.viewer; v.scene.requestRender();"
        " return v.scene.globe.tilesLoaded; }",
        timeout=90_000,
        polling=500,
    )
    page.wait_for_timeout(1500)


def _screen_xy(page, lon: float, lat: float) -> tuple[float, float]:
    return tuple(
        page.evaluate(
            """([lon, lat]) => { const v = window.cogsight.viewer;
        const p = Cesium.SceneTransforms.worldToWindowCoordinates(v.scene,
            Cesium.Cartesian3.fromDegrees(lon, lat));
        const r = v.canvas.getBoundingClientRect();
        return [r.left + p.x * r.width / v.canvas.clientWidth, r.top + p.y]; }""",
            [lon, lat],
        )
    )


def test_demo_layer_appears_where_the_dataset_is(page, demo, client):
    ARTIFACTS.mkdir(exist_ok=True)
    rid = demo["scene-2024-05-12"]
    assert page.locator(f"[data-testid='catalog-item-{rid}']").count() == 1
    page.evaluate("id => window.cogsight.addDataset(id, {duration: 0})", rid)
    page.wait_for_function(
        f"() => performance.getEntriesByType('resource').some("
        f"e => e.name.includes('/raster/{rid}/tiles/'))",
        timeout=60_000,
    )
    _settle(page)
    with_layer = page.screenshot(path=str(ARTIFACTS / "viewer-demo-layer.png"))

    w, s, e, n = client.get(f"/datasets/{rid}").json()["bounds"]
    cx, cy = _screen_xy(page, (w + e) / 2, (s + n) / 2)
    ox, oy = _screen_xy(page, e + 1.5 * (e - w), (s + n) / 2)  # well outside the scene

    page.evaluate("() => window.cogsight.layers.forEach(l => { l.imageryLayer.show = false; })")
    _settle(page)
    without = page.screenshot(path=str(ARTIFACTS / "viewer-demo-hidden.png"))

    a, b = decode(with_layer)[:3].astype(int), decode(without)[:3].astype(int)

    def patch_diff(x: float, y: float) -> float:
        x, y = int(x), int(y)
        return float(
            np.abs(
                a[:, y - 15 : y + 15, x - 15 : x + 15] - b[:, y - 15 : y + 15, x - 15 : x + 15]
            ).mean()
        )

    assert 0 < cx < a.shape[2] and 0 < cy < a.shape[1], "the scene is on screen"
    assert patch_diff(cx, cy) > 10, "imagery shows where the dataset is"
    if 15 < ox < a.shape[2] - 15:
        assert patch_diff(ox, oy) < 3, "and nowhere else"
    page.evaluate("() => window.cogsight.layers.forEach(l => { l.imageryLayer.show = true; })")


def test_switch_to_ndvi_with_colormap(page, demo):
    rid = demo["scene-2024-05-12"]
    page.evaluate(
        """id => window.cogsight.setRender(window.cogsight.layers.find(l => l.datasetId === id),
        {mode: 'index', index: 'NDVI', colormap: 'rdylgn', rescale: [-1, 1]})""",
        rid,
    )
    page.wait_for_function(
        f"() => performance.getEntriesByType('resource').some("
        f"e => e.name.includes('/raster/{rid}/tiles/') && e.name.includes('index=NDVI'))",
        timeout=60_000,
    )
    _settle(page)
    shot = decode(page.screenshot(path=str(ARTIFACTS / "viewer-demo-ndvi.png")))[:3].astype(int)
    green = (shot[1] > shot[0] + 30) & (shot[1] > shot[2] + 30)
    assert green.mean() > 0.01, "vegetation renders green with rdylgn"
    assert not page.locator("[data-testid='error']").is_visible()
    assert page.outside_requests == [], "nothing leaves the machine"  # type: ignore[attr-defined]
