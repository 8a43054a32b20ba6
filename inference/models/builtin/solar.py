"""Solar (PV) plants without training: dark, blue-ish, low-saturation panel rows.

PV modules are glass over silicon cells: dark in the visible with blue at least as bright
as red, weakly saturated, and -- because silicon absorbs up to about 1.1 um -- dark in the
near infrared too, where soil, concrete and vegetation are bright. The rules below encode
these traits directly (no single standard PV index is assumed). A plant is not one dark
patch but rows of modules with lit ground between them, so the rule also wants the local
brightness contrast of rows (3 x 3 standard deviation, averaged over 9 x 9) -- smooth dark
surfaces such as water and asphalt fail it.

Rules per pixel (brightness scale of rgbn.py): panel = visible maximum < PANEL_BRIGHTNESS,
(blue - red)/(blue + red) > PANEL_BLUENESS, saturation < PANEL_SATURATION, not vegetation,
and with NIR: NIR < PANEL_NIR and NDWI < PANEL_NDWI (clear water is above 0.2; panels,
dark in NIR and SWIR alike, sit near 0, so MNDWI is not used to reject water). Plant = the
closing of the panels by a disk of ROW_GAP px (rows merge into one area) where the row
texture holds, holes filled, at least MIN_AREA_PX.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import morphology

from inference.models.base import ModelSpec
from inference.models.builtin.rgbn import Bands, RgbnModule, normalized_difference, sigmoid

PANEL_BRIGHTNESS = 0.45
PANEL_BLUENESS = 0.0
PANEL_SATURATION = 0.6
PANEL_NIR = 0.45
PANEL_NDWI = 0.2
ROW_TEXTURE = 0.03
ROW_GAP = 4
MIN_AREA_PX = 400


def local_std(image: np.ndarray, size: int) -> np.ndarray:
    mean = ndimage.uniform_filter(image, size)
    square = ndimage.uniform_filter(image * image, size)
    return np.sqrt(np.maximum(square - mean * mean, 0.0))


class SolarPanels(RgbnModule):
    """`pv-plant` (see the module docstring)."""

    tool = "pv-plant"

    def probability(self, bands: Bands) -> np.ndarray:
        b = bands.brightness
        blueness = normalized_difference(bands.blue, bands.red)
        score = (
            sigmoid(-b, -PANEL_BRIGHTNESS, 0.03)
            * sigmoid(blueness, PANEL_BLUENESS, 0.02)
            * sigmoid(-bands.saturation, -PANEL_SATURATION, 0.05)
        )
        if bands.nir is not None:
            score *= sigmoid(-bands.nir, -PANEL_NIR, 0.03)
        texture = ndimage.uniform_filter(local_std(b, 3), 9)
        panels = (score > 0.5) & ~bands.vegetation
        if bands.nir is not None:  # panels are dark in SWIR too: MNDWI would call them water
            panels &= normalized_difference(bands.green, bands.nir) < PANEL_NDWI
        plant = morphology.closing(panels, morphology.disk(ROW_GAP))
        plant &= texture > ROW_TEXTURE
        plant = morphology.opening(plant, morphology.disk(2))
        plant = ndimage.binary_fill_holes(plant)
        plant = morphology.remove_small_objects(plant, max_size=MIN_AREA_PX)
        soft = ndimage.uniform_filter(score, 5)
        return np.where(plant, 0.55 + 0.45 * soft, 0.45 * soft).astype(np.float32)


def build_solar(spec: ModelSpec) -> SolarPanels:
    return SolarPanels()
