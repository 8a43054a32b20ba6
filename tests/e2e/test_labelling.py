"""The labelling loop in the viewer, driven like a person in headless Debian chromium.

Open the demo scene, start a sample set with two classes (water, land), draw polygons with
real mouse clicks over water and over land (where the demo's truth raster says so), save
(version 1), train from the Label panel with a small fixed budget, and wait for the
prediction over the image: its class raster is on the map in the class colours — water blue
over water the samples do not cover, land green — and the held-out accuracy is shown.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from tests.e2e.browser import save, screen, settle, shot, viewer_page

pytestmark = pytest.mark.browser
pytest.importorskip("torch")
SCENE = "scene-2024-05-12"
WATER = np.array([0x1F, 0x6F, 0xD1])  # class 1's colour (training palette)
LAND = np.array([0x2E, 0x8B, 0x3A])  # class 2's colour
WINDOW = 48  # side of a sample square, in pixels of the scene


def pure_windows(truth: np.ndarray, want_water: bool, count: int) -> list[tuple[int, int]]:
    """Top-left (row, col) of ``count`` WINDOW² squares wholly water (or wholly land),
    spread over the scene (one per band of rows where possible)."""
    water = truth == 1
    rows, cols = truth.shape
    found: list[tuple[int, int]] = []
    for r in range(8, rows - WINDOW - 8, WINDOW // 2):
        for c in range(8, cols - WINDOW - 8, WINDOW // 2):
            patch = water[r - 8 : r + WINDOW + 8, c - 8 : c + WINDOW + 8]
            if (patch.all() if want_water else not patch.any()) and all(
                abs(r - fr) > WINDOW * 2 or abs(c - fc) > WINDOW * 2 for fr, fc in found
            ):
                found.append((r, c))
    assert len(found) >= count, f"the demo truth has {len(found)} such squares"
    step = len(found) / count
    return [found[int(i * step)] for i in range(count)]


def corners(transform, to_wgs84, r: int, c: int) -> list[tuple[float, float]]:
    out = []
    for dr, dc in ((0, 0), (0, WINDOW), (WINDOW, WINDOW), (WINDOW, 0)):
        x, y = transform * (c + dc, r + dr)
        out.append(to_wgs84.transform(x, y))
    return out


def draw_polygon(page, points: list[tuple[float, float]]) -> None:
    page.click("[data-testid='label-draw-polygon']")
    for lon, lat in points:
        x, y = screen(page, lon, lat)
        page.mouse.click(x, y)
        page.wait_for_timeout(120)
    page.keyboard.press("Enter")


@pytest.mark.timeout(720)  # a U-Net on a shared 2-core machine: minutes under load
def test_label_train_and_see_the_prediction(live_server, demo, catalog, settings):
    record = catalog.get_dataset(demo[SCENE])
    truth_path = Path(settings.data_dir) / record.properties["truth"]
    with rasterio.open(truth_path) as src:
        truth = src.read(1)
        transform, crs = src.transform, src.crs
    to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    water = pure_windows(truth, True, 3)
    land = pure_windows(truth, False, 3)

    with viewer_page(live_server, 1280, 860) as page:
        page.evaluate("id => window.cogsight.addDataset(id, {duration: 0})", record.id)
        w, s, e, n = record.bounds
        page.evaluate(
            """b => window.cogsight.viewer.camera.setView({
                destination: Cesium.Rectangle.fromDegrees(b[0], b[1], b[2], b[3])})""",
            [w, s, e, n],
        )
        settle(page, 300)
        page.click("[data-testid='tab-label']")
        page.select_option("[data-testid='label-image']", record.id)
        page.fill("[data-testid='label-title']", "Lake shore")
        for name in ("water", "land"):
            page.fill("[data-testid='label-new-class-name']", name)
            page.click("[data-testid='label-add-class']")
        assert page.locator("[data-testid='label-class-2']").inner_text().startswith("land")

        page.check("[data-testid='label-pick-1']")
        for r, c in water:
            draw_polygon(page, corners(transform, to_wgs84, r, c))
        page.check("[data-testid='label-pick-2']")
        for r, c in land:
            draw_polygon(page, corners(transform, to_wgs84, r, c))
        assert page.locator("[data-testid='label-count']").inner_text().startswith("6 samples")

        page.click("[data-testid='label-save']")
        page.wait_for_function(
            "() => document.querySelector(\"[data-testid='label-version']\")"
            ".textContent.includes('version 1')",
            timeout=30_000,
        )
        set_id = page.evaluate("() => window.cogsight.labelling.state.set.id")
        api = httpx.Client(base_url=live_server, timeout=60)
        stored = api.get(f"/samples/{set_id}").json()
        assert stored["counts"] == {"1": 3, "2": 3} and stored["samples_for"] == [record.id]

        page.fill("[data-testid='label-budget']", "300")
        page.fill("[data-testid='label-epochs']", "3")
        assert page.input_value("[data-testid='label-method']") == "auto"
        clicked = time.monotonic()
        page.click("[data-testid='label-train']")
        page.wait_for_selector("[data-testid='labelling'][data-status^='train-']", timeout=60_000)
        page.wait_for_function(
            "() => Number(document.querySelector(\"[data-testid='label-progress']\")"
            ".dataset.value) > 0",
            timeout=120_000,
        )
        page.wait_for_function(
            """() => { const d = document.querySelector("[data-testid='labelling']").dataset;
            return d.prediction || /-(failed|dismissed)$/.test(d.status); }""",
            timeout=480_000,
            polling=500,
        )
        status = page.inner_text("[data-testid='label-status']")
        assert "failed" not in status and "dismissed" not in status, status
        prediction = page.get_attribute("[data-testid='labelling']", "data-prediction")
        page.wait_for_function(
            f"() => window.cogsight.layers.some(l => l.datasetId === '{prediction}')",
            timeout=60_000,
        )
        # "auto" learns a pixel classifier for a segmentation set: seconds, not minutes
        print(f"first prediction drawn {time.monotonic() - clicked:.1f} s after Train")
        text = page.inner_text("[data-testid='label-accuracy']")
        assert "Held-out accuracy" in text, text
        percent = float(text.split("Held-out accuracy ")[1].split(" %")[0])
        assert percent >= 90.0, text
        model = page.get_attribute("[data-testid='labelling']", "data-model")
        assert model == "lake-shore-v1"
        tools = page.evaluate("() => window.cogsight.tools.processes.map(p => p.id)")
        assert model in tools, "the trained model is a tool at once"

        # the prediction's colours where the samples are not: water blue, land green
        page.evaluate("() => window.cogsight.viewer.entities.show = false")
        page.evaluate(
            "() => { for (const e of window.cogsight.viewer.entities.values) e.show = false; }"
        )
        settle(page)
        image = shot(page, "labelling-prediction.png")
        assert check_colour(image, page, truth, transform, to_wgs84, water + land, True, WATER)
        assert check_colour(image, page, truth, transform, to_wgs84, water + land, False, LAND)
        save(page, "labelling-done.png")
        assert page.errors == [], page.errors
        assert page.outside_requests == []


def check_colour(image, page, truth, transform, to_wgs84, samples, want_water, colour) -> bool:
    """A small square of water (or of vegetation, the land the samples cover) away from every
    sample shows ``colour`` on screen. (Built-up and bare land are not sampled: a 3-epoch model
    may call them water, which is what more samples there would correct.)"""
    water = truth == 1 if want_water else truth == 2
    rows, cols = truth.shape
    side, far = 16, []
    for r in range(16, rows - 32, 8):
        for c in range(16, cols - 32, 8):
            patch = water[r - 4 : r + side + 4, c - 4 : c + side + 4]
            pure = patch.all()
            away = all(
                not (sr - side - 8 < r < sr + WINDOW + 8 and sc - side - 8 < c < sc + WINDOW + 8)
                for sr, sc in samples
            )
            if pure and away:
                far.append((r, c))
    assert far, "a region the samples do not cover"
    r, c = far[len(far) // 2]
    x, y = transform * (c + side / 2, r + side / 2)
    px, py = screen(page, *to_wgs84.transform(x, y))
    patch = image[:, int(py) - 2 : int(py) + 3, int(px) - 2 : int(px) + 3].reshape(3, -1)
    mean = patch.mean(axis=1)
    assert np.abs(mean - colour).max() < 40, (mean, colour, (r, c))
    return True
