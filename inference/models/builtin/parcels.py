"""Field parcels without training: homogeneous regions inside a cropland mask.

1. Segment the chip into homogeneous regions with Felzenszwalb & Huttenlocher's graph
   segmentation (scikit-image ``felzenszwalb``) on the bands in reflectance-like units (the
   gain is fitted once per image, see visible.py, so every chip is cut on the same scale).
2. Keep a region as a field when it is cropland by the vegetation rules of visible.py
   (smooth green or bare land, not water, not rough trees or roofs, not bright grey) on more
   than half of its pixels and it covers at least MIN_AREA_PX pixels.
3. Leave a one-pixel boundary between neighbouring regions as background, so the class map's
   polygons are one per parcel (the field boundaries are the gaps between them).

Input (B, 3 or 4, H, W): red, green, blue[, nir]. Output (B, 2, H, W): P(background),
P(field), 0 or 1. Areas are pixels: MIN_AREA_PX = 100 is 1 ha at 10 m and 100 m2 at 1 m;
the polygon step's own minimum area (in m2) applies on top. The chip overlap (the spec's
halo) is wide compared with a region's boundary shift, so blended chips keep one boundary.
Measured on seeded synthetic scenes with parcel truth (tests/inference/test_parcels_change.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from skimage.segmentation import felzenszwalb, find_boundaries
from torch import Tensor

from inference.models.base import ModelSpec
from inference.models.builtin.visible import (
    RGB,
    RGBN,
    GainFitModule,
    VisibleFeatures,
    check_layout,
    cropland_probability,
)

MIN_AREA_PX = 100
SCALE, SIGMA = 200.0, 0.8
CROPLAND_SHARE = 0.5


def segment(image: np.ndarray, min_area: int = MIN_AREA_PX) -> np.ndarray:
    """Region labels (H, W) of an (C, H, W) image in reflectance-like units."""
    planes = np.clip(np.moveaxis(image, 0, -1) / 0.4, 0.0, 1.0).astype(np.float64)
    with warnings.catch_warnings():  # four bands are meant: "may not be intended" is noise
        warnings.simplefilter("ignore", RuntimeWarning)
        labels = felzenszwalb(planes, scale=SCALE, sigma=SIGMA, min_size=min_area, channel_axis=-1)
    return np.asarray(labels)


def field_mask(labels: np.ndarray, cropland: np.ndarray, min_area: int = MIN_AREA_PX) -> np.ndarray:
    """Regions that are mostly cropland and large enough, less one-pixel inner boundaries."""
    counts = np.bincount(labels.ravel())
    share = np.bincount(labels.ravel(), weights=cropland.ravel()) / np.maximum(counts, 1)
    keep = (share > CROPLAND_SHARE) & (counts >= min_area)
    fields = keep[labels]
    return fields & ~find_boundaries(labels, mode="inner")


class FieldParcels(GainFitModule):
    def __init__(self, min_area: int = MIN_AREA_PX) -> None:
        super().__init__()
        self.min_area = min_area

    def check_fit(self, array: np.ndarray) -> None:
        if array.ndim != 3 or array.shape[0] not in (RGB, RGBN):
            raise ValueError(
                f"field-parcel expects 3 or 4 bands (red, green, blue[, nir]), got {array.shape}"
            )

    def forward(self, x: Tensor) -> Tensor:
        check_layout(x, "field-parcel")
        self._require_fit()
        cropland = cropland_probability(VisibleFeatures(x, self.gain)).cpu().numpy()
        scaled = (x * self.gain).cpu().numpy()
        out = np.zeros((x.shape[0], 2, x.shape[2], x.shape[3]), dtype=np.float32)
        for i in range(x.shape[0]):
            labels = segment(scaled[i], self.min_area)
            out[i, 1] = field_mask(labels, cropland[i], self.min_area)
        out[:, 0] = 1.0 - out[:, 1]
        return torch.from_numpy(out).to(x.device)


def build_field_parcels(spec: ModelSpec) -> FieldParcels:
    return FieldParcels()
