"""Job fixtures: a data folder with one small raster, jobs stale after 2 s."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from tileserver.catalog import Catalog
from tileserver.ingest import register_raster
from tileserver.settings import Settings


def write_scene(path: Path, size: int = 64) -> Path:
    rng = np.random.default_rng(3)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=2,
        dtype="uint16",
        crs="EPSG:32650",
        transform=from_origin(200000, 3400000, 10, 10),
    ) as dst:
        dst.write(rng.integers(1, 10000, (2, size, size), dtype="uint16"))
    return path


@pytest.fixture
def world(tmp_path: Path) -> tuple[Settings, Catalog, str]:
    """A data folder with one small two-band raster; jobs go stale after 2 s."""
    settings = Settings(
        data_dir=tmp_path / "data", job_stale_seconds=2, dask_workers=1, job_block_size=256
    )
    settings.data_dir.mkdir()
    catalog = Catalog(settings.resolved_database_url)
    scene = write_scene(tmp_path / "scene.tif")
    record = register_raster(catalog, settings, scene, band_names=["red", "nir"])
    return settings, catalog, record.id
