"""A deployment of its own for the WMS tests: users alice and bob, small synthetic rasters whose
pixels are known (an RGB image, a class raster with names, an elevation band, alice's private
raster), an in-process client and a real uvicorn server on loopback for OWSLib and GDAL.

Users end single-user mode, so this world has its own data dir (the session's demo app stays
single-user); the demo scene tests use the session's ``live_server`` and ``demo``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from fastapi.testclient import TestClient

from tests.servers import uvicorn_server
from tests.wms.helpers import BLUE, CLASSES, CRS, GREEN, PIXEL, RED_EAST, RED_WEST, SIZE, X0, Y0
from tileserver.auth.store import UserStore
from tileserver.http.app import create_app
from tileserver.ingest import register_raster
from tileserver.settings import Settings


@dataclass
class World:
    settings: Settings
    ids: dict[str, str]
    tokens: dict[str, str]
    sources: dict[str, Path]
    """The files as written (the catalog keeps COG copies of the same pixels)."""


def _write(path: Path, data: np.ndarray, x0: float = X0) -> Path:
    profile = {
        "driver": "GTiff",
        "width": SIZE,
        "height": SIZE,
        "count": data.shape[0],
        "dtype": str(data.dtype),
        "crs": CRS,
        "transform": Affine(PIXEL, 0, x0, 0, -PIXEL, Y0),
        "photometric": "MINISBLACK",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def west_east(west: float, east: float, dtype: str) -> np.ndarray:
    band = np.full((SIZE, SIZE), west, dtype=dtype)
    band[:, SIZE // 2 :] = east
    return band


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("wms")
    settings = Settings(data_dir=folder / "data", tile_cache_bytes=0)
    settings.data_dir.mkdir()
    app = create_app(settings)
    catalog = app.state.catalog
    store = UserStore(catalog, settings)
    alice, _bob = store.add("alice"), store.add("bob")
    tokens = {name: store.create_token(name) for name in ("alice", "bob")}

    rgb = np.stack(
        [
            west_east(RED_WEST, RED_EAST, "uint8"),
            np.full((SIZE, SIZE), GREEN, "uint8"),
            np.full((SIZE, SIZE), BLUE, "uint8"),
        ]
    )
    classes = west_east(1, 2, "uint8")[None]
    ramp = np.linspace(20.0, 900.0, SIZE, dtype="float32")
    elevation = np.repeat(ramp[None, :], SIZE, axis=0)[None]
    secret = np.full((3, SIZE, SIZE), 90, "uint8")
    sources = {
        "rgb": _write(folder / "rgb.tif", rgb),
        "classes": _write(folder / "classes.tif", classes),
        "dem": _write(folder / "dem.tif", elevation),
        "private": _write(folder / "private.tif", secret, x0=X0 + SIZE * PIXEL),
    }
    ids = {
        "rgb": register_raster(
            catalog, settings, sources["rgb"], title="RGB", band_names=["red", "green", "blue"]
        ).id,
        "classes": register_raster(
            catalog,
            settings,
            sources["classes"],
            title="Land cover",
            band_names=["class"],
            properties={"classes": CLASSES},
            resampling="mode",
        ).id,
        "dem": register_raster(
            catalog, settings, sources["dem"], title="Terrain", band_names=["elevation"]
        ).id,
        "private": register_raster(
            catalog,
            settings,
            sources["private"],
            title="Alice's secret",
            band_names=["red", "green", "blue"],
            owner=alice.id,
            visibility="private",
        ).id,
    }
    return World(settings, ids, tokens, sources)


@pytest.fixture(scope="package")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.settings)) as c:
        yield c


@pytest.fixture(scope="package")
def server(world: World) -> Iterator[str]:
    """``cogsight serve`` of this world: uvicorn in its own process on loopback."""
    with uvicorn_server(world.settings.data_dir) as url:
        yield url
