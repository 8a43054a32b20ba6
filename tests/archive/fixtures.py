"""pytest fixtures of the fake archive, for any test folder:

    from tests.archive.fixtures import *  # noqa: F403  (fixtures)

- ``archive_root``: the session's folder of per-band COGs (served by both servers);
- ``landsat_files`` / ``s2_files`` / ``s2_files_september``: ``{asset key: path}`` (skip without
  ``../shared/data``);
- ``http_archive``: the range server over ``archive_root`` (``.href(path)``, ``.requests``);
- ``s3_archive``: moto S3 with every file of ``archive_root`` uploaded to ``s3://archive/``
  (``.env()`` gives the COGSIGHT_S3_* settings); ``s3_href(path)`` names a file there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.archive.assets import (
    HttpArchive,
    S3Archive,
    have_realdata,
    landsat_band_cogs,
    moto_s3,
    s2_band_cogs,
    serve_directory,
)

S3_BUCKET = "archive"

__all__ = [
    "S3_BUCKET",
    "archive_root",
    "http_archive",
    "landsat_files",
    "s2_files",
    "s2_files_september",
    "s3_archive",
    "s3_href",
]


@pytest.fixture(scope="session")
def archive_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("archive")


def _need_realdata() -> None:
    if not have_realdata():
        pytest.skip("the real samples in ../shared/data are not present")


@pytest.fixture(scope="session")
def landsat_files(archive_root: Path) -> dict[str, Path]:
    _need_realdata()
    return landsat_band_cogs(archive_root)


@pytest.fixture(scope="session")
def s2_files(archive_root: Path) -> dict[str, Path]:
    _need_realdata()
    return s2_band_cogs(archive_root, date=0)


@pytest.fixture(scope="session")
def s2_files_september(archive_root: Path) -> dict[str, Path]:
    _need_realdata()
    return s2_band_cogs(archive_root, date=1)


@pytest.fixture(scope="session")
def http_archive(archive_root: Path) -> Iterator[HttpArchive]:
    with serve_directory(archive_root) as archive:
        yield archive


@pytest.fixture(scope="session")
def s3_archive() -> Iterator[S3Archive]:
    pytest.importorskip("moto")
    with moto_s3() as archive:
        yield archive


def s3_href(s3: S3Archive, root: Path, path: Path) -> str:
    """Upload ``path`` (under ``root``) to the archive bucket once and name it as ``s3://``."""
    key = path.relative_to(root).as_posix()
    try:
        s3.client.head_object(Bucket=S3_BUCKET, Key=key)
    except Exception:
        s3.upload_folder(S3_BUCKET, root, [path], prefix="")
    return f"s3://{S3_BUCKET}/{key}"
