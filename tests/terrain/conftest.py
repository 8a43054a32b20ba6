"""One server with users and DEMs registered through the normal upload path (module-scoped)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.rasters import utm_geotiff
from tests.terrain.dems import geographic_dem, utm_dem
from tileserver.auth.store import UserStore
from tileserver.http.app import create_app
from tileserver.settings import Settings

TIFF = "image/tiff"


@dataclass
class World:
    client: TestClient
    settings: Settings
    alice: dict[str, str]
    bob: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def upload(self, name: str, body: bytes, visibility: str = "public", **form: str) -> str:
        response = self.client.post(
            "/datasets",
            files={"file": (f"{name}.tif", body, TIFF)},
            data={"visibility": visibility, **form},
            headers=self.alice,
        )
        assert response.status_code == 201, response.text
        self.ids[name], self.files[name] = response.json()["id"], body
        return str(self.ids[name])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("terrain-data"), tile_cache_bytes=16 * 1024 * 1024
    )
    app = create_app(settings)
    store = UserStore(app.state.catalog, settings)
    store.add("alice")
    store.add("bob")
    alice = {"Authorization": f"Bearer {store.create_token('alice')}"}
    bob = {"Authorization": f"Bearer {store.create_token('bob')}"}
    with TestClient(app) as client:
        w = World(client, settings, alice, bob)
        # a UTM DEM with a 20 x 30 px nodata hole on the hill's flank
        w.upload("utm", utm_dem(hole=(slice(200, 220), slice(150, 180))))
        w.upload("geo", geographic_dem(sea_cols=40))  # its western 40 columns at sea level
        w.upload("private", geographic_dem(size=128), visibility="private")
        w.upload("rgb", utm_geotiff(_rgb()))
        w.upload("empty", utm_dem(size=64, fill=-9999.0))
        w.upload("west49", utm_dem(size=256, epsg=32649, west=113.93, north=30.75))
        w.upload("east50", utm_dem(size=256, epsg=32650, west=113.995, north=30.75))
        response = client.post(
            "/mosaics",
            json={"ids": [w.ids["west49"], w.ids["east50"]], "title": "two zones"},
            headers=alice,
        )
        assert response.status_code in (200, 201), response.text
        w.ids["mosaic"] = response.json()["id"]
        yield w


def _rgb() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 255, (3, 64, 64)).astype("uint8")


def dem_path(world: World, name: str, tmp: Path) -> Path:
    path = tmp / f"{name}.tif"
    path.write_bytes(world.files[name])
    return path
