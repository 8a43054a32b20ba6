"""A catalog with two local scenes and two fake remote STAC APIs configured as federated sources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.archive.stac_api import FakeStacApi, serve_stac_api
from tests.rasters import utm_geotiff
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.ingest.raster import register_raster
from tileserver.settings import Settings

SECRET = "Bearer s3cr3t-federated-key"


def remote_item(item_id: str, collection: str, when: str, west: float = 114.0) -> dict[str, Any]:
    """A minimal Earth Search-like item (1° square at ``west``, 30°N)."""
    box = [west, 30.0, west + 1.0, 31.0]
    ring = [[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]], box[:2]]
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "collection": collection,
        "bbox": box,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"datetime": when, "eo:cloud_cover": 5.0},
        "assets": {
            "thumbnail": {"href": f"https://example.invalid/{item_id}.jpg", "type": "image/jpeg"}
        },
        "links": [
            {"rel": "self", "href": f"https://remote.example/items/{item_id}"},
        ],
    }


# newest first, as STAC APIs answer (the fake serves items in the order given)
ALPHA_ITEMS = [
    remote_item(f"a{i}", "sentinel-2-l2a", f"2024-0{i + 1}-10T00:00:00Z") for i in range(5)
][::-1]
BETA_ITEMS = [
    remote_item(f"b{i}", "landsat-c2-l2", f"2024-0{i + 1}-20T00:00:00Z") for i in range(4)
][::-1]


@pytest.fixture(scope="module")
def apis() -> Iterator[tuple[FakeStacApi, FakeStacApi]]:
    with (
        serve_stac_api(ALPHA_ITEMS, required_headers={"Authorization": SECRET}, max_limit=2) as a,
        serve_stac_api(BETA_ITEMS) as b,
    ):
        yield a, b


@pytest.fixture(scope="module")
def fed_settings(tmp_path_factory: pytest.TempPathFactory, apis: Any) -> Settings:
    alpha, beta = apis
    sources = [
        {
            "id": "alpha",
            "title": "Alpha archive",
            "url": alpha.url,
            "headers": {"Authorization": SECRET},
        },
        {"id": "beta", "title": "Beta archive", "url": beta.url},
        {"id": "hidden", "url": beta.url, "federated": False},
    ]
    return Settings.model_validate(
        {
            "data_dir": tmp_path_factory.mktemp("federated"),
            "stac_sources": json.loads(json.dumps(sources)),
            "stac_source_timeout_s": 1.0,
        }
    )


@pytest.fixture(scope="module")
def local_ids(fed_settings: Settings) -> dict[str, str]:
    """Two small local scenes: one in Hubei (north of Wuhan), one in Zhejiang."""
    catalog = Catalog(fed_settings.resolved_database_url)
    ids = {}
    for name, easting, when in (("wuhan", 250000, "2024-03-01"), ("east", 800000, "2024-06-01")):
        path = Path(fed_settings.data_dir) / f"{name}.tif"
        data = np.full((1, 64, 64), 100, dtype="uint8")
        path.write_bytes(utm_geotiff(data, easting=easting))
        record = register_raster(catalog, fed_settings, path, title=name, datetime_=when)
        ids[name] = record.id
    return ids


@pytest.fixture(scope="module")
def client(fed_settings: Settings, local_ids: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(fed_settings)) as c:
        yield c
