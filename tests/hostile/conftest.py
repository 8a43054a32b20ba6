"""Fixtures of the hostile-input suite: an app of its own for uploads (so nothing a case might
wrongly accept leaks into the shared demo catalog), a vector dataset, and a data-dir snapshot."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tileserver.http.app import create_app
from tileserver.settings import Settings


@pytest.fixture(scope="session")
def upload_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data = tmp_path_factory.mktemp("hostile-data")
    return create_app(Settings(data_dir=data, tile_cache_bytes=0))


@pytest.fixture(scope="session")
def upload_client(upload_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(upload_app) as c:
        yield c


@pytest.fixture(scope="session")
def gen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where generators keep what they build once (base rasters, shapefiles)."""
    return tmp_path_factory.mktemp("hostile-inputs")


@pytest.fixture(scope="session")
def token() -> str:
    """A marker for paths hostile names try to reach; asserted absent afterwards."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def vector_id(upload_client: TestClient) -> str:
    """A small valid vector dataset in the upload app (vector endpoints, intersects_dataset)."""
    ring = [[114.3, 30.5], [114.4, 30.5], [114.4, 30.6], [114.3, 30.6], [114.3, 30.5]]
    body = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "lake"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    r = upload_client.post(
        "/datasets", files={"file": ("aoi.geojson", json.dumps(body).encode(), "x/y")}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])
