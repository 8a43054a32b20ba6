"""POST /datasets/items/from-source: a remote search result registered from its configured source
(never from a URL a client gives), drawn at once, idempotent by source + item."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import morecantile
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.warp import transform as warp_points

from tests.archive.assets import HttpArchive, serve_directory, synthetic_scene
from tests.archive.items import item_for
from tests.archive.stac_api import FakeStacApi, serve_stac_api
from tests.tiling.helpers import decode
from tileserver.http.app import create_app
from tileserver.settings import Settings

KEY = "Api-Key abc-very-secret"
ITEM = "S2A_FEDERATED_0512"
BBOX = (114.20, 30.50, 114.26, 30.56)


def has_register_item() -> bool:
    try:
        from tileserver.scenes import register
    except ImportError:
        return False
    return hasattr(register, "register_item")


needs_scenes = pytest.mark.skipif(
    not has_register_item(), reason="tileserver.scenes.register.register_item is not in the tree"
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpArchive]:
    with serve_directory(tmp_path_factory.mktemp("from-source-archive")) as served:
        yield served


@pytest.fixture(scope="module")
def scene(archive: HttpArchive) -> Any:
    return synthetic_scene(archive.root, ITEM, "sentinel-2-l2a", bbox=BBOX, size=64)


@pytest.fixture(scope="module")
def api(archive: HttpArchive, scene: Any) -> Iterator[FakeStacApi]:
    when = dt.datetime(2024, 5, 12, 3, 0, tzinfo=dt.UTC)
    item = item_for("sentinel-2-l2a", scene.files, archive.href, ITEM, when, cloud_cover=4.0)
    with serve_stac_api([item], required_headers={"X-Api-Key": KEY}) as served:
        yield served


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, archive: HttpArchive, api: FakeStacApi
) -> Iterator[TestClient]:
    sources = [
        {"id": "archive", "title": "Archive", "url": api.url, "headers": {"X-Api-Key": KEY}},
        {"id": "down", "url": "http://127.0.0.1:9/stac"},
        {"id": "harvest-only", "url": api.url, "federated": False},
    ]
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path_factory.mktemp("from-source")),
            "allowed_prefixes": [f"{archive.url}/"],
            "stac_sources": json.loads(json.dumps(sources)),
            "stac_source_timeout_s": 2.0,
        }
    )
    with TestClient(create_app(settings)) as c:
        yield c


def add(client: TestClient, **body: Any) -> Any:
    payload = {"source": "archive", "collection": "sentinel-2-l2a", "item_id": ITEM, **body}
    return client.post("/datasets/items/from-source", json=payload)


@needs_scenes
def test_a_remote_item_becomes_a_dataset_that_draws_its_pixels(
    client: TestClient, scene: Any, api: FakeStacApi
) -> None:
    response = add(client)
    assert response.status_code == 200, response.text
    dataset = response.json()
    assert dataset["kind"] == "raster" and "red" in dataset["band_names"]
    assert KEY not in response.text
    # the item came from the configured API, with its credentials
    fetched = [r for r in api.searches() if r.body and r.body.get("ids") == [ITEM]]
    assert fetched and fetched[-1].headers["x-api-key"] == KEY

    # a point's red value is the per-band source pixel there
    lon, lat = (BBOX[0] + BBOX[2]) / 2, (BBOX[1] + BBOX[3]) / 2
    with rasterio.open(scene.files["red"]) as src:
        xs, ys = warp_points("EPSG:4326", src.crs, [lon], [lat])
        row, col = src.index(xs[0], ys[0])
        expected = int(src.read(1)[row, col])
    point = client.get(f"/raster/{dataset['id']}/point/{lon},{lat}").json()
    red = point["band_names"].index("red") if "red" in point["band_names"] else 2
    assert round(point["values"][red]) == expected

    # drawn at once with its default rendering: a tile over the scene is opaque there
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 14)
    tile = client.get(f"/raster/{dataset['id']}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png")
    assert tile.status_code == 200, tile.text
    image = decode(tile.content)
    assert image.shape[0] == 4 and (image[3] > 0).mean() > 0.2

    # the same item again: the same dataset, not a copy
    again = add(client)
    assert again.status_code == 200 and again.json()["id"] == dataset["id"]
    listed = [d for d in client.get("/datasets").json()["items"] if d["title"] == dataset["title"]]
    assert len(listed) == 1


def test_a_client_url_is_never_fetched(client: TestClient) -> None:
    with serve_stac_api([]) as elsewhere:
        for body in (
            {"url": f"{elsewhere.url}/item.json"},
            {"href": f"{elsewhere.url}/item.json"},
            {"item_id": f"{elsewhere.url}/item.json"},
            {"collection": "../../etc"},
        ):
            response = add(client, **body)
            assert response.status_code == 422, (body, response.text)
        assert elsewhere.requests == []


def test_unknown_sources_and_items_are_404_and_a_dead_source_a_clear_502(
    client: TestClient,
) -> None:
    missing = add(client, item_id="S2A_NOT_THERE")
    assert missing.status_code == 404
    assert "No item 'S2A_NOT_THERE' in 'sentinel-2-l2a' at 'archive'" in missing.json()["detail"]
    assert add(client, source="nowhere").status_code == 404
    assert add(client, source="harvest-only").status_code == 404  # not offered to viewers
    down = add(client, source="down")
    assert down.status_code == 502
    assert down.json()["detail"] == "Source 'down': the source could not be reached."
    assert "127.0.0.1:9" not in down.text
