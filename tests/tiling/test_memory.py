"""The process-level memory bounds an API process sets up: glibc malloc caps and the size of
the request thread pool (each thread keeps its own open datasets)."""

from __future__ import annotations

import platform

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from tileserver.http.app import create_app
from tileserver.memory import tune_malloc
from tileserver.settings import Settings


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_malloc_caps_are_accepted_by_glibc():
    assert tune_malloc(2, 256)
    assert tune_malloc(0, 0)  # nothing to change is not a failure


def test_the_request_thread_pool_has_the_configured_size(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, request_threads=5))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.portal is not None

        async def tokens() -> float:
            return anyio.to_thread.current_default_thread_limiter().total_tokens

        assert client.portal.call(tokens) == 5
