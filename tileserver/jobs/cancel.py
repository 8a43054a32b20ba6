"""Cancel a job: the cancel wins over a publish in flight.

The job row becomes ``dismissed`` and the datasets it already published leave the catalog in
one transaction (``JobStore.dismiss_with_outputs``), so its owner's storage no longer counts
them; their files are removed right after. A publish that comes later is refused in its own
transaction (``JobStore.may_publish``) and removes what it wrote.
"""

from __future__ import annotations

import logging
import shutil

from tileserver.catalog import DatasetRecord
from tileserver.jobs.store import JobRecord, JobStore
from tileserver.manage.trash import owned_files
from tileserver.objectstore import delete_stored
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.jobs")


def cancel_job(store: JobStore, settings: Settings, job_id: str) -> JobRecord:
    """Dismiss ``job_id`` (if unfinished) and remove whatever it published; the job as it is now."""
    job, removed = store.dismiss_with_outputs(job_id)
    for record in removed:
        remove_files(record, settings)
        logger.info("job %s cancelled: removed its output %s", job_id, record.id)
    return job


def remove_files(record: DatasetRecord, settings: Settings) -> None:
    """The files and stored objects that belonged to ``record`` alone (its row is gone)."""
    manifest = owned_files(record, settings)
    for relative in manifest.local:
        path = settings.data_dir.resolve() / relative
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for uri in manifest.objects:
        delete_stored(uri, settings)
