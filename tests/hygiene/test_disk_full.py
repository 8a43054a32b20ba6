"""A data dir on a small tmpfs, filled up: uploads, vector edits, exports and job submits answer
507 with a reason, leave nothing half-written, and work again once space is freed; a
conversion that needs more than is free is refused up front with the figures; a job that fills
the disk fails with that reason.

A real full filesystem (ENOSPC from the kernel, SQLite's "database or disk is full"), mounted
as root or through ``sudo -n``; elsewhere these tests are skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.hygiene.world import (
    World,
    data_files,
    scratch,
    server,
    squares_geojson,
    write_striped_tif,
)
from tileserver.scratch import conversion_need

MiB = 1 << 20


def _as_root() -> list[str] | None:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], check=False).returncode == 0:
        return ["sudo", "-n"]
    return None


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 48 MiB tmpfs."""
    prefix = _as_root()
    if prefix is None:
        pytest.skip("mounting a tmpfs needs root or password-less sudo")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    mount = [*prefix, "mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mnt)]
    subprocess.run(mount, check=True)
    try:
        if prefix:
            subprocess.run([*prefix, "chmod", "777", str(mnt)], check=True)
        yield mnt
    finally:
        subprocess.run([*prefix, "umount", "-l", str(mnt)], check=False)


def fill(fs: Path, leave: int = 0) -> Path:
    """Fill ``fs`` up, then give back ``leave`` bytes; returns the filler file."""
    filler = fs / "filler"
    with filler.open("wb", buffering=0) as f:
        for chunk in (MiB, 4096):
            with contextlib.suppress(OSError):
                while True:
                    f.write(bytes(chunk))
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


EDIT = {
    "type": "Feature",
    "properties": {"n": -1, "name": "new"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[114.0, 30.0], [114.001, 30.0], [114.001, 30.001], [114.0, 30.0]]],
    },
}


def _full(r: httpx.Response) -> str:
    assert r.status_code == 507, r.text
    body = r.json()
    assert body["code"] == "insufficient_storage", body
    return str(body["detail"])


def test_a_full_disk_answers_507_with_a_reason_and_recovers(tiny_fs, tmp_path):
    world = World(tiny_fs / "data")
    ras = write_striped_tif(tmp_path / "r.tif", 256, count=2)
    vec = squares_geojson(tmp_path / "sq.geojson", 200)
    with server(world) as (url, _proc):
        h = world.headers

        def upload(path: Path, **data: str) -> httpx.Response:
            files = {"file": (path.name, path.read_bytes(), "application/octet-stream")}
            return httpx.post(f"{url}/datasets", files=files, data=data, headers=h, timeout=60)

        def chunked_upload(path: Path) -> httpx.Response:
            head = (
                b'--b\r\nContent-Disposition: form-data; name="file"; filename="r.tif"\r\n'
                b"Content-Type: image/tiff\r\n\r\n"
            )
            parts = iter([head, path.read_bytes(), b"\r\n--b--\r\n"])  # no Content-Length
            headers = {**h, "content-type": "multipart/form-data; boundary=b"}
            return httpx.post(f"{url}/datasets", content=parts, headers=headers, timeout=60)

        def edit() -> httpx.Response:
            return httpx.post(f"{url}/vectors/{vid}/features", json=EDIT, headers=h, timeout=60)

        def export(fmt: str) -> httpx.Response:
            return httpx.get(f"{url}/vectors/{vid}/download?format={fmt}", headers=h, timeout=60)

        def submit() -> httpx.Response:
            inputs = {"inputs": {"dataset": rid, "index": "NDVI"}}
            job = f"{url}/processes/index/execution"
            return httpx.post(job, json=inputs, headers=h, timeout=60)

        def state() -> tuple[object, ...]:
            datasets = httpx.get(f"{url}/datasets", headers=h).json()["items"]
            jobs = httpx.get(f"{url}/jobs", headers=h).json()["jobs"]
            history = httpx.get(f"{url}/vectors/{vid}/history", headers=h).json()
            return (
                sorted(d["id"] for d in datasets),
                sorted(j["jobID"] for j in jobs),
                history["version"],
                data_files(world.data),
            )

        vid = upload(vec).json()["id"]
        rid = upload(ras, bands="red,nir").json()["id"]
        filler = fill(tiny_fs)
        assert shutil.disk_usage(tiny_fs).free == 0
        before = state()

        assert "needs about" in _full(upload(ras))  # refused from its Content-Length
        assert "storage is full" in _full(chunked_upload(ras))  # ENOSPC while receiving
        assert "storage is full" in _full(edit())
        assert "storage is full" in _full(export("gpkg"))  # SQLite inside GDAL
        assert "storage is full" in _full(export("geojson"))
        assert "storage is full" in _full(submit())  # "database or disk is full"

        assert state() == before, "nothing half-written"
        assert scratch(world.data) == []

        filler.unlink()  # space is back: everything works again, with no restart
        assert upload(ras).status_code == 201
        assert edit().status_code == 201
        assert export("gpkg").status_code == 200
        assert submit().status_code == 201
    assert scratch(world.data) == [] or all(n.startswith("work-job-") for n in scratch(world.data))


def test_a_conversion_needing_more_than_is_free_is_refused_with_the_figures(tiny_fs, tmp_path):
    world = World(tiny_fs / "data")
    ras = write_striped_tif(tmp_path / "r.tif", 1024, count=2)  # 4 MiB, not a COG
    size = ras.stat().st_size
    with server(world) as (url, _proc):
        before = data_files(world.data)
        fill(tiny_fs, leave=2 * size)  # room for the upload, not for the conversion besides
        files = {"file": (ras.name, ras.read_bytes(), "image/tiff")}
        r = httpx.post(f"{url}/datasets", files=files, headers=world.headers, timeout=60)
        detail = _full(r)
        assert detail.startswith("Not enough free storage for converting this raster to a COG")
        # rio-cogeo's uncompressed temporary file with overviews and mask, and the COG beside it
        need = 2 * (1024 * 1024 * (2 * 2 + 1) * 4 // 3)
        assert need == conversion_need(1024, 1024, 2, 2) > 3 * size
        assert f"({need} bytes)" in detail, detail  # what it needs, then what is free
        free_then = int(detail.rsplit("(", 1)[1].split()[0])
        assert 0 < free_then < need
        assert data_files(world.data) == before and scratch(world.data) == []


def test_a_job_that_fills_the_disk_fails_with_that_reason(tiny_fs, tmp_path):
    world = World(tiny_fs / "data", job_block_size=256)
    ras = write_striped_tif(tmp_path / "r.tif", 1024, count=2)
    env = {"COGSIGHT_JOB_BLOCK_SIZE": "256", "COGSIGHT_DASK_WORKERS": "1"}
    with server(world, **env) as (url, _proc):
        files = {"file": (ras.name, ras.read_bytes(), "image/tiff")}
        data = {"bands": "red,nir"}
        rid = httpx.post(
            f"{url}/datasets", files=files, data=data, headers=world.headers, timeout=120
        ).json()["id"]
        before = data_files(world.data)
        fill(tiny_fs, leave=MiB)  # the job's row fits; its 4 MiB of float blocks do not
        inputs = {"inputs": {"dataset": rid, "index": "NDVI"}}
        r = httpx.post(
            f"{url}/processes/index/execution", json=inputs, headers=world.headers, timeout=60
        )
        assert r.status_code == 201, r.text
        job_url = f"{url}/jobs/{r.json()['jobID']}"
        deadline = time.time() + 120
        while (job := httpx.get(job_url, headers=world.headers).json())["status"] in (
            "accepted",
            "running",
        ):
            assert time.time() < deadline, job
            time.sleep(0.2)
        assert job["status"] == "failed", job
        assert "storage is full" in job["message"], job
        assert data_files(world.data) == before
        assert scratch(world.data) == []
