"""``cogsight worker``: a Dask worker for cogsight's jobs that joins a running scheduler.

Jobs carry the submitting server's settings, but the blocks a job fans out run on whichever
worker is free, so every worker needs cogsight's GDAL options (S3 endpoint and keys, caches) and
the processing tools loaded before the first task arrives. ``dask worker`` would start a
bare Python. The worker is the process itself (no nanny): if it dies, its tasks are re-run
elsewhere by the scheduler, and restarting it is the job of the supervisor (Compose's restart
policy, a Kubernetes Deployment).

    dask scheduler --port 8786                        # anywhere the workers and API reach
    cogsight worker --scheduler tcp://sched:8786      # on each worker machine
    COGSIGHT_DASK_SCHEDULER=tcp://sched:8786 cogsight serve

Workers must see the catalog database (``COGSIGHT_DATABASE_URL``, PostgreSQL across
machines) and the data folder at the same path as the API (a shared volume), or object
storage (``COGSIGHT_STORAGE_URL``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Annotated

import typer

from tileserver.settings import Settings

logger = logging.getLogger("cogsight.worker")


def prepare_process(settings: Settings) -> None:
    """What a worker process needs before its first task: GDAL configured as the job workers
    of the embedded cluster are (a bounded block cache), and the process registry loaded."""
    os.environ.setdefault("GDAL_CACHEMAX", str(settings.job_gdal_cache_mb))
    from tileserver.processing import PROCESSES
    from tileserver.sources import configure_gdal

    configure_gdal(settings)
    logger.info("cogsight processes: %s", ", ".join(p.id for p in PROCESSES))
    sweep_at_start(settings)


def sweep_at_start(settings: Settings) -> None:
    """Remove the scratch a killed worker left (what no running job or live process owns)."""
    from tileserver.catalog import Catalog
    from tileserver.manage.sweep import sweep_scratch

    try:
        sweep_scratch(Catalog(settings.resolved_database_url), settings, legacy=True)
    except Exception:  # never keeps a worker from starting
        logger.warning("scratch sweep at start failed", exc_info=True)


async def serve_worker(
    scheduler: str, nthreads: int, name: str | None, memory_limit: str, host: str | None
) -> None:
    """Run one Dask worker until the scheduler closes it or the process gets SIGTERM/SIGINT."""
    from distributed import Worker

    async with Worker(
        scheduler,
        nthreads=nthreads,
        name=name,
        memory_limit=memory_limit,
        host=host,
        dashboard=False,
    ) as worker:
        logger.info("worker %s joined %s with %d thread(s)", worker.address, scheduler, nthreads)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        finished = asyncio.ensure_future(worker.finished())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({finished, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (finished, stopping):
            task.cancel()
    logger.info("worker stopped")


def worker(
    scheduler: Annotated[
        str | None,
        typer.Option(help="tcp://host:port of the Dask scheduler (COGSIGHT_DASK_SCHEDULER)."),
    ] = None,
    nthreads: Annotated[
        int, typer.Option(min=1, help="Tasks run at once (one raster block or model strip each).")
    ] = 1,
    name: Annotated[str | None, typer.Option(help="Name shown by the scheduler.")] = None,
    memory_limit: Annotated[
        str, typer.Option(help="Dask memory limit: 'auto' (machine / threads), '4GiB', or 0.")
    ] = "auto",
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on and advertise (default: the one facing the "
                     "scheduler)."),
    ] = None,
) -> None:  # fmt: skip
    """Join a Dask scheduler as a worker for cogsight's jobs."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    address = scheduler or settings.dask_scheduler
    if not address:
        raise typer.BadParameter("Give --scheduler or set COGSIGHT_DASK_SCHEDULER.")
    prepare_process(settings)
    asyncio.run(serve_worker(address, nthreads, name, memory_limit, host))
