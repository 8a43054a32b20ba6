"""A deployment for data-management tests: alice and bob (users) and root (admin), each with a
token, over a data folder of its own (users end single-user mode), with the tile cache on.
Data arrives the way users send it: ``POST /datasets`` uploads.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
from fastapi.testclient import TestClient

from tests.rasters import utm_geotiff
from tileserver.auth.store import UserStore
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.manage.trash import LOCK, sweep_trash, trash_root
from tileserver.settings import Settings
from tileserver.sources import local_path

TMS = morecantile.tms.get("WebMercatorQuad")


def tif_bytes(seed: int, size: int = 64) -> bytes:
    """A small 4-band (blue, green, red, nir) uint16 GeoTIFF in UTM 50N."""
    data = np.random.default_rng(seed).integers(100, 3000, (4, size, size)).astype("uint16")
    return utm_geotiff(data, 250000 + 1000 * seed, ("blue", "green", "red", "nir"))


def geojson_bytes() -> bytes:
    ring = [[114.4, 30.55], [114.41, 30.55], [114.41, 30.56], [114.4, 30.56], [114.4, 30.55]]
    feature = {
        "type": "Feature",
        "properties": {"class": 1},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


class World:
    def __init__(self, client: TestClient, settings: Settings, tokens: dict[str, str]) -> None:
        self.client, self.settings, self.tokens = client, settings, tokens
        app: Any = client.app
        self.app = app
        self.catalog: Catalog = app.state.catalog
        store = UserStore(self.catalog, settings)
        self.user_ids = {name: store.get_by_name(name).id for name in tokens}

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, who: str | None, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers(who), **kw)

    def post(self, who: str | None, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers=self.headers(who), **kw)

    def patch(self, who: str | None, url: str, **kw: Any) -> Any:
        return self.client.patch(url, headers=self.headers(who), **kw)

    def delete(self, who: str | None, url: str) -> Any:
        return self.client.delete(url, headers=self.headers(who))

    def upload_raster(
        self, who: str, visibility: str = "public", title: str = "scene", seed: int = 1
    ) -> dict[str, Any]:
        response = self.post(
            who,
            "/datasets",
            files={"file": (f"{title}.tif", tif_bytes(seed), "image/tiff")},
            data={"visibility": visibility, "title": title},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def upload_vector(self, who: str, visibility: str = "public", title: str = "zones") -> Any:
        response = self.post(
            who,
            "/datasets",
            files={"file": (f"{title}.geojson", geojson_bytes(), "application/geo+json")},
            data={"visibility": visibility, "title": title},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def file_of(self, record: dict[str, Any]) -> Path:
        """The dataset's file under the data root (a vector's FlatGeobuf)."""
        return local_path(record["uri"], self.settings)

    def tile_url(self, record: dict[str, Any]) -> str:
        w, s, e, n = record["bounds"]
        z = record["maxzoom"] if record["kind"] == "raster" else min(record["maxzoom"], 14)
        tile = TMS.tile((w + e) / 2, (s + n) / 2, z)
        if record["kind"] == "vector":
            return f"/vectors/{record['id']}/tiles/{tile.z}/{tile.x}/{tile.y}.mvt"
        return f"/raster/{record['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"

    def storage(self, who: str) -> int:
        usage = self.get(who, "/me/usage")
        assert usage.status_code == 200, usage.text
        return int(usage.json()["storage_bytes"]["used"])

    def trash_entries(self) -> list[str]:
        root = trash_root(self.settings)
        return sorted(p.name for p in root.iterdir() if p.name != LOCK) if root.is_dir() else []

    def sweep(self) -> list[str]:
        return sweep_trash(self.catalog, self.settings)


def started(timeout: float = 30.0) -> None:
    """Wait for the start-up trash sweeps of the apps made so far."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if getattr(thread, "_target", None) is sweep_trash:
            thread.join(max(0.0, deadline - time.monotonic()))


@contextmanager
def world(data: Path, **overrides: Any) -> Iterator[World]:
    """A running app over ``data`` with alice, bob and root (admin)."""
    config = Settings(data_dir=data, tile_cache_bytes=16 * 1024 * 1024, dask_workers=1, **overrides)
    app = create_app(config)
    store = UserStore(app.state.catalog, config)
    tokens = {}
    for name, admin in (("alice", False), ("bob", False), ("root", True)):
        store.add(name, is_admin=admin)
        tokens[name] = store.create_token(name)
    with TestClient(app) as client:
        started()
        yield World(client, config, tokens)
