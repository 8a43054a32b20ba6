"""The sweep removes only what nothing alive owns: a live upload and a running job keep their
scratch; a dead process's, a finished job's, another host's stale folder and earlier
versions' leftovers go; quotas never count scratch."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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
    wait_until,
    write_striped_tif,
)
from tileserver.jobs.store import JobStore
from tileserver.manage.sweep import sweep_scratch
from tileserver.processing.context import JobContext
from tileserver.scratch import (
    hostname,
    job_owner,
    new_scratch,
    parse_name,
    process_owner,
    scratch_name,
)
from tileserver.storage import atomic_file


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "data")


def wait_for_job(url: str, job_id: str, headers: dict[str, str]) -> dict:
    deadline = time.time() + 180
    while (job := httpx.get(f"{url}/jobs/{job_id}", headers=headers).json())["status"] in (
        "accepted",
        "running",
    ):
        assert time.time() < deadline, job
        time.sleep(0.2)
    return job


def _aged(path: Path, seconds: float) -> Path:
    """Set ``path`` and everything in it ``seconds`` into the past."""
    then = time.time() - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (then, then))
    return path


def test_names_say_kind_and_owner():
    name = scratch_name("upload")
    parsed = parse_name(name)
    assert parsed is not None and parsed.kind == "upload"
    assert parsed.owner == process_owner() and parsed.owner.endswith(f"@{hostname()}")
    assert parsed.owner.startswith(f"pid{os.getpid()}-")
    job = parse_name(scratch_name("work", job_owner("abc123def456", 2)))
    assert job is not None and job.owner == "job-abc123def456-2"
    for legacy in ("upload-0123456789abcdef0123456789abcdef", "job-abc-7f3a", "tmpx1y2.tif"):
        assert parse_name(legacy) is None


def test_a_sweep_during_a_live_upload_removes_nothing_of_it(world):
    release = threading.Event()

    def body() -> Iterator[bytes]:
        yield (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.tif"\r\n'
            b"Content-Type: image/tiff\r\n\r\nII*\x00"
        )
        yield bytes(4 << 20)
        release.wait(60)
        yield b"\r\n--b--\r\n"

    answers: list[httpx.Response] = []
    with server(world) as (url, _proc):
        headers = {**world.headers, "content-type": "multipart/form-data; boundary=b"}
        sender = threading.Thread(
            target=lambda: answers.append(
                httpx.post(f"{url}/datasets", content=body(), headers=headers, timeout=60)
            )
        )
        sender.start()
        wait_until(lambda: scratch(world.data), what="the upload folder")
        (folder,) = scratch(world.data)
        path = world.data / ".tmp" / folder
        wait_until(lambda: sum(f.stat().st_size for f in path.iterdir()) >= 3 << 20)  # 1 MiB writes
        size = sum(f.stat().st_size for f in path.iterdir())

        report = sweep_scratch(world.catalog, world.settings, legacy=True)
        assert report.removed == [] and scratch(world.data) == [folder]
        assert sum(f.stat().st_size for f in path.iterdir()) == size
        release.set()
        sender.join(60)
    # the upload went on and ended as it would have (a 400: not a raster), and cleaned up
    assert answers and answers[0].status_code in (400, 415), answers[0].text
    assert scratch(world.data) == []


def test_a_running_job_keeps_its_folder_until_it_no_longer_runs_as_that_attempt(world):
    store = JobStore(world.catalog)
    job = store.create("index", {"dataset": "x", "index": "NDVI"}, owner=world.user.id)
    attempt = store.start(job.id)
    assert attempt == 1
    ctx = JobContext(world.catalog, world.settings, job_id=job.id, attempt=attempt)
    blocks = ctx.scratch("output.blocks")
    blocks.mkdir()
    (blocks / "block_0_0.tif").write_bytes(b"x" * 1000)
    assert scratch(world.data) == [ctx.workdir.name]
    assert ctx.workdir.name.startswith(f"work-job-{job.id}-1-")

    assert sweep_scratch(world.catalog, world.settings).removed == []
    # an old folder of the same job: still its running attempt, whatever its age
    _aged(ctx.workdir, 7 * 24 * 3600)
    assert sweep_scratch(world.catalog, world.settings).removed == []

    # re-queued by the watchdog: attempt 1 no longer runs, its folder is nobody's
    store.requeue(job.id, "re-queued: its worker stopped responding")
    assert sweep_scratch(world.catalog, world.settings).removed == [ctx.workdir.name]
    assert scratch(world.data) == []


def test_a_new_attempt_removes_the_earlier_attempts_scratch_at_once(world):
    store = JobStore(world.catalog)
    job = store.create("index", {"dataset": "x", "index": "NDVI"}, owner=world.user.id)
    other = store.create("index", {"dataset": "x", "index": "NDVI"}, owner=world.user.id)
    first = JobContext(world.catalog, world.settings, job_id=job.id, attempt=store.start(job.id))
    first.scratch("output.parts").mkdir()
    (first.scratch("output.parts") / ".output.cog.tif.partial").write_bytes(b"x" * 1000)
    neighbour = JobContext(
        world.catalog, world.settings, job_id=other.id, attempt=store.start(other.id)
    )
    store.requeue(job.id, "re-queued: its worker stopped responding")
    second = JobContext(world.catalog, world.settings, job_id=job.id, attempt=store.start(job.id))
    assert sorted(scratch(world.data)) == sorted([second.workdir.name, neighbour.workdir.name])


def test_a_dead_process_folder_goes_a_live_one_stays(world):
    dead_pid = _dead_pid()
    dead = new_scratch(world.settings, "export", f"pid{dead_pid}-123456@{hostname()}")
    (dead / "big.gpkg").write_bytes(b"x" * 5000)
    # this process's pid with another start time: a reused pid is not its owner
    reused = new_scratch(world.settings, "convert", f"pid{os.getpid()}-17@{hostname()}")
    live = new_scratch(world.settings, "convert")  # this process, alive
    report = sweep_scratch(world.catalog, world.settings)
    assert sorted(report.removed) == sorted([dead.name, reused.name])
    assert report.bytes == 5000
    assert scratch(world.data) == [live.name]


def test_other_hosts_and_legacy_leftovers_go_once_stale(world):
    settings = world.settings
    fresh_other = new_scratch(settings, "upload", "pid42-999@elsewhere.example")
    stale_other = _aged(new_scratch(settings, "upload", "pid43-999@elsewhere.example"), 7 * 3600)
    root = settings.data_dir / ".tmp"
    legacy_upload = root / "upload-0123456789abcdef0123456789abcdef"
    legacy_upload.mkdir()
    (legacy_upload / "x.tif").write_bytes(b"x" * 100)
    _aged(legacy_upload, 7 * 3600)
    cog_tmp = root / "tmpab12cd34.tif"  # rio-cogeo's temporary file, from an earlier version
    cog_tmp.write_bytes(b"x" * 723)
    _aged(cog_tmp, 7 * 3600)
    recent_unknown = root / "something-else"
    recent_unknown.write_bytes(b"y")
    # beside the data: a vector edit's and an atomic write's temporaries from earlier versions
    vec = settings.data_dir / "vectors" / "abc123abc123"
    vec.mkdir(parents=True)
    (vec / "features.fgb").write_bytes(b"f" * 10)
    old_edit = vec / ".features.0a1b2c3d.fgb"
    old_edit.write_bytes(b"e" * 75)
    _aged(old_edit, 7 * 3600)
    cogs = settings.data_dir / "cogs"
    cogs.mkdir()
    (cogs / "abc.tif").write_bytes(b"c")
    partial = cogs / ".abc.tif.1234abcd.partial"
    partial.write_bytes(b"p" * 9)
    _aged(partial, 7 * 3600)
    young_partial = cogs / ".def.tif.5678abcd.partial"
    young_partial.write_bytes(b"p")

    report = sweep_scratch(world.catalog, settings)  # periodic: scratch only
    assert sorted(report.removed) == sorted([stale_other.name, legacy_upload.name, cog_tmp.name])
    assert sorted(scratch(world.data)) == sorted([fresh_other.name, recent_unknown.name])
    report = sweep_scratch(world.catalog, settings, legacy=True)  # at start-up
    assert sorted(report.removed) == sorted([old_edit.name, partial.name])
    assert young_partial.exists() and (vec / "features.fgb").exists()
    assert (cogs / "abc.tif").exists()


def test_atomic_writes_build_in_scratch_and_leave_nothing(world):
    dst = world.data / "thumbs" / "abc.png"
    with atomic_file(dst, world.settings) as tmp:
        assert tmp.parent.parent == world.data / ".tmp"
        assert parse_name(tmp.parent.name) is not None
        tmp.write_bytes(b"png")
        assert not dst.exists()
    assert dst.read_bytes() == b"png" and scratch(world.data) == []
    with pytest.raises(RuntimeError), atomic_file(dst, world.settings) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert dst.read_bytes() == b"png" and scratch(world.data) == []
    assert data_files(world.data) == {"thumbs/abc.png": 3}


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_the_server_sweeps_at_start_and_while_it_runs(world):
    dead = f"pid{_dead_pid()}-123456@{hostname()}"
    before_start = new_scratch(world.settings, "upload", dead)
    with server(world, COGSIGHT_SCRATCH_SWEEP_SECONDS="0.5") as (_url, _proc):
        wait_until(lambda: not before_start.exists(), 30, "the start-up sweep")
        while_running = new_scratch(world.settings, "edit", dead)
        wait_until(lambda: not while_running.exists(), 30, "a periodic sweep")
    assert scratch(world.data) == []


def test_a_worker_sweeps_at_start(world):
    from tileserver.cli_worker import sweep_at_start

    dead = new_scratch(world.settings, "work", f"pid{_dead_pid()}-1@{hostname()}")
    live = new_scratch(world.settings, "work")
    sweep_at_start(world.settings)
    assert not dead.exists() and live.exists()


def test_a_sweep_while_a_real_job_writes_its_blocks_leaves_it_to_finish(world, tmp_path):
    src = write_striped_tif(tmp_path / "scene.tif", 2048, count=2)
    env = {"COGSIGHT_JOB_BLOCK_SIZE": "256", "COGSIGHT_DASK_WORKERS": "1"}
    with server(world, **env) as (url, _proc):
        files = {"file": ("scene.tif", src.read_bytes(), "image/tiff")}
        up = httpx.post(
            f"{url}/datasets", files=files, data={"bands": "red,nir"}, headers=world.headers
        )
        assert up.status_code == 201, up.text
        inputs = {"inputs": {"dataset": up.json()["id"], "index": "NDVI"}}
        job = httpx.post(
            f"{url}/processes/index/execution", json=inputs, headers=world.headers
        ).json()
        root = world.data / ".tmp"
        wait_until(lambda: list(root.glob(f"work-job-{job['jobID']}-1-*/*.parts/*")), 120)
        report = sweep_scratch(world.catalog, world.settings, legacy=True)
        assert report.removed == []
        done = wait_for_job(url, job["jobID"], world.headers)
        assert done["status"] == "successful", done
        assert scratch(world.data) == []  # and the job removed its own folder
