"""Real processes for scale-out tests: a ``dask scheduler``, ``cogsight worker``s, API servers.

Each is started the way a deployment starts it (its own process, configured by ``COGSIGHT_*``
environment variables) and killed when the test ends, whatever happened.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Child processes with their output in log files (read back when something fails)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115  (closed with the process)
        proc = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)}" for name in self.procs)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class DaskCluster(Processes):
    """``dask scheduler`` on loopback; ``add_worker`` starts ``cogsight worker`` processes."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.address = f"tcp://127.0.0.1:{free_port()}"

    def __enter__(self) -> DaskCluster:
        port = self.address.rsplit(":", 1)[1]
        self.start(
            "scheduler",
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", port,
             "--no-dashboard"],
            {},
        )  # fmt: skip
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop_all()

    def add_worker(self, name: str, env: dict[str, str], nthreads: int = 1) -> None:
        self.start(
            name,
            [sys.executable, "-m", "tileserver.cli", "worker", "--scheduler", self.address,
             "--nthreads", str(nthreads), "--name", name, "--memory-limit", "0"],
            env,
        )  # fmt: skip

    def wait_for_workers(self, count: int, timeout: float = 90) -> dict[str, int]:
        """Block until ``count`` workers joined; returns worker name -> pid."""
        from distributed import Client

        deadline = time.time() + timeout
        with Client(self.address, timeout="30s") as client:
            while time.time() < deadline:
                workers = client.scheduler_info(n_workers=-1)["workers"]
                if len(workers) >= count:
                    pids = client.run(os.getpid)
                    return {workers[a]["name"]: pid for a, pid in pids.items()}
                for name, proc in self.procs.items():
                    if proc.poll() is not None:
                        raise RuntimeError(f"{name} exited:\n{self.log(name)}")
                time.sleep(0.3)
        raise RuntimeError(f"{count} workers did not join:\n{self.logs()}")


def start_api(procs: Processes, name: str, env: dict[str, str]) -> str:
    """An API server process (uvicorn with the app factory, as ``cogsight serve`` runs it)."""
    port = free_port()
    procs.start(
        name,
        [sys.executable, "-m", "uvicorn", "--factory", "tileserver.http.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        {**env, "COGSIGHT_PORT": str(port)},
    )  # fmt: skip
    return f"http://127.0.0.1:{port}"


def wait_healthy(procs: Processes, name: str, url: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if procs.procs[name].poll() is not None:
            raise RuntimeError(f"{name} exited:\n{procs.log(name)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{name} did not start:\n{procs.log(name)}")
