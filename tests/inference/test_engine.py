"""The sliding-window engine checked on values: seams, edges, nodata, memory, the COG it writes.

Every raster is generated here from a seed. The test model is a stack of 3x3 convolutions
(receptive radius 3 px), which is translation-equivariant away from its zero padding: run on the
whole image at once (mirrored by the engine's margin, ``overlap // 4``) it gives the reference
that any chip layout and any strip plan must reproduce.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
import rasterio
import torch
from rasterio.transform import from_origin
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_validate

from inference.blending import EPS, axis_weight_sum, weight_profile
from inference.engine import EngineStats, run_inference
from inference.reading import RasterStack, StackSpec
from inference.windows import ChipGrid, margin_of, plan_block_rows, plan_strips, reflect_index


class ConvStack(torch.nn.Module):
    """Three seeded 3x3 convolutions and a softmax: class probabilities, receptive radius 3."""

    def __init__(self, channels: int = 3, classes: int = 3, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(channels, 8, 3, padding=1),
            torch.nn.Tanh(),
            torch.nn.Conv2d(8, 8, 3, padding=1),
            torch.nn.Tanh(),
            torch.nn.Conv2d(8, classes, 3, padding=1),
        )
        self.shapes: set[tuple[int, ...]] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.add(tuple(x.shape[1:]))
        return torch.softmax(4.0 * self.net(8.0 * (x - 0.5)), dim=1)


class Centred(ConvStack):
    """A model that needs a global fit: it subtracts the image's per-band mean (a buffer)."""

    needs_fit = True

    def __init__(self, channels: int = 3, classes: int = 3) -> None:
        super().__init__(channels, classes, seed=1)
        self.register_buffer("mean", torch.zeros(channels))
        self.fitted: tuple[tuple[int, ...], float] | None = None

    def fit(self, sample: np.ndarray, valid: np.ndarray) -> None:
        self.mean = torch.from_numpy(sample[:, valid].mean(axis=1).astype(np.float32))
        self.fitted = (sample.shape, float(valid.mean()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x - self.mean[None, :, None, None])


def make_raster(
    path: Path, height: int, width: int, bands: int = 3, seed: int = 0, hole: bool = True
) -> Path:
    """A smooth seeded uint16 scene (nodata 0) written tiled, with a nodata hole if asked."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    data = np.empty((bands, height, width), dtype=np.uint16)
    for b in range(bands):
        fy, fx = (float(f) for f in rng.uniform(0.005, 0.05, 2))
        phase = float(rng.uniform(0, 6))
        wave = np.sin(fy * y + phase) * np.cos(fx * x) + 0.3 * rng.standard_normal((height, width))
        data[b] = np.clip(5000 + 3000 * wave, 1, 10000).astype(np.uint16)
    if hole:
        data[:, height // 3 : height // 3 + 40, width // 2 : width // 2 + 70] = 0
        data[:, -5:, :30] = 0  # in the bottom-left edge chip
    profile = dict(
        driver="GTiff", width=width, height=height, count=bands, dtype="uint16", nodata=0,
        crs="EPSG:32650", transform=from_origin(200000, 3500000, 10, 10),
        tiled=True, blockxsize=256, blockysize=256, compress="deflate",
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def whole_image(model: torch.nn.Module, path: Path, overlap: int, scale: float) -> np.ndarray:
    """The reference: the model on the whole image in one forward pass (mirrored by the margin
    the engine gives image edges), as float64 probabilities (K, H, W)."""
    with rasterio.open(path) as src:
        x = src.read().astype(np.float32) * np.float32(scale)
    m = margin_of(overlap)
    padded = np.pad(x, ((0, 0), (m, m), (m, m)), mode="reflect")
    with torch.inference_mode():
        out = model(torch.from_numpy(padded)[None])[0].numpy()
    if isinstance(model, ConvStack):
        model.shapes.clear()
    return out[:, m : m + x.shape[1], m : m + x.shape[2]].astype(np.float64)


def valid_of(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.dataset_mask() > 0


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_raster(tmp_path_factory.mktemp("scene") / "scene.tif", 1300, 1500)


def test_streamed_strips_equal_the_whole_image_forward_pass(scene: Path, tmp_path: Path) -> None:
    model = ConvStack()
    reference = whole_image(model, scene, overlap=32, scale=1e-4)
    valid = valid_of(scene)
    options: dict[str, Any] = dict(bands=[[1, 2, 3]], scale=1e-4, chip=256, overlap=32, batch=4)
    stats = EngineStats()
    probs_path = run_inference(
        model, [scene], tmp_path / "p.tif", output="probabilities", block_rows=512, stats=stats,
        **options,
    )  # fmt: skip
    assert stats.strips > 1 and max(stats.strip_heights) <= 512, "more than one strip"
    assert model.shapes == {(3, 256, 256)}, "every chip is chip x chip, edge chips included"
    with rasterio.open(probs_path) as out:
        probs = out.read()
    diff = np.abs(probs[:, valid] - reference[:, valid]).max()
    print(f"max |streamed - whole| (probabilities) = {diff:.2e}")
    assert diff < 1e-4
    assert np.isnan(probs[:, ~valid]).all()

    classes_path = run_inference(
        model, [scene], tmp_path / "c.tif", output="classes", block_rows=512, **options
    )
    with rasterio.open(classes_path) as out:
        classes = out.read(1)
        assert out.nodata == 255 and out.dtypes[0] == "uint8"
    top2 = np.sort(reference, axis=0)[-2:]
    tie = top2[1] - top2[0] < 1e-5  # a near-tie may flip either way
    wrong = valid & (classes != reference.argmax(axis=0))
    print(f"class pixels differing from the whole pass: {wrong.sum()} (near-ties: {tie.sum()})")
    assert not (wrong & ~tie).any()
    assert (classes[~valid] == 255).all() and (classes[valid] != 255).all()
    assert len(np.unique(classes[valid])) == 3


def test_strip_plan_does_not_change_the_result(scene: Path, tmp_path: Path) -> None:
    model = ConvStack()
    options: dict[str, Any] = dict(
        bands=[[1, 2, 3]], scale=1e-4, chip=256, overlap=32, output="probabilities"
    )
    one = run_inference(model, [scene], tmp_path / "one.tif", block_rows=4096, **options)
    many = run_inference(model, [scene], tmp_path / "many.tif", block_rows=224, **options)
    with rasterio.open(one) as a, rasterio.open(many) as b:
        diff = np.nanmax(np.abs(a.read() - b.read()))
    print(f"max |1 strip - 6 strips| = {diff:.2e}")
    assert diff < 1e-6


def test_edge_chips_and_images_smaller_than_a_chip(tmp_path: Path) -> None:
    for height, width, chip, overlap in [(217, 300, 128, 32), (40, 50, 64, 16), (130, 1, 64, 16)]:
        path = make_raster(tmp_path / f"e{height}x{width}.tif", height, width, hole=False)
        with rasterio.open(path, "r+") as dst:  # one nodata pixel on the last row and column
            dst.write(
                np.zeros((3, 1, 1), dtype=np.uint16), window=Window(width - 1, height - 1, 1, 1)
            )
        model = ConvStack()
        out_path = run_inference(
            model, [path], tmp_path / f"o{height}x{width}.tif", bands=[[1, 2, 3]], scale=1e-4,
            chip=chip, overlap=overlap, output="probabilities",
        )  # fmt: skip
        assert model.shapes == {(3, chip, chip)}, "every chip is chip x chip"
        reference = whole_image(model, path, overlap, 1e-4)
        with rasterio.open(out_path) as out:
            probs = out.read()
            assert out.shape == (height, width)
        assert np.isnan(probs[:, -1, -1]).all()
        probs[:, -1, -1] = reference[:, -1, -1]
        assert np.abs(probs - reference).max() < 1e-4, (height, width)


def test_nodata_pixels_become_255(tmp_path: Path) -> None:
    path = make_raster(tmp_path / "holes.tif", 300, 260)
    model = ConvStack(channels=2)
    out_path = run_inference(
        model, [path], tmp_path / "c.tif", bands=[[3, 1]], scale=1e-4, chip=128, overlap=32
    )
    valid = valid_of(path)
    with rasterio.open(out_path) as out:
        classes = out.read(1)
    assert (~valid).sum() == 40 * 70 + 5 * 30
    assert (classes == 255).sum() == (~valid).sum() and (classes[~valid] == 255).all()


def test_fit_gets_a_decimated_whole_image_sample(scene: Path, tmp_path: Path) -> None:
    model = Centred()
    run_inference(model, [scene], tmp_path / "f.tif", bands=[[1, 2, 3]], scale=1e-4, chip=256)
    assert model.fitted is not None
    shape, valid_fraction = model.fitted
    assert shape == (3, 1300 * 1024 // 1500, 1024), "longest side 1024 px, aspect kept"
    assert 0.99 < valid_fraction < 1.0, "the nodata hole is not valid"
    assert 0.2 < float(model.mean.min()) < 0.8, "fitted on scaled values"


def test_output_cog_is_atomic_and_valid(scene: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "results"
    out_path = run_inference(
        ConvStack(), [scene], out_dir / "water.tif", bands=[[1, 2, 3]], scale=1e-4, chip=256,
        overlap=32, block_rows=448,
    )  # fmt: skip
    assert out_path == out_dir / "water.tif"
    assert sorted(p.name for p in out_dir.iterdir()) == ["water.tif"], "no .partial, no work dir"
    valid, errors, _warnings = cog_validate(str(out_path), quiet=True)
    assert valid, errors
    with rasterio.open(out_path) as out, rasterio.open(scene) as src:
        assert out.overviews(1), "overviews built"
        assert (out.crs, out.transform, out.shape) == (src.crs, src.transform, src.shape)


def test_a_failed_run_leaves_nothing_behind(scene: Path, tmp_path: Path) -> None:
    class Broken(ConvStack):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[0] > 1:
                raise RuntimeError("model failed")
            return super().forward(x)

    with pytest.raises(RuntimeError, match="model failed"):
        run_inference(Broken(), [scene], tmp_path / "x.tif", bands=[[1, 2, 3]], chip=256)
    assert list(tmp_path.iterdir()) == []


def test_block_rows_plan_is_bounded_by_the_budget() -> None:
    small = plan_block_rows(10_000, 10_000, chip=512, overlap=64, budget_bytes=256 << 20)
    wide = plan_block_rows(10_000, 40_000, chip=512, overlap=64, budget_bytes=256 << 20)
    assert small % 448 == 0 and wide == 448, "whole chip rows; one at least"
    assert plan_block_rows(300, 300, chip=512, overlap=64) == 448, "no more than the image"
    grid = ChipGrid.over(1300, 1500, 256, 32)
    strips = plan_strips(grid, 512)
    assert strips[0].row0 == 0 and strips[-1].row1 == 1300
    assert all(a.row1 == b.row0 for a, b in itertools.pairwise(strips))


class RssPeak:
    """Highest RSS of this process, sampled every 5 ms in a thread."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_memory_is_strip_sized_not_image_sized(tmp_path: Path) -> None:
    size = 4096
    path = tmp_path / "big.tif"
    profile = dict(
        driver="GTiff", width=size, height=size, count=2, dtype="uint16", nodata=0,
        crs="EPSG:32650", transform=from_origin(200000, 3500000, 10, 10),
        tiled=True, blockxsize=512, blockysize=512, compress="deflate",
    )  # fmt: skip
    ramp = (np.arange(size, dtype=np.uint16) % 2000 + 100)[None, None, :]
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, 512):
            dst.write(np.broadcast_to(ramp, (2, 512, size)), window=Window(0, row, size, 512))
    model = ConvStack(channels=2, classes=2)
    options: dict[str, Any] = dict(bands=[[1, 2]], scale=1e-4, chip=128, overlap=16, batch=16)
    warm = make_raster(tmp_path / "warm.tif", 200, 200, bands=2, hole=False)
    run_inference(model, [warm], tmp_path / "warm-out.tif", **options)  # load what loads once
    stats = EngineStats()
    baseline = psutil.Process().memory_info().rss
    with RssPeak() as rss:
        run_inference(model, [path], tmp_path / "out.tif", block_rows=448, stats=stats, **options)
    growth = (rss.peak - baseline) / 2**20
    print(f"peak RSS growth {growth:.0f} MiB; accumulator {stats.accumulator_shape}")
    assert growth < 200
    classes, rows, cols = stats.accumulator_shape
    assert classes == 2 and cols == size + 2 * margin_of(16)
    assert rows <= 448 + 16 + 1, "one strip of rows and its halo, not the image"
    assert stats.input_shape[1] == rows and stats.strips >= size // 448


def test_weights_blend_to_one_and_never_reach_zero() -> None:
    chip, overlap = 256, 32
    f = weight_profile(chip, overlap)
    stride = chip - overlap
    assert f.min() > 0 and f.max() == 1.0
    assert (f[: margin_of(overlap)] == EPS).all(), "border pixels: almost no weight"
    # two neighbours at the full overlap: weights sum to 1 across their shared ramp
    total = axis_weight_sum([0, stride], f, 0, stride + chip)
    ramp = slice(stride + margin_of(overlap), chip - margin_of(overlap))
    np.testing.assert_allclose(total[ramp], 1.0, atol=1e-6)


def test_reads_past_the_edges_are_mirrored(tmp_path: Path) -> None:
    path = make_raster(tmp_path / "tiny.tif", 7, 5, bands=2, hole=False)
    with rasterio.open(path) as src:
        full = src.read()
    with RasterStack(StackSpec.of([path], [[2, 1]], None)) as stack:
        for top, bottom, left, right in [(-3, 10, -4, 9), (2, 6, -2, 5), (-20, 30, -11, 16)]:
            rows = reflect_index(np.arange(top, bottom), 7)
            cols = reflect_index(np.arange(left, right), 5)
            expected = full[[1, 0]][:, rows][:, :, cols]
            np.testing.assert_array_equal(stack.read(top, bottom, left, right), expected)
