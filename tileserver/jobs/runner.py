"""Send jobs to Dask: an embedded LocalCluster by default, or ``COGSIGHT_DASK_SCHEDULER``.

The runner submits and cancels; job state is in the database, so an API restart loses
nothing. A watchdog thread in every API process (``start_watchdog``, from the app's lifespan)
looks every few seconds for unfinished jobs whose heartbeat is older than
``COGSIGHT_JOB_STALE_SECONDS`` and claims each with one conditional UPDATE
(``JobStore.claim_stale``): whichever replica's UPDATE changes the row re-submits the job (or
fails it with the reason once ``COGSIGHT_JOB_MAX_ATTEMPTS`` runs were interrupted), the others
change nothing. A job's Dask key names its attempt (``job-<id>-<attempts>``), so a re-queued
job is a new task while a re-submitted, never-started one shares its old task.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from tileserver.catalog import Catalog
from tileserver.jobs.cancel import cancel_job
from tileserver.jobs.execute import execute_job
from tileserver.jobs.paths import without_server_paths
from tileserver.jobs.store import JobStore
from tileserver.jobs.warmup import WorkerWarmup
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.jobs")


class JobRunner:
    def __init__(self, settings: Settings, catalog: Catalog, client: Any = None) -> None:
        self.settings = settings
        self.store = JobStore(catalog)
        self._client: Any = client
        self._cluster: Any = None
        self._futures: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

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
                self._client.register_plugin(WorkerWarmup(), name=WorkerWarmup.name)
            return self._client

    @property
    def connected(self) -> bool:
        """Whether the client (and the embedded cluster) exists yet."""
        return self._client is not None

    def warm_start(self) -> threading.Thread:
        """Start the cluster (and warm its workers) in the background now, so the first job
        does not wait for it; a server calls this as it starts."""
        thread = threading.Thread(target=lambda: self.client, name="cogsight-warm-start")
        thread.daemon = True
        thread.start()
        return thread

    def submit(self, job_id: str) -> Any:
        """Queue the job's next run on Dask; the future (keyed by the job's attempts)."""
        settings = self.settings.model_dump(mode="json")
        submitted = self.store.get(job_id).attempts
        future = self.client.submit(
            execute_job,
            job_id,
            settings,
            submitted=submitted,
            key=f"job-{job_id}-{submitted}",
            pure=False,
        )
        self._futures[job_id] = future
        future.add_done_callback(lambda f: self._done(job_id, submitted, f))
        return future

    def _done(self, job_id: str, submitted: int, future: Any) -> None:
        """A task that died outside the job's own error handling still ends the job, with why
        (unless another run has taken the job over since)."""
        if self._futures.get(job_id) is future:
            self._futures.pop(job_id, None)
        if future.status == "error":
            try:
                reason = repr(future.exception())
            except Exception:
                reason = "unknown error"
            logger.error("job %s: task error %s", job_id, reason)
            reason = without_server_paths(reason, self.settings)
            self.store.fail_submitted(job_id, f"The job's worker failed: {reason[:300]}", submitted)

    def cancel(self, job_id: str) -> None:
        cancel_job(self.store, self.settings, job_id)
        future = self._futures.pop(job_id, None)
        if future is not None:
            future.cancel()

    def recover(self) -> list[str]:
        """Claim and re-submit every unfinished job whose heartbeat is older than the stale
        threshold (failing those whose attempts are used); the ids re-submitted."""
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.settings.job_stale_seconds)
        resubmitted: list[str] = []
        for job in self.store.unfinished():
            beat = job.heartbeat or job.created
            if beat >= cutoff:
                continue  # a worker is on it, or it was queued a moment ago
            outcome = self.store.claim_stale(job, cutoff, self.settings.job_max_attempts)
            if outcome is None:
                continue  # it beat meanwhile, or another replica claimed it
            if outcome == "failed":
                logger.warning("job %s failed: interrupted %d times", job.id, job.attempts)
                continue
            logger.info("job %s %s: its heartbeat stopped", job.id, outcome)
            self.submit(job.id)
            resubmitted.append(job.id)
        return resubmitted

    def watchdog_interval(self) -> float:
        """How often the watchdog looks: a quarter of the stale threshold, 0.5 to 10 s."""
        return max(0.5, min(10.0, self.settings.job_stale_seconds / 4))

    def start_watchdog(self) -> None:
        """Recover stale jobs now and then every ``watchdog_interval`` s, until ``close``."""
        with self._lock:
            if self._watchdog is not None:
                return
            self._stop.clear()
            self._watchdog = threading.Thread(
                target=self._watch, name="cogsight-job-watchdog", daemon=True
            )
            self._watchdog.start()

    def _watch(self) -> None:
        while True:
            try:
                self.recover()
            except Exception:  # a database or scheduler hiccup: try again next round
                logger.exception("job watchdog: recovery failed")
            if self._stop.wait(self.watchdog_interval()):
                return

    def stop_watchdog(self) -> None:
        with self._lock:
            thread, self._watchdog = self._watchdog, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=30)

    def close(self) -> None:
        self.stop_watchdog()
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None
