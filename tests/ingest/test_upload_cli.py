"""``cogsight ingest``: the upload endpoint's code path from the command line, file by file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from tests.conftest import ROOT
from tileserver.catalog import Catalog
from tileserver.settings import Settings

# Run the sub-command on its own (cli.py registers it as `cogsight ingest`).
RUN_INGEST = "import typer; from tileserver.cli_ingest import ingest; typer.run(ingest)"


def _ingest(args: list[str], data: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUN_INGEST, *args],
        cwd=ROOT,
        env={**os.environ, "COGSIGHT_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _raster(path: Path, driver: str = "GTiff", crs: str = "EPSG:4490", count: int = 2) -> Path:
    with rasterio.open(
        path,
        "w",
        driver=driver,
        width=50,
        height=40,
        count=count,
        dtype="uint8",
        crs=crs,
        transform=from_origin(114.0, 31.0, 0.001, 0.001),
    ) as dst:
        dst.write(np.arange(count * 40 * 50, dtype="uint32").reshape(count, 40, 50) % 251)
    return path


def test_ingest_continues_past_bad_files_and_exits_2(tmp_path):
    data = tmp_path / "data"
    good_tif = _raster(tmp_path / "one.tif")
    good_img = _raster(tmp_path / "two.img", driver="HFA")
    bad = tmp_path / "notes.txt"
    bad.write_text("not a raster\n")
    missing = tmp_path / "missing.tif"

    done = _ingest(
        [str(good_tif), str(bad), str(good_img), str(missing), "--bands", "nir,red"], data
    )

    assert done.returncode == 2, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["file"], r["crs"], r["bands"]) for r in lines] == [
        (str(good_tif), "EPSG:4490", ["nir", "red"]),
        (str(good_img), "EPSG:4490", ["nir", "red"]),
    ]
    assert f"error: {bad}: Unsupported '.txt' file 'notes.txt'" in done.stderr
    assert f"error: {missing}: No such file: missing.tif" in done.stderr
    assert "2 of 4 file(s) failed." in done.stderr
    assert "ingest" in done.stderr, "a progress bar is drawn"

    settings = Settings(data_dir=data)
    records = Catalog(settings.resolved_database_url).find_datasets()
    assert {r.id for r in records} == {line["id"] for line in lines}
    for record in records:
        assert (data / record.uri).is_file()
        assert (data / "thumbs" / f"{record.id}.png").is_file()
    assert not list((data / ".tmp").iterdir()), "no scratch files left"


def test_ingest_all_good_exits_0_with_title(tmp_path):
    src = _raster(tmp_path / "scene.tif", crs="EPSG:4326", count=1)
    done = _ingest([str(src), "--title", "River", "--datetime", "2024-07-01"], tmp_path / "d")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["title"] == "River"


def test_ingest_refuses_bad_band_list_before_work(tmp_path):
    src = _raster(tmp_path / "scene.tif")
    done = _ingest([str(src), "--bands", "a,,b"], tmp_path / "d")
    assert done.returncode == 2 and "Band names must not be empty" in done.stderr
