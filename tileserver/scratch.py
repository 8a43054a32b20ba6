"""The scratch area ``<data>/.tmp``: one naming scheme for every temporary file, and who owns it.

Every temporary file or folder of an upload, a conversion, a job, a vector edit, an export, a
vector registration or an atomic write lives in a folder of its own directly under
``<data>/.tmp`` (the data's filesystem, so the final rename into place stays atomic), named
``<kind>-<owner>-<nonce>``:

- ``owner`` is ``job-<id>-<attempt>`` for a job's work folder (kept while the job runs as that
  attempt, whichever worker or host does the work), or ``pid<PID>-<start>@<host>`` for
  anything a process does (kept while that process lives; ``start``, its start time in
  centiseconds since the epoch, tells a reused pid apart);
- ``nonce`` is 12 hex characters.

``owner_alive`` decides ownership; ``tileserver.manage.sweep`` removes what no live upload,
job or edit owns. Nothing else in the data root is temporary, so quotas (which count dataset
folders) never count scratch.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from tileserver.settings import Settings

SCRATCH = ".tmp"

NAME = re.compile(r"^(?P<kind>[a-z]+)-(?P<owner>.+)-(?P<nonce>[0-9a-f]{12})$")
JOB_OWNER = re.compile(r"^job-(?P<job>[0-9A-Za-z]+)-(?P<attempt>\d+)$")
PROCESS_OWNER = re.compile(r"^pid(?P<pid>\d+)-(?P<start>\d+)@(?P<host>[A-Za-z0-9.]+)$")


def scratch_root(settings: Settings) -> Path:
    """``<data>/.tmp``, made if missing."""
    path = settings.data_dir / SCRATCH
    path.mkdir(parents=True, exist_ok=True)
    return path


def hostname() -> str:
    """This machine's name with only letters, digits and dots (names stay parseable)."""
    return re.sub(r"[^A-Za-z0-9.]", ".", socket.gethostname())[:64] or "localhost"


def _start_of(pid: int) -> int | None:
    """Process ``pid``'s start time in centiseconds since the epoch, or None if it is gone."""
    try:
        return round(psutil.Process(pid).create_time() * 100)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def process_owner(pid: int | None = None) -> str:
    """``pid<PID>-<start>@<host>`` for this process (or ``pid``)."""
    pid = os.getpid() if pid is None else pid
    return f"pid{pid}-{_start_of(pid) or 0}@{hostname()}"


def job_owner(job_id: str, attempt: int) -> str:
    return f"job-{job_id}-{attempt}"


def remove_earlier_attempts(settings: Settings, job_id: str, attempt: int) -> int:
    """Remove the scratch of ``job_id``'s attempts before ``attempt``: the claim of a new attempt
    means those runs are dead, so their folders (a killed worker's parts, a half-assembled COG)
    go at once rather than at the next sweep. Returns the bytes freed."""
    if attempt <= 1:
        return 0
    freed = 0
    for entry in scratch_root(settings).iterdir():
        parsed = parse_name(entry.name)
        job = JOB_OWNER.match(parsed.owner) if parsed is not None else None
        if job is not None and job["job"] == job_id and int(job["attempt"]) < attempt:
            freed += remove(entry)
    return freed


def scratch_name(kind: str, owner: str | None = None) -> str:
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError(f"scratch kind {kind!r}: lower-case letters only")
    return f"{kind}-{owner or process_owner()}-{uuid.uuid4().hex[:12]}"


def new_scratch(settings: Settings, kind: str, owner: str | None = None) -> Path:
    """A new, empty folder ``<data>/.tmp/<kind>-<owner>-<nonce>`` (owner: this process)."""
    folder = scratch_root(settings) / scratch_name(kind, owner)
    folder.mkdir()
    return folder


@contextmanager
def scratch_space(settings: Settings, kind: str, owner: str | None = None) -> Iterator[Path]:
    """``new_scratch``, removed when the block ends however it ends; a failure that filled the
    disk is raised as ``InsufficientStorage`` (see ``as_disk_full``)."""
    folder = new_scratch(settings, kind, owner)
    try:
        yield folder
    except Exception as exc:
        full = as_disk_full(settings, exc)  # measured before the partial files go
        if full is not None:
            raise full from exc
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class ScratchName:
    kind: str
    owner: str


def parse_name(name: str) -> ScratchName | None:
    """The kind and owner of a scratch entry, or None for a name of no known scheme."""
    found = NAME.match(name)
    if found is None:
        return None
    owner = found["owner"]
    if not (JOB_OWNER.match(owner) or PROCESS_OWNER.match(owner)):
        return None
    return ScratchName(found["kind"], owner)


JobRunning = Callable[[str, int], bool]
"""``(job_id, attempt) -> bool``: whether the job still runs as that attempt."""


def owner_alive(
    owner: str, job_running: JobRunning, changed: Callable[[], float], stale_after_s: float
) -> bool:
    """Whether ``owner`` may still use its scratch: a job running as that attempt; a process on
    this host that still runs (same pid, same start time); a process on another host (which
    this one cannot see) whose folder changed (``changed()``, the latest modification time)
    within ``stale_after_s``."""
    job = JOB_OWNER.match(owner)
    if job is not None:
        return job_running(job["job"], int(job["attempt"]))
    proc = PROCESS_OWNER.match(owner)
    if proc is None:
        return False
    if proc["host"] != hostname():
        return time.time() - changed() < stale_after_s
    start = _start_of(int(proc["pid"]))
    # create_time is derived from boot time and clock ticks; allow a tick of rounding
    return start is not None and abs(start - int(proc["start"])) <= 1


def newest_change(path: Path) -> float:
    """The latest modification time of ``path`` or anything in it (0 when it vanished)."""
    try:
        newest = path.lstat().st_mtime
    except OSError:
        return 0.0
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                try:
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
                except OSError:
                    continue
    return newest


def remove(path: Path) -> int:
    """Delete a file or folder; returns the bytes it held (0 if it was already gone)."""
    size = 0
    try:
        if path.is_dir() and not path.is_symlink():
            for root, _dirs, files in os.walk(path):
                for name in files:
                    try:
                        size += os.lstat(os.path.join(root, name)).st_size
                    except OSError:
                        continue
            shutil.rmtree(path, ignore_errors=True)
        else:
            size = path.lstat().st_size
            path.unlink(missing_ok=True)
    except OSError:
        return 0
    return size


FULL_MARGIN = 1 << 20
"""Free bytes under which a failed write is taken for a full disk: GDAL and OGR report ENOSPC
as "Cannot write feature" or "Unexpected I/O failure", without the errno."""


def free_bytes(settings: Settings) -> int:
    return shutil.disk_usage(scratch_root(settings)).free


def as_disk_full(settings: Settings, exc: BaseException) -> Exception | None:
    """``InsufficientStorage`` (507) for a write that failed because the disk is full: the
    error says so, or it is an unexpected error raised while the data's filesystem has less
    than ``FULL_MARGIN`` free (call it before the partial files are removed); else None."""
    from tileserver.errors import DISK_FULL, CogsightError, InsufficientStorage

    if isinstance(exc, InsufficientStorage):
        return None
    if is_disk_full(exc):
        return InsufficientStorage(DISK_FULL)
    if isinstance(exc, CogsightError):  # a refusal of the input, not a failed write
        return None
    try:
        nearly_full = free_bytes(settings) < FULL_MARGIN
    except OSError:
        return None
    return InsufficientStorage(DISK_FULL) if nearly_full else None


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the disk is full: ENOSPC / EDQUOT from the OS,
    GDAL's "No space left on device", SQLite's "database or disk is full"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(current)
        if "database or disk is full" in text or "No space left on device" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


def conversion_need(width: int, height: int, count: int, itemsize: int) -> int:
    """Scratch bytes a COG conversion holds at its peak. Measured (3000² x 3 uint16, 54 MB of
    pixels): rio-cogeo's temporary GeoTIFF stores the pixels uncompressed, with overviews
    (+1/3) and a mask byte per pixel, 78.6 MB whatever the input's compression; the COG is
    then copied from it beside it (63 MB for noise, 0.4 MB for smooth data): a peak of 141.6 MB
    (2.6x the pixels; 3.1x a deflated noise input, 186x a deflated smooth one). Bound: the
    temporary file twice."""
    temporary = width * height * (count * itemsize + 1) * 4 // 3
    return 2 * temporary


def require_free_space(settings: Settings, need: int, what: str) -> None:
    """Refuse (507, with the figures) work that needs ``need`` bytes of scratch when the data's
    filesystem has less free: the request fails at once instead of filling the disk."""
    from tileserver.errors import InsufficientStorage
    from tileserver.ingest.receive import human_bytes

    free = free_bytes(settings)
    if need > free:
        raise InsufficientStorage(
            f"Not enough free storage for {what}: it needs about {human_bytes(need)} "
            f"({need} bytes) and the server has {human_bytes(free)} ({free} bytes) free."
        )
