"""Greenhouses without training: large, bright, unsaturated, smooth plastic or glass roofs.

Plastic film and glass scatter the whole visible range about equally, so greenhouse roofs
are among the brightest and least saturated surfaces of a farmed landscape; vegetation under
them is muted. Rules (brightness scale of rgbn.py): brightness > ROOF_BRIGHTNESS,
saturation < ROOF_SATURATION, not vegetation, and a roof texture more regular than
bright bare soil (3 x 3 standard deviation, averaged over 9 x 9, below ROOF_TEXTURE).
With SWIR the plastic-mulched land-cover index PMLI = (swir16 - red)/(swir16 + red)
(Lu, Di & Ye 2014) must be above PMLI_MIN: snow and bright clouds, the other bright
unsaturated surfaces, are dark in SWIR and fall below it. Regions are opened by a disk of
2 px, holes filled, and kept when at least MIN_AREA_PX and compact (solidity >= 0.7 -- a
range of greenhouses is a block of rectangles).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import measure, morphology

from inference.models.base import ModelSpec
from inference.models.builtin.rgbn import Bands, RgbnModule, normalized_difference, sigmoid
from inference.models.builtin.solar import local_std

ROOF_BRIGHTNESS = 0.6
ROOF_SATURATION = 0.2
ROOF_TEXTURE = 0.06
PMLI_MIN = -0.1
MIN_AREA_PX = 300
MIN_SOLIDITY = 0.7


def compact_regions(mask: np.ndarray, min_area: int, min_solidity: float) -> np.ndarray:
    """The connected regions of ``mask`` with at least ``min_area`` px and the solidity."""
    labels = measure.label(mask, connectivity=2)
    keep = np.zeros(labels.max() + 1, dtype=bool)
    for region in measure.regionprops(labels):
        keep[region.label] = region.area >= min_area and region.solidity >= min_solidity
    return keep[labels]


class Greenhouses(RgbnModule):
    """`greenhouse` (see the module docstring)."""

    tool = "greenhouse"

    def probability(self, bands: Bands) -> np.ndarray:
        b = bands.brightness
        score = sigmoid(b, ROOF_BRIGHTNESS, 0.03) * sigmoid(
            -bands.saturation, -ROOF_SATURATION, 0.03
        )
        if bands.swir is not None:
            score *= sigmoid(normalized_difference(bands.swir, bands.red), PMLI_MIN, 0.03)
        texture = ndimage.uniform_filter(local_std(b, 3), 9)
        roofs = (score > 0.5) & ~bands.vegetation & (texture < ROOF_TEXTURE)
        roofs = morphology.opening(roofs, morphology.disk(2))
        roofs = ndimage.binary_fill_holes(roofs)
        roofs = compact_regions(roofs, MIN_AREA_PX, MIN_SOLIDITY)
        return np.where(roofs, 0.55 + 0.45 * score, 0.45 * score).astype(np.float32)


def build_greenhouses(spec: ModelSpec) -> Greenhouses:
    return Greenhouses()
