"""A harvest killed half way (SIGKILL, after some batches) resumes where it stopped: every item
registered once, none half-registered, the counts adding up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.harvest.helpers import registered
from tests.servers import ROOT
from tileserver.catalog import Catalog
from tileserver.harvest.runs import RunStore
from tileserver.settings import Settings


def _cli(settings: Settings, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "COGSIGHT_DATA_DIR": str(settings.data_dir),
        "COGSIGHT_ALLOWED_PREFIXES": ",".join(settings.allowed_prefixes),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tileserver.cli", "harvest", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killed_harvest_resumes_without_duplicates(
    stac_api: Any, many_items: Any, catalog: Catalog, settings: Settings
) -> None:
    api = stac_api(many_items(200), page_delay=0.15)
    proc = _cli(settings, api.url, "--batch-size", "20")
    store = RunStore(catalog)
    deadline = time.time() + 60
    while True:  # kill it once three batches are committed
        runs = store.list()
        if runs and runs[0].seen >= 60:
            break
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    [killed] = store.list()
    assert killed.status == "interrupted"  # its process is gone
    assert 60 <= killed.seen < 200 and killed.seen % 20 == 0
    rows = registered(catalog)
    assert len(rows) >= killed.seen  # a batch may be registered but not yet recorded
    assert all(r.source_hash and r.collection == "sentinel-2-l2a" for r in rows.values())
    searches_before = len(api.searches())

    api.page_delay = 0
    resumed = _cli(settings, "--resume", killed.id)
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    run = json.loads(out.strip().splitlines()[-1])
    assert (run["id"], run["status"], run["seen"]) == (killed.id, "completed", 200)
    assert run["added"] + run["unchanged"] == 200 and run["refused"] == 0
    assert run["unchanged"] <= 20  # at most the one batch registered before the kill
    rows = registered(catalog)  # raises on a duplicate external id
    assert sorted(k.split("/")[1] for k in rows) == [f"S2X_{i:06d}" for i in range(200)]
    # every scene whole: its VRT is there and names the per-band files
    for row in rows.values():
        vrt = settings.data_dir / row.uri
        assert vrt.is_file() and "blue.tif" in vrt.read_text(), row.external_id
    vrts = {p.relative_to(settings.data_dir).as_posix() for p in settings.data_dir.rglob("*.vrt")}
    assert vrts == {r.uri for r in rows.values()}  # killed while reading a page: no leftovers
    # it asked for the pages after its cursor, not the archive from the start
    asked = api.searches()[searches_before:]
    assert len(asked) == (200 - killed.seen) // 20  # the last full page has no next link
    assert asked[0].body["token"] == str(killed.seen)


def test_rerunning_the_same_command_continues_the_interrupted_run(
    stac_api: Any, many_items: Any, catalog: Catalog, settings: Settings, tmp_path: Path
) -> None:
    api = stac_api(many_items(100), page_delay=0.15)
    proc = _cli(settings, api.url, "--batch-size", "10", "--collections", "sentinel-2-l2a")
    store = RunStore(catalog)
    deadline = time.time() + 60
    while not (store.list() and store.list()[0].seen >= 30):
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    api.page_delay = 0
    again = _cli(settings, api.url, "--batch-size", "10", "--collections", "sentinel-2-l2a")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    run = json.loads(out.strip().splitlines()[-1])
    assert len(store.list()) == 1 and run["status"] == "completed" and run["seen"] == 100
    assert len(registered(catalog)) == 100
