"""The job cluster starts with the server and its workers import what jobs need as they start
(tileserver/jobs/warmup.py), so the first job is not slowed by a second of imports per worker."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.jobs.runner import JobRunner
from tileserver.jobs.warmup import WARM_MODULES, warmed
from tileserver.settings import Settings


def test_every_worker_has_the_job_modules_before_any_job(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, dask_workers=2)
    runner = JobRunner(settings, Catalog(settings.resolved_database_url))
    try:
        runner.warm_start().join(timeout=180)
        assert runner.connected
        answers = runner.client.run(warmed)
        assert len(answers) == 2 and all(answers.values()), answers
        assert all(runner.client.run(warmed, (m,)) for m in WARM_MODULES)
    finally:
        runner.close()


def test_the_server_starts_its_cluster_as_it_starts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, dask_workers=1, job_warm_start=True)
    app = create_app(settings)
    with TestClient(app):
        deadline = time.monotonic() + 120
        while not app.state.jobs.connected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert app.state.jobs.connected, "no job was submitted, yet the cluster is up"


def test_without_warm_start_the_cluster_waits_for_the_first_job(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, dask_workers=1, job_warm_start=False)
    app = create_app(settings)
    with TestClient(app):
        time.sleep(1.0)
        assert not app.state.jobs.connected
