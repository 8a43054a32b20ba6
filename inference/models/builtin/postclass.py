"""Building and cropland change by post-classification comparison (no training).

Each date is classified on its own -- buildings by the zero-sample `building` tool (the
morphological building index, built through the model registry), cropland by the vegetation
rules of visible.py -- and the two maps are compared: P(gained) = (1 - p1) p2, P(lost) =
p1 (1 - p2). Two dates never line up to the pixel (NAIP quarter-quads of different years
differ by ~1 m and a row), so a change mask is opened morphologically (a square of side
2 OPENING_RADIUS + 1) before it counts: slivers along edges that moved are dropped, real
changes wider than the square stay.

Input (B, 2C, H, W): the C bands of date 1 then of date 2, C = 3 (red, green, blue) or 4
(red, green, blue, nir); each date's per-image fit (its brightness gain) is its own.
Output (B, 3, H, W): P(no change), P(gained), P(lost) -- class 1 is a new building / new
cropland, class 2 a building / cropland that is gone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import max_pool2d

from inference.models.base import ModelSpec
from inference.models.builtin.layers import GlobalFitModule
from inference.models.builtin.visible import (
    RGB,
    RGBN,
    GainFitModule,
    VisibleFeatures,
    check_layout,
    cropland_probability,
)

OPENING_RADIUS = 2


def opening(mask: Tensor, radius: int = OPENING_RADIUS) -> Tensor:
    """Binary opening of a (B, H, W) 0/1 float mask with a (2r+1)^2 square."""
    if radius <= 0:
        return mask
    k = 2 * radius + 1
    eroded = -max_pool2d(-mask[:, None], k, stride=1, padding=radius)
    return max_pool2d(eroded, k, stride=1, padding=radius)[:, 0]


class CroplandRules(GainFitModule):
    """One date's cropland map from the vegetation rules: (B, 3|4, H, W) -> (B, 2, H, W)."""

    def forward(self, x: Tensor) -> Tensor:
        check_layout(x, "cropland")
        self._require_fit()
        p = cropland_probability(VisibleFeatures(x, self.gain))
        return torch.stack([1.0 - p, p], dim=1)


class PostClassificationChange(GlobalFitModule):
    """Two dates, one classifier per date (built by ``date_model``), compared."""

    def __init__(
        self, date_model: Callable[[], torch.nn.Module], tool: str, radius: int = OPENING_RADIUS
    ) -> None:
        super().__init__()
        self.tool = tool
        self.radius = radius
        self.first = date_model()
        self.second = date_model()

    def _halves(self, channels: int) -> int:
        half = channels // 2
        if channels % 2 or half not in (RGB, RGBN):
            raise ValueError(
                f"{self.tool} expects (B, 6, H, W) or (B, 8, H, W): red, green, blue[, nir] of "
                f"date 1 then of date 2; got {channels} channels"
            )
        return half

    def fit(self, sample: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
        """Fit each date's classifier on its own half of the sample."""
        half = self._halves(int(np.asarray(sample).shape[0]))
        first = self.first.fit(sample[:half], valid)  # type: ignore[operator]
        second = self.second.fit(sample[half:], valid)  # type: ignore[operator]
        info = {f"date1_{k}": float(v) for k, v in first.items()}
        info |= {f"date2_{k}": float(v) for k, v in second.items()}
        self._mark_fitted(info)
        return info

    def forward(self, x: Tensor) -> Tensor:
        half = self._halves(int(x.shape[1]) if x.ndim == 4 else -1)
        check_layout(x[:, :half], self.tool)
        self._require_fit()
        p1 = self.first(x[:, :half])[:, 1]
        p2 = self.second(x[:, half:])[:, 1]
        gained, lost = (1.0 - p1) * p2, p1 * (1.0 - p2)
        gained = gained * opening((gained > 0.5).to(x.dtype), self.radius)
        lost = lost * opening((lost > 0.5).to(x.dtype), self.radius)
        return torch.stack([(1.0 - gained - lost).clamp_min(0.0), gained, lost], dim=1)


def _building_model() -> torch.nn.Module:
    """The registry's zero-sample `building` tool (or a trained one registered under it)."""
    from inference.models import build

    return build("building")


def build_building_change(spec: ModelSpec) -> PostClassificationChange:
    return PostClassificationChange(_building_model, "building-change")


def build_cropland_change(spec: ModelSpec) -> PostClassificationChange:
    return PostClassificationChange(CroplandRules, "cropland-change")
