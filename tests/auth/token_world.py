"""A deployment with users for token-lifecycle tests: an owner's raster, vector and mosaic, tile
URLs of every cached family, and the changes an administrator (or another replica) makes in the
shared database: revoke or change a token, make a dataset private, delete it.

The principal and record caches get a short TTL (``TTL``) so a test can wait one out: that TTL is
the bound the server promises (5 s and 10 s by default), on every replica alike.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import morecantile
import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from tests.rasters import utm_geotiff
from tileserver.auth.principal import PrincipalResolver
from tileserver.auth.store import UserStore
from tileserver.catalog.tables import DatasetRow, MosaicRow
from tileserver.http.app import create_app
from tileserver.settings import Settings
from tileserver.tiling.records import RecordCache

TTL = 0.3
TMS = morecantile.tms.get("WebMercatorQuad")
RENDER = "bidx=3&bidx=2&bidx=1&rescale=0,3000"
AUTH_MODES = ("bearer", "query", "encoded-query")


def tif_bytes(seed: int, size: int = 64) -> bytes:
    data = np.random.default_rng(seed).integers(100, 3000, (3, size, size)).astype("uint16")
    return utm_geotiff(data, 250000 + 1000 * seed)


def geojson_bytes(seed: int) -> bytes:
    x, y = 114.4 + 0.02 * seed, 30.55
    ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]
    feature = {
        "type": "Feature",
        "properties": {"class": 1},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


def deployment(data_dir: Path) -> tuple[FastAPI, UserStore]:
    """An app with the tile cache on and short principal / record caches."""
    settings = Settings(data_dir=data_dir, tile_cache_bytes=32 * 1024 * 1024)
    app = create_app(settings)
    store = UserStore(app.state.catalog, settings)
    app.state.principals = PrincipalResolver(store, ttl=TTL)
    app.state.records = RecordCache(app.state.catalog, ttl=TTL)
    store.add("admin", is_admin=True)  # users exist: no single-user mode
    return app, store


def wait_out_caches() -> None:
    """What every replica does on its own: its short caches expire."""
    time.sleep(TTL + 0.1)


def with_token(url: str, mode: str, token: str) -> tuple[str, dict[str, str]]:
    """``url`` and headers carrying ``token`` the way ``mode`` names."""
    if mode == "bearer":
        return url, {"Authorization": f"Bearer {token}"}
    name = "access_token" if mode == "query" else "access%5Ftoken"
    return f"{url}{'&' if '?' in url else '?'}{name}={token}", {}


@dataclass
class Owner:
    """One user, their token and their things (raster, vector, mosaic) in a deployment."""

    client: TestClient
    store: UserStore
    name: str
    token: str
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def app(self) -> FastAPI:
        return self.client.app  # type: ignore[return-value]

    def get(self, url: str, mode: str | None, token: str | None = None, **headers: str):  # type: ignore[no-untyped-def]
        """GET ``url`` as nobody (``mode`` None) or with ``token`` (default: the owner's)."""
        extra: dict[str, str] = {}
        if mode is not None:
            url, extra = with_token(url, mode, token or self.token)
        return self.client.get(url, headers={**extra, **headers})

    def tile_urls(self) -> dict[str, str]:
        """One tile of every cached family: raster and mosaic in PNG, JPEG and WebP; MVT."""
        urls = {}
        for fmt in ("png", "jpg", "webp"):
            urls[f"raster-{fmt}"] = self._tile("raster", self.ids["raster"], fmt)
            urls[f"mosaic-{fmt}"] = self._tile("mosaics", self.ids["mosaic"], fmt)
        urls["vector-mvt"] = self._tile("vectors", self.ids["vector"], "mvt")
        return urls

    def _tile(self, family: str, ident: str, fmt: str) -> str:
        if family == "mosaics":
            detail = self.get(f"/mosaics/{ident}", "bearer").json()
        else:
            detail = self.get(f"/datasets/{ident}", "bearer").json()
        w, s, e, n = detail["bounds"]
        z = int(detail["maxzoom"]) if family == "vectors" else 14
        t = TMS.tile((w + e) / 2, (s + n) / 2, z)
        if family == "vectors":
            return f"/vectors/{ident}/tiles/{z}/{t.x}/{t.y}.mvt"
        return f"/{family}/{ident}/tiles/WebMercatorQuad/{z}/{t.x}/{t.y}.{fmt}?{RENDER}"

    # what an administrator or another replica changes in the shared database -----------------
    def revoke(self) -> None:
        self.store.revoke_tokens(self.name)

    def change_token(self) -> str:
        """Revoke every token and issue a new one; returns the old one."""
        old = self.token
        self.store.revoke_tokens(self.name)
        self.token = self.store.create_token(self.name)
        return old

    def make_private(self) -> None:
        with self.app.state.catalog.session() as s:
            ids = [self.ids["raster"], self.ids["vector"]]
            s.execute(update(DatasetRow).where(DatasetRow.id.in_(ids)).values(visibility="private"))
            s.execute(
                update(MosaicRow)
                .where(MosaicRow.id == self.ids["mosaic"])
                .values(visibility="private")
            )

    def delete_all(self) -> None:
        self.app.state.catalog.delete_dataset(self.ids["raster"])
        self.app.state.catalog.delete_dataset(self.ids["vector"])
        with self.app.state.catalog.session() as s:
            s.execute(delete(MosaicRow).where(MosaicRow.id == self.ids["mosaic"]))


def new_owner(client: TestClient, store: UserStore, name: str, visibility: str, seed: int) -> Owner:
    """User ``name`` with a raster, a vector and a mosaic of the raster, all ``visibility``."""
    store.add(name)
    owner = Owner(client, store, name, store.create_token(name))
    headers = {"Authorization": f"Bearer {owner.token}"}
    for kind, body, ctype in (
        ("raster", tif_bytes(seed), "image/tiff"),
        ("vector", geojson_bytes(seed), "application/geo+json"),
    ):
        r = client.post(
            "/datasets",
            files={"file": (f"{kind}.{'tif' if kind == 'raster' else 'geojson'}", body, ctype)},
            data={"visibility": visibility},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        owner.ids[kind] = r.json()["id"]
    r = client.post("/mosaics", json={"ids": [owner.ids["raster"]]}, headers=headers)
    assert r.status_code in (200, 201), r.text
    owner.ids["mosaic"] = r.json()["id"]
    return owner
