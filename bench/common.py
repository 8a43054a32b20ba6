"""Shared pieces for benchmarks: a seeded scene, servers on loopback, a timed client."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def uvicorn_process(
    target: str, env: dict[str, str], workers: int = 1, factory: bool = False
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``target`` under uvicorn in a process of its own; yield its base URL and process."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    if factory:
        cmd.insert(4, "--factory")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx.get(f"{url}/openapi.json", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{target} did not start")
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def uvicorn_server(
    target: str, env: dict[str, str], workers: int = 1, factory: bool = False
) -> Iterator[str]:
    """Run ``target`` under uvicorn in its own process; yield its base URL."""
    with uvicorn_process(target, env, workers, factory) as (url, _proc):
        yield url


def _fetch_share(urls: list[str]) -> int:
    """GET each URL over one keep-alive connection (http.client: a thin, cheap client, so the
    figures measure the server, not the client library)."""
    parsed = urlsplit(urls[0])
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    bad = 0
    try:
        for url in urls:
            part = urlsplit(url)
            conn.request("GET", f"{part.path}?{part.query}")
            response = conn.getresponse()
            response.read()
            bad += response.status != 200
    finally:
        conn.close()
    return bad


def fetch_all(urls: list[str], concurrency: int = 1) -> tuple[float, int]:
    """Fetch every URL with ``concurrency`` connections; return (seconds, non-200 count)."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    if concurrency == 1:
        bad = _fetch_share(urls)
    else:
        shares = [urls[i::concurrency] for i in range(concurrency)]
        with ThreadPoolExecutor(concurrency) as pool:
            bad = sum(pool.map(_fetch_share, shares))
    return time.perf_counter() - started, bad
