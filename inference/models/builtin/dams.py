"""Dams without training: a bright, built, elongated barrier with a water body along it.

A dam wall (concrete, or an embankment's crest and paved face) is a bright, unvegetated,
elongated structure; its defining trait is position: it closes a reservoir, so one long
side lies along open water. Water comes from MNDWI with SWIR, NDWI with NIR, or the visible
water rule on RGB (see rgbn.py); small water patches (< MIN_WATER_PX) are ignored.

Rules (brightness scale of rgbn.py): barrier pixels are brightness > WALL_BRIGHTNESS,
saturation < WALL_SATURATION, not vegetation, not water, connected to a pixel within
NEAR_WATER_PX of a water body. A connected barrier region is a dam when it is elongated
(major / minor axis of its inertia ellipse >= MIN_ELONGATION), at least MIN_AREA_PX, and
water touches at least MIN_SHORE_SHARE of its outline. Bright shores (a beach, a quay or
a lakeside road) pass these rules too: that is the method's known confusion.
"""

from __future__ import annotations

import numpy as np
from skimage import measure, morphology

from inference.models.base import ModelSpec
from inference.models.builtin.rgbn import Bands, RgbnModule, sigmoid

WALL_BRIGHTNESS = 0.5
WALL_SATURATION = 0.25
MIN_WATER_PX = 2000
NEAR_WATER_PX = 3
MIN_ELONGATION = 3.0
MIN_AREA_PX = 100
MIN_SHORE_SHARE = 0.25


def dam_regions(barrier: np.ndarray, water: np.ndarray) -> np.ndarray:
    """Elongated barrier regions of at least MIN_AREA_PX whose outline touches water."""
    shore = morphology.dilation(water, morphology.disk(1))
    labels = measure.label(barrier, connectivity=2)
    keep = np.zeros(labels.max() + 1, dtype=bool)
    outline = barrier & ~morphology.erosion(barrier, morphology.disk(1))
    for region in measure.regionprops(labels):
        if region.area < MIN_AREA_PX:
            continue
        minor = max(region.axis_minor_length, 1.0)
        if region.axis_major_length / minor < MIN_ELONGATION:
            continue
        rows, cols = region.coords[:, 0], region.coords[:, 1]
        edge = outline[rows, cols]
        touching = (edge & shore[rows, cols]).sum() / max(edge.sum(), 1)
        keep[region.label] = touching >= MIN_SHORE_SHARE
    return keep[labels]


class Dams(RgbnModule):
    """`dam` (see the module docstring)."""

    tool = "dam"

    def probability(self, bands: Bands) -> np.ndarray:
        water = morphology.remove_small_objects(
            morphology.opening(bands.water, morphology.disk(1)), max_size=MIN_WATER_PX
        )
        score = sigmoid(bands.brightness, WALL_BRIGHTNESS, 0.03) * sigmoid(
            -bands.saturation, -WALL_SATURATION, 0.03
        )
        near = morphology.dilation(water, morphology.disk(NEAR_WATER_PX))
        barrier = (score > 0.5) & ~bands.vegetation & ~bands.water
        barrier = morphology.closing(barrier, morphology.disk(1))
        # the whole wall counts once part of it is near water: grow from the near part
        barrier = morphology.reconstruction(
            (barrier & near).astype(np.uint8), barrier.astype(np.uint8)
        ).astype(bool)
        dams = dam_regions(barrier, water)
        return np.where(dams, 0.55 + 0.45 * score, 0.45 * score).astype(np.float32)


def build_dams(spec: ModelSpec) -> Dams:
    return Dams()
