"""Water from a spectral index (optical) or from backscatter (SAR), thresholded globally.

Optical (`water-optical`, `water-optical-ndwi`): MNDWI = (green - swir16) / (green + swir16)
(Xu 2006), or NDWI = (green - nir) / (green + nir) (McFeeters 1996) where the sensor has no
SWIR band. Open water is > 0 in both; the per-image Otsu threshold adapts to turbidity and
atmosphere. An image without a distinct water mode (a dry scene, or one whose few water pixels
make no second mode: 85 of 21,334 clear pixels of the Landsat Colombia sample) keeps the
index's own water line, 0, so it maps the little water there is instead of failing.

`water-optical` is the one tool for every optical image: its band sets are (green, swir16)
-> MNDWI, else (red, green, blue, nir) -> NDWI, so Sentinel-2 and Landsat get MNDWI and
RGBN aerial imagery NDWI from the same tool (the input's channel count says which).
An RGB-only image is refused with a message naming the bands it lacks: no visible-band
index separates water from shadow and dark vegetation credibly (dark-and-blue rules reach
IoU 0.12-0.53 against NDWI on the NAIP North Dakota pair), so water on RGB needs a model
trained with the labelling loop.

SAR (`water-sar`, `water-sar-vv`): calm open water is a specular reflector and the darkest
surface in C-band backscatter. The feature is the mean over the polarisations of sigma0 in
dB after a 3 x 3 multilook (boxcar mean in linear power, speckle reduction). fit() needs a
bimodal histogram (Ashman's D >= 2, see thresholds.py) whose dark mode is water-like (below
WATER_CEILING_DB); otherwise it raises ModelFitError "no distinct water class in this image".
The threshold is the equal-density point of the two-Gaussian fit started from Otsu: flooded
paddies and wet soil form a shoulder between water and land that pulls plain Otsu several
dB too high (IoU 0.74 vs 0.93 on the demo scene).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from inference.models.base import ModelSpec
from inference.models.builtin.layers import (
    GlobalFitModule,
    box_filter,
    check_input,
    normalized_difference,
    sample_tensor,
    soft_step,
)
from inference.models.errors import ModelFitError
from inference.models.thresholds import NotBimodal, bimodal_split

NO_WATER = "no distinct water class in this image"
WATER_LINE = 0.0
"""MNDWI and NDWI of open water are above 0 (Xu 2006; McFeeters 1996)."""
# Open water in C band: VV below about -15 dB, VH below about -22 dB even when wind-roughened.
WATER_CEILING_DB = {"vv": -15.0, "vh": -22.0, "hh": -15.0, "hv": -22.0}
SAR_NODATA_BELOW_DB = -100.0  # values below this are nodata (-9999 in the demo scenes)


RGBN = 4


class SpectralWater(GlobalFitModule):
    """Input (B, 2, H, W) reflectance: (green, swir16) for MNDWI or (green, nir) for NDWI;
    or (B, 4, H, W) red, green, blue, nir for NDWI. Output (B, 2, H, W): P(land), P(water)."""

    threshold: Tensor

    def __init__(self, index: str = "mndwi", softness: float = 0.02) -> None:
        super().__init__()
        if index not in ("mndwi", "ndwi"):
            raise ValueError("index must be 'mndwi' or 'ndwi'")
        self.index = index
        self.softness = softness  # index units per sigmoid unit
        self.register_buffer("threshold", torch.tensor(0.0))

    def water_index(self, x: Tensor) -> Tensor:
        if x.shape[1] == RGBN:
            return normalized_difference(x[:, 1], x[:, 3])
        return normalized_difference(x[:, 0], x[:, 1])

    def index_name(self, channels: int) -> str:
        return "ndwi" if channels == RGBN else self.index

    def _check(self, x: Tensor) -> None:
        if x.ndim == 4 and x.shape[1] == RGBN:
            return
        check_input(x, 2, f"water ({self.index}; or (B, 4, H, W) red, green, blue, nir)")

    def fit(self, sample: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
        """Global Otsu threshold of the index over the valid pixels of the whole image."""
        channels = RGBN if np.ndim(sample) == 3 and np.shape(sample)[0] == RGBN else 2
        tensor, mask = sample_tensor(sample, valid, channels, f"water ({self.index})")
        values = self.water_index(tensor)[0].numpy()[mask]
        name = self.index_name(channels)
        try:
            split = bimodal_split(values, method="otsu", min_weight=0.005)
            if split.mixture.means[1] <= 0.0:
                raise NotBimodal(f"the brighter {name.upper()} mode is not water-like (> 0)")
        except NotBimodal as exc:
            self.threshold.fill_(WATER_LINE)
            info: dict[str, float | str] = {
                "threshold": WATER_LINE,
                "method": f"the water line ({NO_WATER}: {exc})",
                "water_fraction": float((values > WATER_LINE).mean()) if values.size else 0.0,
                "index": name,
            }
            self._mark_fitted(info)
            return info  # type: ignore[return-value]
        self.threshold.fill_(split.threshold)
        info = {**split.summary(), "index": name}
        self._mark_fitted(info)
        return info  # type: ignore[return-value]

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        self._require_fit()
        water = soft_step(self.water_index(x), self.threshold, self.softness)
        return torch.stack([1.0 - water, water], dim=1)


class SarWater(GlobalFitModule):
    """Input (B, P, H, W) sigma0 in dB (VV, or VV and VH). Output (B, 2, H, W):
    P(land), P(water). Values below -100 dB are nodata and left out of the multilook."""

    threshold: Tensor

    def __init__(
        self,
        polarisations: tuple[str, ...] = ("vv", "vh"),
        multilook_radius: int = 1,
        softness_db: float = 0.5,
    ) -> None:
        super().__init__()
        self.polarisations = tuple(p.lower() for p in polarisations)
        unknown = [p for p in self.polarisations if p not in WATER_CEILING_DB]
        if unknown:
            raise ValueError(f"unknown polarisations {unknown}")
        self.multilook_radius = multilook_radius
        self.softness_db = softness_db
        self.ceiling_db = float(np.mean([WATER_CEILING_DB[p] for p in self.polarisations]))
        self.register_buffer("threshold", torch.tensor(0.0))

    def feature(self, x: Tensor) -> Tensor:
        """(B, H, W) mean over polarisations of multilooked sigma0 in dB (0 dB where no
        valid value is near: not water)."""
        valid = (x > SAR_NODATA_BELOW_DB).to(x.dtype)
        power = torch.pow(10.0, x.clamp(min=-60.0, max=60.0) / 10.0) * valid
        r = self.multilook_radius
        looked = box_filter(power, r) / box_filter(valid, r).clamp_min(1e-6)
        seen = box_filter(valid, r) > 1e-6
        db = torch.where(seen, 10.0 * torch.log10(looked.clamp_min(1e-10)), torch.zeros_like(x))
        return db.mean(dim=1)

    def fit(self, sample: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
        """Two-Gaussian threshold of the feature, refusing images without a water mode."""
        channels = len(self.polarisations)
        tensor, mask = sample_tensor(sample, valid, channels, "water-sar")
        mask &= (tensor[0] > SAR_NODATA_BELOW_DB).all(dim=0).numpy()
        values = self.feature(tensor)[0].numpy()[mask]
        try:
            split = bimodal_split(values, method="bayes", min_weight=0.02)
        except NotBimodal as exc:
            raise ModelFitError(f"{NO_WATER}: {exc}") from exc
        dark = split.mixture.means[0]
        if dark > self.ceiling_db:
            raise ModelFitError(
                f"{NO_WATER}: the darker mode ({dark:.1f} dB) is brighter than open water "
                f"({self.ceiling_db:.1f} dB)"
            )
        self.threshold.fill_(split.threshold)
        info = split.summary()
        self._mark_fitted(info)
        return info

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, len(self.polarisations), "water-sar")
        self._require_fit()
        water = soft_step(-self.feature(x), -self.threshold, self.softness_db)
        return torch.stack([1.0 - water, water], dim=1)


def build_spectral_water(spec: ModelSpec) -> SpectralWater:
    """MNDWI when the spec's second band is swir16, NDWI when it is nir."""
    second = spec.bands[1].lower()
    return SpectralWater("mndwi" if second.startswith("swir") else "ndwi")


def build_sar_water(spec: ModelSpec) -> SarWater:
    return SarWater(tuple(spec.bands))
