"""Scale-out fixtures: a real PostgreSQL server, catalogs on either backend, a Dask cluster of
separate processes (``dask scheduler`` + ``cogsight worker``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scaleout.cluster import DaskCluster
from tests.scaleout.pg import PgCluster, pg_bindir, pg_cluster
from tileserver.catalog.engine import dispose_shared

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgCluster]:
    if pg_bindir() is None:
        pytest.skip(
            "PostgreSQL binaries (initdb, pg_ctl) not installed: apt-get install postgresql"
        )
    with pg_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(postgres: PgCluster) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    url = postgres.database()
    yield url
    dispose_shared(url)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on an empty SQLite file and on an empty PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def scaleout_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PostgreSQL where it is installed (the scale-out setup), else SQLite in ``tmp_path``."""
    if pg_bindir() is None:
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """A ``dask scheduler`` process; tests start their ``cogsight worker`` processes on it."""
    with DaskCluster(tmp_path / "dask") as cluster:
        yield cluster
