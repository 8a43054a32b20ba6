"""Following a job until it ends, as an HTTP client of the API does."""

from __future__ import annotations

import time
from typing import Any

FINAL = ("successful", "failed", "dismissed")


def wait_for_job(client: Any, job: str, timeout: float, interval: float = 0.5) -> dict:
    """The job's status once it is final. ``job`` is an id or the job's URL (``Location``);
    ``client`` a TestClient or an ``httpx.Client`` with a base URL."""
    url = job if "/" in job else f"/jobs/{job}"
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = client.get(url).json()
        if status["status"] in FINAL:
            return status
        time.sleep(interval)
    raise AssertionError(f"job {job} did not finish: {status}")
