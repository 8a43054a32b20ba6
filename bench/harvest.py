"""Harvest rate, end to end: items/s from a 20,000-item ndjson file and from a paged STAC API
(the fake one in ``tests/archive/stac_api.py``, in its own process, pages of 500 on
loopback), into a fresh SQLite catalog (or a throwaway PostgreSQL cluster's database with
``--backends postgresql``, from ``tests/scaleout/pg.py``), through ``harvest.service`` and the
real scene registration; then the re-run of each (every item unchanged: no writes).

Usage: python bench/harvest.py [--items 20000] [--batch 500] [--backends sqlite postgresql]

The items are Earth Search-like ``sentinel-2-l2a`` items (``tests/archive/items.py``) over one
synthetic scene's per-band COGs, each with its own id, footprint and date; their assets carry
``proj:shape`` / ``proj:transform``, so registration reads no pixels.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.archive.assets import serve_directory, synthetic_scene
from tests.archive.items import item_for
from tileserver.catalog import Catalog
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.service import harvest
from tileserver.settings import Settings


def make_items(base: dict[str, Any], n: int) -> list[dict[str, Any]]:
    out = []
    start = dt.datetime(2023, 1, 1, 10, 30, tzinfo=dt.UTC)
    for i in range(n):
        item = copy.deepcopy(base)
        item["id"] = f"S2B_BENCH_{i:07d}"
        dx, dy = (i % 200) * 0.01, (i // 200 % 100) * 0.01
        w, s, e, n_ = base["bbox"]
        item["bbox"] = [w + dx, s + dy, e + dx, n_ + dy]
        ring = [[w + dx, s + dy], [e + dx, s + dy], [e + dx, n_ + dy], [w + dx, n_ + dy]]
        item["geometry"] = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        when = start + dt.timedelta(hours=i)
        item["properties"]["datetime"] = when.isoformat().replace("+00:00", "Z")
        item["properties"]["eo:cloud_cover"] = float(i % 100)
        out.append(item)
    return out


def timed(label: str, catalog: Catalog, settings: Settings, source: str, batch: int) -> float:
    t0 = time.perf_counter()
    run = harvest(catalog, settings, source, HarvestOptions(batch_size=batch))
    seconds = time.perf_counter() - t0
    rate = run.seen / seconds
    print(
        f"{label:28s} {run.seen:7,d} items  {seconds:6.2f} s  {rate:7,.0f} items/s  "
        f"(added {run.added:,}, unchanged {run.unchanged:,}, refused {run.refused:,})",
        flush=True,
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--backends", nargs="+", default=["sqlite"])
    args = parser.parse_args()
    with ExitStack() as stack:
        postgres = None
        if "postgresql" in args.backends:
            from tests.scaleout.pg import pg_cluster

            postgres = stack.enter_context(pg_cluster())
        for backend in args.backends:
            run_backend(args, backend, postgres if backend == "postgresql" else None)


def run_backend(args: argparse.Namespace, backend: str, postgres: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp, serve_directory(Path(tmp)) as archive:
        scene = synthetic_scene(Path(tmp), "base", "sentinel-2-l2a", size=64)
        when = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
        base = item_for("sentinel-2-l2a", scene.files, archive.href, "base", when)
        items = make_items(base, args.items)
        ndjson = Path(tmp) / "items.ndjson"
        ndjson.write_text("".join(json.dumps(i) + "\n" for i in items))
        # the STAC API runs in a process of its own, as a remote archive would
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.archive.stac_api", str(ndjson), "500"],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.PIPE,
            text=True,
        )
        api_url = str(server.stdout.readline().strip()) if server.stdout else ""
        print(f"{args.items:,} items, batches of {args.batch}, {backend}", flush=True)
        for label, make_source in (
            ("ndjson file", lambda url: str(ndjson)),
            ("STAC API (pages of 500)", lambda url: url),
        ):
            data = Path(tmp) / label.split()[0].lower()
            settings = Settings(data_dir=data, allowed_prefixes=[f"{archive.url}/"])
            if postgres is not None:  # an empty database for each source
                settings = settings.model_copy(update={"database_url": postgres.database("h")})
            data.mkdir()
            catalog = Catalog(settings.resolved_database_url)
            source = make_source(api_url)
            timed(label, catalog, settings, source, args.batch)
            timed(f"{label}, re-run", catalog, settings, source, args.batch)
        server.kill()


if __name__ == "__main__":
    main()
