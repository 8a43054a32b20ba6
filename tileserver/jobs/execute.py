"""Run one job to its end, wherever it is scheduled (a Dask worker, or in-process).

It reads everything it needs from the catalog database by job id, so it can run on any worker
and be re-run after a worker dies: outputs are written to scratch space and published only on
success, so a repeat never finds a half-written dataset; what an earlier attempt published
before it died (success unrecorded) leaves the catalog when the next attempt claims the job.

While it runs, a heartbeat thread refreshes the job's heartbeat every quarter of
``COGSIGHT_JOB_STALE_SECONDS`` (long single steps such as a COG build included), so only a
run whose process stopped goes quiet long enough for the watchdog (``runner.py``) to take it
over. Every write names the run's attempt: a run that was taken over stops at its next
progress report and cannot publish or finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import rasterio.env
from pydantic import ValidationError

from tileserver.catalog import Catalog
from tileserver.errors import DISK_FULL, CogsightError
from tileserver.jobs.outputs import remove_outputs
from tileserver.jobs.paths import without_server_paths
from tileserver.jobs.store import JobDismissed, JobStore
from tileserver.scratch import as_disk_full
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.jobs")


def execute_job(
    job_id: str,
    settings_data: dict[str, Any],
    on_progress: Callable[[float, str], None] | None = None,
    submitted: int | None = None,
) -> str:
    """Run job ``job_id``; returns its final status. Never raises for a job's own failure.
    ``submitted``: the job's attempts when this run was queued (its claim; now when None)."""
    from tileserver.processing import PROCESSES
    from tileserver.processing.context import JobContext
    from tileserver.processing.models import sync_model_processes
    from tileserver.sources import configure_gdal

    settings = Settings(**settings_data)
    configure_gdal(settings)
    sync_model_processes(settings)  # models trained since this worker started
    catalog = Catalog(settings.resolved_database_url)
    store = JobStore(catalog)
    claim = store.claim(job_id, submitted)
    if claim is None:
        return store.get(job_id).status
    attempt = claim.attempt
    remove_outputs(job_id, claim.earlier_outputs, settings)  # a re-run publishes them anew
    job = store.get(job_id)
    stop = threading.Event()
    interval = heartbeat_interval(settings)
    threading.Thread(
        target=_beat, args=(store, job_id, attempt, stop, interval), daemon=True
    ).start()

    def progress(percent: float, message: str) -> None:
        store.progress(job_id, percent, message, attempt)
        if on_progress:
            on_progress(percent, message)

    ctx = JobContext(
        catalog, settings, job_id=job_id, on_progress=progress, owner=job.owner, attempt=attempt
    )

    def fail(reason: str) -> None:
        store.fail(job_id, without_server_paths(reason, settings), attempt)

    try:
        rasterio.env.set_gdal_config("GDAL_CACHEMAX", settings.job_gdal_cache_mb * 2**20)
        if job.process not in PROCESSES:  # a model removed since the job was queued
            fail(f"The process '{job.process}' is no longer available: its model was removed.")
            return store.get(job_id).status
        process = PROCESSES.get(job.process)
        params = process.inputs.model_validate(job.inputs)
        result = process.run(params, ctx)
        store.succeed(job_id, result.model_dump(), attempt)
    except JobDismissed:
        logger.info("job %s dismissed", job_id)
    except ValidationError as exc:
        fail(f"Invalid inputs: {exc.errors()[0].get('msg')}")
    except Exception as exc:
        if as_disk_full(settings, exc) is not None:  # before cleanup: its blocks still count
            logger.error("job %s: disk full: %s", job_id, exc)
            ctx.cleanup()  # first: the failure is recorded in a database on that disk
            fail(DISK_FULL)
        elif isinstance(exc, CogsightError):
            fail(str(exc))
        else:
            logger.exception("job %s failed", job_id)
            fail(f"The job failed unexpectedly ({type(exc).__name__}); see the log.")
    finally:
        stop.set()
        ctx.cleanup()
    return store.get(job_id).status


def heartbeat_interval(settings: Settings) -> float:
    """A quarter of the stale threshold: three beats may be lost before a run looks dead."""
    return max(0.2, min(15.0, settings.job_stale_seconds / 4))


def _beat(store: JobStore, job_id: str, attempt: int, stop: threading.Event, every: float) -> None:
    """Keep run ``attempt``'s heartbeat fresh until ``stop``, or until it is no longer the
    job's run (cancelled, finished or taken over: its own writes then refuse it)."""
    while not stop.wait(every):
        try:
            if not store.beat(job_id, attempt):
                return
        except Exception:  # a database hiccup: the next beat tries again
            logger.warning("job %s: heartbeat failed", job_id, exc_info=True)
