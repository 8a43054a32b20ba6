"""GDAL's options are process-wide: a second app in one process must not read with the first's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tileserver import sources
from tileserver.settings import Settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("AWS_S3_ENDPOINT", "AWS_HTTPS", "AWS_NO_SIGN_REQUEST", "AWS_ACCESS_KEY_ID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(sources, "_APPLIED", {})
    yield
    for key in list(sources._APPLIED):
        os.environ.pop(key, None)


def test_a_second_configuration_replaces_the_first(clean_env: None, tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, s3_endpoint="127.0.0.1:1", s3_https=True)
    sources.configure_gdal(first)
    assert os.environ["AWS_S3_ENDPOINT"] == "127.0.0.1:1"
    assert os.environ["AWS_HTTPS"] == "YES"
    assert os.environ["AWS_NO_SIGN_REQUEST"] == "YES"
    second = Settings(
        data_dir=tmp_path,
        s3_endpoint="127.0.0.1:2",
        s3_https=False,
        s3_access_key_id="k",
        s3_secret_access_key="s",
    )
    sources.configure_gdal(second)
    assert os.environ["AWS_S3_ENDPOINT"] == "127.0.0.1:2"
    assert os.environ["AWS_HTTPS"] == "NO"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "k"
    assert "AWS_NO_SIGN_REQUEST" not in os.environ  # signed reads now
    sources.configure_gdal(Settings(data_dir=tmp_path))
    assert "AWS_S3_ENDPOINT" not in os.environ


def test_the_operators_environment_wins(
    clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_S3_ENDPOINT", "minio.internal:9000")
    sources.configure_gdal(Settings(data_dir=tmp_path, s3_endpoint="127.0.0.1:1"))
    sources.configure_gdal(Settings(data_dir=tmp_path, s3_endpoint="127.0.0.1:2"))
    assert os.environ["AWS_S3_ENDPOINT"] == "minio.internal:9000"
