"""Two API server processes on one PostgreSQL database and one data folder are interchangeable:
what is registered, built or computed through one is listed, tiled and answered identically by
the other. Jobs run on a shared ``dask scheduler`` with a ``cogsight worker``.

Both servers start at once on an empty database, so they also race to migrate it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import morecantile
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from tests.polling import wait_for_job
from tests.scaleout.cluster import DaskCluster, Processes, start_api, wait_healthy

BANDS = "blue,green,red,nir"


def scene_bytes() -> bytes:
    """A 4-band 512² uint16 scene near Wuhan (UTM 50N) with a vegetated half."""
    rng = np.random.default_rng(3)
    data = rng.integers(300, 1500, (4, 512, 512), dtype="uint16")
    data[3, :, 256:] += 3000  # nir high on the east half: NDVI differs across the tile
    buffer = io.BytesIO()
    with rasterio.open(
        buffer, "w", driver="GTiff", width=512, height=512, count=4, dtype="uint16",
        crs="EPSG:32650", transform=from_origin(236000, 3385000, 10, 10), nodata=0,
    ) as dst:  # fmt: skip
        dst.write(data)
    return buffer.getvalue()


@pytest.fixture
def replicas(
    pg_url: str, dask_cluster: DaskCluster, tmp_path: Path
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {
        "COGSIGHT_DATABASE_URL": pg_url,
        "COGSIGHT_DATA_DIR": str(data_dir),
        "COGSIGHT_DASK_SCHEDULER": dask_cluster.address,
        "COGSIGHT_JOB_BLOCK_SIZE": "256",
    }
    dask_cluster.add_worker("worker", env)
    servers = Processes(tmp_path / "servers")
    try:
        urls = [start_api(servers, name, env) for name in ("api-a", "api-b")]
        for name, url in zip(("api-a", "api-b"), urls, strict=True):
            wait_healthy(servers, name, url)
        dask_cluster.wait_for_workers(1)
        with (
            httpx.Client(base_url=urls[0], timeout=60) as a,
            httpx.Client(base_url=urls[1], timeout=60) as b,
        ):
            yield a, b
    finally:
        servers.stop_all()


def same(a: httpx.Response, b: httpx.Response, a_url: str, b_url: str) -> None:
    """Equal bodies, once each server's own address in links is set aside."""
    assert a.status_code == b.status_code == 200, (a.text[:300], b.text[:300])
    assert a.text.replace(a_url, "") == b.text.replace(b_url, "")


def center_tile(bounds: list[float], zoom: int) -> str:
    west, south, east, north = bounds
    tile = morecantile.tms.get("WebMercatorQuad").tile((west + east) / 2, (south + north) / 2, zoom)
    return f"{tile.z}/{tile.x}/{tile.y}"


def test_replicas_share_datasets_tiles_mosaics_and_jobs(replicas) -> None:
    a, b = replicas
    a_url, b_url = str(a.base_url).rstrip("/"), str(b.base_url).rstrip("/")

    created = a.post(
        "/datasets",
        files={"file": ("scene.tif", scene_bytes(), "image/tiff")},
        data={"title": "Replica scene", "bands": BANDS, "datetime": "2024-05-12T10:00:00+08:00"},
    )
    assert created.status_code == 201, created.text
    dataset = created.json()

    # listed and described identically by the other replica
    listed = b.get("/datasets").json()["items"]
    assert [d["id"] for d in listed] == [dataset["id"]]
    same(a.get(f"/datasets/{dataset['id']}"), b.get(f"/datasets/{dataset['id']}"), a_url, b_url)
    assert b.get(f"/datasets/{dataset['id']}").json()["datetime"] == "2024-05-12T02:00:00+00:00"
    search = b.get("/stac/search", params={"bbox": ",".join(map(str, dataset["bounds"]))})
    assert [f["id"] for f in search.json()["features"]] == [dataset["id"]]

    # and tiled identically, to the byte
    tile = center_tile(dataset["bounds"], 14)
    for query in ("index=NDVI&colormap_name=rdylgn", "bidx=3&bidx=2&bidx=1&rescale=0,2000"):
        path = f"/raster/{dataset['id']}/tiles/WebMercatorQuad/{tile}.png?{query}"
        from_a, from_b = a.get(path), b.get(path)
        assert from_a.headers["content-type"] == "image/png"
        assert from_a.content == from_b.content
    same(
        a.get(f"/raster/{dataset['id']}/WebMercatorQuad/tilejson.json?index=NDVI"),
        b.get(f"/raster/{dataset['id']}/WebMercatorQuad/tilejson.json?index=NDVI"),
        a_url,
        b_url,
    )

    # a mosaic built on one replica is served by the other
    mosaic = b.post("/mosaics", json={"ids": [dataset["id"]], "title": "one scene"})
    assert mosaic.status_code == 201, mosaic.text
    mosaic_id = mosaic.json()["id"]
    same(a.get(f"/mosaics/{mosaic_id}"), b.get(f"/mosaics/{mosaic_id}"), a_url, b_url)
    mosaic_tile = f"/mosaics/{mosaic_id}/tiles/WebMercatorQuad/{tile}.png?index=NDVI"
    assert a.get(mosaic_tile).content == b.get(mosaic_tile).content

    # a job submitted to one replica is followed, finished and read back on the other
    submitted = a.post(
        "/processes/index/execution",
        json={"inputs": {"dataset": dataset["id"], "index": "NDVI"}},
    )
    assert submitted.status_code == 201, submitted.text
    job_id = submitted.json()["jobID"]
    assert b.get(f"/jobs/{job_id}").json()["status"] in ("accepted", "running", "successful")
    job = wait_for_job(b, job_id, timeout=120, interval=0.3)
    assert job["status"] == "successful", job
    same(a.get(f"/jobs/{job_id}"), b.get(f"/jobs/{job_id}"), a_url, b_url)
    same(a.get(f"/jobs/{job_id}/results"), b.get(f"/jobs/{job_id}/results"), a_url, b_url)
    assert job_id in [j["jobID"] for j in b.get("/jobs").json()["jobs"]]
    (output_id,) = b.get(f"/jobs/{job_id}/results").json()["datasets"]
    output = a.get(f"/datasets/{output_id}").json()
    assert output["band_names"] == ["NDVI"]
    assert output["nodata"] is None  # NaN nodata, as NULL on both backends
    output_tile = f"/raster/{output_id}/tiles/WebMercatorQuad/{tile}.png?rescale=-1,1"
    assert a.get(output_tile).content == b.get(output_tile).content
    values = b.get(f"/raster/{output_id}/point/{center_lonlat(dataset['bounds'])}").json()
    assert -1 <= values["values"][0] <= 1


def center_lonlat(bounds: list[float]) -> str:
    west, south, east, north = bounds
    return f"{(west + east) / 2},{(south + north) / 2}"
