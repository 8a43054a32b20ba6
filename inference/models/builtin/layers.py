"""Torch building blocks shared by the built-in physically based models.

Spectral indices over reflectance, a smooth step (so class probabilities are continuous
and overlapping chips blend without seams), O(1) box filters, and `GlobalFitModule`, the
base of models whose parameters are fitted once per image (stored as buffers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import pad

from inference.models.errors import ModelFitError

EPS = 1e-6


def normalized_difference(a: Tensor, b: Tensor) -> Tensor:
    """(a - b) / (a + b), 0 where a + b is ~0 (nodata filled with 0 stays finite)."""
    denom = a + b
    safe = torch.where(denom.abs() < EPS, torch.full_like(denom, 1.0), denom)
    return torch.where(denom.abs() < EPS, torch.zeros_like(denom), (a - b) / safe)


def soft_step(x: Tensor, threshold: float | Tensor, width: float) -> Tensor:
    """sigmoid((x - threshold) / width): 0.5 at the threshold, ~0.05 / 0.95 at +-3 widths.
    A steep but smooth decision: probabilities stay continuous for blending."""
    return torch.sigmoid((x - threshold) / width)


def box_filter(x: Tensor, radius: int) -> Tensor:
    """Mean over a (2r+1)^2 window (edges replicated), via cumulative sums: O(1) per pixel
    whatever the radius. x: (B, C, H, W)."""
    if radius <= 0:
        return x
    k = 2 * radius + 1
    padded = pad(x, (radius + 1, radius, radius + 1, radius), mode="replicate")
    padded = padded.to(torch.float64).cumsum(-1).cumsum(-2)
    total = (
        padded[..., k:, k:] - padded[..., :-k, k:] - padded[..., k:, :-k] + padded[..., :-k, :-k]
    )
    return (total / (k * k)).to(x.dtype)


def check_input(x: Tensor, channels: int, model: str) -> None:
    """Refuse anything but (B, channels, H, W) with a message naming the model."""
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{model} expects a (B, {channels}, H, W) tensor, got {tuple(x.shape)}")


def sample_tensor(
    sample: np.ndarray, valid: np.ndarray | None, channels: int, model: str
) -> tuple[Tensor, np.ndarray]:
    """A fit sample (C, H, W) as a (1, C, H, W) float32 tensor, plus its (H, W) valid mask
    (given mask AND all bands finite)."""
    array = np.asarray(sample, dtype=np.float32)
    if array.ndim != 3 or array.shape[0] != channels:
        raise ValueError(f"{model}.fit expects a ({channels}, H, W) sample, got {array.shape}")
    mask = np.isfinite(array).all(axis=0)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != mask.shape:
            raise ValueError(f"valid mask {valid.shape} does not match sample {mask.shape}")
        mask &= valid
    if mask.sum() < 64:
        raise ModelFitError(f"{model}: the image has too few valid pixels to fit ({mask.sum()})")
    array = np.where(np.isfinite(array), array, 0.0).astype(np.float32)
    return torch.from_numpy(array)[None], np.asarray(mask, dtype=bool)


class GlobalFitModule(torch.nn.Module):
    """A model with per-image global parameters: call fit() once, then forward() chips.

    Subclasses register their parameters as buffers (so state_dict() carries the fit to
    other workers) and call `_mark_fitted()`; forward() calls `_require_fit()`.
    """

    fitted: Tensor
    #: The engine checks this attribute on the module to decide whether to call fit().
    needs_fit: bool = True

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("fitted", torch.tensor(False))
        self.fit_info: dict[str, Any] = {}

    def _mark_fitted(self, info: dict[str, Any]) -> None:
        self.fitted.fill_(True)
        self.fit_info = info

    def _require_fit(self) -> None:
        if not bool(self.fitted):
            raise ModelFitError(
                f"{type(self).__name__} has global parameters: call fit(sample, valid) on the "
                "whole image (at reduced resolution) before running chips"
            )
