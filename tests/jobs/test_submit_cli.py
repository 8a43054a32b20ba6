"""`cogsight run --submit` without a scheduler: one line, exit 2, no job left behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tileserver.jobs.store import JobStore


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("scheduler", ["", "unreachable"])
def test_submit_without_a_scheduler_exits_2_with_one_line(world, scheduler):
    settings, catalog, dataset_id = world
    env = {**os.environ, "COGSIGHT_DATA_DIR": str(settings.data_dir)}
    env.pop("COGSIGHT_DASK_SCHEDULER", None)
    if scheduler:
        env["COGSIGHT_DASK_SCHEDULER"] = f"tcp://127.0.0.1:{closed_port()}"
    args = ["run", "index", "--submit", "-i", f"dataset={dataset_id}", "-p", "index=NDVI"]
    done = subprocess.run(
        [sys.executable, "-m", "tileserver.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    expected = "No Dask scheduler answers" if scheduler else "COGSIGHT_DASK_SCHEDULER"
    assert expected in lines[0]
    assert JobStore(catalog).unfinished() == [] and JobStore(catalog).recent() == []
