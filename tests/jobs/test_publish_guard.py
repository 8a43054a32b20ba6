"""Publishing is atomic with cancel and take-over: a dismissed or replaced run leaves nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.jobs.conftest import write_scene
from tileserver.auth.quotas import storage_reserved, storage_used
from tileserver.auth.store import UserStore
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.jobs.cancel import cancel_job
from tileserver.jobs.store import JobDismissed, JobStatus, JobStore
from tileserver.processing.context import JobContext
from tileserver.processing.publish import publish_raster
from tileserver.settings import Settings
from tileserver.vectors.register import register_vector


def stored_files(settings: Settings) -> set[str]:
    """Every dataset file under the data folder (COGs, vector folders, thumbnails)."""
    found = set()
    for folder in ("cogs", "vectors", "thumbs"):
        root = settings.data_dir / folder
        if root.is_dir():
            found |= {str(p.relative_to(settings.data_dir)) for p in root.rglob("*")}
    return found


@pytest.fixture
def owned(world, tmp_path):
    """A job of user 'ana' (with a storage quota) running as attempt 1, and its context."""
    settings, catalog, dataset_id = world
    user = UserStore(catalog, settings).add("ana", quotas={"storage_bytes": 50 * 2**20})
    store = JobStore(catalog)
    job = store.create("index", {"dataset": dataset_id, "index": "NDVI"}, owner=user.id)
    assert store.start(job.id) == 1
    ctx = JobContext(catalog, settings, job_id=job.id, owner=user.id, attempt=1)
    return settings, catalog, store, job.id, user.id, ctx, write_scene(tmp_path / "out.tif")


def publish(ctx: JobContext, cog: Path):
    return publish_raster(ctx, cog, process="index", params={}, title="NDVI")


def nothing_of(catalog: Catalog, settings: Settings, user_id: str, before: set[str]) -> None:
    """No dataset of the job's, no new file, no storage counted or held for its owner."""
    assert [d.id for d in catalog.find_datasets() if d.owner == user_id] == []
    assert stored_files(settings) == before
    assert storage_used(catalog, settings, user_id) == 0
    with catalog.session() as s:
        assert storage_reserved(s, user_id) == 0


def test_publishing_after_a_cancel_is_refused_and_leaves_nothing(owned):
    settings, catalog, store, job_id, user_id, ctx, cog = owned
    before = stored_files(settings)
    assert cancel_job(store, settings, job_id).status == JobStatus.dismissed
    with pytest.raises(JobDismissed):
        publish(ctx, cog)  # the worker reaches its publish step after the cancel committed
    nothing_of(catalog, settings, user_id, before)
    assert store.get(job_id).status == JobStatus.dismissed


def test_a_cancel_after_publishing_removes_the_output(owned):
    settings, catalog, store, job_id, user_id, ctx, cog = owned
    before = stored_files(settings)
    out = publish(ctx, cog)  # published, the job not yet finished
    assert catalog.get_dataset(out.id).properties["lineage"]["job"] == job_id
    assert storage_used(catalog, settings, user_id) > 0
    job = cancel_job(store, settings, job_id)
    assert job.status == JobStatus.dismissed and job.message == "cancelled"
    nothing_of(catalog, settings, user_id, before)
    store.succeed(job_id, {"datasets": [out.id]}, 1)  # the run's last write changes nothing
    assert store.get(job_id).status == JobStatus.dismissed


def test_a_replaced_run_cannot_publish(owned):
    settings, catalog, store, job_id, user_id, stale_ctx, cog = owned
    before = stored_files(settings)
    store._set(job_id, heartbeat=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.job_stale_seconds)
    assert store.claim_stale(store.get(job_id), cutoff, settings.job_max_attempts) == "requeued"
    assert store.start(job_id, 1) == 2  # the re-queued run
    assert not store.beat(job_id, 1)  # the old run, alive after all, learns it was replaced
    with pytest.raises(JobDismissed):
        store.progress(job_id, 50, "late", 1)
    with pytest.raises(JobDismissed):
        publish(stale_ctx, cog)
    nothing_of(catalog, settings, user_id, before)
    store.succeed(job_id, {"datasets": []}, 1)
    assert store.get(job_id).status == JobStatus.running  # still the new run's job

    current = JobContext(catalog, settings, job_id=job_id, owner=user_id, attempt=2)
    out = publish(current, cog)  # the current run publishes once
    assert [d.id for d in catalog.find_datasets() if d.owner == user_id] == [out.id]


def test_a_vector_output_after_a_cancel_is_refused(owned, tmp_path):
    settings, catalog, store, job_id, user_id, ctx, _cog = owned
    before = stored_files(settings)
    polygons = tmp_path / "polygons.geojson"
    square = [[[114.0, 30.0], [114.1, 30.0], [114.1, 30.1], [114.0, 30.1], [114.0, 30.0]]]
    feature = {
        "type": "Feature",
        "properties": {"c": 1},
        "geometry": {"type": "Polygon", "coordinates": square},
    }
    polygons.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    cancel_job(store, settings, job_id)
    with pytest.raises(JobDismissed):
        register_vector(ctx.catalog, settings, polygons, owner=user_id, visibility="private")
    nothing_of(catalog, settings, user_id, before)


def test_delete_job_after_publishing_answers_dismissed_and_removes_the_output(owned):
    settings, catalog, store, job_id, user_id, ctx, cog = owned
    before = stored_files(settings)
    out = publish(ctx, cog)
    token = UserStore(catalog, settings).create_token("ana")
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        answer = client.delete(f"/jobs/{job_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "dismissed"
        assert client.get(f"/datasets/{out.id}", headers=headers).status_code == 404
    nothing_of(catalog, settings, user_id, before)
    assert store.get(job_id).status == JobStatus.dismissed
