"""A throwaway PostgreSQL cluster for tests: ``initdb`` + ``pg_ctl`` in a temp directory.

The server listens on 127.0.0.1 on a free port, with fsync off (nothing here needs to survive
a crash) and trust authentication (only this machine can connect). PostgreSQL refuses to run
as root, so as root it runs as ``nobody`` through ``runuser``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

USER = "cogsight"


def pg_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: on PATH, else Debian's versioned folder."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """One running server; ``database()`` hands out a fresh, empty database per caller."""

    def __init__(self, root: Path, bindir: Path, port: int, run_as: str | None) -> None:
        self.root = root
        self.bindir = bindir
        self.port = port
        self.run_as = run_as
        self.datadir = root / "data"
        self.log = root / "server.log"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        result = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, cwd=self.root
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stderr}{result.stdout}\n{log}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.root}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
                "-c shared_buffers=32MB",
            ]
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.log),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def database(self, prefix: str = "t") -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{secrets.token_hex(4)}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    """Start a cluster, yield it, stop it and delete its files."""
    bindir = pg_bindir()
    if bindir is None:
        raise FileNotFoundError("initdb not found (Debian: apt-get install postgresql)")
    run_as = "nobody" if os.geteuid() == 0 else None
    # Not under pytest's tmp_path: its folders are private to root, and the server is not.
    root = Path(tempfile.mkdtemp(prefix="cogsight-pg-"))
    if run_as:
        shutil.chown(root, run_as)
    cluster = PgCluster(root, bindir, _free_port(), run_as)
    try:
        cluster.start()
        yield cluster
    finally:
        with suppress(Exception):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
