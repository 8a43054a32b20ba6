"""Strips computed on Dask workers (a LocalCluster of 2 processes) equal a local run."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from inference.engine import EngineStats, run_inference, run_inference_distributed


class Fitted(torch.nn.Module):
    """3x3 convolutions on inputs centred by a fitted per-band mean (a buffer: sent to workers
    through ``state_dict``)."""

    needs_fit = True

    def __init__(self, channels: int, classes: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(channels, 8, 3, padding=1),
            torch.nn.Tanh(),
            torch.nn.Conv2d(8, classes, 3, padding=1),
        )
        self.register_buffer("mean", torch.zeros(channels))

    def fit(self, sample: np.ndarray, valid: np.ndarray) -> None:
        self.mean = torch.from_numpy(sample[:, valid].mean(axis=1).astype(np.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(8.0 * self.net(x - self.mean[None, :, None, None]), dim=1)


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.WARNING,
    )  # fmt: skip
    with cluster, distributed.Client(cluster) as c:
        yield c


def make_scene(path: Path, height: int, width: int) -> Path:
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    data = np.stack(
        [3000 + 2000 * np.sin(0.03 * y + b) * np.cos(0.02 * x) for b in range(3)]
    ) + rng.normal(0, 300, (3, height, width))
    data = np.clip(data, 1, 10000).astype(np.uint16)
    data[:, 100:130, 200:260] = 0
    profile = dict(
        driver="GTiff", width=width, height=height, count=3, dtype="uint16", nodata=0,
        crs="EPSG:32650", transform=from_origin(200000, 3500000, 10, 10), tiled=True,
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def test_dask_strips_equal_the_local_run(client: object, tmp_path: Path) -> None:
    scene = make_scene(tmp_path / "scene.tif", 700, 650)
    factory = functools.partial(Fitted, channels=3, classes=3, seed=5)
    options: dict[str, Any] = dict(
        bands=[[1, 2, 3]], scale=1e-4, chip=128, overlap=32, block_rows=192
    )
    local_stats, dask_stats = EngineStats(), EngineStats()
    for output in ("probabilities", "classes"):
        local = run_inference(
            factory(), [scene], tmp_path / f"local-{output}.tif", output=output,
            stats=local_stats, **options,
        )  # fmt: skip
        spread = run_inference_distributed(
            factory, [scene], tmp_path / f"dask-{output}.tif", client=client, output=output,
            stats=dask_stats, **options,
        )  # fmt: skip
        with rasterio.open(local) as a, rasterio.open(spread) as b:
            here, there = a.read(), b.read()
            assert (a.profile["dtype"], a.shape, a.transform) == (
                b.profile["dtype"],
                b.shape,
                b.transform,
            )
        if output == "classes":
            np.testing.assert_array_equal(here, there)
            assert (here == 255).sum() == 30 * 60
        else:
            diff = np.nanmax(np.abs(here - there))
            print(f"max |dask - local| = {diff:.2e}")
            assert diff < 1e-5
            np.testing.assert_array_equal(np.isnan(here), np.isnan(there))
    assert dask_stats.strips == local_stats.strips > 2
    assert sorted(dask_stats.strip_heights) == sorted(local_stats.strip_heights)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dask-classes.tif", "dask-probabilities.tif", "local-classes.tif",
        "local-probabilities.tif", "scene.tif",
    ], "strip files and VRT cleaned up"  # fmt: skip


def test_without_a_client_the_run_is_local(tmp_path: Path) -> None:
    scene = make_scene(tmp_path / "scene.tif", 200, 180)
    factory = functools.partial(Fitted, channels=3, classes=2, seed=1)
    out = run_inference_distributed(
        factory, [scene], tmp_path / "o.tif", client=None, bands=[[1, 2, 3]], chip=64, overlap=16
    )
    with rasterio.open(out) as dst:
        assert dst.shape == (200, 180) and dst.count == 1
