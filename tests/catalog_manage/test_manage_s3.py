"""``COGSIGHT_STORAGE_URL=s3://…``: deleting a dataset removes its object from the bucket (also
when the delete was killed and the sweep finished it); a COG served in place from someone
else's bucket is never touched."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import rasterio
from fastapi.testclient import TestClient

from tests.catalog_manage.test_manage_crash import kill_at
from tests.catalog_manage.world import tif_bytes
from tests.ingest.test_s3_and_cli import moto_client, s3_server  # noqa: F401  (fixture)
from tileserver.demo import write_cog
from tileserver.http.app import create_app
from tileserver.ingest import register_raster
from tileserver.manage import sweep_trash
from tileserver.settings import Settings
from tileserver.sources import gdal_config

BUCKET = "cogsight-managed"


def _keys(s3: Any, bucket: str = BUCKET) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.fixture(scope="module")
def stored(tmp_path_factory, s3_server) -> Iterator[tuple[TestClient, Any, Settings]]:  # noqa: F811
    port = s3_server
    s3 = moto_client(port)
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="theirs")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("manage-s3"),
        storage_url=f"s3://{BUCKET}/prod",
        allowed_prefixes=["s3://theirs/"],
        s3_endpoint=f"127.0.0.1:{port}",
        s3_https=False,
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )
    saved = dict(os.environ)  # GDAL's S3 options are process-wide: this module's, then back
    os.environ.pop("AWS_NO_SIGN_REQUEST", None)
    os.environ.update(gdal_config(settings))
    try:
        with TestClient(create_app(settings)) as client:
            yield client, s3, settings
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _upload(client: TestClient, seed: int) -> dict[str, Any]:
    response = client.post(
        "/datasets", files={"file": ("scene.tif", tif_bytes(seed), "image/tiff")}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_deleting_a_stored_dataset_removes_its_object(stored) -> None:
    client, s3, _settings = stored
    record = _upload(client, 1)
    key = f"prod/cogs/{record['id']}.tif"
    assert key in _keys(s3)
    assert client.delete(f"/datasets/{record['id']}").status_code == 204
    assert key not in _keys(s3)
    assert client.get(f"/datasets/{record['id']}").status_code == 404


def test_a_killed_delete_of_a_stored_dataset_is_finished_by_the_sweep(stored) -> None:
    client, s3, settings = stored
    record = _upload(client, 2)
    key = f"prod/cogs/{record['id']}.tif"
    env = {
        "COGSIGHT_STORAGE_URL": settings.storage_url,
        "COGSIGHT_S3_ENDPOINT": settings.s3_endpoint,
        "COGSIGHT_S3_HTTPS": "false",
        "COGSIGHT_S3_ACCESS_KEY_ID": "test",
        "COGSIGHT_S3_SECRET_ACCESS_KEY": "test",
    }
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        steps = kill_at(settings, record["id"], 3)  # the row and the thumbnail are gone
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert steps[:2] == ["manifest", "row"]
    assert key in _keys(s3)  # not yet
    assert sweep_trash(client.app.state.catalog, settings) == [record["id"]]  # type: ignore[attr-defined]
    assert key not in _keys(s3)


def test_a_cog_served_in_place_from_another_bucket_stays(stored, tmp_path) -> None:
    client, s3, settings = stored
    with rasterio.MemoryFile(tif_bytes(3)) as memfile, memfile.open() as src:
        data, transform = src.read(), src.transform
    cog = tmp_path / "theirs.tif"
    write_cog(cog, data, transform, "EPSG:32650", None, ["blue", "green", "red", "nir"])
    s3.upload_file(str(cog), "theirs", "scene.tif")
    catalog = client.app.state.catalog  # type: ignore[attr-defined]
    record = register_raster(catalog, settings, "s3://theirs/scene.tif", thumbnail=False)
    assert record.uri == "s3://theirs/scene.tif"  # served in place, not copied
    assert client.delete(f"/datasets/{record.id}").status_code == 204
    assert client.get(f"/datasets/{record.id}").status_code == 404
    assert _keys(s3, "theirs") == ["scene.tif"]
