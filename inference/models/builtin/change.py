"""Change vector analysis (CVA) between two optical dates, with change types.

Input (B, 8, H, W) reflectance 0..1: green, red, nir, swir16 of date 1, then the same four
bands of date 2. Output (B, 5, H, W) probabilities of 0 no change, 1 vegetation loss,
2 new built-up, 3 water gain, 4 water loss.

Per date the pixel is a point f = (NDVI, MNDWI, NDBI) (NDBI = (swir16 - nir)/(swir16 + nir),
Zha 2003). The change vector is d = f2 - f1:

* Magnitude |d| decides change vs no change with a global Otsu threshold from fit() (never
  below MIN_MAGNITUDE, so an image with almost no change does not turn its noise into change).
* Direction names the change:
  - water gain: MNDWI crosses the water line (0) upwards; water loss: downwards.
  - otherwise, loss of green cover -- dNDVI < -0.15, dNDBI > +0.10 and dMNDWI > +0.05
    (soil and impervious surfaces are brighter in green relative to SWIR than leaves are)
    -- is new built-up when date-2 MNDWI is above the urban line of the land-cover rules
    (URBAN_MNDWI, -0.31), else vegetation loss (to bare soil).
  - any other direction (green-up, crop phenology such as ripening with dMNDWI ~ 0,
    brightness drift) is no change of these types.

So P(class k) = P(|d| > T) * P(direction k), and P(no change) = 1 - sum_k P(class k).
Crop phenology is the main false alarm source (a green crop harvested to tilled soil looks
like vegetation loss); ripening crops are rejected by the dMNDWI condition.

Without SWIR (aerial RGBN or RGB) the same classes come from CVA in the feature space those
bands support, with a brightness gain fitted per date: see change_rgbn.py. The engine builds
the module for the band set it feeds (green, red, nir, swir16, or red, green, blue, nir:
both 8 channels for two dates; or red, green, blue: 6).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from inference.models.base import ModelSpec
from inference.models.builtin import change_rgbn
from inference.models.builtin.landcover import URBAN_MNDWI
from inference.models.builtin.layers import (
    GlobalFitModule,
    check_input,
    normalized_difference,
    sample_tensor,
    soft_step,
)
from inference.models.builtin.rgbn import bright_level
from inference.models.thresholds import otsu_threshold

SOFTNESS = 0.02
MIN_MAGNITUDE = 0.15
WATER_LINE = 0.0
GREEN_LOSS_NDVI, GREEN_LOSS_NDBI, GREEN_LOSS_MNDWI = -0.15, 0.10, 0.05
SWIR_BANDS = ["green", "red", "nir", "swir16"]
RGBN_BANDS = ["red", "green", "blue", "nir"]
RGB_BANDS = ["red", "green", "blue"]


def index_features(x: Tensor) -> Tensor:
    """(B, 4, H, W) green, red, nir, swir16 -> (B, 3, H, W) NDVI, MNDWI, NDBI."""
    green, red, nir, swir = x.unbind(dim=1)
    return torch.stack(
        [
            normalized_difference(nir, red),
            normalized_difference(green, swir),
            normalized_difference(swir, nir),
        ],
        dim=1,
    )


def _check_channels(channels: int, bands: list[str]) -> None:
    if channels != 2 * len(bands):
        raise ValueError(
            f"change-cva built for {', '.join(bands)} needs {2 * len(bands)} channels (date 1 "
            f"then date 2); it got {channels} channel(s)"
        )


class ChangeVectorAnalysis(GlobalFitModule):
    threshold: Tensor
    gains: Tensor

    def __init__(self, softness: float = SOFTNESS, bands: list[str] | None = None) -> None:
        super().__init__()
        self.softness = softness
        self.bands = list(bands or SWIR_BANDS)
        if self.bands not in (SWIR_BANDS, RGBN_BANDS, RGB_BANDS):
            raise ValueError(f"change-cva has no method for the bands {', '.join(self.bands)}")
        self.visible = self.bands != SWIR_BANDS
        self.register_buffer("threshold", torch.tensor(MIN_MAGNITUDE))
        #: brightness gain of each date (RGB / RGBN only; the SWIR path reads reflectance)
        self.register_buffer("gains", torch.ones(2))

    @staticmethod
    def change_vector(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Features of date 1, date 2 and their difference, each (B, 3, H, W)."""
        f1, f2 = index_features(x[:, :4]), index_features(x[:, 4:])
        return f1, f2, f2 - f1

    def fit(self, sample: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
        """Global Otsu threshold of the change magnitude over the image's valid pixels (and,
        without SWIR, each date's brightness gain first)."""
        channels = int(np.asarray(sample).shape[0])
        _check_channels(channels, self.bands)
        if self.visible:
            return self._fit_visible(sample, valid, channels)
        tensor, mask = sample_tensor(sample, valid, 8, "change-cva")
        _, _, delta = self.change_vector(tensor)
        magnitude = delta[0].norm(dim=0).numpy()[mask]
        otsu = otsu_threshold(magnitude)
        threshold = max(otsu, MIN_MAGNITUDE)
        self.threshold.fill_(threshold)
        info = {
            "threshold": threshold,
            "otsu": otsu,
            "changed_fraction": float((magnitude > threshold).mean()),
        }
        self._mark_fitted(info)
        return info

    def _fit_visible(
        self, sample: np.ndarray, valid: np.ndarray | None, channels: int
    ) -> dict[str, float]:
        tensor, mask = sample_tensor(sample, valid, channels, "change-cva")
        array, half = tensor[0].numpy(), channels // 2
        blank = "change-cva: a date is blank (no bright pixels)"
        levels = [bright_level(d, mask, blank) for d in (array[:half], array[half:])]
        gains = [1.0 / level for level in levels]
        before = change_rgbn.date_bands(array[:half], gains[0])
        after = change_rgbn.date_bands(array[half:], gains[1])
        magnitude = change_rgbn.magnitude(before, after)[mask]
        otsu = otsu_threshold(magnitude)
        threshold = max(otsu, MIN_MAGNITUDE)
        self.threshold.fill_(threshold)
        self.gains.copy_(torch.tensor(gains))
        info = {
            "threshold": threshold,
            "otsu": otsu,
            "changed_fraction": float((magnitude > threshold).mean()),
            "bright_level_1": levels[0],
            "bright_level_2": levels[1],
        }
        self._mark_fitted(info)
        return info

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 4:
            _check_channels(int(x.shape[1]), self.bands)
        if x.ndim == 4 and self.visible:
            self._require_fit()
            return change_rgbn.forward_chips(x, self.gains, float(self.threshold))
        check_input(x, 8, "change-cva")
        self._require_fit()
        s = self.softness
        f1, f2, delta = self.change_vector(x)
        changed = soft_step(delta.norm(dim=1), self.threshold, s)
        m1, m2 = f1[:, 1], f2[:, 1]
        gain = soft_step(m2, WATER_LINE, s) * soft_step(-m1, -WATER_LINE, s)
        loss = soft_step(m1, WATER_LINE, s) * soft_step(-m2, -WATER_LINE, s)
        green_loss = (
            soft_step(-delta[:, 0], -GREEN_LOSS_NDVI, s)
            * soft_step(delta[:, 2], GREEN_LOSS_NDBI, s)
            * soft_step(delta[:, 1], GREEN_LOSS_MNDWI, s)
            * (1.0 - gain - loss).clamp_min(0.0)
        )
        built = soft_step(m2, URBAN_MNDWI, s)
        types = torch.stack([green_loss * (1.0 - built), green_loss * built, gain, loss], dim=1)
        types = types * changed[:, None]
        return torch.cat([(1.0 - types.sum(dim=1, keepdim=True)).clamp_min(0.0), types], dim=1)


def build_change_cva(spec: ModelSpec) -> ChangeVectorAnalysis:
    """For the spec's band set (the engine narrows it to the set it feeds)."""
    return ChangeVectorAnalysis(bands=spec.bands)
