"""Scene registration rate (wall clock, and per CPU-second of this process, which a busy
shared machine does not distort): items/s through ``scenes.register.register_items`` alone (parse,
allowed-prefix checks, grids from ``proj:*``, one VRT file per scene, one transaction per batch)
into a fresh SQLite catalog; then the re-run (every item unchanged: no writes).

Usage: python bench/harvest_rate.py [--items 20000]

The items are Earth Search-like ``sentinel-2-l2a`` items (``tests/archive/items.py``) over one
synthetic scene's per-band COGs, each with its own id; their hrefs are https:// URLs that are
never opened (the assets carry ``proj:shape`` / ``proj:transform``).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.archive.assets import synthetic_scene
from tests.archive.items import sentinel2_item
from tileserver.catalog import Catalog
from tileserver.scenes.register import register_items
from tileserver.settings import Settings

PREFIX = "https://sentinel-cogs.example.com/"


def items(count: int, folder: Path) -> list[dict]:
    scene = synthetic_scene(folder, "bench-scene", "sentinel-2-l2a", size=64)
    base = sentinel2_item(scene.files, lambda p: PREFIX + p.name, processing_baseline="05.00")
    out = []
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for i in range(count):
        item = copy.deepcopy(base)
        item["id"] = f"S2B_BENCH_{i:08d}"
        item["properties"]["datetime"] = (start + dt.timedelta(minutes=i)).isoformat()
        for asset in item["assets"].values():
            if "href" in asset:
                asset["href"] = asset["href"].replace(PREFIX, f"{PREFIX}{i}/")
        out.append(item)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        batch = items(args.items, folder / "assets")
        settings = Settings(data_dir=folder / "data", allowed_prefixes=[PREFIX])
        settings.data_dir.mkdir(parents=True)
        catalog = Catalog(settings.resolved_database_url)
        t0, c0 = time.perf_counter(), time.process_time()
        outcomes = register_items(catalog, settings, batch, source="bench")
        first, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert all(o.status == "added" for o in outcomes), outcomes[:3]
        t0 = time.perf_counter()
        again = register_items(catalog, settings, batch, source="bench")
        second = time.perf_counter() - t0
        assert all(o.status == "unchanged" for o in again)
        print(f"register_items, {args.items} Sentinel-2 items, SQLite:")
        print(f"  first run : {first:6.2f} s  {args.items / first:8.0f} items/s")
        print(f"    CPU     : {cpu:6.2f} s  {args.items / cpu:8.0f} items per CPU-second")
        print(f"  re-run    : {second:6.2f} s  {args.items / second:8.0f} items/s (all unchanged)")


if __name__ == "__main__":
    main()
