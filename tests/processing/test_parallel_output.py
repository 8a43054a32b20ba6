"""Block jobs' output: aligned parts written by the workers with their own overview levels,
assembled into a COG equal, pixel for pixel, to the serial path's; no scratch left behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate

from inference.writer import (
    OutputSpec,
    assemble_cog,
    part_levels,
    part_size,
    stitch_vrt,
    write_cog,
    write_part,
    write_strip,
)
from tileserver.catalog import Catalog
from tileserver.processing.blocks import Grid, write_blockwise
from tileserver.processing.context import JobContext
from tileserver.scratch import scratch_root
from tileserver.settings import Settings

WIDTH, HEIGHT = 5000, 3100  # not multiples of the part size: ragged right and bottom parts
TRANSFORM = from_origin(200000, 3500000, 10, 10)


def field(window, seed: int = 0) -> np.ndarray:
    """A smooth field with a nodata hole, the same wherever a window is cut."""
    col, row, width, height = window
    y, x = np.mgrid[row : row + height, col : col + width].astype("float32")
    value = np.sin(x / 97.0) * np.cos(y / 53.0) + seed
    value[(x < 300) & (y < 200)] = np.nan
    return value[None].astype("float32")


def failing_field(window) -> np.ndarray:
    if window[0] > 0:
        raise RuntimeError("block failed")
    return field(window)


def pid_field(window) -> np.ndarray:
    """Each region filled with the id of the process that computed and wrote it."""
    return np.full((1, window[3], window[2]), os.getpid(), dtype="float32")


@pytest.fixture
def job_settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", job_block_size=1024)
    settings.data_dir.mkdir()
    return settings


def context(settings: Settings) -> JobContext:
    return JobContext(Catalog(settings.resolved_database_url), settings)


def grid() -> Grid:
    return Grid.of("EPSG:32650", TRANSFORM, WIDTH, HEIGHT)


def serial_cog(tmp_path: Path) -> Path:
    """The serial path: the whole raster as one strip, the COG driver computing overviews."""
    spec = OutputSpec.of("EPSG:32650", TRANSFORM, WIDTH, HEIGHT, 1, "float32")
    work = tmp_path / "serial"
    work.mkdir()
    strip = write_strip(work, spec, 0, field((0, 0, WIDTH, HEIGHT)))
    vrt = work / "all.vrt"
    vrt.write_text(stitch_vrt(spec, [(0, HEIGHT, strip)]))
    return write_cog(vrt, tmp_path / "serial.tif", resampling="average", tmp_dir=work)


def read_level(path: Path, level: int | None) -> np.ndarray:
    options = {} if level is None else {"OVERVIEW_LEVEL": level}
    with rasterio.open(path, **options) as src:
        return src.read(1)


def test_parallel_output_equals_serial_and_is_a_cog(job_settings, tmp_path):
    ctx = context(job_settings)
    cog = write_blockwise(
        ctx,
        grid(),
        count=1,
        dtype="float32",
        nodata=float("nan"),
        block_fn=field,
        args=(),
        band_names=["value"],
    )
    valid, errors, warnings = cog_validate(str(cog), quiet=True)
    assert valid, errors
    assert not warnings
    serial = serial_cog(tmp_path)
    full = read_level(cog, None)
    assert np.array_equal(full, read_level(serial, None), equal_nan=True)
    with rasterio.open(cog) as src, rasterio.open(serial) as ref:
        assert src.overviews(1) == [2, 4, 8, 16]
        assert src.descriptions == ("value",) and np.isnan(src.nodata)
        assert src.crs == ref.crs and src.transform == ref.transform
        assert src.profile["blockxsize"] == 512 and src.compression.name == "deflate"
    # overview levels: the parts' own (levels 0, 1) are the serial COG's to float rounding;
    # the coarse ones (built from the parts' smallest level) are the means of the field over
    # their squares, near the origin (an odd level size makes GDAL's next level a ratio a bit
    # off 2, a grid that drifts by up to a pixel at the far edge, in either COG)
    for level in (0, 1):
        ours, theirs = read_level(cog, level), read_level(serial, level)
        assert ours.shape == theirs.shape
        assert np.array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    for level in (2, 3):
        k = 2 ** (level + 1)
        rows, cols = HEIGHT // k // 8, WIDTH // k // 8
        square = full[: rows * k, : cols * k].astype("float64").reshape(rows, k, cols, k)
        mean = square.mean(axis=(1, 3))  # NaN where any pixel is nodata
        ours = read_level(cog, level)[:rows, :cols]
        both = ~np.isnan(ours) & ~np.isnan(mean)
        assert both.mean() > 0.5
        np.testing.assert_allclose(ours[both], mean[both], atol=2e-2)
    ctx.cleanup()


def test_assembly_takes_the_overviews_the_parts_carry(tmp_path):
    """The output's overview levels come from the parts (built where they were computed), not
    from reading the full resolution again: parts whose levels say 7 give a COG whose
    levels all say 7 while its full resolution is the field."""
    spec = OutputSpec.of("EPSG:32650", TRANSFORM, 4096, 4096, 1, "float32")
    size = part_size(1024)
    levels = part_levels(size)
    assert (size, levels) == (2048, 2)
    parts = []
    for row in range(0, 4096, size):
        for col in range(0, 4096, size):
            window = (col, row, size, size)
            path = write_part(
                tmp_path, spec, col, row, field(window), levels=levels, resampling="average"
            )
            for level in range(levels):
                with rasterio.open(path, "r+", OVERVIEW_LEVEL=level) as ovr:
                    ovr.write(np.full((1, ovr.height, ovr.width), 7, dtype="float32"))
            parts.append((*window, path))
    out = assemble_cog(
        spec,
        parts,
        tmp_path / "out.tif",
        levels=levels,
        resampling="average",
        work=tmp_path,
        threads=1,
    )
    assert cog_validate(str(out), quiet=True)[0]
    assert np.array_equal(read_level(out, None), field((0, 0, 4096, 4096))[0], equal_nan=True)
    assert (read_level(out, 0) == 7).all() and (read_level(out, 1) == 7).all()
    assert (read_level(out, 2) == 7).all(), "coarse levels are built from the parts' levels"
    assert not list(tmp_path.glob(".*partial"))


def test_parts_are_computed_and_written_by_the_workers(job_settings):
    """Run inside a Dask cluster, every region is computed and written by a worker process."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        workers = set(client.run(os.getpid).values())
        path = client.submit(_run_in_cluster, job_settings, pure=False).result()
    values = set(np.unique(read_level(Path(path), None)).astype(int).tolist())
    assert values <= workers and os.getpid() not in values
    assert len(values) == 2, "both workers wrote parts"


def _run_in_cluster(settings: Settings) -> str:
    ctx = context(settings)
    big = Grid.of("EPSG:32650", TRANSFORM, 8192, 4096)
    cog = write_blockwise(
        ctx, big, count=1, dtype="float32", nodata=None, block_fn=pid_field, args=()
    )
    kept = settings.data_dir / "kept.tif"
    os.replace(cog, kept)
    ctx.cleanup()
    return str(kept)


def test_a_failed_block_leaves_no_scratch(job_settings):
    ctx = context(job_settings)
    with pytest.raises(RuntimeError, match="block failed"):
        write_blockwise(
            ctx,
            grid(),
            count=1,
            dtype="float32",
            nodata=float("nan"),
            block_fn=failing_field,
            args=(),
        )
    assert not list(ctx.workdir.rglob("*.tif")), "the parts written before the failure are removed"
    ctx.cleanup()
    assert not any(scratch_root(job_settings).iterdir())
