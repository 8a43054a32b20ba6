"""Queue a job on a running Dask scheduler from a process that then exits (``cogsight run
--submit``).

The request has passed ``submission.check_job`` (the checks every job passes); the scheduler is
reached before the job exists, so an unreachable (or unset) scheduler leaves
no job behind; a submit that fails after the job was created fails the job with the reason.
The task is handed to the scheduler with ``fire_and_forget``: it runs after the client leaves.
"""

from __future__ import annotations

import logging
from typing import Any

from tileserver.catalog import Catalog
from tileserver.errors import CogsightError
from tileserver.jobs.runner import JobRunner
from tileserver.jobs.store import JobRecord, JobStore
from tileserver.settings import Settings


class SchedulerUnavailable(CogsightError):
    code = "scheduler_unavailable"


def connect(settings: Settings, timeout: str = "5s") -> Any:
    """A client to ``COGSIGHT_DASK_SCHEDULER``; ``SchedulerUnavailable`` (one line) when it is
    unset or does not answer. Dask's own connection warnings are kept off the terminal."""
    if not settings.dask_scheduler:
        raise SchedulerUnavailable(
            "--submit needs a running Dask scheduler: set COGSIGHT_DASK_SCHEDULER "
            "(or run without --submit to run the job here)."
        )
    from distributed import Client

    quiet = [logging.getLogger(name) for name in ("distributed", "tornado", "asyncio")]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.CRITICAL)
    try:
        return Client(settings.dask_scheduler, timeout=timeout)
    except Exception as exc:
        raise SchedulerUnavailable(
            f"No Dask scheduler answers at {settings.dask_scheduler} "
            f"({type(exc).__name__}); start one (cogsight worker needs it too) or run "
            "without --submit."
        ) from None
    finally:
        for log, level in zip(quiet, levels, strict=True):
            log.setLevel(level)


def submit_detached(
    settings: Settings, catalog: Catalog, process: str, inputs: dict[str, Any]
) -> JobRecord:
    """Create the job (its inputs checked by ``submission.check_job``) and queue it on the
    scheduler; the job as queued."""
    from distributed import fire_and_forget

    client = connect(settings)
    store = JobStore(catalog)
    job = store.create(process, inputs)
    try:
        runner = JobRunner(settings, catalog, client=client)
        fire_and_forget(runner.submit(job.id))
    except Exception as exc:
        store.fail(job.id, f"The job could not be queued ({type(exc).__name__}).")
        raise SchedulerUnavailable(
            f"The scheduler at {settings.dask_scheduler} refused the job ({type(exc).__name__})."
        ) from None
    finally:
        client.close()
    return store.get(job.id)
