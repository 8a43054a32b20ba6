"""Real footprints: the SpaceNet 4 (Atlanta) building mask vectorized and regularized, compared
with the 43 GeoJSON footprints it was rasterized from."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from inference.polygons import overlapping_pairs
from inference.vectorize import vectorize_raster

ROOT = Path(__file__).resolve().parents[2]
REALDATA = Path(os.environ.get("COGSIGHT_REALDATA_DIR", ROOT.parent / "shared" / "data"))
SPACENET = REALDATA / "spacenet4-atlanta-buildings"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(
        not (SPACENET / "sample_fp_mask_from_geojson.tif").exists(),
        reason=f"SpaceNet sample not found in {SPACENET} (set COGSIGHT_REALDATA_DIR)",
    ),
]


@pytest.fixture(scope="module")
def mask_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The 0/255 mask with the georeferencing of the image it is pixel-aligned with."""
    with rasterio.open(SPACENET / "sample_geotiff.tif") as image:
        crs, transform = image.crs, image.transform
    with rasterio.open(SPACENET / "sample_fp_mask_from_geojson.tif") as src:
        mask = src.read(1)
    path = tmp_path_factory.mktemp("spacenet") / "footprints.tif"
    profile = dict(driver="GTiff", width=mask.shape[1], height=mask.shape[0], count=1)
    with rasterio.open(path, "w", **profile, dtype="uint8", crs=crs, transform=transform) as dst:
        dst.write(mask, 1)
    return str(path)


def union_iou(a: np.ndarray, b: np.ndarray) -> float:
    ua, ub = shapely.union_all(a), shapely.union_all(b)
    return float(shapely.area(shapely.intersection(ua, ub)) / shapely.area(shapely.union(ua, ub)))


def test_spacenet_footprints_regularized(mask_path: str) -> None:
    labels = gpd.read_file(SPACENET / "geotiff_labels.geojson")
    truth = labels.geometry.values
    plain = vectorize_raster(mask_path, classes=[255])
    squared = vectorize_raster(mask_path, classes=[255], regularize=True, min_area=2.0)
    assert squared.crs == labels.crs

    iou_plain = union_iou(plain.geometry.values, truth)
    iou = union_iou(squared.geometry.values, truth)
    geoms = squared.geometry.values
    angles = [_corner_angles(p) for p in geoms]
    right = sum(bool(np.all(np.abs(a - 90) < 0.5)) for a in angles)
    print(
        f"labels {len(labels)}, polygons {len(squared)} (unregularized {len(plain)}), "
        f"union IoU {iou:.4f} (unregularized {iou_plain:.4f}), squared {right}/{len(squared)}"
    )
    assert iou >= 0.9
    assert abs(len(squared) - len(labels)) <= 5
    assert right >= len(squared) // 2
    assert shapely.is_valid(geoms).all()
    assert len(overlapping_pairs(geoms)) == 0
    # areas stay close to the footprints they come from (regularization keeps the area)
    ratio = squared.area_m2.sum() / labels.area.sum()
    print(f"total area ratio vs labels {ratio:.4f}")
    assert abs(ratio - 1) < 0.05


def _corner_angles(poly: shapely.Polygon) -> np.ndarray:
    c = np.asarray(poly.exterior.coords)[:-1]
    a, b = np.roll(c, 1, axis=0) - c, np.roll(c, -1, axis=0) - c
    cos = (a * b).sum(axis=1) / (np.hypot(*a.T) * np.hypot(*b.T))
    angles = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    return angles[angles < 178]
