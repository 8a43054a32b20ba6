"""What the zero-sample RGB(N) tools share: the band layout, a per-image brightness scale,
and the vegetation, water and shadow masks they remove from their candidates.

Band layout: red, green, blue, then optionally nir, then optionally swir16 (a sensor with
SWIR but no NIR is read as RGB). The channel count says which: 3 RGB, 4 RGBN, 5 RGBN+SWIR.

Scale: aerial and drone imagery comes as 8-bit, 12-bit or 16-bit digital numbers or as
reflectance. fit() stores one gain for all bands (the 99th percentile of the visible maximum
becomes 1.0), so brightness rules read the same on any of them while band ratios (NDVI,
NDWI) are untouched.

Masks, each with the index it uses and where it comes from:
* vegetation: NDVI = (nir - red)/(nir + red) > 0.3 with NIR (Rouse et al. 1974); without NIR
  the excess-green index ExG = 2g - r - b on chromatic coordinates > 0.12 (Woebbecke et
  al. 1995); on the NAIP North Dakota pair this threshold agrees best with NDVI > 0.3
  (IoU 0.66 in 2009, 0.63 in 2020; 0.05 gives 0.40 / 0.58).
* water: MNDWI (Xu 2006) > 0 with SWIR, else NDWI (McFeeters 1996) > 0 with NIR, else the
  visible rule "dark, blue at least as bright as red, not green". The visible rule is weak
  (IoU 0.15 / 0.04 against NDWI on the NAIP pair: prairie ponds are green-brown), so it only
  removes candidates; no tool finds water itself from RGB.
* shadow: visible maximum below 0.12 of the image's bright level.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from inference.models.builtin.layers import GlobalFitModule, check_input, sample_tensor
from inference.models.errors import ModelFitError

REQUIRED = ["red", "green", "blue"]
OPTIONAL = ["nir", "swir16"]
BRIGHT_PERCENTILE = 99.0
VEGETATION_NDVI = 0.3
VEGETATION_EXG = 0.12
SHADOW_BRIGHTNESS = 0.12
WATER_VISIBLE_BRIGHTNESS = 0.35


def sigmoid(x: np.ndarray, threshold: float, width: float) -> np.ndarray:
    """A smooth step (0.5 at ``threshold``), so overlapping chips blend without seams."""
    return (1.0 / (1.0 + np.exp(-np.clip((x - threshold) / width, -40.0, 40.0)))).astype(np.float32)


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.abs(total) > 1e-6, (a - b) / total, 0.0)
    return out.astype(np.float32)


def bright_level(image: np.ndarray, valid: np.ndarray, blank: str) -> float:
    """The image's bright level, its brightness scale's 1.0: the 99th percentile of the
    visible maximum (bands 0-2 of (C, H, W)) over ``valid`` pixels. ``blank``: the
    ModelFitError message where there is none."""
    visible = image[:3].max(axis=0)[valid]
    level = float(np.percentile(visible, BRIGHT_PERCENTILE)) if visible.size else 0.0
    if not level > 0:
        raise ModelFitError(blank)
    return level


@dataclass
class Bands:
    """One chip's bands (H, W) float32 on the image's brightness scale (bright level 1.0)."""

    red: np.ndarray
    green: np.ndarray
    blue: np.ndarray
    nir: np.ndarray | None = None
    swir: np.ndarray | None = None

    @classmethod
    def of(cls, chip: np.ndarray) -> Bands:
        nir = chip[3] if chip.shape[0] > 3 else None
        swir = chip[4] if chip.shape[0] > 4 else None
        return cls(chip[0], chip[1], chip[2], nir, swir)

    @cached_property
    def brightness(self) -> np.ndarray:
        """The visible maximum (the brightness of the morphological building index)."""
        return np.maximum(np.maximum(self.red, self.green), self.blue)

    @cached_property
    def saturation(self) -> np.ndarray:
        """HSV saturation: (max - min) / max of the visible bands."""
        low = np.minimum(np.minimum(self.red, self.green), self.blue)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(self.brightness > 1e-6, (self.brightness - low) / self.brightness, 0.0)
        return out.astype(np.float32)

    @cached_property
    def excess_green(self) -> np.ndarray:
        total = self.red + self.green + self.blue
        safe = np.where(total > 1e-6, total, 1.0)
        return ((2 * self.green - self.red - self.blue) / safe).astype(np.float32)

    @cached_property
    def ndvi(self) -> np.ndarray | None:
        return None if self.nir is None else normalized_difference(self.nir, self.red)

    @cached_property
    def ndwi(self) -> np.ndarray | None:
        """McFeeters' NDWI, (green - nir)/(green + nir); None without NIR."""
        return None if self.nir is None else normalized_difference(self.green, self.nir)

    @cached_property
    def vegetation(self) -> np.ndarray:
        if self.ndvi is not None:
            return self.ndvi > VEGETATION_NDVI
        return self.excess_green > VEGETATION_EXG

    @cached_property
    def water(self) -> np.ndarray:
        if self.swir is not None:
            return normalized_difference(self.green, self.swir) > 0.0
        if self.ndwi is not None:
            return self.ndwi > 0.0
        return (
            (self.brightness < WATER_VISIBLE_BRIGHTNESS)
            & (self.blue >= self.red)
            & (self.excess_green <= VEGETATION_EXG)
        )

    @cached_property
    def shadow(self) -> np.ndarray:
        return self.brightness < SHADOW_BRIGHTNESS


class RgbnModule(GlobalFitModule):
    """Base of the zero-sample tools: input (B, 3..5, H, W), output (B, 2, H, W)
    P(background), P(thing). Subclasses implement ``probability(bands) -> (H, W)``."""

    gain: Tensor
    tool = "zero-sample tool"

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("gain", torch.tensor(1.0))

    def _check(self, channels: int) -> None:
        if not len(REQUIRED) <= channels <= len(REQUIRED) + len(OPTIONAL):
            raise ValueError(
                f"{self.tool} needs the bands {', '.join(REQUIRED)} (then optionally "
                f"{', '.join(OPTIONAL)}); it got {channels} band(s)"
            )

    def fit(self, sample: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
        """The gain that maps the image's bright level (99th percentile of the visible
        maximum over valid pixels) to 1.0."""
        self._check(int(np.asarray(sample).shape[0]))
        tensor, mask = sample_tensor(sample, valid, int(sample.shape[0]), self.tool)
        blank = f"{self.tool}: the image is blank (no bright pixels)"
        bright = bright_level(tensor[0].numpy(), mask, blank)
        self.gain.fill_(1.0 / bright)
        info = {"bright_level": bright}
        self._mark_fitted(info)
        return info

    def probability(self, bands: Bands) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            check_input(x, len(REQUIRED), self.tool)
        self._check(int(x.shape[1]))
        self._require_fit()
        chips = (x.detach().to("cpu", torch.float32) * self.gain.cpu()).numpy()
        out = np.empty((x.shape[0], 2, x.shape[2], x.shape[3]), dtype=np.float32)
        for i, chip in enumerate(chips):
            p = np.clip(self.probability(Bands.of(chip)), 0.0, 1.0)
            out[i, 0], out[i, 1] = 1.0 - p, p
        return torch.from_numpy(out).to(x.device)
