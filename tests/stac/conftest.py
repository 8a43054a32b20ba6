"""A small catalog of rasters named like real products (and one vector), uploaded through the
same path as ``POST /datasets``; an app, a TestClient and a live uvicorn server over it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_bounds

from tests.servers import uvicorn_server
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.ingest.upload import ingest_file
from tileserver.settings import Settings

S2 = "S2A_MSIL2A_20200831T101031_N0214_R022_T32TPT_20200831T130019.tif"
S1 = "S1A_IW_GRDH_1SDV_20200901T101031_20200901T101056_034123_03F6A8_1234.tif"
LANDSAT = "LC08_L2SP_009059_20190715_20200906_02_T1_SR_B4.TIF"
NAIP = "m_4609662_ne_14_060_20200831.tif"
UNDATED = "field-survey-upload.tif"
VECTOR = "parcels.geojson"

# name -> (sensor, crs, (west, south, east, north) in that CRS, cloud cover)
PRODUCTS = {
    S2: ("sentinel-2-l2a", "EPSG:32632", (600000, 5100000, 600320, 5100320), 5.0),
    S1: ("sentinel-1-grd", "EPSG:4326", (11.0, 46.0, 11.01, 46.01), None),
    LANDSAT: ("landsat-c2l2", "EPSG:32618", (300000, 100000, 300960, 100960), 60.0),
    NAIP: ("generic", "EPSG:26914", (500000, 5100000, 500320, 5100320), None),
    UNDATED: ("generic", "EPSG:4326", (12.0, 46.0, 12.01, 46.01), 20.0),
}


def write_raster(path: Path, crs: str, bounds: tuple[float, float, float, float]) -> Path:
    data = (np.arange(32 * 32 * 3, dtype=np.uint16).reshape(3, 32, 32) % 2000) + 1
    with rasterio.open(
        path, "w", driver="GTiff", width=32, height=32, count=3, dtype="uint16", crs=crs,
        transform=from_bounds(*bounds, 32, 32), nodata=0,
    ) as dst:  # fmt: skip
        dst.write(data)
    return path


@pytest.fixture(scope="session")
def products(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, str]]:
    """Settings of a fresh data folder, and the dataset id of each product name. Each file is
    uploaded from a temporary name, as ``POST /datasets`` does: only the name the user gave
    may date it."""
    root = tmp_path_factory.mktemp("stac-products")
    settings = Settings(data_dir=root / "data")
    settings.data_dir.mkdir()
    catalog = Catalog(settings.resolved_database_url)
    ids: dict[str, str] = {}
    for name, (sensor, crs, bounds, cloud) in PRODUCTS.items():
        upload = write_raster(root / "upload-part-0001.bin", crs, bounds)
        record = ingest_file(
            catalog, settings, upload, filename=name, sensor=sensor, cloud_cover=cloud
        )
        ids[name] = record.id
    square = [[13.0, 46.0], [13.01, 46.0], [13.01, 46.01], [13.0, 46.01], [13.0, 46.0]]
    geojson = root / "upload-part-0002.bin"
    geojson.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "a"},
                        "geometry": {"type": "Polygon", "coordinates": [square]},
                    }
                ],
            }
        )
    )
    ids[VECTOR] = ingest_file(catalog, settings, geojson, filename=VECTOR).id
    return settings, ids


@pytest.fixture(scope="session")
def products_client(products) -> Iterator[TestClient]:
    settings, _ids = products
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def products_server(products) -> Iterator[str]:
    """``cogsight``'s app under uvicorn on loopback, over the product catalog."""
    settings, _ids = products
    with uvicorn_server(settings.data_dir) as url:
        yield url
