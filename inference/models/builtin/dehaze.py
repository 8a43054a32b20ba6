"""Haze removal with the dark-channel prior (He, Sun and Tang, CVPR 2009 / TPAMI 2011).

Haze model: I = J t + A (1 - t), with I the observed and J the haze-free reflectance, A the
atmospheric light (per band) and t the transmission (per pixel, shared by the bands). In
haze-free land surfaces some band is dark in every patch (shadows, vegetation in the blue
and red, water in the NIR), so the dark channel of I / A estimates the haze: t = 1 - omega *
min over patch and bands of I / A. t is refined with a guided filter (the band mean as
guide, He et al. 2013) so edges do not halo, floored at T_MIN, and J = (I - A) / t + A.

This is an *enhancement* model: forward returns dehazed values (B, C, H, W) in the input's
units (reflectance 0..1), not class probabilities. A is global (fit() estimates it from the
whole image: the mean of the brightest 0.1 % of the dark channel), so every chip uses the
same A. Receptive radius: PATCH // 2 + 2 * GUIDE_RADIUS = 37 px; the spec's overlap (160 px,
about 4x that) makes chip seams vanish in the engine's blending.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import max_pool2d, pad

from inference.models.base import ModelSpec
from inference.models.builtin.layers import GlobalFitModule, box_filter, check_input, sample_tensor

PATCH = 15  # pixels, dark-channel window (He et al.)
OMEGA = 0.95  # keep a little haze for depth cue / avoid over-correction
T_MIN = 0.1
GUIDE_RADIUS = 15  # pixels
GUIDE_EPS = 1e-3  # guided-filter regulariser, reflectance^2
BRIGHTEST = 0.001  # fraction of dark-channel pixels that estimate A


def dark_channel(x: Tensor, patch: int) -> Tensor:
    """(B, C, H, W) -> (B, 1, H, W): min over bands, then min over a patch x patch window."""
    darkest = x.min(dim=1, keepdim=True).values
    if patch <= 1:
        return darkest
    half = patch // 2
    padded = pad(-darkest, (half, half, half, half), mode="replicate")
    return -max_pool2d(padded, patch, stride=1)


def guided_filter(guide: Tensor, src: Tensor, radius: int, eps: float) -> Tensor:
    """Edge-preserving smoothing of src following guide (both (B, 1, H, W))."""
    mean_g = box_filter(guide, radius)
    mean_s = box_filter(src, radius)
    cov = box_filter(guide * src, radius) - mean_g * mean_s
    var = box_filter(guide * guide, radius) - mean_g * mean_g
    a = cov / (var + eps)
    b = mean_s - a * mean_g
    return box_filter(a, radius) * guide + box_filter(b, radius)


class DarkChannelDehaze(GlobalFitModule):
    """Input and output (B, C, H, W) reflectance; C is fixed at construction."""

    airlight: Tensor

    def __init__(
        self,
        channels: int = 3,
        patch: int = PATCH,
        omega: float = OMEGA,
        t_min: float = T_MIN,
        guide_radius: int = GUIDE_RADIUS,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.patch = patch
        self.omega = omega
        self.t_min = t_min
        self.guide_radius = guide_radius
        self.register_buffer("airlight", torch.ones(channels))

    def fit(self, sample: np.ndarray, valid: np.ndarray | None = None) -> dict[str, object]:
        """Atmospheric light A per band: mean of the pixels whose dark channel is in the
        top 0.1 % (a 3 px window: the sample is already at reduced resolution)."""
        tensor, mask = sample_tensor(sample, valid, self.channels, "dehaze")
        dark = dark_channel(tensor, 3)[0, 0].numpy()
        values = dark[mask]
        cut = np.quantile(values, 1.0 - BRIGHTEST)
        chosen = mask & (dark >= cut)
        airlight = tensor[0].numpy()[:, chosen].mean(axis=1)
        airlight = np.maximum(airlight, 1e-3)
        self.airlight.copy_(torch.from_numpy(airlight.astype(np.float32)))
        info: dict[str, object] = {"airlight": [float(v) for v in airlight]}
        self._mark_fitted(info)
        return info

    def transmission(self, x: Tensor) -> Tensor:
        """(B, 1, H, W) refined transmission in [t_min, 1]."""
        airlight = self.airlight.view(1, -1, 1, 1)
        raw = 1.0 - self.omega * dark_channel(x / airlight, self.patch)
        guide = x.mean(dim=1, keepdim=True)
        refined = guided_filter(guide, raw, self.guide_radius, GUIDE_EPS)
        return refined.clamp(self.t_min, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.channels, "dehaze")
        self._require_fit()
        airlight = self.airlight.view(1, -1, 1, 1)
        return (x - airlight) / self.transmission(x) + airlight


def build_dehaze(spec: ModelSpec) -> DarkChannelDehaze:
    return DarkChannelDehaze(channels=len(spec.bands))
