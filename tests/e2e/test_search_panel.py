"""The search panel in headless chromium: a place found by typing, its polygon as the search area,
results from this catalog and a federated STAC API marked by source, a result added and drawn."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_bounds

from tests.archive.assets import HttpArchive, serve_directory, synthetic_scene
from tests.archive.items import item_for
from tests.archive.stac_api import serve_stac_api
from tests.e2e.browser import screen, settle, shot, viewer_page
from tests.servers import uvicorn_server
from tileserver.catalog import Catalog
from tileserver.ingest.raster import register_raster
from tileserver.places.gazetteer import DEFAULT_PATH
from tileserver.settings import Settings

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not DEFAULT_PATH.is_file(), reason="no gazetteer (make places)"),
]
HUBEI = "region-CHN-1807"
SCENE = (114.0, 30.3, 114.6, 30.8)  # west, south, east, north: over Wuhan, in Hubei
OUTSIDE = (119.5, 30.0, 120.0, 30.4)  # Zhejiang


def write_red(path: Path, bounds: tuple[float, float, float, float]) -> None:
    """A 3-band RGB GeoTIFF: red rising west to east, no green or blue."""
    red = np.tile(np.linspace(120, 255, 256, dtype="float32"), (256, 1)).astype("uint8")
    data = np.stack([red, np.zeros_like(red), np.zeros_like(red)])
    profile = {
        "driver": "GTiff",
        "width": 256,
        "height": 256,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:4326",
        "transform": from_bounds(*bounds, 256, 256),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


REMOTE = "S2B_49RGP_20240510_0_L2A"
REMOTE_BBOX = (113.0, 30.0, 113.5, 30.5)  # in Hubei, west of Wuhan


def remote_item(archive: HttpArchive) -> dict[str, Any]:
    """An Earth Search-like item over synthetic per-band COGs on the range server."""
    scene = synthetic_scene(archive.root, REMOTE, "sentinel-2-l2a", bbox=REMOTE_BBOX, size=64)
    when = dt.datetime(2024, 5, 10, 3, 0, tzinfo=dt.UTC)
    item = item_for("sentinel-2-l2a", scene.files, archive.href, REMOTE, when, cloud_cover=3.0)
    item["assets"].pop("thumbnail", None)  # no request off this machine's servers
    return item


def has_register_item() -> bool:
    try:
        from tileserver.scenes import register
    except ImportError:
        return False
    return hasattr(register, "register_item")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("search-panel")
    settings = Settings(data_dir=data_dir)
    catalog = Catalog(settings.resolved_database_url)
    ids = {}
    for name, bounds, when in (("wuhan", SCENE, "2024-05-12"), ("zhejiang", OUTSIDE, "2024-05-13")):
        path = data_dir / f"{name}.tif"
        write_red(path, bounds)
        record = register_raster(catalog, settings, path, title=f"Red {name}", datetime_=when)
        ids[name] = record.id
    with (
        serve_directory(tmp_path_factory.mktemp("search-panel-archive")) as archive,
        serve_stac_api([remote_item(archive)]) as api,
    ):
        sources = [{"id": "archive", "title": "Test archive", "url": api.url}]
        env = {
            "COGSIGHT_STAC_SOURCES": json.dumps(sources),
            "COGSIGHT_ALLOWED_PREFIXES": f"{archive.url}/",
        }
        with uvicorn_server(data_dir, env=env) as url:
            yield url, ids


@pytest.fixture(scope="module")
def page(server: tuple[str, dict[str, str]]) -> Iterator[Any]:
    with viewer_page(server[0], 1280, 820) as p:
        yield p


def test_type_hub_pick_hubei_search_and_add_a_result_that_draws(
    page: Any, server: tuple[str, dict[str, str]]
) -> None:
    _, ids = server
    page.wait_for_selector("[data-testid='search-source-archive']", state="attached")
    page.fill("[data-testid='search-place']", "Hub")
    page.wait_for_selector(f"[data-testid='search-place-{HUBEI}']", timeout=10_000)
    assert "Hubei — Province, China" in page.inner_text(f"[data-testid='search-place-{HUBEI}']")
    page.click(f"[data-testid='search-place-{HUBEI}']")
    page.wait_for_function("() => (window.cogsight.search.area || {}).kind === 'place'")
    area = page.evaluate("() => window.cogsight.search.area")
    assert area["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert "Hubei" in page.inner_text("[data-testid='search-area']")

    page.click("[data-testid='search-run']")
    page.wait_for_selector(f"[data-testid='search-result-{ids['wuhan']}']", timeout=30_000)
    found = page.evaluate(
        "() => window.cogsight.search.results.map(f => [f.id, f.properties['cogsight:source']])"
    )
    # inside Hubei only: the Zhejiang scene is not found; the remote scene is, marked
    assert sorted(found) == sorted([[ids["wuhan"], "local"], [REMOTE, "archive"]])
    badge = page.inner_text(f"[data-testid='search-source-badge-{REMOTE}']")
    assert badge.lower() == "test archive"

    page.evaluate(
        "b => window.cogsight.viewer.camera.setView({destination: "
        "Cesium.Rectangle.fromDegrees(b[0] - 0.3, b[1] - 0.3, b[2] + 0.3, b[3] + 0.3)})",
        list(SCENE),
    )
    settle(page, 300)
    x, y = screen(page, (SCENE[0] + SCENE[2]) / 2, (SCENE[1] + SCENE[3]) / 2)
    before = shot(page, "search-panel-1-before.png")
    page.click(f"[data-testid='search-add-{ids['wuhan']}']")
    page.wait_for_function(
        f"() => window.cogsight.layers.some(l => l.datasetId === '{ids['wuhan']}')",
        timeout=60_000,
    )
    page.wait_for_selector(
        f"[data-testid='search-add-{ids['wuhan']}']:has-text('Added')", timeout=60_000
    )
    r = 6
    for _ in range(30):  # the layer's tiles arrive over a few frames
        settle(page, 300)
        after = shot(page, "search-panel-2-added.png")
        patch = after[:, int(y) - r : int(y) + r, int(x) - r : int(x) + r].reshape(3, -1)
        red, green, blue = patch.mean(axis=1)
        if red > green + 80 and red > blue + 80:
            break
    else:
        old = before[:, int(y) - r : int(y) + r, int(x) - r : int(x) + r].reshape(3, -1)
        pytest.fail(f"not drawn red: {patch.mean(axis=1)} (before: {old.mean(axis=1)})")
    assert page.errors == [] and page.outside_requests == []


@pytest.mark.skipif(not has_register_item(), reason="no tileserver.scenes.register_item yet")
def test_add_a_remote_result_registers_it_and_draws_it(
    page: Any, server: tuple[str, dict[str, str]]
) -> None:
    url, _ = server
    page.wait_for_selector(f"[data-testid='search-add-{REMOTE}']", timeout=30_000)
    page.evaluate(
        "b => window.cogsight.viewer.camera.setView({destination: "
        "Cesium.Rectangle.fromDegrees(b[0] - 0.2, b[1] - 0.2, b[2] + 0.2, b[3] + 0.2)})",
        list(REMOTE_BBOX),
    )
    settle(page, 300)
    x, y = screen(
        page, (REMOTE_BBOX[0] + REMOTE_BBOX[2]) / 2, (REMOTE_BBOX[1] + REMOTE_BBOX[3]) / 2
    )
    before = shot(page, "search-panel-3-before-remote.png")
    page.click(f"[data-testid='search-add-{REMOTE}']")
    page.wait_for_selector(f"[data-testid='search-add-{REMOTE}']:has-text('Added')", timeout=60_000)
    registered = httpx.get(f"{url}/datasets", timeout=30).json()["items"]
    dataset = next(
        d for d in registered if d["title"] != "Red wuhan" and "zhejiang" not in d["title"]
    )
    page.wait_for_function(
        f"() => window.cogsight.layers.some(l => l.datasetId === '{dataset['id']}')", timeout=30_000
    )
    r = 6
    for _ in range(30):
        settle(page, 300)
        after = shot(page, "search-panel-4-remote-added.png")
        diff = np.abs(after - before)[:, int(y) - r : int(y) + r, int(x) - r : int(x) + r]
        if diff.mean() > 20:
            break
    else:
        pytest.fail("the remote scene added to the map does not draw")
    assert page.errors == [] and page.outside_requests == []
