"""What a running tool may touch: the catalog, progress reporting, block fan-out, outputs.

Inside a Dask worker, ``map_blocks`` fans block tasks out to every worker of the cluster
(via ``worker_client``) and collects them with a bounded number in flight, so memory does not
grow with the raster. Outside a cluster (the CLI, sync calls, tests) the same code runs locally.

A job's context hands tools a catalog (``JobCatalog``) whose ``add_dataset`` checks, in the
transaction that inserts the dataset row, that the job is still running as this context's
attempt: every output (rasters through ``publish_raster``, vectors through
``register_vector``) is refused after a cancel or a take-over, and its writer then removes
the files it stored, so a dismissed or replaced run never leaves a dataset.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tileserver.catalog import Catalog, DatasetRecord
from tileserver.scratch import job_owner, new_scratch, remove_earlier_attempts
from tileserver.settings import Settings
from tileserver.sources import gdal_path

logger = logging.getLogger("cogsight.jobs")
T = TypeVar("T")
R = TypeVar("R")

ProgressFn = Callable[[float, str], None]


class JobContext:
    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        job_id: str | None = None,
        on_progress: ProgressFn | None = None,
        owner: str | None = None,
        attempt: int | None = None,
    ) -> None:
        self.attempt = attempt
        if job_id is not None and attempt is not None:
            catalog = JobCatalog(catalog, job_id, attempt)
        self.catalog = catalog
        self.settings = settings
        self.job_id = job_id
        self.owner = owner  # results belong to the job's owner (private when there is one)
        self._on_progress = on_progress
        # ``work-job-<id>-<attempt>-…``: kept by the scratch sweep while the job runs as this
        # attempt, whichever worker writes blocks into it (a run outside a job: this process's)
        claim = None
        if job_id is not None and attempt is not None:
            claim = job_owner(job_id, attempt)
            remove_earlier_attempts(settings, job_id, attempt)
        self.workdir = new_scratch(settings, "work", claim)

    # progress ----------------------------------------------------------------------------
    def progress(self, percent: float, message: str) -> None:
        if self._on_progress:
            self._on_progress(percent, message)

    # inputs ------------------------------------------------------------------------------
    @property
    def visibility(self) -> str:
        return "private" if self.owner else "public"

    def dataset(self, dataset_id: str, kind: str = "raster") -> DatasetRecord:
        from tileserver.errors import InvalidInput

        record = self.catalog.get_dataset(dataset_id)
        if record.kind != kind:
            raise InvalidInput(f"Dataset '{dataset_id}' is a {record.kind}; a {kind} is needed.")
        return record

    def path(self, record: DatasetRecord) -> str:
        return gdal_path(record.uri, self.settings)

    # fan-out -----------------------------------------------------------------------------
    def map_blocks(
        self,
        func: Callable[..., R],
        items: Iterable[T],
        *args: Any,
        start: float = 5.0,
        end: float = 90.0,
        label: str = "blocks",
    ) -> Iterator[tuple[T, R]]:
        """Yield ``(item, func(item, *args))`` as blocks complete, reporting progress."""
        items = list(items)
        total = max(1, len(items))
        client = current_worker_client()
        if client is None:
            for n, item in enumerate(items, start=1):
                yield item, func(item, *args)
                self.progress(start + (end - start) * n / total, f"{label} {n}/{total}")
            return
        from distributed import as_completed

        with client as c:
            workers = max(1, sum(c.nthreads().values()))
            window = 2 * workers
            pending = iter(items)
            futures = {}
            for item in [next(pending) for _ in range(min(window, len(items)))]:
                futures[c.submit(func, item, *args, pure=False)] = item
            queue = as_completed(list(futures))
            for done_count, future in enumerate(queue, start=1):
                item = futures.pop(future)
                result = future.result()
                future.release()
                self.progress(
                    start + (end - start) * done_count / total, f"{label} {done_count}/{total}"
                )
                nxt = next(pending, None)
                if nxt is not None:
                    new = c.submit(func, nxt, *args, pure=False)
                    futures[new] = nxt
                    queue.add(new)
                yield item, result

    def cores(self) -> int | None:
        """Threads of the cluster this job runs on (None outside one: all of this machine's),
        so a step that runs on one worker may use as many cores as the cluster has."""
        client = current_worker_client()
        if client is None:
            return None
        with client as c:
            return max(1, sum(c.nthreads().values()))

    def configure_workers(self) -> None:
        """GDAL options for this process too (Dask workers are separate processes)."""
        from tileserver.sources import configure_gdal

        configure_gdal(self.settings)

    # cleanup -----------------------------------------------------------------------------
    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def scratch(self, name: str) -> Path:
        return self.workdir / name


class JobCatalog(Catalog):
    """The job's catalog (same engine and sessions) whose new datasets are inserted only while
    the job is still running as ``attempt``; otherwise ``JobDismissed`` and nothing is added."""

    def __init__(self, base: Catalog, job_id: str, attempt: int) -> None:
        self.__dict__.update(base.__dict__)  # no second engine, no second migration check
        self.job_id = job_id
        self.attempt = attempt

    def add_dataset(self, record: DatasetRecord) -> DatasetRecord:
        from tileserver.catalog.tables import DatasetRow
        from tileserver.jobs.store import JobDismissed, JobStore

        values = record.model_dump(exclude={"bounds"})
        west, south, east, north = record.bounds
        with self.session() as s:
            if not JobStore.may_publish(s, self.job_id, self.attempt):
                raise JobDismissed("The job was cancelled.")
            s.add(DatasetRow(**values, west=west, south=south, east=east, north=north))
        return record


def current_worker_client() -> Any:
    """A client to the cluster this task runs in, or None outside a Dask worker."""
    try:
        from distributed import get_worker, worker_client

        get_worker()
    except (ImportError, ValueError):
        return None
    return worker_client()
