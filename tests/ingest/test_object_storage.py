"""``COGSIGHT_STORAGE_URL=s3://…``: uploads and job results published to an S3 server on
loopback (moto), tiles read back by range requests through GDAL's /vsis3/."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import httpx
import morecantile
import numpy as np
import pytest
import rasterio
import rasterio.transform
import rasterio.warp
from fastapi.testclient import TestClient
from rasterio.transform import from_origin

from tests.ingest.test_s3_and_cli import moto_client, s3_server  # noqa: F401  (fixture)
from tileserver.http.app import create_app
from tileserver.settings import Settings
from tileserver.sources import gdal_config

TMS = morecantile.tms.get("WebMercatorQuad")


def _tif() -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(7)
    data = rng.integers(100, 4000, (2, 256, 256)).astype("uint16")
    with rasterio.MemoryFile() as memfile:
        with memfile.open(
            driver="GTiff",
            width=256,
            height=256,
            count=2,
            dtype="uint16",
            crs="EPSG:32650",
            transform=from_origin(250000, 3385000, 10, 10),
        ) as dst:
            dst.write(data)
            dst.descriptions = ("red", "nir")
        return memfile.read(), data


@pytest.fixture(scope="module")
def stored(tmp_path_factory, s3_server) -> Iterator[tuple[TestClient, object, Settings]]:  # noqa: F811
    port = s3_server
    s3 = moto_client(port)
    s3.create_bucket(Bucket="cogsight-data")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("objstore"),
        storage_url="s3://cogsight-data/prod",
        s3_endpoint=f"127.0.0.1:{port}",
        s3_https=False,
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )
    # GDAL options are process-wide and the first app of this test process set them: this
    # deployment's S3 options must replace them for the module, then the old ones come back
    saved = dict(os.environ)
    os.environ.pop("AWS_NO_SIGN_REQUEST", None)
    os.environ.update(gdal_config(settings))
    try:
        app = create_app(settings)
        with TestClient(app) as client:
            yield client, s3, settings
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_uploads_and_results_live_in_object_storage(stored):
    client, s3, settings = stored
    body, data = _tif()
    response = client.post(
        "/datasets", files={"file": ("scene.tif", io.BytesIO(body), "image/tiff")}
    )
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["uri"].startswith("s3://cogsight-data/prod/cogs/")
    assert not list(settings.data_dir.glob("cogs/*.tif")), "nothing kept on local disk"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cogsight-data")["Contents"]]
    assert f"prod/cogs/{record['id']}.tif" in keys

    # a tile through /vsis3/ range reads equals the source pixels
    w, s, e, n = record["bounds"]
    tile = TMS.tile((w + e) / 2, (s + n) / 2, 15)
    png = client.get(
        f"/raster/{record['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
        "?bidx=1&rescale=0,4000"
    )
    assert png.status_code == 200
    lon, lat = (w + e) / 2 + 0.0001, (s + n) / 2 + 0.0001
    point = client.get(f"/raster/{record['id']}/point/{lon},{lat}").json()
    xs, ys = rasterio.warp.transform("EPSG:4326", "EPSG:32650", [lon], [lat])
    row, col = rasterio.transform.rowcol(from_origin(250000, 3385000, 10, 10), xs[0], ys[0])
    assert point["values"][0] == data[0, row, col]

    # the download is a presigned redirect to the object
    download = client.get(f"/datasets/{record['id']}/download", follow_redirects=False)
    assert download.status_code == 307
    fetched = httpx.get(download.headers["location"])
    assert fetched.status_code == 200 and fetched.content[:4] in (b"II*\x00", b"MM\x00*")

    # a job's output is published there too
    job = client.post(
        "/processes/index/execution",
        json={"inputs": {"dataset": record["id"], "index": "NDVI"}},
        headers={"Prefer": "respond-sync"},
    )
    assert job.status_code == 200, job.text
    out = client.get(f"/datasets/{job.json()['datasets'][0]}").json()
    assert out["uri"].startswith("s3://cogsight-data/prod/cogs/")
    red, nir = data[0, row, col].astype(float), data[1, row, col].astype(float)
    at = client.get(f"/raster/{out['id']}/point/{lon},{lat}").json()["values"][0]
    assert abs(at - (nir - red) / (nir + red)) < 1e-5


def test_presigned_downloads_address_the_public_url(stored):
    """Servers reach the store by an internal name; browsers get URLs for the public one."""
    from urllib.parse import urlsplit

    from tileserver.objectstore import presigned_url

    client, _s3, settings = stored
    record = next(d for d in client.get("/datasets").json()["items"] if d["kind"] == "raster")
    port = urlsplit(f"http://{settings.s3_endpoint}").port
    public = settings.model_copy(update={"s3_public_url": f"http://localhost:{port}/"})
    url = presigned_url(record["uri"], public, "scene.tif")
    assert urlsplit(url).netloc == f"localhost:{port}"
    assert "X-Amz-Signature" in url
    fetched = httpx.get(url)
    assert fetched.status_code == 200 and fetched.content[:4] in (b"II*\x00", b"MM\x00*")
    internal = presigned_url(record["uri"], settings, "scene.tif")
    assert urlsplit(internal).netloc == settings.s3_endpoint
