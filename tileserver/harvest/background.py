"""Harvests started over HTTP run in a thread of the API process; the run row is their state.

A thread per run, at most one per run id in this process (another process is kept out by the
run's claim). If the process dies, the run stops beating and reads ``interrupted``; ``POST
/harvests/{id}/resume`` (or ``cogsight harvest --resume``) continues it from its cursor.
"""

from __future__ import annotations

import logging
import threading

from tileserver.catalog import Catalog
from tileserver.errors import CogsightError
from tileserver.harvest.service import run_harvest
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.harvest")


class HarvestThreads:
    def __init__(self) -> None:
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def running(self, run_id: str) -> bool:
        with self._lock:
            thread = self._threads.get(run_id)
            return thread is not None and thread.is_alive()

    def start(self, catalog: Catalog, settings: Settings, run_id: str) -> bool:
        """Run ``run_id`` (claimed by the caller) unless this process already runs it."""
        with self._lock:
            thread = self._threads.get(run_id)
            if thread is not None and thread.is_alive():
                return False
            thread = threading.Thread(
                target=_run, args=(catalog, settings, run_id), name=f"harvest-{run_id[:8]}"
            )
            thread.daemon = True
            self._threads[run_id] = thread
            thread.start()
            return True

    def join(self, timeout: float | None = None) -> None:
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)


def _run(catalog: Catalog, settings: Settings, run_id: str) -> None:
    try:
        run_harvest(catalog, settings, run_id, claimed=True)
    except CogsightError as exc:  # recorded on the run (failed, with the reason)
        logger.warning("harvest %s stopped: %s", run_id, exc)
    except Exception:
        logger.exception("harvest %s failed", run_id)
