"""`cogsight add` from the command line, for a local file and for s3:// on an S3 server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from tests.servers import ROOT, free_port
from tests.tiling.helpers import decode


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tileserver.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _scene(path: Path) -> Path:
    from tileserver.demo import make_optical_scene

    transform = from_origin(760000.0, 3390000.0, 10.0, 10.0)
    data, _ = make_optical_scene((600, 600), transform, "EPSG:32649", seed=3)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=600,
        height=600,
        count=5,
        dtype="uint16",
        crs="EPSG:32649",
        transform=transform,
        nodata=0,
    ) as dst:
        dst.write(data)
    return path


def test_cli_add_converts_and_lists(tmp_path):
    env = {"COGSIGHT_DATA_DIR": str(tmp_path / "data")}
    src = _scene(tmp_path / "striped.tif")
    added = _cli(
        [
            "add",
            str(src),
            "--title",
            "CLI scene",
            "--bands",
            "blue,green,red,nir,swir16",
            "--datetime",
            "2024-07-01",
        ],
        env,
    )
    assert added.returncode == 0, added.stderr
    record = json.loads(added.stdout.strip().splitlines()[-1])
    assert record["bands"] == ["blue", "green", "red", "nir", "swir16"]
    assert "add" in added.stderr, "a progress bar is drawn"
    listed = _cli(["datasets"], env)
    assert record["id"] in listed.stdout and "CLI scene" in listed.stdout

    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"garbage")
    refused = _cli(["add", str(bad)], env)
    assert refused.returncode == 2 and "not a readable raster" in refused.stderr


@pytest.fixture(scope="module")
def s3_server():
    pytest.importorskip("moto")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def moto_client(port: int) -> Any:
    """A boto3 S3 client of the moto server on ``port`` (any keys are accepted)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_s3_cog_is_registered_in_place_and_tiled_by_range_reads(tmp_path, s3_server):
    from tileserver.demo import write_cog

    port = s3_server
    s3 = moto_client(port)
    s3.create_bucket(Bucket="imagery")
    plain = _scene(tmp_path / "plain.tif")
    with rasterio.open(plain) as src:
        data, transform = src.read(), src.transform
    cog = (
        write_cog(
            tmp_path / "scene.tif",
            data,
            transform,
            "EPSG:32649",
            0,
            ["blue", "green", "red", "nir", "swir16"],
        )
        or tmp_path / "scene.tif"
    )
    s3.upload_file(str(cog), "imagery", "wuhan/scene.tif")

    env = {
        "COGSIGHT_DATA_DIR": str(tmp_path / "data"),
        "COGSIGHT_ALLOWED_PREFIXES": "s3://imagery/wuhan/",
        "COGSIGHT_S3_ENDPOINT": f"127.0.0.1:{port}",
        "COGSIGHT_S3_HTTPS": "false",
        "COGSIGHT_S3_ACCESS_KEY_ID": "test",
        "COGSIGHT_S3_SECRET_ACCESS_KEY": "test",
    }
    for key in ("AWS_HTTPS", "AWS_S3_ENDPOINT", "AWS_VIRTUAL_HOSTING", "AWS_NO_SIGN_REQUEST"):
        os.environ.pop(key, None)
    forbidden = _cli(["add", "s3://imagery/private/scene.tif"], env)
    assert forbidden.returncode == 2 and "allowed prefix" in forbidden.stderr
    added = _cli(["add", "s3://imagery/wuhan/scene.tif", "--title", "from S3"], env)
    assert added.returncode == 0, added.stderr
    dataset_id = json.loads(added.stdout.strip().splitlines()[-1])["id"]
    assert not list((tmp_path / "data").glob("cogs/*.tif")), "a remote COG is served in place"

    port_api = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "tileserver.http.app:create_app",
            "--port",
            str(port_api),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        base = f"http://127.0.0.1:{port_api}"
        for _ in range(150):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        meta = httpx.get(f"{base}/datasets/{dataset_id}").json()
        assert meta["uri"] == "s3://imagery/wuhan/scene.tif"
        assert meta["band_names"] == ["blue", "green", "red", "nir", "swir16"]
        import morecantile

        w, s, e, n = meta["bounds"]
        tile = morecantile.tms.get("WebMercatorQuad").tile((w + e) / 2, (s + n) / 2, 15)
        url = (
            f"{base}/raster/{dataset_id}/tiles/WebMercatorQuad/15/{tile.x}/{tile.y}.tif?index=NDVI"
        )
        remote = decode(httpx.get(url, timeout=60).content)[0]
        from rio_tiler.io import Reader

        with Reader(str(cog)) as local:
            img = local.tile(tile.x, tile.y, 15, expression="(b4-b3)/(b4+b3)")
        np.testing.assert_allclose(remote, img.data[0], atol=1e-6)
    finally:
        server.terminate()
        server.wait(timeout=10)
