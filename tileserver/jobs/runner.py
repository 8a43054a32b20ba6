"""Send jobs to Dask: an embedded LocalCluster by default, or ``COGSIGHT_DASK_SCHEDULER``.

The runner only submits and cancels; job state is in the database, so an API restart loses
nothing: ``recover()`` re-queues jobs whose heartbeat went quiet and fails those that already
used their attempts, with the reason in the job's message.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from tileserver.catalog import Catalog
from tileserver.jobs.execute import execute_job
from tileserver.jobs.paths import without_server_paths
from tileserver.jobs.store import JobStatus, JobStore
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.jobs")


class JobRunner:
    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.store = JobStore(catalog)
        self._client: Any = None
        self._cluster: Any = None
        self._futures: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from distributed import Client, LocalCluster

                if self.settings.dask_scheduler:
                    self._client = Client(self.settings.dask_scheduler, timeout="20s")
                else:
                    self._cluster = LocalCluster(
                        n_workers=self.settings.dask_workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        silence_logs=logging.WARNING,
                        env={"GDAL_CACHEMAX": str(self.settings.job_gdal_cache_mb)},
                    )
                    self._client = Client(self._cluster)
            return self._client

    def submit(self, job_id: str) -> None:
        settings = self.settings.model_dump(mode="json")
        future = self.client.submit(execute_job, job_id, settings, key=f"job-{job_id}", pure=False)
        self._futures[job_id] = future
        future.add_done_callback(lambda f: self._done(job_id, f))

    def _done(self, job_id: str, future: Any) -> None:
        """A task that died outside the job's own error handling still ends the job, with why."""
        self._futures.pop(job_id, None)
        if future.status == "error":
            try:
                reason = repr(future.exception())
            except Exception:
                reason = "unknown error"
            logger.error("job %s: task error %s", job_id, reason)
            reason = without_server_paths(reason, self.settings)
            self.store.fail(job_id, f"The job's worker failed: {reason[:300]}")

    def cancel(self, job_id: str) -> None:
        self.store.dismiss(job_id)
        future = self._futures.pop(job_id, None)
        if future is not None:
            future.cancel()

    def recover(self) -> list[str]:
        """Re-queue unfinished jobs nobody is working on; returns the ids re-queued."""
        now = dt.datetime.now(dt.UTC)
        stale = dt.timedelta(seconds=self.settings.job_stale_seconds)
        requeued: list[str] = []
        for job in self.store.unfinished():
            beat = job.heartbeat or job.created
            if job.status == JobStatus.running and now - beat < stale:
                continue  # another replica's worker is on it
            if job.attempts >= self.settings.job_max_attempts:
                self.store.fail(
                    job.id,
                    f"Interrupted {job.attempts} times (server restart or lost worker); giving up.",
                )
                continue
            self.store.requeue(job.id, "re-queued after a server restart")
            self.submit(job.id)
            requeued.append(job.id)
        return requeued

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None
