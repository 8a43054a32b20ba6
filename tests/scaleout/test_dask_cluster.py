"""Jobs on a Dask cluster of separate processes: ``dask scheduler`` + two ``cogsight worker``s.

The API only knows the scheduler's address (``COGSIGHT_DASK_SCHEDULER``). One worker is
SIGKILLed while it coordinates a block-parallel job; the scheduler re-runs the job on the
other worker and the result equals NumPy's.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_origin

from tests.scaleout.cluster import DaskCluster
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.ingest import register_raster
from tileserver.jobs.store import JobStore
from tileserver.settings import Settings

SIZE = 2048  # 64 blocks of 256²


def write_scene(path: Path) -> None:
    rng = np.random.default_rng(7)
    with rasterio.open(
        path, "w", driver="GTiff", width=SIZE, height=SIZE, count=2, dtype="uint16",
        crs="EPSG:32650", tiled=True, transform=from_origin(200000, 3400000, 10, 10),
    ) as dst:  # fmt: skip
        dst.write(rng.integers(1, 10000, (2, SIZE, SIZE), dtype="uint16"))


def job_coordinator(cluster: DaskCluster, job_key: str) -> str | None:
    """The name of the worker running the job's own task (it fans the blocks out)."""
    from distributed import Client

    with Client(cluster.address, timeout="20s") as client:
        names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
        for address, keys in client.processing().items():
            if job_key in keys:
                return names[address]
    return None


def test_a_killed_worker_does_not_fail_the_job(
    dask_cluster: DaskCluster, scaleout_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings(
        data_dir=data_dir,
        database_url=scaleout_url,
        dask_scheduler=dask_cluster.address,
        job_block_size=256,
        tile_cache_bytes=0,
    )
    catalog = Catalog(scaleout_url)
    write_scene(tmp_path / "scene.tif")
    source = register_raster(catalog, settings, tmp_path / "scene.tif", band_names=["red", "nir"])

    env = {"COGSIGHT_DATA_DIR": str(data_dir), "COGSIGHT_DATABASE_URL": scaleout_url}
    for name in ("worker-a", "worker-b"):
        dask_cluster.add_worker(name, env)
    pids = dask_cluster.wait_for_workers(2)

    with TestClient(create_app(settings)) as api:
        response = api.post(
            "/processes/index/execution",
            json={"inputs": {"dataset": source.id, "index": "NDVI"}},
        )
        assert response.status_code == 201, response.text
        job_id = response.json()["jobID"]

        deadline = time.time() + 120
        while (job := api.get(f"/jobs/{job_id}").json())["progress"] < 20:
            assert job["status"] in ("accepted", "running"), job
            assert time.time() < deadline, f"no progress: {job}\n{dask_cluster.logs()}"
            time.sleep(0.05)
        coordinator = job_coordinator(dask_cluster, f"job-{job_id}-0")  # its first run
        assert coordinator in pids, dask_cluster.logs()
        os.kill(pids[coordinator], signal.SIGKILL)  # mid-job, the worker that runs the job

        while (job := api.get(f"/jobs/{job_id}").json())["status"] not in (
            "successful",
            "failed",
            "dismissed",
        ):
            assert time.time() < deadline + 120, f"{job}\n{dask_cluster.logs()}"
            time.sleep(0.2)
        assert job["status"] == "successful", f"{job}\n{dask_cluster.logs()}"
        (output_id,) = api.get(f"/jobs/{job_id}/results").json()["datasets"]

    assert JobStore(catalog).get(job_id).attempts == 2  # the job itself ran again elsewhere
    output = catalog.get_dataset(output_id)
    with (
        rasterio.open(data_dir / output.uri) as ndvi,
        rasterio.open(data_dir / source.uri) as src,
    ):
        red, nir = src.read(1).astype("float64"), src.read(2).astype("float64")
        np.testing.assert_allclose(ndvi.read(1), (nir - red) / (nir + red), atol=1e-6)
    assert not list(data_dir.rglob("*.partial"))
    # the killed attempt's scratch (its parts, a half-assembled COG) went when the job re-ran
    assert not list((data_dir / ".tmp").glob(f"work-job-{job_id}-*"))
