"""Where chips and strips lie on an image: the geometry of the sliding window, nothing else.

Chips (``chip`` x ``chip`` pixels) lie on one grid over the whole image, overlapping their
neighbours by at least ``overlap`` pixels. The first chip of each axis starts ``margin`` pixels
before the image (``margin = overlap // 4``) and the last ends ``margin`` pixels after it, so
image-edge pixels have real (reflected) context, like any other pixel, instead of sitting on a
chip border. Chips in between are spread evenly, never further apart than ``chip - overlap``.

Strips are runs of whole chip rows. A strip *owns* the chip rows it starts and *writes* the image
rows that no later chip row touches any more; the accumulator rows that the next chip row still
touches (``overlap`` rows, give or take one) are its halo. Because chips sit on one grid whatever
the strip plan, a result stitched from strips equals the result of the whole image at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: What the strip buffers of one run may hold (input, accumulator, output), in bytes. One chip row
#: is the floor, so images wider than ~40,000 px at chip 512 use a little more.
STRIP_BUDGET_BYTES = 512 * 1024 * 1024


def margin_of(overlap: int) -> int:
    """Pixels at each chip border that get (almost) no weight: a quarter of the overlap.

    A network's output within its receptive radius of a chip border has seen padding instead of
    image; giving those pixels a weight near zero keeps such edge effects out of the blend, so an
    ``overlap`` of at least 4x the model's receptive radius makes seams invisible.
    """
    return overlap // 4


def chip_starts(size: int, chip: int, overlap: int) -> tuple[int, ...]:
    """Chip starts (pixels, may be negative) covering ``[-margin, size + margin)`` evenly.

    Consecutive starts differ by at most ``chip - overlap``; the last chip ends exactly at
    ``size + margin`` unless the image is smaller than a chip, where one chip covers it all.
    """
    margin = margin_of(overlap)
    span = size + 2 * margin
    stride = chip - overlap
    if span <= chip:
        return (-margin,)
    steps = math.ceil((span - chip) / stride)
    return tuple(-margin + (k * (span - chip)) // steps for k in range(steps + 1))


@dataclass(frozen=True)
class ChipGrid:
    """Chip positions over an image of ``height`` x ``width`` pixels (see the module docstring)."""

    height: int
    width: int
    chip: int
    overlap: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]

    @classmethod
    def over(cls, height: int, width: int, chip: int, overlap: int) -> ChipGrid:
        if chip < 16:
            raise ValueError(f"chip must be at least 16 px, got {chip}")
        if not 0 <= overlap <= chip // 2:
            raise ValueError(f"overlap must be between 0 and chip/2 ({chip // 2}), got {overlap}")
        if height < 1 or width < 1:
            raise ValueError(f"empty image ({width}x{height})")
        rows = chip_starts(height, chip, overlap)
        cols = chip_starts(width, chip, overlap)
        return cls(height, width, chip, overlap, rows, cols)

    @property
    def margin(self) -> int:
        return margin_of(self.overlap)

    @property
    def stride(self) -> int:
        return self.chip - self.overlap

    @property
    def left(self) -> int:
        """First column of the chip columns' extent (``-margin``)."""
        return self.cols[0]

    @property
    def right(self) -> int:
        """One past the last column of the chip columns' extent (``width + margin`` or more)."""
        return self.cols[-1] + self.chip

    @property
    def chips(self) -> int:
        return len(self.rows) * len(self.cols)


@dataclass(frozen=True)
class Strip:
    """A run of chip rows ``[first, stop)`` and the image rows ``[row0, row1)`` it completes."""

    index: int
    first: int
    stop: int
    row0: int
    row1: int

    @property
    def height(self) -> int:
        return self.row1 - self.row0


def plan_strips(grid: ChipGrid, block_rows: int) -> list[Strip]:
    """Cut the chip rows into strips of ``block_rows // stride`` chip rows (at least one)."""
    per_strip = max(1, block_rows // grid.stride)
    n = len(grid.rows)
    strips: list[Strip] = []
    for index, first in enumerate(range(0, n, per_strip)):
        stop = min(n, first + per_strip)
        row0 = 0 if first == 0 else grid.rows[first]
        row1 = grid.height if stop == n else grid.rows[stop]
        strips.append(Strip(index, first, stop, row0, row1))
    return strips


def touching_chip_rows(grid: ChipGrid, strip: Strip) -> range:
    """Chip rows whose pixels reach the strip's rows: its own, and any above that reach down.

    A strip computed on its own (a Dask worker) must run these; the local engine instead carries
    the rows the previous strip's chips left unfinished, and runs only ``[first, stop)``.
    """
    low = strip.first
    while low > 0 and grid.rows[low - 1] + grid.chip > strip.row0:
        low -= 1
    return range(low, strip.stop)


def strip_bytes_per_pixel(channels: int, itemsize: int, classes: int, output: str) -> int:
    """Bytes a strip holds per accumulator pixel: two input buffers (one being read ahead),
    the float32 accumulator, and two output buffers (one being written)."""
    out = {"classes": 1, "scored": 2}.get(output, 4 * classes)
    return 2 * channels * itemsize + 4 * classes + 2 * out


def plan_block_rows(
    height: int,
    width: int,
    *,
    chip: int = 512,
    overlap: int = 64,
    channels: int = 4,
    itemsize: int = 2,
    classes: int = 2,
    output: str = "classes",
    budget_bytes: int = STRIP_BUDGET_BYTES,
) -> int:
    """Image rows per strip so that one strip's buffers fit ``budget_bytes``.

    A whole number of chip rows (multiples of ``chip - overlap``), at least one, and no more
    than the image needs. Memory then depends on the budget (and on the width only when one
    chip row alone exceeds it), never on the image height.
    """
    stride = chip - overlap
    per_row = (width + 2 * margin_of(overlap) + chip) * strip_bytes_per_pixel(
        channels, itemsize, classes, output
    )
    rows = budget_bytes // max(1, per_row) - overlap
    chip_rows = max(1, rows // stride)
    needed = max(1, math.ceil(height / stride))
    return min(chip_rows, needed) * stride


def reflect_index(index: np.ndarray, size: int) -> np.ndarray:
    """Map pixel indexes outside ``[0, size)`` back inside by mirror reflection (edge excluded,
    as ``numpy.pad(mode="reflect")``), repeating for indexes more than one size away."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    folded = np.mod(index, period)
    return np.where(folded >= size, period - folded, folded)


def runs(index: np.ndarray) -> list[tuple[slice, slice]]:
    """Split an index array into runs of step +1 or -1: ``(destination slice, source slice)``.

    Reflected indexes form at most three such runs, so copying by runs is a few slice copies
    instead of a gather over the whole strip.
    """
    out: list[tuple[slice, slice]] = []
    n = len(index)
    start = 0
    while start < n:
        end = start + 1
        step = int(index[end] - index[start]) if end < n else 1
        if step not in (1, -1):
            step = 1
        else:
            while end < n and index[end] - index[end - 1] == step:
                end += 1
        first, last = int(index[start]), int(index[end - 1])
        if step == 1:
            source = slice(first, last + 1)
        else:
            source = slice(first, last - 1 if last > 0 else None, -1)
        out.append((slice(start, end), source))
        start = end
    return out
