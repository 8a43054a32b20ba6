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
"""

from __future__ import annotations

import torch
from torch import Tensor

from inference.models.base import ModelSpec
from inference.models.builtin.layers import check_input, normalized_difference, soft_step

SOFTNESS = 0.02
CLOUD_VIS = 0.30
WATER_MNDWI = 0.0
FLOODED_MNDWI, FLOODED_VIS = -0.22, 0.08
VEGETATION_NDVI = 0.70
SPARSE_NDVI = 0.42
RESIDUE_MNDWI = -0.46
URBAN_MNDWI = -0.31
TILLED_VIS = 0.12


class SpectralLandCover(torch.nn.Module):
    """Index-rule land cover; stateless (needs_fit False)."""

    def __init__(self, softness: float = SOFTNESS) -> None:
        super().__init__()
        self.softness = softness

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, 5, "landcover-spectral")
        blue, green, red, nir, swir = x.unbind(dim=1)
        ndvi = normalized_difference(nir, red)
        mndwi = normalized_difference(green, swir)
        vis = (blue + green + red) / 3.0
        s = self.softness

        def split(rest: Tensor, yes: Tensor) -> tuple[Tensor, Tensor]:
            return rest * yes, rest * (1.0 - yes)

        rest = torch.ones_like(ndvi)
        cloud, rest = split(rest, soft_step(vis, CLOUD_VIS, s))
        water, rest = split(rest, soft_step(mndwi, WATER_MNDWI, s))
        flooded = soft_step(mndwi, FLOODED_MNDWI, s) * soft_step(-vis, -FLOODED_VIS, s)
        paddy, rest = split(rest, flooded)
        vegetation, rest = split(rest, soft_step(ndvi, VEGETATION_NDVI, s))
        sparse, rest = split(rest, soft_step(ndvi, SPARSE_NDVI, s))
        residue, rest = split(rest, soft_step(-mndwi, -RESIDUE_MNDWI, s))
        built, rest = split(rest, soft_step(mndwi, URBAN_MNDWI, s))
        tilled, bare = split(rest, soft_step(-vis, -TILLED_VIS, s))
        cropland = paddy + sparse + residue + tilled
        return torch.stack([water, vegetation, cropland, built, bare, cloud], dim=1)


def build_landcover(spec: ModelSpec) -> SpectralLandCover:
    return SpectralLandCover()
