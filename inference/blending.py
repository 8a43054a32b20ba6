"""How overlapping chip outputs become one image: smooth weights and a weighted running sum.

Each chip's output is multiplied by a weight that is 1 in the chip's middle and falls along a
cosine ramp towards its borders; the strip accumulates ``sum(w·p)`` and the result is
``sum(w·p) / sum(w)``. The weight is separable (``w = f(row)·f(col)``) and every chip uses the
same profile ``f``, so ``sum(w)`` is the outer product of two 1-D sums: the engine never stores
a 2-D weight image, and a class map (argmax) needs no division at all.

Profile along one axis, by distance ``d`` (pixels) from the nearest chip border:
``d < margin``: ``EPS`` (output there has seen the chip's padding); ``margin <= d < overlap -
margin``: ``sin²`` ramp; beyond: 1. Two neighbours overlapping by exactly ``overlap`` pixels have
weights summing to 1 across the ramp, and a pixel in one chip's margin always lies in the other's
flat part, so edge effects enter the blend with a relative weight of ``EPS`` at most.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from inference.windows import margin_of

#: The smallest weight: keeps every chip's contribution positive, so no pixel divides by zero.
EPS = 1e-6


def weight_profile(chip: int, overlap: int) -> np.ndarray:
    """The 1-D weight along one chip axis, float32, length ``chip`` (see the module docstring)."""
    margin = margin_of(overlap)
    ramp = overlap - 2 * margin
    i = np.arange(chip, dtype=np.float64)
    d = np.minimum(i, chip - 1 - i)
    if ramp <= 0:
        profile = np.ones(chip)
    else:
        t = np.clip((d - margin + 0.5) / ramp, 0.0, 1.0)
        profile = np.sin(0.5 * np.pi * t) ** 2
    profile = np.where(d < margin, EPS, np.maximum(profile, EPS))
    return profile.astype(np.float32)


def chip_weights(chip: int, overlap: int) -> np.ndarray:
    """The 2-D chip weight ``f(row)·f(col)``, float32 (``chip`` x ``chip``)."""
    f = weight_profile(chip, overlap)
    return np.outer(f, f)


def axis_weight_sum(
    starts: Sequence[int], profile: np.ndarray, origin: int, length: int
) -> np.ndarray:
    """``sum(f)`` over the chips at ``starts`` for positions ``origin .. origin + length``."""
    total = np.zeros(length, dtype=np.float64)
    chip = len(profile)
    for start in starts:
        lo, hi = max(start, origin), min(start + chip, origin + length)
        if lo < hi:
            total[lo - origin : hi - origin] += profile[lo - start : hi - start]
    return total.astype(np.float32)


class StripAccumulator:
    """``sum(w·p)`` for the rows ``[top, top + rows)`` of one strip, on the model's device.

    Columns span the chip grid's extent ``[left, left + cols)``. Only this strip's rows live
    here; rows finished by an earlier strip are gone, rows a later strip still needs leave as
    ``carry()``. On the CPU the sums are a numpy array worked on by single-threaded numpy: these
    are memory-bound passes that gain nothing from torch's thread team and, on a busy machine,
    stall at its barriers (measured: 10x slower per call when another process holds a core).
    """

    def __init__(
        self,
        classes: int,
        top: int,
        rows: int,
        left: int,
        cols: int,
        weights: np.ndarray,
        device: torch.device,
    ) -> None:
        self.top, self.left, self.chip = top, left, weights.shape[-1]
        self.on_cpu = device.type == "cpu"
        if self.on_cpu:  # calloc'd: the OS zeroes pages as they are first touched
            self.cpu_sums = np.zeros((classes, rows, cols), dtype=np.float32)
            self.cpu_weights = weights
            self._product = np.empty((classes, self.chip, self.chip), dtype=np.float32)
            self.sums = torch.from_numpy(self.cpu_sums)
        else:
            self.sums = torch.zeros((classes, rows, cols), dtype=torch.float32, device=device)
            self.weights = torch.from_numpy(weights).to(device)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.sums.shape)  # type: ignore[return-value]

    def add_carry(self, carry: torch.Tensor | None) -> None:
        """Add the unfinished rows a previous strip left (they start at this strip's top)."""
        if carry is not None:
            self.sums[:, : carry.shape[1]] += carry

    def add(self, outputs: torch.Tensor, positions: Sequence[tuple[int, int]]) -> None:
        """Blend ``outputs`` (B, K, chip, chip) placed at image ``positions`` (row, col)."""
        c = self.chip
        if self.on_cpu:
            values = outputs.numpy()
            for output, (row, col) in zip(values, positions, strict=True):
                y, x = row - self.top, col - self.left
                np.multiply(output, self.cpu_weights, out=self._product)
                self.cpu_sums[:, y : y + c, x : x + c] += self._product
            return
        for output, (row, col) in zip(outputs, positions, strict=True):
            y, x = row - self.top, col - self.left
            self.sums[:, y : y + c, x : x + c].addcmul_(output, self.weights)

    def carry(self, from_row: int) -> torch.Tensor:
        """A copy of the rows from image row ``from_row`` down: what the next strip continues."""
        return self.sums[:, from_row - self.top :].clone()

    def rows(self, row0: int, row1: int, col0: int, col1: int) -> torch.Tensor:
        """A view of the sums for image rows ``[row0, row1)`` and columns ``[col0, col1)``."""
        y0, y1 = row0 - self.top, row1 - self.top
        return self.sums[:, y0:y1, col0 - self.left : col1 - self.left]


def finish_classes(sums: torch.Tensor) -> np.ndarray:
    """Class index per pixel (uint8, the first maximum on ties, like argmax). The per-pixel
    ``sum(w)`` is positive, so the argmax of the weighted sums is that of the blended
    probabilities: no division needed. Two classes take one comparison."""
    if sums.device.type == "cpu":
        v = sums.numpy()
        if len(v) == 2:
            return np.greater(v[1], v[0]).view(np.uint8)
        best = v[0].copy()
        index = np.zeros(v.shape[1:], dtype=np.uint8)
        for k in range(1, len(v)):
            better = v[k] > best
            index[better] = k
            np.maximum(best, v[k], out=best)
        return index
    if sums.shape[0] == 2:
        return (sums[1] > sums[0]).to(torch.uint8).cpu().numpy()
    return torch.max(sums, dim=0).indices.to(torch.uint8).cpu().numpy()


#: Largest stored score: uint8 scores are probability x 254, so 255 stays free for nodata.
SCORE_MAX = 254


def finish_scored(
    sums: torch.Tensor, row_weight: np.ndarray, col_weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Class index (uint8) and its blended probability as a uint8 score (x ``SCORE_MAX``)."""
    v = sums.cpu().numpy() if sums.device.type != "cpu" else sums.numpy()
    index = np.zeros(v.shape[1:], dtype=np.uint8)
    best = v[0].copy()
    for k in range(1, len(v)):
        better = v[k] > best
        index[better] = k
        np.maximum(best, v[k], out=best)
    best /= row_weight[:, None] * col_weight[None, :]
    score = np.clip(np.rint(best * SCORE_MAX), 0, SCORE_MAX).astype(np.uint8)
    return index, score


def finish_values(sums: torch.Tensor, row_weight: np.ndarray, col_weight: np.ndarray) -> np.ndarray:
    """Blended values ``sum(w·p) / sum(w)`` (float32, K x rows x cols)."""
    if sums.device.type == "cpu":
        return sums.numpy() / (row_weight[:, None] * col_weight[None, :])
    rw = torch.from_numpy(row_weight).to(sums.device)[:, None]
    cw = torch.from_numpy(col_weight).to(sums.device)[None, :]
    return (sums / (rw * cw)).cpu().numpy()
