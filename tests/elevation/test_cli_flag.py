"""``cogsight ingest --elevation / --not-elevation`` forces or refuses reading a raster as a DEM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.rasters import utm_geotiff
from tests.servers import ROOT
from tileserver.catalog import Catalog
from tileserver.elevation import elevation_info
from tileserver.settings import Settings

RUN_INGEST = "import typer; from tileserver.cli_ingest import ingest; typer.run(ingest)"


def _ingest(args: list[str], data: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", RUN_INGEST, *args],
        cwd=ROOT,
        env={**os.environ, "COGSIGHT_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return str(json.loads(done.stdout.strip().splitlines()[-1])["id"])


def test_the_cli_flag_forces_and_refuses(tmp_path):
    dem = tmp_path / "dem.tif"
    heights = 300 + np.add.outer(np.arange(64.0), np.arange(64.0)).astype("float32")
    dem.write_bytes(utm_geotiff(heights[None]))
    score = tmp_path / "score.tif"
    score.write_bytes(utm_geotiff(np.linspace(0, 1, 64 * 64, dtype="float32").reshape(1, 64, 64)))
    data = tmp_path / "data"
    refused = _ingest(["--not-elevation", str(dem)], data)
    forced = _ingest(["--elevation", str(score)], data)
    detected = _ingest([str(dem)], data)
    catalog = Catalog(Settings(data_dir=data).resolved_database_url)
    assert elevation_info(catalog.get_dataset(refused)) is None
    assert elevation_info(catalog.get_dataset(forced)) is not None
    assert elevation_info(catalog.get_dataset(detected)) is not None
