"""Stale jobs recovered while the servers run, exactly once, and never published twice."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from fastapi.testclient import TestClient

from tests.polling import wait_for_job
from tests.scaleout.pg import pg_bindir, pg_cluster
from tileserver.catalog import Catalog
from tileserver.catalog.engine import dispose_shared
from tileserver.http.app import create_app
from tileserver.jobs.store import JobRecord, JobStatus, JobStore
from tileserver.settings import Settings


def went_quiet(store: JobStore, job_id: str, seconds: float = 300) -> JobRecord:
    """Make the job's last heartbeat ``seconds`` old, as if its worker had died then."""
    store._set(job_id, heartbeat=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds))
    return store.get(job_id)


def test_a_stale_running_job_is_requeued_and_finishes_while_the_app_runs(world):
    settings, catalog, dataset_id = world
    store = JobStore(catalog)
    with TestClient(create_app(settings)) as client:
        time.sleep(1)  # past the watchdog's first look at start-up
        job = store.create("index", {"dataset": dataset_id, "index": "NDVI"})
        assert store.start(job.id) == 1  # "running" on a worker that then died
        went_quiet(store, job.id)
        done = wait_for_job(client, job.id, timeout=120, interval=0.2)
        assert done["status"] == "successful", done
        assert store.get(job.id).attempts == 2
        (out_id,) = client.get(f"/jobs/{job.id}/results").json()["datasets"]
        assert catalog.get_dataset(out_id).band_names == ["NDVI"]


def test_a_job_out_of_attempts_fails_with_the_reason(world):
    settings, catalog, dataset_id = world
    store = JobStore(catalog)
    with TestClient(create_app(settings)) as client:
        time.sleep(1)
        job = store.create("index", {"dataset": dataset_id, "index": "NDVI"})
        store._set(job.id, status=JobStatus.running, attempts=settings.job_max_attempts)
        went_quiet(store, job.id)
        failed = wait_for_job(client, job.id, timeout=20, interval=0.2)
    assert failed["status"] == "failed"
    assert failed["message"] == "Interrupted: its worker stopped responding; 2 attempts."


def test_a_fresh_heartbeat_keeps_a_job_its_workers(world):
    settings, catalog, dataset_id = world
    store = JobStore(catalog)
    job = store.create("index", {"dataset": dataset_id, "index": "NDVI"})
    store.start(job.id)
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.job_stale_seconds)
    assert store.claim_stale(store.get(job.id), cutoff, settings.job_max_attempts) is None
    assert store.get(job.id).status == JobStatus.running


def claim_race(url: str, settings: Settings) -> None:
    """Eight claimers (each with its own catalog, like replicas) see the same stale job."""
    store = JobStore(Catalog(url))
    job = store.create("index", {"dataset": "d", "index": "NDVI"})
    store.start(job.id)
    seen = went_quiet(store, job.id)
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.job_stale_seconds)
    stores = [JobStore(Catalog(url)) for _ in range(8)]
    outcomes: list[str | None] = []
    barrier = threading.Barrier(len(stores))

    def claim(replica: JobStore) -> None:
        barrier.wait()
        outcomes.append(replica.claim_stale(seen, cutoff, settings.job_max_attempts))

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("requeued") == 1 and outcomes.count(None) == 7, outcomes
    after = store.get(job.id)
    assert after.status == JobStatus.accepted and after.attempts == 1
    assert after.message == "re-queued: its worker stopped responding (attempt 1 of 2)"


def test_replicas_claim_a_stale_job_once_sqlite(tmp_path):
    claim_race(f"sqlite:///{tmp_path / 'catalog.db'}", Settings(data_dir=tmp_path))


def test_replicas_claim_a_stale_job_once_postgresql(tmp_path):
    if pg_bindir() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed")
    with pg_cluster() as cluster:
        url = cluster.database()
        try:
            claim_race(url, Settings(data_dir=tmp_path, database_url=url))
        finally:
            dispose_shared(url)


def test_two_apps_on_one_catalog_requeue_a_stale_job_once(world):
    settings, catalog, dataset_id = world
    store = JobStore(catalog)
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)):
        time.sleep(1)
        job = store.create("index", {"dataset": dataset_id, "index": "NDVI"})
        store.start(job.id)
        went_quiet(store, job.id)
        done = wait_for_job(one, job.id, timeout=120, interval=0.2)
    assert done["status"] == "successful", done
    assert store.get(job.id).attempts == 2  # re-queued once: one more run, not two
    outputs = [d for d in catalog.find_datasets() if d.properties.get("lineage")]
    assert len(outputs) == 1
