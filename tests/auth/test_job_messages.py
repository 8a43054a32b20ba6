"""What a job records as its failure names files, never the server's folders: the one defensive
pass over every failure message, whatever raised it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from tests.auth.people import recovered
from tileserver.errors import InvalidInput
from tileserver.http.app import create_app
from tileserver.jobs.paths import without_server_paths
from tileserver.processing import PROCESSES, Process, ProcessResult
from tileserver.processing.context import JobContext
from tileserver.settings import Settings


def test_paths_under_the_data_scratch_and_temporary_folders_become_names(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    data, tmp = settings.data_dir.resolve(), Path(tempfile.gettempdir())
    message = (
        f"cannot read '{data}/models/water/card.json': denied; "
        f"{data}/.tmp/job-1-ff/out.tif: bad (vrt://{data}/cogs/abc123.tif?srcwin=0,0,1,1), "
        f"{tmp}/cogsight-train-x/date2.tif is not on the grid; root {data}. "
        "See /processes/water and /usr/share/proj/proj.db."
    )
    clean = without_server_paths(message, settings)
    assert clean == (
        "cannot read 'card.json': denied; out.tif: bad (vrt://abc123.tif?srcwin=0,0,1,1), "
        "date2.tif is not on the grid; root [data]. "
        "See /processes/water and /usr/share/proj/proj.db."  # not a folder of ours
    )


class LeakyInputs(BaseModel):
    name: str = "x"


class LeakyProcess(Process):
    """Fails with a message naming a file by its full path, as library errors often do."""

    id = "leaky-probe"
    title = "leaky"
    description = "Fails naming a path."
    inputs = LeakyInputs
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, params: LeakyInputs, ctx: JobContext) -> ProcessResult:
        raise InvalidInput(f"cannot open {ctx.settings.data_dir.resolve()}/cogs/{params.name}.tif")


@pytest.fixture
def leaky() -> Iterator[str]:
    PROCESSES.register(LeakyProcess.id, LeakyProcess())
    try:
        yield LeakyProcess.id
    finally:
        PROCESSES._items.pop(LeakyProcess.id, None)


def test_a_failed_jobs_message_is_recorded_without_server_paths(tmp_path: Path, leaky: str) -> None:
    app = create_app(Settings(data_dir=tmp_path, tile_cache_bytes=0))
    with TestClient(app) as client:
        recovered()
        response = client.post(
            f"/processes/{leaky}/execution",
            json={"inputs": {"name": "abc123"}},
            headers={"Prefer": "respond-sync"},
        )
        assert response.status_code == 400
        assert response.json()["detail"] == "The job failed: cannot open abc123.tif"
        (listed,) = client.get("/jobs", params={"process": leaky}).json()["jobs"]
        job = client.get(f"/jobs/{listed['jobID']}")
        assert job.json()["message"] == "cannot open abc123.tif"
        assert str(tmp_path) not in job.text and str(tmp_path.resolve()) not in job.text
