"""A tool with no credible zero-sample method on an image's bands opens the labelling loop, in
headless Debian chromium: run ``dam`` on an RGB-only image from the Tools panel and the Label
tab comes up with that image chosen, a new sample set of background and dam, and the reason."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import rasterio

from tests.e2e.browser import viewer_page
from tileserver.ingest import register_raster

pytestmark = pytest.mark.browser
SCENE = "scene-2024-05-12"


@pytest.fixture
def rgb_only(live_server, demo, catalog, settings):
    """The demo scene's red, green and blue bands as an image of its own (no NIR)."""
    source = Path(settings.data_dir) / catalog.get_dataset(demo[SCENE]).uri
    path = Path(settings.data_dir) / "rgb-only-dam.tif"
    with rasterio.open(source) as src:
        profile = {**src.profile, "count": 3, "driver": "GTiff"}
        bands = [src.descriptions.index(name) + 1 for name in ("red", "green", "blue")]
        data = src.read(bands)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    record = register_raster(
        catalog, settings, path, title="RGB only", thumbnail=False,
        band_names=["red", "green", "blue"],
    )  # fmt: skip
    yield record.id
    httpx.delete(f"{live_server}/datasets/{record.id}", timeout=60)


@pytest.mark.timeout(300)
def test_dam_on_rgb_opens_the_label_tab_with_its_classes(live_server, rgb_only):
    with viewer_page(live_server, 1280, 860) as page:
        page.click("[data-testid='tab-tools']")
        page.wait_for_selector(
            "[data-testid='tools-process'] option[value='dam']", state="attached"
        )
        page.select_option("[data-testid='tools-process']", "dam")
        page.wait_for_selector("[data-testid='tool-field-dataset']")
        page.select_option("[data-testid='tool-field-dataset']", rgb_only)
        page.click("[data-testid='tools-run']")

        page.wait_for_selector("[data-testid='label-note']:not([hidden])", timeout=30_000)
        assert page.get_attribute(".panel", "data-tab") == "label"
        assert page.locator("[data-testid='labelling']").is_visible()
        assert page.locator("[data-testid='label-note']").inner_text() == (
            "dam has no zero-sample method for red, green, blue: draw dam and background "
            "samples, then Train"
        )
        assert page.input_value("[data-testid='label-image']") == rgb_only
        assert page.input_value("[data-testid='label-set']") == ""  # a new set
        assert page.input_value("[data-testid='label-title']") == "dam samples"
        assert page.locator("[data-testid='label-class-1']").inner_text().startswith("dam")
        assert page.locator("[data-testid='label-class-2']").inner_text().startswith("background")
        assert page.is_checked("[data-testid='label-pick-1']")  # draw dams first
        started = "() => window.cogsight.jobs.jobs.filter(j => j.processID === 'dam').length"
        assert page.evaluate(started) == 0, "no job was queued"
        assert page.errors == [], page.errors
        assert page.outside_requests == []
