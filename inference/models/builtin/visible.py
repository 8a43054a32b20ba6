"""Rules for ordinary 3-band (RGB) and 4-band (RGBN) imagery: 8 or 16 bit aerial, drone and
satellite composites that carry no SWIR band and often no radiometric calibration.

Band layouts (what the specs' band sets ask for, the same as the building tools' in rgbn.py):
RGB = (red, green, blue), RGBN = (red, green, blue, nir); the channel count tells them apart.

Units. The engine scales stored values by the spec's ``input_scale`` (1e-4), which suits
reflectance x 10000 but not 8-bit digital numbers. ``reflectance_gain`` looks at the whole
image once (in ``fit``) and picks a gain to reflectance-like units: stored 8-bit DN are read as
DN / 255 x 0.4 (a typical aerial stretch puts bright roofs near DN 255 and reflectance 0.4),
full-range 16-bit DN as DN / 65535 x 0.4, anything else as reflectance already.

Features: greenness is NDVI = (nir - red) / (nir + red) with NIR, else the excess-green index
on chromatic coordinates, ExG = (2 green - red - blue) / (red + green + blue), with the same
thresholds as the building tools' vegetation mask (rgbn.py: NDVI > 0.3, ExG > 0.12), so every
tool calls the same pixels vegetation. Against NDVI > 0.3, ExG > 0.12 reaches IoU 0.66 / 0.63
on the NAIP North Dakota pair and 0.70 / 0.78 on the Sentinel-2 Austria pair (the green leaf
index GLI > 0.05 used before: 0.45 / 0.59 and 0.79 / 0.81; no one threshold of either index
is best on both sensors, ExG > 0.12 has the best mean). Texture is the local
coefficient of variation of the visible brightness over a 7 x 7 window: tree crowns and
buildings are rough, fields, grass and water smooth.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from inference.models.builtin.layers import (
    GlobalFitModule,
    box_filter,
    normalized_difference,
    soft_step,
)
from inference.models.builtin.rgbn import VEGETATION_EXG, VEGETATION_NDVI

RGB, RGBN = 3, 4
#: stored-value ceilings (after x 1e-4) that identify 8- and 16-bit digital numbers
EIGHT_BIT_CEILING, SIXTEEN_BIT_FLOOR = 0.0256, 1.6
DN_STRETCH = 0.4
TEXTURE_RADIUS = 3
ROUGH = 0.12  # coefficient of variation above which a surface is rough (crowns, roofs)
SOFT = 0.02


def reflectance_gain(sample: np.ndarray, input_scale: float = 1e-4) -> float:
    """Gain from the engine's values to reflectance-like units, from the image's own range."""
    values = np.asarray(sample, dtype=np.float32)
    values = values[np.isfinite(values)]
    top = float(np.percentile(values, 99.9)) if values.size else 0.0
    if 0.0 < top <= EIGHT_BIT_CEILING:
        return DN_STRETCH / (255.0 * input_scale)
    if top > SIXTEEN_BIT_FLOOR:
        return DN_STRETCH / (65535.0 * input_scale)
    return 1.0


class GainFitModule(GlobalFitModule):
    """A rule model whose one per-image parameter is ``reflectance_gain``: fit() reads the
    valid pixels of the whole image once; subclasses check their band count in ``check_fit``
    and may fix the gain (``gain_for``) where their units are known."""

    gain: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("gain", torch.tensor(1.0))

    def check_fit(self, array: np.ndarray) -> None:
        """Refuse a sample of bands this model cannot read (ValueError)."""

    def gain_for(self, array: np.ndarray) -> float:
        return reflectance_gain(array)

    def fit(self, sample: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
        array = np.asarray(sample, dtype=np.float32)
        self.check_fit(array)
        if valid is not None and np.asarray(valid).shape == array.shape[1:]:
            array = array[:, np.asarray(valid, dtype=bool)]
        gain = self.gain_for(array)
        self.gain.fill_(gain)
        info = {"gain": gain, "bands": float(array.shape[0])}
        self._mark_fitted(info)
        return info


def check_layout(x: Tensor, model: str, allowed: tuple[int, ...] = (RGB, RGBN)) -> None:
    if x.ndim != 4 or x.shape[1] not in allowed:
        wanted = " or ".join(f"(B, {c}, H, W)" for c in allowed)
        raise ValueError(f"{model} expects a {wanted} tensor, got {tuple(x.shape)}")


class VisibleFeatures:
    """The per-pixel features of one RGB or RGBN chip (B, C, H, W), reflectance-like."""

    def __init__(self, x: Tensor, gain: float | Tensor = 1.0) -> None:
        x = x * gain
        self.red, self.green, self.blue = x[:, 0], x[:, 1], x[:, 2]
        self.nir = x[:, 3] if x.shape[1] == RGBN else None
        self.brightness = (self.blue + self.green + self.red) / 3.0
        top = torch.maximum(torch.maximum(self.blue, self.green), self.red)
        low = torch.minimum(torch.minimum(self.blue, self.green), self.red)
        self.saturation = (top - low) / top.clamp_min(1e-4)

    @property
    def greenness(self) -> Tensor:
        """NDVI with NIR, else chromatic excess green."""
        if self.nir is not None:
            return normalized_difference(self.nir, self.red)
        total = (self.red + self.green + self.blue).clamp_min(1e-6)
        return (2.0 * self.green - self.red - self.blue) / total

    def vegetated(self, s: float = SOFT) -> Tensor:
        """P(green vegetation)."""
        threshold = VEGETATION_NDVI if self.nir is not None else VEGETATION_EXG
        return soft_step(self.greenness, threshold, s)

    def water_index(self) -> Tensor | None:
        """NDWI (green - nir)/(green + nir) with NIR, else None (no credible visible index)."""
        return None if self.nir is None else normalized_difference(self.green, self.nir)

    def texture(self, radius: int = TEXTURE_RADIUS) -> Tensor:
        """Local coefficient of variation of the brightness, (B, H, W)."""
        v = self.brightness[:, None]
        mean = box_filter(v, radius)
        var = (box_filter(v * v, radius) - mean * mean).clamp_min(0.0)
        return (var.sqrt() / (mean + 0.02))[:, 0]

    def rough(self, s: float = SOFT) -> Tensor:
        return soft_step(self.texture(), ROUGH, s)


def cropland_probability(features: VisibleFeatures) -> Tensor:
    """P(cropland) by vegetation rules: smooth (homogeneous) land that is green or bare
    soil, not water, not rough (trees, buildings), not bright and grey (roofs, cloud)."""
    water = features.water_index()
    wet = torch.zeros_like(features.brightness) if water is None else soft_step(water, 0.0, SOFT)
    grey_bright = soft_step(features.brightness, 0.25, SOFT) * soft_step(
        -features.saturation, -0.15, SOFT
    )
    return (1.0 - wet) * (1.0 - features.rough()) * (1.0 - grey_bright)
