"""Every process estimates its work before it is queued: too much is refused with the figures,
before a job row or a scratch file exists (API and ``cogsight run`` alike)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.rasters import utm_geotiff
from tileserver.catalog import Catalog
from tileserver.cli import app as cli_app
from tileserver.http.app import create_app
from tileserver.ingest.upload import ingest_file
from tileserver.jobs.store import JobStore
from tileserver.processing import PROCESSES
from tileserver.processing.models import ModelProcess, sync_model_processes
from tileserver.settings import Settings
from tileserver.storage import scratch_dir

LIMIT = 1_000  # pixels: every demo raster is over it


@pytest.fixture(scope="module")
def six_band(catalog: Catalog, settings: Settings, tmp_path_factory) -> str:
    """A small raster with every band the built-in models read (swir22 included)."""
    names = ["blue", "green", "red", "nir", "swir16", "swir22"]
    path = tmp_path_factory.mktemp("six") / "six.tif"
    data = np.random.default_rng(1).integers(1, 3000, (6, 64, 64), dtype="uint16")
    path.write_bytes(utm_geotiff(data, descriptions=names))
    return ingest_file(catalog, settings, path, band_names=names).id


@pytest.fixture(scope="module")
def limited(settings: Settings, demo: dict[str, str]) -> Iterator[TestClient]:
    """The app over the demo catalog with a 1,000-pixel job limit."""
    small = settings.model_copy(update={"max_job_pixels": LIMIT})
    with TestClient(create_app(small)) as client:
        yield client


def _whole(catalog: Catalog, dataset_id: str) -> dict:
    """The dataset's WGS84 bounds as a GeoJSON polygon."""
    w, s, e, n = catalog.get_dataset(dataset_id).bounds
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _oversized(process_id: str, demo: dict[str, str], six_band: str, catalog: Catalog) -> dict:
    """Valid inputs for every registered process, each over a 1,000-pixel limit."""
    scene, later = demo["scene-2024-05-12"], demo["scene-2024-09-20"]
    tools: dict[str, dict] = {
        "index": {"dataset": scene, "index": "NDVI"},
        "reproject": {"dataset": scene, "crs": "EPSG:4326"},
        "resample": {"dataset": scene, "resolution": 20},
        "clip": {"dataset": scene, "geometry": _whole(catalog, scene)},
        "mosaic": {"datasets": [scene, later]},
        "composite": {"datasets": [scene, later]},
        "animation": {"datasets": [scene, later], "size": 64},
        "train": {
            "name": "limit-probe",
            "dataset": scene,
            "labels": later,
        },
    }
    if process_id in tools:
        return tools[process_id]
    process = PROCESSES.get(process_id)
    assert isinstance(process, ModelProcess), f"no oversized inputs for '{process_id}'"
    bands = set(process.spec.bands)
    image = demo["sar-2024-05-14"] if bands <= {"vv", "vh"} else six_band
    if process.spec.task == "change":
        return {"datasets": [scene, later]}
    return {"dataset": image}


def test_every_process_refuses_an_oversized_request_before_queueing(
    limited: TestClient, catalog: Catalog, settings: Settings, demo, six_band
) -> None:
    sync_model_processes(settings)
    jobs = len(JobStore(catalog).recent(limit=1000))
    refused = []
    for process in list(PROCESSES):
        inputs = _oversized(process.id, demo, six_band, catalog)
        response = limited.post(f"/processes/{process.id}/execution", json={"inputs": inputs})
        body = response.json()
        if isinstance(process, ModelProcess) and not process.spec.runnable:
            assert response.status_code == 400 and "cannot run yet" in body["detail"], body
            continue
        assert response.status_code == 413, (process.id, body)
        assert body["code"] == "job_too_large"
        pixels = _figure(r"([\d,]+) pixels in", body["detail"])
        assert pixels > LIMIT, body["detail"]
        assert "the limit is 1,000 pixels per job" in body["detail"]
        assert re.search(r"[\d,]+ blocks, needing up to [\d.,]+ [kMG]?B of scratch", body["detail"])
        refused.append(process.id)
    assert {
        "index",
        "reproject",
        "resample",
        "clip",
        "mosaic",
        "composite",
        "animation",
        "train",
        "water-optical",
        "change-cva",
        "dehaze",
        "cloud-mask",
    } <= set(refused)
    assert len(JobStore(catalog).recent(limit=1000)) == jobs, "nothing was queued"


def _figure(pattern: str, text: str) -> int:
    """The number the pattern's group matches in ``text`` (``1,234`` → 1234)."""
    match = re.search(pattern, text)
    assert match is not None, text
    return int(match[1].replace(",", ""))


def _files(folder: Path) -> set[Path]:
    return set(folder.rglob("*")) if folder.exists() else set()


def test_reproject_at_a_centimetre_is_refused_in_milliseconds_with_no_scratch(
    client: TestClient, catalog: Catalog, settings: Settings, demo
) -> None:
    scene = demo["scene-2024-05-12"]
    scratch = _files(scratch_dir(settings))
    jobs = len(JobStore(catalog).recent(limit=1000))
    inputs = {"dataset": scene, "crs": "EPSG:32650", "resolution": 0.01}
    began = time.perf_counter()
    response = client.post("/processes/reproject/execution", json={"inputs": inputs})
    elapsed = time.perf_counter() - began
    body = response.json()
    assert response.status_code == 413 and body["code"] == "job_too_large", body
    # the demo scene is 10 m pixels: at 1 cm it is 1,000 x 1,000 times the pixels
    record = catalog.get_dataset(scene)
    pixels = _figure(r"([\d,]+) pixels in", body["detail"])
    assert pixels >= record.width * record.height * 999_000
    blocks = _figure(r"([\d,]+) blocks", body["detail"])
    assert blocks >= pixels // 1024**2
    assert "the limit is 10,000,000,000 pixels per job (COGSIGHT_MAX_JOB_PIXELS)" in body["detail"]
    assert elapsed < 10, f"refused in {elapsed:.3f} s"  # not computed: that takes hours
    assert len(JobStore(catalog).recent(limit=1000)) == jobs
    assert _files(scratch_dir(settings)) == scratch, "no scratch was written"
    # a normal request still runs
    ok = client.post(
        "/processes/reproject/execution",
        json={"inputs": {"dataset": scene, "crs": "EPSG:32650", "resolution": 40}},
        headers={"Prefer": "respond-sync"},
    )
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["datasets"]) == 1


def test_scratch_limit_names_its_figures(settings: Settings, demo, catalog: Catalog) -> None:
    from tileserver.processing.estimate import JobTooLarge, check_work

    small = settings.model_copy(update={"max_job_scratch_bytes": 1_000_000})
    scene = demo["scene-2024-05-12"]
    inputs = {"dataset": scene, "index": "NDVI"}
    with pytest.raises(JobTooLarge) as refused:
        check_work(PROCESSES.get("index"), inputs, catalog, small)
    record = catalog.get_dataset(scene)
    scratch = record.width * record.height * 4 * 7 // 3
    assert f"{scratch / 1e6:,.1f} MB of scratch" in str(refused.value)
    assert "the limit is 1.0 MB per job (COGSIGHT_MAX_JOB_SCRATCH_BYTES)" in str(refused.value)


def test_cli_run_refuses_the_same_way(settings: Settings, demo, catalog: Catalog) -> None:
    jobs = len(JobStore(catalog).recent(limit=1000))
    env = {"COGSIGHT_DATA_DIR": str(settings.data_dir)}
    args = ["run", "reproject", "-i", f"dataset={demo['scene-2024-05-12']}"]
    args += ["-p", "crs=EPSG:32650", "-p", "resolution=0.01"]
    result = CliRunner().invoke(cli_app, args, env=env)
    assert result.exit_code == 2, result.output
    assert "pixels per job (COGSIGHT_MAX_JOB_PIXELS)" in result.output
    assert len(JobStore(catalog).recent(limit=1000)) == jobs
