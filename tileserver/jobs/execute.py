"""Run one job to its end, wherever it is scheduled (a Dask worker, or in-process).

It reads everything it needs from the catalog database by job id, so it can run on any worker
and be re-run after a worker dies: outputs are written to scratch space and published only on
success, so a repeat never finds a half-written dataset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import rasterio.env
from pydantic import ValidationError

from tileserver.catalog import Catalog
from tileserver.errors import CogsightError
from tileserver.jobs.paths import without_server_paths
from tileserver.jobs.store import JobDismissed, JobStore
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.jobs")


def execute_job(
    job_id: str,
    settings_data: dict[str, Any],
    on_progress: Callable[[float, str], None] | None = None,
) -> str:
    """Run job ``job_id``; returns its final status. Never raises for a job's own failure."""
    from tileserver.processing import PROCESSES
    from tileserver.processing.context import JobContext
    from tileserver.processing.models import sync_model_processes
    from tileserver.sources import configure_gdal

    settings = Settings(**settings_data)
    configure_gdal(settings)
    sync_model_processes(settings)  # models trained since this worker started
    catalog = Catalog(settings.resolved_database_url)
    store = JobStore(catalog)
    if not store.start(job_id):
        return store.get(job_id).status
    job = store.get(job_id)

    def progress(percent: float, message: str) -> None:
        store.progress(job_id, percent, message)
        if on_progress:
            on_progress(percent, message)

    ctx = JobContext(catalog, settings, job_id=job_id, on_progress=progress, owner=job.owner)

    def fail(reason: str) -> None:
        store.fail(job_id, without_server_paths(reason, settings))

    try:
        rasterio.env.set_gdal_config("GDAL_CACHEMAX", settings.job_gdal_cache_mb * 2**20)
        process = PROCESSES.get(job.process)
        params = process.inputs.model_validate(job.inputs)
        result = process.run(params, ctx)
        store.succeed(job_id, result.model_dump())
    except JobDismissed:
        logger.info("job %s dismissed", job_id)
    except ValidationError as exc:
        fail(f"Invalid inputs: {exc.errors()[0].get('msg')}")
    except CogsightError as exc:
        fail(str(exc))
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        fail(f"The job failed unexpectedly ({type(exc).__name__}); see the log.")
    finally:
        ctx.cleanup()
    return store.get(job_id).status
