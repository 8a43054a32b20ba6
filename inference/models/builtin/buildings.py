"""Buildings without training: the morphological building index (MBI).

Huang & Zhang (2011), "A multidirectional and multiscale morphological index for automatic
building extraction from multispectral GeoEye-1 imagery", PE&RS 77(7): roofs are bright,
compact structures that contrast with their shadowed surroundings. On the brightness b
(visible maximum), for each direction d (0, 45, 90, 135 degrees) and length s of a linear
structuring element, the white top-hat by reconstruction TH(d, s) = b - R(open(b, SE(d, s)))
keeps the bright structures shorter than s along d. Its differential profile
DMP(d, s) = |TH(d, s + ds) - TH(d, s)| summed over scales and averaged over directions is the
MBI: high for compact bright objects of building size, low for roads (long in one direction)
and open fields (larger than every element).

A pixel is a building where MBI exceeds MBI_THRESHOLD (on the image's brightness scale, see
rgbn.py), it is neither vegetation nor shadow nor water, and its region is at least
MIN_AREA_PX after a small opening. Lengths and areas are pixels, designed for 0.3-2 m.
The engine's chip overlap (128 px) exceeds the longest element (65 px), so chips agree
where they overlap and the blended map has no seams.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import morphology

from inference.models.base import ModelSpec
from inference.models.builtin.rgbn import Bands, RgbnModule, sigmoid

LENGTHS = tuple(range(5, 66, 10))  # 5 .. 65 px, step ds = 10
MBI_THRESHOLD = 0.04
MBI_SOFTNESS = 0.01
MIN_AREA_PX = 60
SMOOTH_RADIUS = 1


def line_footprints(length: int) -> list[np.ndarray]:
    """Linear structuring elements of ``length`` px at 0, 45, 90 and 135 degrees."""
    horizontal = np.ones((1, length), dtype=bool)
    diagonal = np.eye(length, dtype=bool)
    return [horizontal, diagonal, horizontal.T, diagonal[::-1]]


def top_hat_by_reconstruction(image: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """image - opening by reconstruction: the bright structures the footprint does not fit."""
    opened = morphology.opening(image, footprint)
    seed = np.minimum(opened, image)  # the opening is <= image; guard edge padding
    rebuilt = morphology.reconstruction(seed, image, method="dilation")
    return image - rebuilt


def morphological_building_index(brightness: np.ndarray) -> np.ndarray:
    """MBI (H, W): mean over directions of the summed top-hat differential profile."""
    image = brightness.astype(np.float64)
    total = np.zeros_like(image)
    directions = 4
    for d in range(directions):
        previous = None
        for length in LENGTHS:
            th = top_hat_by_reconstruction(image, line_footprints(length)[d])
            if previous is not None:
                total += np.abs(th - previous)
            previous = th
    return (total / (directions * (len(LENGTHS) - 1))).astype(np.float32)


class BuildingIndex(RgbnModule):
    """`building`: MBI on RGB / RGBN / RGBN+SWIR chips (see the module docstring)."""

    tool = "building"

    def probability(self, bands: Bands) -> np.ndarray:
        mbi = morphological_building_index(bands.brightness)
        p = sigmoid(mbi, MBI_THRESHOLD, MBI_SOFTNESS)
        excluded = bands.vegetation | bands.shadow | bands.water
        candidate = (p > 0.5) & ~excluded
        candidate = morphology.opening(candidate, morphology.disk(SMOOTH_RADIUS))
        candidate = ndimage.binary_fill_holes(candidate)
        keep = morphology.remove_small_objects(candidate, max_size=MIN_AREA_PX)
        return np.where(keep, 0.55 + 0.45 * p, 0.45 * p).astype(np.float32)


def build_building(spec: ModelSpec) -> BuildingIndex:
    return BuildingIndex()
