"""A query mosaic over per-band archive scenes (Sentinel-2 L2A items from the fake archive on
loopback): newest first, and where the newer scene's SCL marks cloud the older one shows."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import pytest
from rio_tiler.io import Reader

from tests.archive.assets import S2_FILE, S2_SCL_CLOUD
from tests.archive.fixtures import *  # noqa: F403  (fixtures)
from tests.archive.items import sentinel2_item
from tests.auth.people import People, people

TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, http_archive: Any) -> Any:
    data = tmp_path_factory.mktemp("mosaic-archive-scenes")
    with people(data, allowed_prefixes=[f"{http_archive.url}/"]) as w:
        yield w


def _npy(response: Any) -> np.ma.MaskedArray:
    assert response.status_code == 200, response.text[:300]
    array = np.load(io.BytesIO(response.content))
    data, mask = array[:-1], array[-1]
    return np.ma.masked_array(data, mask=np.broadcast_to(mask <= 0, data.shape))


def _scene(world: People, item: dict) -> dict:
    response = world.post("alice", "/datasets/items", json=item)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _cloud(files: dict[str, Path], tile: morecantile.Tile) -> np.ndarray:
    with Reader(str(files["scl"])) as src:
        return src.tile(tile.x, tile.y, tile.z, indexes=1).array.data[0] == S2_SCL_CLOUD


def _tile() -> morecantile.Tile:
    """The z14 tile where June's and September's cloud squares meet (see tests/scenes)."""
    import rasterio
    from pyproj import Transformer

    with rasterio.open(S2_FILE) as src:
        x, y = src.transform * (src.width / 2, src.height * 3 / 8)
        lon, lat = Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True).transform(x, y)
    return TMS.tile(lon, lat, 14)


def test_newest_first_with_the_older_scene_under_the_newer_ones_clouds(
    world: People,
    http_archive: Any,
    s2_files: dict[str, Path],
    s2_files_september: dict[str, Path],
) -> None:
    june = _scene(world, sentinel2_item(s2_files, http_archive.href))
    september = _scene(
        world,
        sentinel2_item(
            s2_files_september,
            http_archive.href,
            item_id="S2B_33UUP_20210925_0_L2A",
            when=dt.datetime(2021, 9, 25, 10, 10, 19, tzinfo=dt.UTC),
        ),
    )
    body = {
        "kind": "query",
        "bbox": june["bounds"],
        "datetime": "2021-01-01T00:00:00Z/2021-12-31T23:59:59Z",
        "collections": ["sentinel-2-l2a"],
    }
    created = world.post("alice", "/mosaics", json=body)
    assert created.status_code == 201, created.text
    mosaic = created.json()
    assert mosaic["matched"] == 2 and mosaic["band_names"] == june["band_names"]

    tile = _tile()
    path = f"tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.npy?bidx=1"
    mixed = _npy(world.get("alice", f"/mosaics/{mosaic['id']}/{path}"))
    a = _npy(world.get(None, f"/raster/{june['id']}/{path}"))
    b = _npy(world.get(None, f"/raster/{september['id']}/{path}"))
    june_cloud, sept_cloud = _cloud(s2_files, tile), _cloud(s2_files_september, tile)
    september_shows = ~sept_cloud & ~np.ma.getmaskarray(b)[0]
    june_fills = sept_cloud & ~june_cloud & ~np.ma.getmaskarray(a)[0]
    assert september_shows.sum() > 1000 and june_fills.sum() > 100
    np.testing.assert_array_equal(mixed.data[0][september_shows], b.data[0][september_shows])
    np.testing.assert_array_equal(mixed.data[0][june_fills], a.data[0][june_fills])
