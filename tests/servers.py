"""The real server for tests: ``tileserver.http.app:create_app`` under uvicorn, in its own process
on loopback, as ``cogsight serve`` runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_server(
    data_dir: Path,
    env: Mapping[str, str | None] | None = None,
    workers: int = 1,
    start_timeout: float = 60,
    procs: list[subprocess.Popen[bytes]] | None = None,
) -> Iterator[str]:
    """Start the app over ``data_dir`` and yield its URL once ``/healthz`` answers; stop it
    after. ``env`` adds settings (a ``None`` value removes the variable); ``procs`` gets the
    server's process (for tests that kill it)."""
    port = free_port()
    environ = {**os.environ, "COGSIGHT_DATA_DIR": str(data_dir)}
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    command = [sys.executable, "-m", "uvicorn", "--factory", "tileserver.http.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    if workers > 1:
        command += ["--workers", str(workers)]
    proc = subprocess.Popen(command, cwd=ROOT, env=environ)
    if procs is not None:
        procs.append(proc)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + start_timeout
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
