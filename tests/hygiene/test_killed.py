"""kill -9 of a real server during an upload, a COG conversion, a job and a vector edit, then
one sweep: no file is left that no record owns, and the owner's quota use is unchanged.

Each kill lands in its stage by watching the scratch area for that stage's folder (its file
growing), not by timing: the stage's work is large enough to be seen in progress.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.hygiene.world import (
    World,
    data_files,
    kill9,
    leftovers,
    scratch,
    server,
    squares_geojson,
    wait_until,
    write_striped_tif,
)
from tileserver.jobs.store import JobStore
from tileserver.manage.sweep import sweep_scratch


def _growing(data: Path, prefix: str, pattern: str = "*") -> bool:
    """A ``prefix…`` scratch folder holds a non-empty file matching ``pattern``: mid-stage."""
    root = data / ".tmp"
    if not root.exists():
        return False
    for folder in root.glob(f"{prefix}*"):
        for path in folder.rglob(pattern):
            try:
                if path.is_file() and path.stat().st_size > 0:
                    return True
            except OSError:
                continue
    return False


def _post_in_thread(url: str, **kw: object) -> threading.Thread:
    def run() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
            httpx.post(url, timeout=120, **kw)  # type: ignore[arg-type]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_killed_mid_upload(tmp_path):
    world = World(tmp_path / "data")
    before_used, before_files = world.used(), data_files(world.data)
    release = threading.Event()

    def body() -> Iterator[bytes]:
        yield (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.tif"\r\n'
            b"Content-Type: image/tiff\r\n\r\nII*\x00"
        )
        for _ in range(8):
            yield bytes(1 << 20)
        release.wait(60)  # the rest never comes: the server dies mid-body
        yield b"\r\n--b--\r\n"

    with server(world) as (url, proc):
        headers = {**world.headers, "content-type": "multipart/form-data; boundary=b"}
        sender = _post_in_thread(f"{url}/datasets", content=body(), headers=headers)
        wait_until(lambda: _growing(world.data, "upload-"), what="the upload on disk")
        kill9(proc)
        release.set()
        sender.join(30)
        assert any(n.startswith("upload-pid") for n in scratch(world.data)), "killed mid-body"

    report = sweep_scratch(world.catalog, world.settings)
    assert [n for n in report.removed if n.startswith("upload-")], report
    assert leftovers(world.data) == []
    assert data_files(world.data) == before_files
    assert world.used() == before_used == 0


def test_killed_mid_conversion(tmp_path):
    world = World(tmp_path / "data")
    src = write_striped_tif(tmp_path / "big.tif", 4000)  # 96 MB of noise, not a COG
    with server(world) as (url, proc):
        with src.open("rb") as fh:
            files = {"file": ("big.tif", fh.read(), "image/tiff")}
        sender = _post_in_thread(f"{url}/datasets", files=files, headers=world.headers)
        # rio-cogeo's own temporary file, inside this conversion's folder
        wait_until(lambda: _growing(world.data, "convert-", "tmp*.tif"), what="the conversion")
        kill9(proc)
        sender.join(30)
        names = scratch(world.data)
        assert any(n.startswith("convert-pid") for n in names), names
    assert world.catalog.find_datasets() == []

    sweep_scratch(world.catalog, world.settings)
    assert leftovers(world.data) == []
    assert data_files(world.data) == {}
    assert world.used() == 0


def test_killed_mid_job(tmp_path):
    world = World(tmp_path / "data", job_block_size=256)
    src = write_striped_tif(tmp_path / "scene.tif", 3000, count=2)
    env = {"COGSIGHT_JOB_BLOCK_SIZE": "256", "COGSIGHT_DASK_WORKERS": "1"}
    with server(world, **env) as (url, proc):
        with src.open("rb") as fh:
            files = {"file": ("scene.tif", fh.read(), "image/tiff")}
        data = {"bands": "red,nir"}
        up = httpx.post(
            f"{url}/datasets", files=files, data=data, headers=world.headers, timeout=120
        )
        assert up.status_code == 201, up.text
        before_used, before_files = world.used(), data_files(world.data)
        job = httpx.post(
            f"{url}/processes/index/execution",
            json={"inputs": {"dataset": up.json()["id"], "index": "NDVI"}},
            headers=world.headers,
            timeout=60,
        )
        assert job.status_code == 201, job.text
        job_id = job.json()["jobID"]
        wait_until(lambda: _growing(world.data, f"work-job-{job_id}-", "*.parts/*"), 120)
        kill9(proc)

    store = JobStore(world.catalog)
    running = store.get(job_id)
    assert running.status == "running" and running.attempts == 1
    (folder,) = scratch(world.data)
    assert folder.startswith(f"work-job-{job_id}-1-")
    # the job's record still says it runs as attempt 1: the sweep keeps its blocks
    sweep_scratch(world.catalog, world.settings)
    assert scratch(world.data) == [folder]
    # the watchdog takes the dead run over (here: fails it, as when its attempts are used)
    store.fail(job_id, "Interrupted: its worker stopped responding.", attempt=1)
    sweep_scratch(world.catalog, world.settings)
    assert leftovers(world.data) == []
    assert data_files(world.data) == before_files
    assert world.used() == before_used > 0


def test_killed_mid_vector_edit(tmp_path):
    world = World(tmp_path / "data")
    src = squares_geojson(tmp_path / "squares.geojson", 20_000)  # an edit takes seconds
    with server(world) as (url, proc):
        with src.open("rb") as fh:
            files = {"file": ("squares.geojson", fh.read(), "application/geo+json")}
        up = httpx.post(f"{url}/datasets", files=files, headers=world.headers, timeout=300)
        assert up.status_code == 201, up.text
        vid = up.json()["id"]
        before_used, before_files = world.used(), data_files(world.data)
        ring = [[114.0, 30.0], [114.001, 30.0], [114.001, 30.001], [114.0, 30.001], [114.0, 30.0]]
        edit = {
            "type": "Feature",
            "properties": {"n": -1, "name": "new"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        sender = _post_in_thread(f"{url}/vectors/{vid}/features", json=edit, headers=world.headers)
        wait_until(lambda: _growing(world.data, "edit-"), 120, "the edit's files")
        kill9(proc)
        sender.join(30)
        assert any(n.startswith("edit-pid") for n in scratch(world.data))
    # nothing of the edit is in the dataset's folder, so the quota never saw it
    assert data_files(world.data) == before_files
    assert world.used() == before_used

    sweep_scratch(world.catalog, world.settings)
    assert leftovers(world.data) == []
    assert data_files(world.data) == before_files
    assert world.used() == before_used
