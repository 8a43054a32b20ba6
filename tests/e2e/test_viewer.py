"""The viewer in headless Debian chromium: add the demo scene, and it appears where it is."""

from __future__ import annotations

import numpy as np
import pytest

from tests.e2e.browser import screen, settle, shot, viewer_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(live_server):
    with viewer_page(live_server, 1280, 800) as page:
        yield page


def test_demo_layer_appears_where_the_dataset_is(page, demo, client):
    rid = demo["scene-2024-05-12"]
    assert page.locator(f"[data-testid='catalog-item-{rid}']").count() == 1
    page.evaluate("id => window.cogsight.addDataset(id, {duration: 0})", rid)
    page.wait_for_function(
        f"() => performance.getEntriesByType('resource').some("
        f"e => e.name.includes('/raster/{rid}/tiles/'))",
        timeout=60_000,
    )
    settle(page, 1500)
    a = shot(page, "viewer-demo-layer.png")

    w, s, e, n = client.get(f"/datasets/{rid}").json()["bounds"]
    cx, cy = screen(page, (w + e) / 2, (s + n) / 2)
    ox, oy = screen(page, e + 1.5 * (e - w), (s + n) / 2)  # well outside the scene

    page.evaluate("() => window.cogsight.layers.forEach(l => { l.imageryLayer.show = false; })")
    settle(page, 1500)
    b = shot(page, "viewer-demo-hidden.png")

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
    settle(page, 1500)
    ndvi = shot(page, "viewer-demo-ndvi.png")
    green = (ndvi[1] > ndvi[0] + 30) & (ndvi[1] > ndvi[2] + 30)
    assert green.mean() > 0.01, "vegetation renders green with rdylgn"
    assert not page.locator("[data-testid='error']").is_visible()
    assert page.outside_requests == [], "nothing leaves the machine"  # type: ignore[attr-defined]
