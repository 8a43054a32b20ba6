"""Failed image requests that ask for an image get one: the error drawn on a tile (same status,
``X-Error-Code`` / ``X-Error-Detail`` headers), or ``204`` where there is no data; ``*/*`` and
JSON clients keep the ``{code, detail}`` body. Checked in process and in chromium, where a JSON
tile is blocked from ``<img>`` and an error tile is drawn."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.clients.served import SIZE, TMS, Dataset, View, rgba
from tileserver.tiling.error_images import asks_for_image

CHROME_IMG = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
TOKEN = "cs_" + "Q7" * 21 + "x"  # the shape of an API token (43 characters after cs_)


@pytest.mark.parametrize(
    ("accept", "image"),
    [
        (CHROME_IMG, True),  # <img>: Leaflet, OpenLayers
        ("image/webp,*/*", True),  # MapLibre GL JS
        ("image/avif,image/webp,*/*", True),  # Firefox <img>
        ("*/*", False),  # QGIS, GDAL (curl), OWSLib (requests), httpx
        ("", False),
        ("application/json", False),
        ("image/png, application/json", False),  # JSON ranked as high: JSON
        ("application/json;q=0.5, image/png", True),
        ("image/png;q=0", False),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # a page
    ],
)
def test_who_asks_for_an_image(accept, image):
    assert asks_for_image(accept) is image


@pytest.fixture(scope="module")
def rid(demo: dict[str, str]) -> str:
    return demo["scene-2024-05-12"]


def _errors(rid: str) -> dict[str, tuple[str, int, str, str, tuple[int, int]]]:
    """name: (url, status, code, media type, (width, height))."""
    tile = f"/raster/{rid}/tiles/WebMercatorQuad/14/13398/6730"
    square = (256, 256)
    return {
        "bad-expression": (f"{tile}.png?expression=b1%2B(", 400, "invalid_input", "png", square),
        "unknown-id-webp": (
            "/raster/nope/tiles/WebMercatorQuad/14/13398/6730.webp",
            *(404, "dataset_not_found", "webp", square),
        ),
        "unknown-mosaic": (
            "/mosaics/nope/tiles/WebMercatorQuad/13/6690/3365.png",
            *(404, "mosaic_not_found", "png", square),
        ),
        "revoked-token": (f"{tile}.png?access_token={TOKEN}", 401, "unauthorized", "png", square),
        "jpeg-512": (f"{tile}.jpg?tilesize=512&bidx=9", 400, "unknown_band", "jpeg", (512, 512)),
        "no-extension": (f"{tile}?bidx=9", 400, "unknown_band", "png", square),
        "huge-tilesize": (
            f"{tile}.png?tilesize=999999999",
            *(400, "invalid_input", "png", (1024, 1024)),
        ),
        "bad-coordinate": (
            f"/raster/{rid}/tiles/WebMercatorQuad/14/abc/6730.png",
            *(422, "validation_error", "png", square),
        ),
        "preview": (
            f"/raster/{rid}/preview/300x200.png?bidx=9",
            *(400, "unknown_band", "png", (300, 200)),
        ),
        "bbox": (
            f"/raster/{rid}/bbox/114.3,30.5,114.4,30.6/320x160.png?bidx=9",
            *(400, "unknown_band", "png", (320, 160)),
        ),
        "thumbnail": ("/datasets/nope/thumbnail.png", 404, "dataset_not_found", "png", square),
    }


CASES = list(_errors("x"))


@pytest.mark.parametrize("case", CASES)
def test_failed_image_requests_get_the_error_drawn(client, rid, case):
    url, status, code, media, (width, height) = _errors(rid)[case]
    as_json = client.get(url)  # httpx sends */*: the JSON body as before
    assert as_json.status_code == status and as_json.headers["content-type"] == "application/json"
    body = as_json.json()
    assert body["code"] == code
    assert "Accept" in as_json.headers["vary"]

    answer = client.get(url, headers={"accept": CHROME_IMG})
    assert answer.status_code == status
    assert answer.headers["content-type"] == f"image/{media}"
    assert answer.headers["x-error-code"] == code
    assert json.loads(answer.headers["x-error-detail"]) == body
    assert answer.headers["cache-control"] == "no-store"
    assert "Accept" in answer.headers["vary"]
    image = rgba(answer.content)
    assert image.shape[:2] == (height, width)
    frame = image[0, width // 2, :3].astype(int)
    assert frame[0] > 180 and frame[1] < 80 and frame[2] < 80, f"red frame, got {frame}"
    band = image[4:40, 4:-4]
    text = (band[..., :3].min(axis=2) > 150) & (band[..., 3] >= 230)
    assert text.sum() > 60, "light text drawn in the top band"


@pytest.mark.parametrize(
    ("path", "media", "side"),
    [
        ("/raster/{rid}/tiles/WebMercatorQuad/14/0/0.png", "png", 256),
        ("/raster/{rid}/tiles/WebMercatorQuad/14/0/0.jpg?tilesize=512", "png", 512),
        ("/mosaics/{mid}/tiles/WebMercatorQuad/14/0/0.webp", "webp", 256),
    ],
)
def test_no_data_is_a_transparent_404_for_image_clients(client, rid, demo, path, media, side):
    url = path.format(rid=rid, mid=demo["mosaic"])
    empty = client.get(url, headers={"accept": "image/webp,*/*"})
    assert empty.status_code == 404 and empty.headers["content-type"] == f"image/{media}"
    assert empty.headers["x-error-code"] == "outside_bounds"
    image = rgba(empty.content)
    assert image.shape == (side, side, 4) and not image[..., 3].any()
    plain = client.get(url)
    assert plain.status_code == 404 and plain.json()["code"] == "outside_bounds"


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/raster/{rid}/tiles/WebMercatorQuad/14/13398/6730.png?bidx=9", "application/json"),
        ("/raster/{rid}/tiles/WebMercatorQuad/14/13398/6730.tif?bidx=9", CHROME_IMG),
        ("/raster/{rid}/tiles/WebMercatorQuad/14/13398/6730.npy?bidx=9", CHROME_IMG),
        ("/raster/{rid}/bbox/114.3,30.5,114.4,30.6.tif?bidx=9", CHROME_IMG),
        ("/raster/{rid}/statistics?bidx=9", CHROME_IMG),
        ("/raster/{rid}/WebMercatorQuad/tilejson.json?bidx=9", CHROME_IMG),
        ("/datasets/nope", CHROME_IMG),
    ],
)
def test_json_stays_for_data_and_documents(client, rid, path, accept):
    answer = client.get(path.format(rid=rid), headers={"accept": accept})
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"] == "application/json"
    assert {"code", "detail"} <= set(answer.json())


def test_tokens_never_reach_the_error_image(client, rid):
    url = f"/raster/{rid}/tiles/WebMercatorQuad/14/13398/6730.png?expression={TOKEN}"
    answer = client.get(url, headers={"accept": CHROME_IMG})
    assert answer.status_code == 400 and answer.headers["content-type"] == "image/png"
    detail = answer.headers["x-error-detail"]
    assert TOKEN not in detail and TOKEN[:20] not in detail and "***" in detail
    assert TOKEN.encode() not in answer.content
    assert TOKEN not in client.get(url).text


# in chromium --------------------------------------------------------------------------------
def _leaflet(page: Any, template: str, lon: float, lat: float, zoom: int) -> tuple[dict, Any]:
    logged = len(page.console)
    state = page.evaluate(
        "(spec) => window.show(spec)",
        {"lib": "leaflet", "url": template, "lon": lon, "lat": lat, "zoom": zoom},
    )
    picture = rgba(page.locator("#map").screenshot(omit_background=True))
    state["console"] = page.console[logged:]
    return state, picture


def test_leaflet_shows_the_error_tile_a_json_answer_hid(pages, datasets, server_url):
    """A layer of a dataset that is gone, and one with a bad expression: each tile shows why
    (with a JSON body chromium blocks the tile and the map is blank)."""
    dataset: Dataset = datasets["demo-optical"]
    lon, lat = dataset.view.lonlat
    gone = f"{server_url}/raster/nope/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
    broken = dataset.links["tiles"] + "?expression=b1%2B("
    for template in (gone, broken):
        state, picture = _leaflet(pages["leaflet"], template, lon, lat, dataset.view.zoom)
        red = (picture[..., 0] > 180) & (picture[..., 1] < 80) & (picture[..., 3] == 255)
        white = (picture[..., :3].min(axis=2) > 150) & (picture[..., 3] >= 230)
        assert red.sum() > SIZE, f"no error frame drawn: {state}"
        assert white.sum() > 100, f"no error text drawn: {state}"


def test_leaflet_over_the_edge_of_the_data_reports_no_tile_error(pages, datasets):
    """Tiles past the data are empty images to a browser: Leaflet reports no tile error (with
    a JSON body chromium blocks them and each is a ``tileerror``) and draws the data where it
    is."""
    dataset: Dataset = datasets["demo-optical"]
    east, north = dataset.meta["bounds"][2:]
    view = View(*TMS.xy(east, north), dataset.view.zoom)  # the north-east corner in the middle
    state, picture = _leaflet(pages["leaflet"], dataset.links["tiles"], *view.lonlat, view.zoom)
    assert state["state"] == "loaded" and state["errors"] == [], state
    share = float((picture[..., 3] == 255).mean())
    assert 0.1 < share < 0.5, f"a quarter of the view is data, got {share:.0%}"
