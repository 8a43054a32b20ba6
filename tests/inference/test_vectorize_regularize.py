"""Orthogonal regularization: staircase outlines of rotated buildings become right-angled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.features
import shapely
from rasterio.transform import from_origin
from shapely import affinity

from inference.polygons import overlapping_pairs, regularize_polygon
from inference.vectorize import vectorize_raster
from tileserver.demo import make_optical_scene

PIXEL = 0.5
TRANSFORM = from_origin(733_600, 3_725_140, PIXEL, PIXEL)
SIZE = 240


def corner_angles(poly: shapely.Polygon) -> np.ndarray:
    """Angle (degrees, 0-180) between the two edges at each vertex of the exterior ring."""
    c = np.asarray(poly.exterior.coords)[:-1]
    a, b = np.roll(c, 1, axis=0) - c, np.roll(c, -1, axis=0) - c
    cos = (a * b).sum(axis=1) / (np.hypot(*a.T) * np.hypot(*b.T))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def corners(poly: shapely.Polygon) -> np.ndarray:
    """Corner angles without the straight-through vertices (nodes where a neighbour meets)."""
    angles = corner_angles(poly)
    return angles[angles < 178]


def noisy_building(shape: shapely.Polygon, angle: float, seed: int) -> np.ndarray:
    """``shape`` (pixel units, centred on 0) rotated, burnt as class 1 on class 2, with 15 % of
    the pixels along its outline flipped: the staircase plus ragged segmentation noise."""
    placed = affinity.translate(affinity.rotate(shape, angle, origin=(0, 0)), SIZE / 2, SIZE / 2)
    mask = rasterio.features.rasterize([(placed, 1)], out_shape=(SIZE, SIZE), fill=2, dtype="uint8")
    rim = rasterio.features.rasterize(
        [(placed.boundary.buffer(1.0), 1)], out_shape=(SIZE, SIZE), dtype="uint8"
    ).astype(bool)
    flip = rim & (np.random.default_rng(seed).random((SIZE, SIZE)) < 0.15)
    mask[flip] = 3 - mask[flip]
    return mask


def write(path: Path, mask: np.ndarray, transform=TRANSFORM) -> str:
    profile = dict(
        driver="GTiff",
        width=mask.shape[1],
        height=mask.shape[0],
        count=1,
        dtype="uint8",
        crs="EPSG:32616",
        transform=transform,
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(mask, 1)
    return str(path)


@pytest.mark.parametrize("angle", [0.0, 12.0, 27.0, 37.0, 45.0, 63.0])
def test_noisy_rotated_rectangle_becomes_right_angled(tmp_path: Path, angle: float) -> None:
    rectangle = shapely.box(-40, -15, 40, 15)  # 80 by 30 px = 40 by 15 m
    path = write(tmp_path / "rect.tif", noisy_building(rectangle, angle, int(angle)))
    gdf = vectorize_raster(path, classes=[1], regularize=True, min_area=2.0)
    building = gdf.geometry.values[np.argmax(gdf.area_m2)]
    found = corners(building)
    true_area = rectangle.area * PIXEL**2
    ratio = building.area / true_area
    ring = np.asarray(building.exterior.coords)
    d = np.diff(ring, axis=0)
    longest = d[np.argmax(np.hypot(*d.T))]
    # pixel rows run down while y runs up: a counter-clockwise angle in pixels is clockwise here
    error = (np.degrees(np.arctan2(longest[1], longest[0])) + angle + 45) % 90 - 45
    print(
        f"angle {angle:4.1f}°: corners {np.round(found, 2).tolist()}, area ratio {ratio:.4f}, "
        f"orientation error {error:+.2f}°, vertices {len(ring) - 1}"
    )
    assert len(found) == 4
    assert abs(error) < 1.0
    np.testing.assert_allclose(found, 90.0, atol=0.5)
    assert abs(ratio - 1) < 0.05
    assert shapely.coverage_is_valid(gdf.geometry.values)


def test_noisy_l_shape_keeps_its_six_right_angles(tmp_path: Path) -> None:
    l_shape = shapely.Polygon([(-40, -30), (40, -30), (40, 0), (0, 0), (0, 30), (-40, 30)])
    path = write(tmp_path / "l.tif", noisy_building(l_shape, 21.0, 5))
    gdf = vectorize_raster(path, classes=[1], regularize=True, min_area=2.0)
    building = gdf.geometry.values[np.argmax(gdf.area_m2)]
    found = corners(building)
    ratio = building.area / (l_shape.area * PIXEL**2)
    print(f"L shape: corners {np.round(found, 2).tolist()}, area ratio {ratio:.4f}")
    assert len(found) == 6
    np.testing.assert_allclose(found, 90.0, atol=0.5)
    assert abs(ratio - 1) < 0.05


def test_round_building_is_left_alone() -> None:
    """A disc cannot be squared within the IoU limit: it comes back unchanged."""
    pixels = rasterio.features.rasterize(
        [(shapely.Point(50, 50).buffer(30), 1)], out_shape=(100, 100), dtype="uint8"
    )
    disc = next(
        shapely.geometry.shape(g)
        for g, v in rasterio.features.shapes(pixels, mask=pixels > 0)
        if v == 1
    )
    assert regularize_polygon(disc, pixel_size=1.0) is disc


def test_regularized_buildings_keep_the_coverage_valid(tmp_path: Path) -> None:
    """Built-up patches of the demo landscape, regularized inside the full land-cover coverage."""
    transform = from_origin(500_000, 3_400_000, 10, 10)
    _, classes = make_optical_scene((900, 900), transform, "EPSG:32650", 11)
    profile = dict(driver="GTiff", width=900, height=900, count=1, dtype="uint8", crs="EPSG:32650")
    path = tmp_path / "classes.tif"
    with rasterio.open(path, "w", **profile, transform=transform, nodata=0) as dst:
        dst.write(classes, 1)
    plain = vectorize_raster(str(path), block_size=512)
    squared = vectorize_raster(str(path), block_size=512, regularize=[4], smooth_iterations=1)
    geoms = squared.geometry.values
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)
    assert len(overlapping_pairs(geoms)) == 0
    np.testing.assert_allclose(squared.area_m2.sum(), plain.area_m2.sum(), rtol=1e-9)
    built = squared[squared["class"] == 4].geometry.values
    right = sum(bool(np.all(np.abs(corners(p) - 90) < 0.5)) for p in built)
    print(f"built-up polygons squared: {right} of {len(built)}")
    assert right > 0  # urban blocks at 10 m are mostly not rectilinear: most stay as they are
