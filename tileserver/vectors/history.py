"""A vector dataset's edit history: one JSON line per edit, in the dataset's folder.

``<data>/vectors/{id}/history.jsonl`` records every feature edit (create, update, delete) with
the feature before and after, and every undo (which names the edit it reverted). The file is
replaced whole on each write (temporary file, fsync, rename), so a reader sees either the old
or the new history, never a torn line. Writers hold the dataset's edit lock
(``edit_lock``): an exclusive ``flock`` on ``.edit.lock`` in the same folder, which serialises
edits across threads and across API processes sharing the data folder.

The undo stack is derived, not stored: replaying the log, an edit pushes and an undo pops, so
``undoable`` is the last edit not yet reverted.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

HISTORY_FILE = "history.jsonl"
LOCK_FILE = ".edit.lock"

EditOp = Literal["create", "update", "delete", "undo"]

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


class FeatureState(BaseModel):
    """A feature as it was stored: GeoJSON geometry (WGS84) and its attributes."""

    geometry: dict[str, Any]
    properties: dict[str, Any]


class HistoryEntry(BaseModel):
    seq: int = Field(description="Position in the log, from 1; also the dataset's version.")
    op: EditOp
    fid: int = Field(description="The feature the edit touched.")
    before: FeatureState | None = Field(description="The feature before (None: it was created).")
    after: FeatureState | None = Field(description="The feature after (None: it was deleted).")
    undoes: int | None = Field(default=None, description="For an undo: the seq it reverted.")
    time: datetime
    user: str | None = None


def history_path(folder: Path) -> Path:
    return folder / HISTORY_FILE


def is_edited(folder: Path) -> bool:
    """True once the dataset has been edited (its features then carry a stable ``fid``)."""
    return history_path(folder).is_file()


def read_history(folder: Path) -> list[HistoryEntry]:
    """Every entry, oldest first (an empty list before the first edit)."""
    path = history_path(folder)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [HistoryEntry.model_validate_json(line) for line in text.splitlines() if line.strip()]


def undoable(entries: list[HistoryEntry]) -> HistoryEntry | None:
    """The most recent edit that has not been undone, or None."""
    stack: list[HistoryEntry] = []
    for entry in entries:
        if entry.op == "undo":
            if stack and stack[-1].seq == entry.undoes:
                stack.pop()
        else:
            stack.append(entry)
    return stack[-1] if stack else None


def next_seq(entries: list[HistoryEntry]) -> int:
    return (entries[-1].seq if entries else 0) + 1


def new_entry(
    entries: list[HistoryEntry],
    op: EditOp,
    fid: int,
    before: FeatureState | None,
    after: FeatureState | None,
    *,
    user: str | None,
    undoes: int | None = None,
) -> HistoryEntry:
    return HistoryEntry(
        seq=next_seq(entries),
        op=op,
        fid=fid,
        before=before,
        after=after,
        undoes=undoes,
        time=datetime.now(UTC),
        user=user,
    )


def write_history_to(path: Path, entries: list[HistoryEntry]) -> None:
    """Write the log ``entries`` to ``path`` (a scratch file renamed into place by the caller)."""
    body = "".join(entry.model_dump_json() + "\n" for entry in entries)
    with path.open("w", encoding="utf-8") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())


def _thread_lock(folder: Path) -> threading.Lock:
    key = str(folder.resolve())
    with _THREAD_LOCKS_GUARD:
        lock = _THREAD_LOCKS.get(key)
        if lock is None:
            lock = _THREAD_LOCKS[key] = threading.Lock()
        return lock


@contextmanager
def edit_lock(folder: Path) -> Iterator[None]:
    """Exclusive right to edit the dataset in ``folder``: threads of this process queue on a
    lock, processes on ``flock`` (released by the kernel if a holder dies)."""
    with _thread_lock(folder):
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
