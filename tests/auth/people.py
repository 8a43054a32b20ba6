"""A deployment with users for access tests: alice, bob (users) and root (admin), each with a
token, plus small rasters, masks and polygons registered straight into its catalog.

Creating users ends single-user mode, so each world has its own data dir and catalog (the
shared session app must stay single-user).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_origin
from rasterio.warp import transform_geom

from tileserver.auth.store import UserStore
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.ingest import register_raster
from tileserver.jobs.store import JobStore
from tileserver.settings import Settings
from tileserver.vectors.register import register_vector

CRS = "EPSG:32650"
X0, Y0, PIXEL = 250000.0, 3385000.0, 10.0


class People:
    """The client, who is who, and helpers to act as someone."""

    def __init__(self, client: TestClient, settings: Settings, tokens: dict[str, str]) -> None:
        self.client, self.settings, self.tokens = client, settings, tokens
        app: Any = client.app
        self.app = app
        self.catalog: Catalog = app.state.catalog
        self.ds: dict[str, str] = {}  # the datasets a test registers, by a name of its own
        store = UserStore(self.catalog, settings)
        self.ids = {name: store.get_by_name(name).id for name in tokens}

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, who: str | None, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers(who), **kw)

    def post(self, who: str | None, url: str, **kw: Any) -> Any:
        headers = {**self.headers(who), **kw.pop("headers", {})}
        return self.client.post(url, headers=headers, **kw)

    def delete(self, who: str | None, url: str) -> Any:
        return self.client.delete(url, headers=self.headers(who))

    def jobs(self) -> list[str]:
        """Every job id in the catalog, newest first (what a refused request must not add to)."""
        return [j.id for j in JobStore(self.catalog).recent(limit=1000)]

    def raster(self, who: str | None, visibility: str, path: Path, title: str) -> str:
        owner = self.ids[who] if who else None
        record = register_raster(
            self.catalog,
            self.settings,
            path,
            title=title,
            owner=owner,
            visibility=visibility,
            thumbnail=False,
        )
        return record.id

    def vector(self, who: str | None, visibility: str, path: Path, title: str) -> str:
        owner = self.ids[who] if who else None
        record = register_vector(
            self.catalog,
            self.settings,
            path,
            title=title,
            owner=owner,
            visibility=visibility,  # type: ignore[arg-type]
        )
        return record.id


@contextmanager
def people(data: Path, **settings: Any) -> Iterator[People]:
    """A running app over ``data`` with alice, bob and root (admin)."""
    config = Settings(data_dir=data, tile_cache_bytes=0, dask_workers=1, **settings)
    app = create_app(config)
    store = UserStore(app.state.catalog, config)
    tokens = {}
    for name, admin in (("alice", False), ("bob", False), ("root", True)):
        store.add(name, is_admin=admin)
        tokens[name] = store.create_token(name)
    with TestClient(app) as client:
        recovered()
        yield People(client, config, tokens)


def recovered(timeout: float = 30.0) -> None:
    """Nothing to wait for: the job watchdog takes only jobs whose heartbeat is older than
    ``COGSIGHT_JOB_STALE_SECONDS``, so a job a test creates is not re-queued (and a Dask
    cluster started) behind its back."""


def water_scene(path: Path, size: int = 256, shift: int = 0) -> Path:
    """A 4-band (blue, green, red, nir) uint16 scene: water on the left third, land elsewhere,
    with some noise (so a network has something to learn quickly)."""
    rng = np.random.default_rng(size + shift)
    water = _water_mask(size)
    data = np.empty((4, size, size), dtype="uint16")
    land, wet = (600, 900, 800, 3200), (700, 900, 500, 150)
    for band in range(4):
        base = np.where(water == 1, wet[band], land[band]).astype("float64")
        data[band] = np.clip(base + rng.normal(0, 40, (size, size)), 1, 10000)
    profile = _profile(size, 4, "uint16", shift)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = ("blue", "green", "red", "nir")
    return path


def water_mask(path: Path, size: int = 256, dtype: str = "uint8") -> Path:
    """The truth of ``water_scene``: class 1 water, 0 land (``dtype`` float32: not a class
    raster)."""
    with rasterio.open(path, "w", **_profile(size, 1, dtype, 0, nodata=255)) as dst:
        dst.write(_water_mask(size).astype(dtype), 1)
    return path


def water_polygons(path: Path, size: int = 256) -> Path:
    """The water third of ``water_scene`` as a GeoJSON polygon in the scene's CRS."""
    right = X0 + PIXEL * (size // 3)
    bottom = Y0 - PIXEL * size
    local = [[X0, bottom], [right, bottom], [right, Y0], [X0, Y0], [X0, bottom]]
    polygon = {"type": "Polygon", "coordinates": [local]}
    ring = transform_geom(CRS, "EPSG:4326", polygon)["coordinates"][0]
    body = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"class": 1},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path.write_text(json.dumps(body))
    return path


def _water_mask(size: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype="uint8")
    mask[:, : size // 3] = 1
    return mask


def _profile(size: int, count: int, dtype: str, shift: int, **kw: Any) -> dict[str, Any]:
    return {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": count,
        "dtype": dtype,
        "crs": CRS,
        "transform": from_origin(X0 + PIXEL * shift, Y0, PIXEL, PIXEL),
        **kw,
    }
