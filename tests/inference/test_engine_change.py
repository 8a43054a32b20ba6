"""Two dates for change detection: same grid, a shifted grid reprojected, and no overlap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin

from inference.engine import run_inference
from inference.reading import NoOverlapError, align_second_date

ORIGIN = (200000.0, 3500000.0)


def write(path: Path, data: np.ndarray, x: float, y: float, crs: str = "EPSG:32650") -> str:
    profile = dict(
        driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype="uint16", nodata=0, crs=crs, transform=from_origin(x, y, 10, 10),
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return str(path)


@pytest.fixture
def first_date(tmp_path: Path) -> tuple[str, np.ndarray]:
    rng = np.random.default_rng(3)
    data = rng.integers(100, 5000, (2, 120, 150), dtype=np.uint16)
    return write(tmp_path / "t1.tif", data, *ORIGIN), data


def test_same_grid_is_used_directly(tmp_path: Path, first_date: tuple[str, np.ndarray]) -> None:
    first, data = first_date
    second = write(tmp_path / "t2.tif", data[::-1].copy(), *ORIGIN)
    assert align_second_date(first, second) == second
    assert not list(tmp_path.glob("*.vrt"))


def test_shifted_grid_is_reprojected_onto_the_first(
    tmp_path: Path, first_date: tuple[str, np.ndarray]
) -> None:
    first, _ = first_date
    rng = np.random.default_rng(4)
    later = rng.integers(100, 5000, (2, 100, 140), dtype=np.uint16)
    # 3 pixels right and 4 pixels down of the first date's origin
    second = write(tmp_path / "t2.tif", later, ORIGIN[0] + 30, ORIGIN[1] - 40)
    aligned = align_second_date(first, second, workdir=tmp_path / "vrt", resampling="nearest")
    assert aligned.endswith(".vrt")
    with rasterio.open(first) as a, rasterio.open(aligned) as b:
        assert (b.crs, b.transform, b.shape) == (a.crs, a.transform, a.shape)
        moved = b.read()
    np.testing.assert_array_equal(moved[:, 4:104, 3:143], later)
    assert (moved[:, :4] == 0).all() and (moved[:, 104:] == 0).all(), "outside: nodata"

    class Difference(torch.nn.Module):
        """Two classes: did band 1 grow between the dates?"""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            grew = (x[:, 2:3] > x[:, 0:1]).to(x.dtype)
            return torch.cat([1 - grew, grew], dim=1)

    out = run_inference(
        Difference(), [first, aligned], tmp_path / "change.tif", bands=[[1, 2], [1, 2]],
        chip=64, overlap=16,
    )  # fmt: skip
    with rasterio.open(out) as dst, rasterio.open(first) as a:
        change = dst.read(1)
        before = a.read(1)
    assert (change[:4] == 255).all() and (change[104:] == 255).all(), "second date missing"
    inside = change[4:104, 3:143]
    np.testing.assert_array_equal(inside, (later[0] > before[4:104, 3:143]).astype(np.uint8))


def test_other_crs_overlapping_is_warped(
    tmp_path: Path, first_date: tuple[str, np.ndarray]
) -> None:
    first, _data = first_date
    with rasterio.open(first) as a:
        from rasterio.warp import transform_bounds

        west, _south, _east, north = transform_bounds(a.crs, "EPSG:4326", *a.bounds)
    profile = dict(
        driver="GTiff", width=100, height=100, count=2, dtype="uint16",
        crs="EPSG:4326", transform=from_origin(west, north, 1e-4, 1e-4),
    )  # fmt: skip
    with rasterio.open(tmp_path / "geo.tif", "w", **profile) as dst:
        dst.write(np.full((2, 100, 100), 7, dtype=np.uint16))
    aligned = align_second_date(first, tmp_path / "geo.tif", workdir=tmp_path)
    with rasterio.open(first) as a, rasterio.open(aligned) as b:
        assert (b.crs, b.transform, b.shape) == (a.crs, a.transform, a.shape)
        assert b.count == 3, "no nodata value: an alpha band marks the second date's footprint"
        assert b.colorinterp[2] == ColorInterp.alpha
        footprint = b.read(3) > 0
        values = b.read(1)
    assert 0.2 < footprint.mean() < 0.8
    assert (values[footprint] == 7).all()
    with rasterio.open(first, "r+") as dst:  # make every first-date pixel valid
        dst.nodata = None
    out = run_inference(
        torch.nn.Softmax(dim=1), [first, aligned], tmp_path / "c.tif", bands=[[1], [1, 2]],
        chip=64, overlap=16,
    )  # fmt: skip
    with rasterio.open(out) as dst:
        np.testing.assert_array_equal(dst.read(1) == 255, ~footprint)


def test_disjoint_dates_raise(tmp_path: Path, first_date: tuple[str, np.ndarray]) -> None:
    first, data = first_date
    far = write(tmp_path / "far.tif", data, ORIGIN[0] + 50_000, ORIGIN[1])
    with pytest.raises(NoOverlapError, match="does not overlap"):
        align_second_date(first, far)
    touching = write(tmp_path / "touch.tif", data, ORIGIN[0] + 1500, ORIGIN[1])  # edge to edge
    with pytest.raises(NoOverlapError):
        align_second_date(first, touching)


def test_sources_on_different_grids_are_refused(
    tmp_path: Path, first_date: tuple[str, np.ndarray]
) -> None:
    first, data = first_date
    shifted = write(tmp_path / "s.tif", data, ORIGIN[0] + 10, ORIGIN[1])
    with pytest.raises(ValueError, match="align_second_date"):
        run_inference(
            torch.nn.Identity(), [first, shifted], tmp_path / "x.tif", bands=[[1], [1]], chip=64
        )
