"""Writing under the data root: every dataset appears whole or not at all.

Files and folders are built under a hidden temporary name beside their destination and renamed
into place only on success (a rename within one filesystem is atomic), so a failed or killed
upload, conversion or job never leaves a half-written dataset for the catalog to point at.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tileserver.settings import Settings


def dataset_folder(settings: Settings, kind: str, dataset_id: str) -> Path:
    """``<data>/<kind>/<id>``: where a dataset's files live (kind: cogs, vectors, thumbs...)."""
    return settings.data_dir / kind / dataset_id


@contextmanager
def atomic_file(dst: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; rename it to ``dst`` if the block succeeds."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield tmp
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(dst: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``dst``; rename it to ``dst`` if the block succeeds."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.partial")
    tmp.mkdir()
    try:
        yield tmp
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def scratch_dir(settings: Settings) -> Path:
    """A temporary area on the same filesystem as the data (so final renames are atomic)."""
    path = settings.data_dir / ".tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path
