"""`building` (morphological building index) through the engine: on a seeded synthetic scene
of bright roofs (RGB 8-bit and RGBN 16-bit), without seams between chips, and against the real
SpaceNet-4 Atlanta footprints (CC BY-SA 4.0, SpaceNet / CosmiQ Works / Maxar).

The SpaceNet tile is the hard case for MBI and the floor says so: a 0.5 m panchromatic,
off-nadir, forested tile whose houses mostly have dark roofs under tree cover. MBI finds
bright compact structures only, and the single band gives no vegetation index.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from tests.conftest import realdata
from tests.inference import zero_sample_scenes as scenes
from tests.inference.test_zero_sample_tools import run_tool

pytest.importorskip("torch")


@pytest.mark.parametrize(("bands", "dtype"), [(3, "uint8"), (4, "uint16")])
def test_building_finds_bright_roofs(tmp_path, bands, dtype):
    scene = scenes.building_scene()
    image = scenes.write_scene(scene, tmp_path / "in.tif", bands=bands, dtype=dtype)
    classes = run_tool("building", image, tmp_path / "out.tif", bands)
    # measured 0.95 (RGB 8-bit) and 0.87 (RGBN 16-bit)
    assert scenes.iou(classes == 1, scene.truth) >= 0.8


def test_building_chips_blend_without_seams(tmp_path):
    """Chips of 320 px with the tool's 128 px halo give the map of one 512 px chip."""
    scene = scenes.building_scene()
    image = scenes.write_scene(scene, tmp_path / "in.tif", bands=3)
    whole = run_tool("building", image, tmp_path / "whole.tif", 3, chip=512, overlap=0)
    tiled = run_tool("building", image, tmp_path / "tiled.tif", 3, chip=320, overlap=128)
    assert (whole == tiled).mean() >= 0.995


def test_building_on_spacenet4_atlanta(tmp_path):
    pan_path = realdata("spacenet4-atlanta-buildings", "sample_geotiff.tif")
    mask_path = realdata("spacenet4-atlanta-buildings", "sample_fp_mask_from_geojson.tif")
    with rasterio.open(pan_path) as src:
        pan, profile = src.read(1), src.profile
    with rasterio.open(mask_path) as src:
        truth = src.read(1) > 0
    image = tmp_path / "grey-rgb.tif"
    with rasterio.open(image, "w", **(profile | {"count": 3})) as dst:
        dst.write(np.stack([pan] * 3))
    classes = run_tool("building", image, tmp_path / "out.tif", 3, chip=900, overlap=0)
    found = classes == 1
    hits = float((found & truth).sum())
    iou = hits / float((found | truth).sum())
    f1 = 2 * hits / float(found.sum() + truth.sum())
    # measured IoU 0.018, F1 0.035: what MBI gives on dark roofs, not a target
    assert iou >= 0.012 and f1 >= 0.025
