"""Cancel a job: the cancel wins over a publish in flight.

The job row becomes ``dismissed`` and the datasets it already published leave the catalog in
one transaction (``JobStore.dismiss_with_outputs``), so its owner's storage no longer counts
them; their files are removed right after, through the trash (``jobs.outputs``). A publish
that comes later is refused in its own transaction (``JobStore.may_publish``) and removes what
it wrote.
"""

from __future__ import annotations

from tileserver.jobs.outputs import remove_outputs
from tileserver.jobs.store import JobRecord, JobStore
from tileserver.settings import Settings


def cancel_job(store: JobStore, settings: Settings, job_id: str) -> JobRecord:
    """Dismiss ``job_id`` (if unfinished) and remove whatever it published; the job as it is now."""
    job, removed = store.dismiss_with_outputs(job_id)
    remove_outputs(job_id, removed, settings)
    return job
