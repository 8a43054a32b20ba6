"""Fixtures for harvest tests: a fake archive (synthetic per-band scenes on the range server),
Earth Search-like items over it, the fake STAC API, and a fresh catalog per test.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.archive.assets import HttpArchive, serve_directory, synthetic_scene
from tests.archive.items import item_for
from tests.archive.stac_api import stac_api  # noqa: F401  (fixture)
from tileserver.catalog import Catalog
from tileserver.settings import Settings

# (item id, collection, bbox, acquisition day in 2024): the archive the API serves
PLACES: list[tuple[str, str, tuple[float, float, float, float], int]] = [
    ("S2A_WUHAN_0105", "sentinel-2-l2a", (114.20, 30.50, 114.26, 30.56), 5),
    ("S2A_WUHAN_0320", "sentinel-2-l2a", (114.30, 30.60, 114.36, 30.66), 80),
    ("S2B_AUSTRIA_0612", "sentinel-2-l2a", (14.20, 47.50, 14.26, 47.56), 164),
    ("S2B_BOGOTA_0901", "sentinel-2-l2a", (-74.10, 4.60, -74.04, 4.66), 245),
    ("LC08_WUHAN_0110", "landsat-c2-l2", (114.21, 30.51, 114.27, 30.57), 10),
    ("LC08_AUSTRIA_0701", "landsat-c2-l2", (14.21, 47.51, 14.27, 47.57), 183),
]
WUHAN = [114.0, 30.0, 115.0, 31.0]


def day(n: int) -> dt.datetime:
    return dt.datetime(2024, 1, 1, 10, 30, tzinfo=dt.UTC) + dt.timedelta(days=n - 1)


@pytest.fixture(scope="session")
def harvest_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpArchive]:
    root = tmp_path_factory.mktemp("harvest-archive")
    with serve_directory(root) as archive:
        yield archive


@pytest.fixture(scope="session")
def archive_items(harvest_archive: HttpArchive) -> dict[str, dict[str, Any]]:
    """Item id -> item, each over its own synthetic per-band COGs on the range server."""
    items = {}
    for item_id, collection, bbox, n in PLACES:
        scene = synthetic_scene(harvest_archive.root, item_id, collection, bbox=bbox, size=64)
        items[item_id] = item_for(
            collection, scene.files, harvest_archive.href, item_id, day(n), cloud_cover=n % 50
        )
    return items


@pytest.fixture
def many_items(archive_items: dict[str, dict[str, Any]]) -> Callable[[int], list[dict[str, Any]]]:
    """``many_items(n)``: n distinct items (ids and footprints) over one scene's files."""
    base = archive_items["S2A_WUHAN_0105"]

    def make(n: int, prefix: str = "S2X") -> list[dict[str, Any]]:
        out = []
        for i in range(n):
            item = copy.deepcopy(base)
            item["id"] = f"{prefix}_{i:06d}"
            shift = (i % 1000) * 0.001
            item["bbox"] = [v + shift if k % 2 == 0 else v for k, v in enumerate(base["bbox"])]
            item["properties"]["datetime"] = day(1 + i % 300).isoformat().replace("+00:00", "Z")
            out.append(item)
        return out

    return make


@pytest.fixture
def settings(tmp_path: Path, harvest_archive: HttpArchive) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        allowed_prefixes=[f"{harvest_archive.url}/"],
        tile_cache_bytes=0,
    )


@pytest.fixture
def catalog(settings: Settings) -> Catalog:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Catalog(settings.resolved_database_url)


def write_ndjson(path: Path, items: list[dict[str, Any]], extra_lines: list[str] = ()) -> Path:  # type: ignore[assignment]
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item) + "\n")
        for line in extra_lines:
            f.write(line + "\n")
    return path
