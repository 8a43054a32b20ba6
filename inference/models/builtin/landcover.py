"""Land cover from spectral-index rules (no training), as a soft decision tree.

Input (B, 5, H, W) reflectance 0..1: blue, green, red, nir, swir16. Output (B, 6, H, W)
probabilities of classes 1 water, 2 vegetation, 3 cropland, 4 built-up, 5 bare,
6 cloud/snow (ids 1..5 as in the demo truth; 0 is left for nodata).

Indices: NDVI = (nir - red)/(nir + red), MNDWI = (green - swir16)/(green + swir16),
VIS = mean(blue, green, red) (visible brightness). The rules are evaluated in this order;
each split is a sigmoid with width SOFTNESS (0.02 index/reflectance units), each leaf's
probability is the product of its branch probabilities, so the six outputs sum to 1 exactly.

1. VIS > 0.30                          -> cloud/snow (bright in the whole visible)
2. MNDWI > 0.0                         -> water (Xu 2006: open water is positive)
3. MNDWI > -0.22 and VIS < 0.08        -> cropland (flooded paddy: water/soil/plant mix)
4. NDVI > 0.70                         -> vegetation (dense green canopy; green crops at full
                                          canopy look the same and land here)
5. NDVI > 0.42                         -> cropland (partial canopy: emerging crops)
6. MNDWI < -0.46                       -> cropland (dry residue/ripe crop: high SWIR)
7. MNDWI > URBAN_MNDWI (-0.31)         -> built-up (concrete, asphalt, roofs: flatter spectra
                                          than soil; library values -0.22 .. -0.30)
8. VIS < 0.12                          -> cropland (dark, moist tilled soil)
9. otherwise                           -> bare (dry soil: MNDWI about -0.35 .. -0.41)

The thresholds come from typical library spectra (the endmembers of tileserver/demo/
spectra.py are such values); they are rules of thumb for 10-30 m surface reflectance, not
trained. Known confusions: green crops at full canopy vs natural vegetation (identical
indices pixel by pixel), red clay-tile roofs vs soil.

Without SWIR (RGBN (B, 4, H, W) red, green, blue, nir, or RGB (B, 3, H, W) red, green, blue;
see visible.py for units and features) the rules use brightness, saturation, greenness and
texture instead of MNDWI:

1. brightness > 0.30 and saturation < 0.15  -> cloud/snow (bright and grey)
2. NDWI > 0 (RGBN only)                      -> water
3. green (NDVI > 0.30 / ExG > 0.12) and rough -> vegetation (trees, forest)
4. green and smooth                          -> grassland (meadows, pasture and green crops:
                                                 one date without SWIR cannot tell them apart)
5. not green and rough                       -> built-up (roofs, roads, their edges)
6. otherwise                                 -> bare (soil, tilled or harvested fields, sand)

So without SWIR cropland is not a class of its own (green fields read as grassland, tilled
ones as bare), and RGB gives no water at all: no visible rule is credible (on the Sentinel-2
Austria pair the turbid Inn is brighter than the fields; "dark and blue-ish" marked 14 % of
that image as water with IoU 0.001 against NDWI). Class 7, grassland, is never given by the
SWIR rules. Measured on the Sentinel-2 Austria pair: RGBN water IoU 0.97 against NDWI water;
green (vegetation + grassland) from RGB against NDVI > 0.3: 0.70 / 0.78 there, 0.66 / 0.63 on
the NAIP North Dakota pair (``python -m bench.ai_quality --only naip``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from inference.models.base import ModelSpec
from inference.models.builtin.layers import (
    check_input,
    normalized_difference,
    soft_step,
)
from inference.models.builtin.visible import (
    RGB,
    RGBN,
    GainFitModule,
    VisibleFeatures,
    reflectance_gain,
)

SOFTNESS = 0.02
CLOUD_VIS = 0.30
WATER_MNDWI = 0.0
FLOODED_MNDWI, FLOODED_VIS = -0.22, 0.08
VEGETATION_NDVI = 0.70
SPARSE_NDVI = 0.42
RESIDUE_MNDWI = -0.46
URBAN_MNDWI = -0.31
TILLED_VIS = 0.12
SWIR = 5
CLOUD_SATURATION = 0.15


def _split(rest: Tensor, yes: Tensor) -> tuple[Tensor, Tensor]:
    return rest * yes, rest * (1.0 - yes)


class SpectralLandCover(GainFitModule):
    """Rule land cover: SWIR rules for 5 bands, visible rules for RGBN and RGB. fit() only
    learns the gain from stored values to reflectance-like units (8/16-bit imagery)."""

    def __init__(self, softness: float = SOFTNESS) -> None:
        super().__init__()
        self.softness = softness

    def check_fit(self, array: np.ndarray) -> None:
        if array.ndim != 3 or array.shape[0] not in (RGB, RGBN, SWIR):
            raise ValueError(f"landcover-spectral.fit expects 3, 4 or 5 bands, got {array.shape}")

    def gain_for(self, array: np.ndarray) -> float:
        return reflectance_gain(array) if array.shape[0] != SWIR else 1.0  # SWIR: reflectance

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 4 and x.shape[1] in (RGB, RGBN):
            self._require_fit()
            return self._visible(x)
        check_input(x, SWIR, "landcover-spectral")
        return self._swir(x)

    def _swir(self, x: Tensor) -> Tensor:
        blue, green, red, nir, swir = x.unbind(dim=1)
        ndvi = normalized_difference(nir, red)
        mndwi = normalized_difference(green, swir)
        vis = (blue + green + red) / 3.0
        s = self.softness
        rest = torch.ones_like(ndvi)
        cloud, rest = _split(rest, soft_step(vis, CLOUD_VIS, s))
        water, rest = _split(rest, soft_step(mndwi, WATER_MNDWI, s))
        flooded = soft_step(mndwi, FLOODED_MNDWI, s) * soft_step(-vis, -FLOODED_VIS, s)
        paddy, rest = _split(rest, flooded)
        vegetation, rest = _split(rest, soft_step(ndvi, VEGETATION_NDVI, s))
        sparse, rest = _split(rest, soft_step(ndvi, SPARSE_NDVI, s))
        residue, rest = _split(rest, soft_step(-mndwi, -RESIDUE_MNDWI, s))
        built, rest = _split(rest, soft_step(mndwi, URBAN_MNDWI, s))
        tilled, bare = _split(rest, soft_step(-vis, -TILLED_VIS, s))
        cropland = paddy + sparse + residue + tilled
        grass = torch.zeros_like(ndvi)
        return torch.stack([water, vegetation, cropland, built, bare, cloud, grass], dim=1)

    def _visible(self, x: Tensor) -> Tensor:
        f = VisibleFeatures(x, self.gain)
        s = self.softness
        rest = torch.ones_like(f.brightness)
        grey = soft_step(-f.saturation, -CLOUD_SATURATION, s)
        cloud, rest = _split(rest, soft_step(f.brightness, CLOUD_VIS, s) * grey)
        ndwi = f.water_index()
        wet = torch.zeros_like(rest) if ndwi is None else soft_step(ndwi, WATER_MNDWI, s)
        water, rest = _split(rest, wet)
        rough = f.rough(s)
        green, rest = _split(rest, f.vegetated(s))
        vegetation, grass = _split(green, rough)
        built, bare = _split(rest, rough)
        crop = torch.zeros_like(water)
        return torch.stack([water, vegetation, crop, built, bare, cloud, grass], dim=1)


def build_landcover(spec: ModelSpec) -> SpectralLandCover:
    return SpectralLandCover()
