"""A job that died after publishing, before recording success, is re-run from scratch: the
outputs of its earlier attempt leave with the claim, so it ends with one set, counted once."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.jobs.conftest import write_scene
from tests.jobs.test_publish_guard import stored_files
from tileserver.auth.quotas import storage_used
from tileserver.auth.store import UserStore
from tileserver.jobs.execute import execute_job
from tileserver.jobs.store import JobStatus, JobStore
from tileserver.manage.trash import trash_root
from tileserver.processing.context import JobContext
from tileserver.processing.publish import publish_raster


@pytest.fixture
def died_after_publishing(world, tmp_path):
    """User 'ana''s NDVI job: attempt 1 published an output, then its worker died."""
    settings, catalog, dataset_id = world
    user = UserStore(catalog, settings).add("ana", quotas={"storage_bytes": 50 * 2**20})
    store = JobStore(catalog)
    before = stored_files(settings)
    job = store.create("index", {"dataset": dataset_id, "index": "NDVI"}, owner=user.id)
    claim = store.claim(job.id)
    assert claim is not None and claim.attempt == 1 and claim.earlier_outputs == []
    ctx = JobContext(catalog, settings, job_id=job.id, owner=user.id, attempt=1)
    cog = write_scene(tmp_path / "half.tif")
    first = publish_raster(ctx, cog, process="index", params={}, title="NDVI, first attempt")
    assert storage_used(catalog, settings, user.id) > 0
    return settings, catalog, store, job.id, user.id, first, before


def test_a_requeued_job_publishes_one_set_of_outputs(died_after_publishing):
    settings, catalog, store, job_id, user_id, first, before = died_after_publishing
    store._set(job_id, heartbeat=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.job_stale_seconds)
    assert store.claim_stale(store.get(job_id), cutoff, settings.job_max_attempts) == "requeued"

    status = execute_job(job_id, settings.model_dump(mode="json"), submitted=1)

    assert status == JobStatus.successful, store.get(job_id).message
    job = store.get(job_id)
    assert job.attempts == 2
    (output,) = job.results["datasets"]
    mine = [d for d in catalog.find_datasets() if d.owner == user_id]
    assert [d.id for d in mine] == [output] and output != first.id
    assert mine[0].band_names == ["NDVI"]
    # the first attempt's COG and thumbnail are gone; the quota counts the one output
    new_files = stored_files(settings) - before
    assert new_files and not any(first.id in name for name in new_files)
    assert storage_used(catalog, settings, user_id) == sum(
        (settings.data_dir / name).stat().st_size
        for name in new_files
        if (settings.data_dir / name).is_file() and not name.startswith("thumbs/")
    )
    assert [p.name for p in trash_root(settings).iterdir() if p.name != ".lock"] == []


def test_a_repeated_task_takes_over_its_attempt_and_clears_its_outputs(died_after_publishing):
    """Dask re-runs a task whose worker it lost: the run queued at 0 attempts claims again."""
    settings, catalog, store, job_id, user_id, first, _before = died_after_publishing
    claim = store.claim(job_id, submitted=0)
    assert claim is not None and claim.attempt == 2
    assert [d.id for d in claim.earlier_outputs] == [first.id]
    assert [d.id for d in catalog.find_datasets() if d.owner == user_id] == []
    assert storage_used(catalog, settings, user_id) == 0
    assert store.claim(job_id, submitted=0) is None  # the attempt is taken: nothing changes


def test_a_first_claim_leaves_other_jobs_outputs_alone(died_after_publishing):
    _settings, catalog, store, _job_id, user_id, first, _before = died_after_publishing
    other = store.create("index", {"dataset": first.id, "index": "NDVI"}, owner=user_id)
    claim = store.claim(other.id)
    assert claim is not None and claim.earlier_outputs == []  # its input names no lineage
    assert catalog.get_dataset(first.id).id == first.id
