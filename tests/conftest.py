"""Shared fixtures: a demo catalog made once per session, an in-process client, a live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.servers import ROOT, uvicorn_server
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.settings import Settings

REALDATA = Path(os.environ.get("COGSIGHT_REALDATA_DIR", ROOT.parent / "shared" / "data"))
# the many apps tests create start their job cluster when a test submits a job, not at start-up
# (tests/jobs/test_warm_start.py checks the warm start itself)
os.environ.setdefault("COGSIGHT_JOB_WARM_START", "false")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cogsight-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, tile_cache_bytes=64 * 1024 * 1024)


@pytest.fixture(scope="session")
def catalog(settings: Settings) -> Catalog:
    return Catalog(settings.resolved_database_url)


@pytest.fixture(scope="session")
def demo(catalog: Catalog, settings: Settings) -> dict[str, str]:
    """Demo scenes registered once: maps a short name to the dataset or mosaic id."""
    from tileserver.demo.register import ensure_demo

    ids: dict[str, str] = {}
    for kind, ident, _title in ensure_demo(catalog, settings):
        if kind == "mosaic":
            ids["mosaic"] = ident
    for record in catalog.find_datasets():
        name = record.properties.get("demo_file", "")
        ids[name.removesuffix(".tif")] = record.id
    return ids


@pytest.fixture(scope="session")
def app(settings: Settings, demo: dict[str, str]):
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def live_server(data_dir: Path, demo: dict[str, str]) -> Iterator[str]:
    """The real server in its own process on loopback (uvicorn, as `cogsight serve` runs it)."""
    with uvicorn_server(data_dir) as url:
        yield url


def realdata(*parts: str) -> Path:
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real sample {path} not present (set COGSIGHT_REALDATA_DIR)")
    return path
