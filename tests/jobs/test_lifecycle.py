"""Jobs on Dask: async execution, progress, cancel, restart recovery, a killed worker."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_origin

from tests.polling import wait_for_job
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.ingest import register_raster
from tileserver.jobs.runner import JobRunner
from tileserver.jobs.store import JobStatus, JobStore
from tileserver.settings import Settings


def test_async_job_on_the_embedded_cluster(client, demo):
    response = client.post(
        "/processes/index/execution",
        json={"inputs": {"dataset": demo["scene-2024-05-12"], "index": "NDWI"}},
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"].endswith(response.json()["jobID"])
    assert response.json()["status"] in ("accepted", "running")
    job = wait_for_job(client, response.json()["jobID"], timeout=180, interval=0.3)
    assert job["status"] == "successful" and job["progress"] == 100, job
    results = client.get(f"/jobs/{job['jobID']}/results").json()
    (dataset_id,) = results["datasets"]
    assert client.get(f"/datasets/{dataset_id}").json()["band_names"] == ["NDWI"]


def test_cancel_a_running_job(client, demo):
    frames = [demo["scene-2024-05-12"], demo["scene-2024-09-20"]] * 15
    response = client.post(
        "/processes/animation/execution",
        json={"inputs": {"datasets": frames, "index": "NDVI", "size": 512}},
    )
    job_id = response.json()["jobID"]
    deadline = time.time() + 60
    while client.get(f"/jobs/{job_id}").json()["status"] != "running" and time.time() < deadline:
        time.sleep(0.1)
    dismissed = client.delete(f"/jobs/{job_id}").json()
    assert dismissed["status"] == "dismissed"
    time.sleep(2)
    job = client.get(f"/jobs/{job_id}").json()
    assert job["status"] == "dismissed" and job["message"] == "cancelled"
    assert client.get(f"/jobs/{job_id}/results").status_code == 409


def test_restart_requeues_or_fails_with_a_reason(settings, catalog, demo):
    store = JobStore(catalog)
    orphan = store.create("index", {"dataset": demo["scene-2024-05-12"], "index": "NDVI"})
    store.start(orphan.id)  # "running" on a worker that no longer exists
    long_ago = orphan.created - dt.timedelta(hours=1)
    store._set(orphan.id, heartbeat=long_ago)  # its worker went quiet an hour ago
    worn = store.create("index", {"dataset": demo["scene-2024-05-12"], "index": "NDVI"})
    store._set(
        worn.id, status=JobStatus.running, attempts=settings.job_max_attempts, heartbeat=long_ago
    )
    with TestClient(create_app(settings)) as restarted:  # a new API process finds both
        job = wait_for_job(restarted, orphan.id, timeout=180, interval=0.3)
        assert job["status"] == "successful", job
        failed = restarted.get(f"/jobs/{worn.id}").json()
        assert failed["status"] == "failed" and "Interrupted" in failed["message"]


@pytest.fixture
def big_scene(tmp_path: Path) -> tuple[Settings, Catalog, str]:
    settings = Settings(data_dir=tmp_path / "data", job_block_size=256, dask_workers=2)
    settings.data_dir.mkdir()
    catalog = Catalog(settings.resolved_database_url)
    rng = np.random.default_rng(1)
    size = 3072
    path = tmp_path / "big.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=2,
        dtype="uint16",
        crs="EPSG:32650",
        tiled=True,
        transform=from_origin(200000, 3400000, 10, 10),
    ) as dst:
        dst.write(rng.integers(1, 10000, (2, size, size), dtype="uint16"))
    record = register_raster(catalog, settings, path, band_names=["red", "nir"])
    return settings, catalog, record.id


def test_killed_worker_does_not_corrupt_anything(big_scene):
    settings, catalog, dataset_id = big_scene
    runner = JobRunner(settings, catalog)
    store = JobStore(catalog)
    try:
        pids = runner.client.run(os.getpid)
        job = store.create("index", {"dataset": dataset_id, "index": "NDVI"})
        runner.submit(job.id)
        deadline = time.time() + 120
        while store.get(job.id).progress < 20 and time.time() < deadline:
            time.sleep(0.05)
        assert store.get(job.id).status == JobStatus.running
        os.kill(next(iter(pids.values())), signal.SIGKILL)  # a worker dies mid-job
        while store.get(job.id).status not in (JobStatus.successful, JobStatus.failed):
            assert time.time() < deadline + 120, store.get(job.id)
            time.sleep(0.2)
        final = store.get(job.id)
        assert final.status == JobStatus.successful, final.message
    finally:
        runner.close()
    (out_id,) = final.results["datasets"]
    out = catalog.get_dataset(out_id)
    source = catalog.get_dataset(dataset_id)
    with (
        rasterio.open(settings.data_dir / out.uri) as ndvi,
        rasterio.open(settings.data_dir / source.uri) as src,
    ):
        red, nir = src.read(1).astype("float64"), src.read(2).astype("float64")
        np.testing.assert_allclose(ndvi.read(1), (nir - red) / (nir + red), atol=1e-6)
    registered = {Path(d.uri).name for d in catalog.find_datasets()}
    on_disk = {p.name for p in (settings.data_dir / "cogs").iterdir()}
    assert on_disk == registered, "every COG on disk is a catalog dataset and vice versa"
    assert not list(settings.data_dir.rglob("*.partial"))
