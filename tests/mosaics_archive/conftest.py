"""A deployment with two users (alice, bob) and the tile cache on, for query-mosaic tests.

Each test draws its scenes on its own Web Mercator tile (``spot``) and queries only that
tile's box, so tests share one app without seeing each other's scenes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import morecantile
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.mosaics_archive.synthetic import TMS
from tileserver.auth.store import UserStore
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.settings import Settings

Z = 12
_spots = itertools.count()


@dataclass
class World:
    client: TestClient
    catalog: Catalog
    data_dir: Path
    tokens: dict[str, str]
    users: dict[str, str] = field(default_factory=dict)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def create(self, name: str = "alice", **body: object) -> dict:
        r = self.client.post("/mosaics", json=body, headers=self.auth(name))
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def tile(
        self, mosaic_id: str, tile: morecantile.Tile, name: str = "alice", query: str = ""
    ) -> np.ndarray:
        """The tile's (bands + mask) array, read as titiler's ``.npy``."""
        url = f"/mosaics/{mosaic_id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.npy"
        r = self.client.get(f"{url}?{query}" if query else url, headers=self.auth(name))
        assert r.status_code == 200, r.text
        import io

        return np.load(io.BytesIO(r.content))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("mosaics-archive")
    settings = Settings(data_dir=data_dir, tile_cache_bytes=32 * 1024 * 1024)
    app = create_app(settings)
    store = UserStore(app.state.catalog, settings)
    store.add("admin", is_admin=True)
    users = {name: store.add(name).id for name in ("alice", "bob")}
    tokens = {name: store.create_token(name) for name in users}
    with TestClient(app) as client:
        yield World(client, app.state.catalog, data_dir, tokens, users)


@pytest.fixture
def spot() -> morecantile.Tile:
    """A z12 tile of its own for each test (a row of tiles over the Alps)."""
    base = TMS.tile(9.0, 47.0, Z)
    return morecantile.Tile(base.x + 3 * next(_spots), base.y, Z)


def box_of(tile: morecantile.Tile, inset: float = 1e-4) -> list[float]:
    """The tile's WGS84 box, a little inside so neighbouring tiles' scenes do not match."""
    w, s, e, n = TMS.bounds(tile)
    return [w + inset, s + inset, e - inset, n - inset]
