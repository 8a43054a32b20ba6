"""Writing locally: files built in scratch and renamed under the data root, whole or not at all.

Files and folders are built in a folder of their own in the scratch area ``<data>/.tmp``
(``tileserver.scratch``) and renamed into place only on success (a rename within one
filesystem is atomic), so a failed or killed upload, conversion or job never leaves a
half-written dataset for the catalog to point at.

Not to be confused with ``sources`` (reading: catalog URI → GDAL path), ``objectstore``
(publishing finished files locally or to S3), ``vectors.store`` (a vector dataset's files) or
``processing.models.sources`` (a model's bands); see "Where the bytes live" in
docs/architecture.md.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tileserver.scratch import scratch_root, scratch_space
from tileserver.settings import Settings


def dataset_folder(settings: Settings, kind: str, dataset_id: str) -> Path:
    """``<data>/<kind>/<id>``: where a dataset's files live (kind: cogs, vectors, thumbs...)."""
    return settings.data_dir / kind / dataset_id


@contextmanager
def atomic_file(dst: Path, settings: Settings) -> Iterator[Path]:
    """Yield a temporary path in a scratch folder of its own; rename it to ``dst`` if the
    block succeeds. The folder is removed either way (and by the sweep if the process dies)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with scratch_space(settings, "atomic") as folder:
        tmp = folder / dst.name
        yield tmp
        os.replace(tmp, dst)


@contextmanager
def atomic_dir(dst: Path, settings: Settings) -> Iterator[Path]:
    """Yield a temporary folder in scratch; rename it to ``dst`` if the block succeeds."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with scratch_space(settings, "atomic") as folder:
        tmp = folder / dst.name
        tmp.mkdir()
        yield tmp
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(tmp, dst)


def scratch_dir(settings: Settings) -> Path:
    """``<data>/.tmp``: the one temporary area, on the same filesystem as the data (so final
    renames are atomic). Make folders in it with ``tileserver.scratch.new_scratch`` or
    ``scratch_space`` (named for their owner, so the sweep knows what is still in use)."""
    return scratch_root(settings)
