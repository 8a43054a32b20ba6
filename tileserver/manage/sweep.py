"""The scratch sweep: remove what no live upload, job or edit owns.

A process killed mid-upload, mid-conversion, mid-job or mid-edit cannot clean up after
itself; its scratch folder (``tileserver.scratch``: ``<data>/.tmp/<kind>-<owner>-<nonce>``)
stays. ``sweep_scratch`` runs at start-up (the app's lifespan, ``cogsight worker``) and every
``COGSIGHT_SCRATCH_SWEEP_SECONDS`` while the server runs, and removes each entry whose owner
is gone: a job folder whose job no longer runs as that attempt (finished, failed, cancelled,
or re-queued as a new attempt); a process folder whose process is dead (this host) or that
has not changed for ``COGSIGHT_SCRATCH_STALE_SECONDS`` (another host, which this one cannot
see). Entries of no known scheme (left by earlier versions: ``upload-…``, ``job-…``,
``.….partial``, rio-cogeo's ``tmp….tif``) and the temporary names earlier versions wrote
beside the data (``.….partial``, ``.features.….fgb``, ``.….work``, a model's ``.….tmp``;
looked for at start and then daily) are removed once they have not changed for that long
either.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sqlalchemy import select

from tileserver.catalog import Catalog
from tileserver.scratch import (
    SCRATCH,
    newest_change,
    owner_alive,
    parse_name,
    remove,
    scratch_root,
)
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.sweep")

LEGACY_BESIDE_DATA = re.compile(
    r"^(\..+\.[0-9a-f]{8}\.(partial|work|old)"  # atomic_file / atomic_dir, engine, model swap
    r"|\.features\.[0-9a-f]{8}\.fgb|\.tiles\.[0-9a-f]{8}\.pmtiles"  # vector edits
    r"|\..+\.[A-Za-z0-9_]{8}\.tmp"  # a model being saved
    r"|.+\.partial\.partial)$"
)
"""Temporary names earlier versions wrote beside the data, never a dataset's own file."""

SKIP_BESIDE_DATA = {SCRATCH, "trash"}


@dataclass
class SweepReport:
    removed: list[str] = field(default_factory=list)
    bytes: int = 0


def running_attempts(catalog: Catalog) -> dict[str, int]:
    """``job id -> attempt`` of every running job."""
    from tileserver.jobs.store import JobStatus
    from tileserver.jobs.tables import JobRow

    with catalog.session() as s:
        rows = s.execute(
            select(JobRow.id, JobRow.attempts).where(JobRow.status == JobStatus.running.value)
        )
        return {job_id: int(attempts) for job_id, attempts in rows}


def sweep_scratch(catalog: Catalog, settings: Settings, *, legacy: bool = False) -> SweepReport:
    """Remove the scratch entries nothing alive owns (with ``legacy``, also the temporary names
    earlier versions left beside the data); returns what went."""
    report = SweepReport()
    root = scratch_root(settings)
    entries = list(root.iterdir())  # before the jobs are read: a listed job folder's run began
    running: dict[str, int] | None = None
    if any((p := parse_name(e.name)) is not None and p.owner.startswith("job-") for e in entries):
        try:
            running = running_attempts(catalog)
        except Exception:  # no catalog now: keep every job's folder until the next sweep
            logger.warning("scratch sweep: jobs unreadable; job folders kept", exc_info=True)

    def job_running(job_id: str, attempt: int) -> bool:
        return running is None or running.get(job_id) == attempt

    stale_after = float(settings.scratch_stale_seconds)
    for entry in entries:
        parsed = parse_name(entry.name)
        if parsed is not None:  # a folder's age is read only where the owner cannot be seen
            alive = owner_alive(
                parsed.owner, job_running, partial(newest_change, entry), stale_after
            )
        else:
            alive = time.time() - newest_change(entry) < stale_after
        if not alive:
            _remove(entry, report)
    if legacy:
        _sweep_beside_data(settings, stale_after, report)
    if report.removed:
        logger.info(
            "scratch sweep removed %d entries (%d bytes): %s",
            len(report.removed),
            report.bytes,
            ", ".join(report.removed[:10]),
        )
    return report


def _remove(path: Path, report: SweepReport) -> None:
    report.bytes += remove(path)
    report.removed.append(path.name)


def _sweep_beside_data(settings: Settings, stale_after: float, report: SweepReport) -> None:
    cutoff = time.time() - stale_after
    top = settings.data_dir
    for root, dirs, files in os.walk(top):
        here = Path(root)
        if here == top:
            dirs[:] = [d for d in dirs if d not in SKIP_BESIDE_DATA]
        for name in [*dirs, *files]:
            if not LEGACY_BESIDE_DATA.match(name):
                continue
            path = here / name
            if newest_change(path) < cutoff:
                _remove(path, report)
                if name in dirs:
                    dirs.remove(name)


LEGACY_EVERY_S = 24 * 3600
"""How often the data folders are walked for earlier versions' names (at start, then daily)."""


class ScratchSweeper:
    """A daemon thread sweeping at start and every ``COGSIGHT_SCRATCH_SWEEP_SECONDS``; the walk
    of the data folders for earlier versions' names at start and then daily."""

    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        sweep: Callable[..., SweepReport] = sweep_scratch,
    ) -> None:
        self.catalog, self.settings, self._sweep = catalog, settings, sweep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scratch-sweep", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        legacy_due = 0.0
        while True:
            legacy = time.monotonic() >= legacy_due
            try:
                self._sweep(self.catalog, self.settings, legacy=legacy)
                if legacy:
                    legacy_due = time.monotonic() + LEGACY_EVERY_S
            except Exception:  # a sweep never stops the server; the next one tries again
                logger.warning("scratch sweep failed", exc_info=True)
            if self._stop.wait(self.settings.scratch_sweep_seconds):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
