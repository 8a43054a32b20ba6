"""Training samples from a raster of any size: a spatial train / held-out split, read by block.

The image is cut into square blocks of ``block`` pixels (the last row and column of blocks
absorb a remainder smaller than half a block). A seeded random share ``holdout`` of the blocks
is held out: their labels are never trained on, and the metrics are computed on them. Training
chips are cut from inside single training blocks, so no training chip sees a held-out label;
held-out blocks are read with ``margin`` pixels of context around them (their input, not their
labels), as the sliding-window engine gives a pixel context at inference.

Only whole blocks are read, by rasterio windows, and at most ``budget_pixels`` of them (blocks
drawn in a seeded random order), so a 10980 x 10980 px scene costs what the budget allows, not
the whole raster in memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
from rasterio.windows import Window

from inference.models.errors import TrainingError, file_name, without_paths
from inference.reading import source_valid
from inference.training.labels import IGNORE, LabelSource

ProgressFn = Callable[[float, str], None]


def _edges(size: int, block: int) -> list[int]:
    """Block boundaries along one axis: steps of ``block``, a short tail merged into the last."""
    edges = [*range(0, size, block), size]
    if len(edges) > 2 and size - edges[-2] < block // 2:
        del edges[-2]
    return edges


@dataclass(frozen=True)
class SpatialSplit:
    """Blocks of about ``block`` px over a ``height`` x ``width`` px image; ``holdout`` of them
    (a share, at least one block and never all) are held out, chosen by ``seed`` with numpy's
    default generator: the same arguments always give the same split."""

    height: int
    width: int
    block: int
    holdout: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        if self.block < 16:
            raise TrainingError("blocks must be at least 16 px")
        if not 0 < self.holdout < 1:
            raise TrainingError("the held-out share must lie between 0 and 1")
        if self.shape[0] * self.shape[1] < 4:
            raise TrainingError(
                f"a {self.width} x {self.height} px image holds fewer than 4 blocks of "
                f"{self.block} px: use a smaller block (and chip) size"
            )

    @property
    def row_edges(self) -> list[int]:
        return _edges(self.height, self.block)

    @property
    def col_edges(self) -> list[int]:
        return _edges(self.width, self.block)

    @property
    def shape(self) -> tuple[int, int]:
        """Blocks per column and per row."""
        return len(self.row_edges) - 1, len(self.col_edges) - 1

    def held_out(self) -> np.ndarray:
        """(block rows, block cols) bool: True for held-out blocks."""
        n = self.shape[0] * self.shape[1]
        count = min(n - 1, max(1, round(self.holdout * n)))
        order = np.random.default_rng(self.seed).permutation(n)
        flags = np.zeros(n, dtype=bool)
        flags[order[:count]] = True
        return flags.reshape(self.shape)

    def windows(self) -> list[tuple[Window, bool]]:
        """Every block as (window, held out), row-major."""
        rows, cols, held = self.row_edges, self.col_edges, self.held_out()
        return [
            (Window(cols[j], rows[i], cols[j + 1] - cols[j], rows[i + 1] - rows[i]), held[i, j])  # type: ignore[call-arg]
            for i in range(len(rows) - 1)
            for j in range(len(cols) - 1)
        ]

    def holdout_mask(self) -> np.ndarray:
        """(height, width) bool, True on held-out pixels (for scoring whole-image results)."""
        held = self.held_out()
        row_of = np.searchsorted(self.row_edges, np.arange(self.height), side="right") - 1
        col_of = np.searchsorted(self.col_edges, np.arange(self.width), side="right") - 1
        return held[row_of[:, None], col_of[None, :]]

    def describe(self) -> dict[str, float | int | str]:
        return {
            "method": "random blocks",
            "block_px": self.block,
            "holdout_share": self.holdout,
            "seed": self.seed,
            "blocks": self.shape[0] * self.shape[1],
            "holdout_blocks": int(self.held_out().sum()),
        }


class ImageReader:
    """Windows of stacked bands from rasters on one grid (date 1 first for change), as float32
    scaled by ``scale`` (None: unchanged), with a validity mask (False where any source is
    nodata or a value is not finite)."""

    def __init__(
        self, sources: Sequence[str | Path], bands: Sequence[Sequence[int]], scale: float | None
    ) -> None:
        self.bands = [list(b) for b in bands]
        self.scale = scale
        self._datasets: list[rasterio.DatasetReader] = []
        try:
            for path in sources:
                self._datasets.append(rasterio.open(str(path)))
        except rasterio.errors.RasterioIOError as exc:
            self.close()
            reason = without_paths(str(exc), path)
            raise TrainingError(f"cannot read image {file_name(path)}: {reason}") from exc
        first = self._datasets[0]
        try:
            for path, ds, b in zip(sources, self._datasets, self.bands, strict=True):
                if (
                    (ds.width, ds.height) != (first.width, first.height)
                    or ds.crs != first.crs
                    or not ds.transform.almost_equals(first.transform)
                ):
                    raise TrainingError(
                        f"{file_name(path)} is not on the grid of {file_name(sources[0])}"
                    )
                if not b or any(not 1 <= i <= ds.count for i in b):
                    raise TrainingError(f"{file_name(path)} has bands 1..{ds.count}; asked for {b}")
        except Exception:
            self.close()
            raise
        self.height, self.width = first.height, first.width
        self.crs, self.transform = first.crs, first.transform

    @property
    def channels(self) -> int:
        return sum(len(b) for b in self.bands)

    def band_descriptions(self) -> list[str | None]:
        """Descriptions of the first source's chosen bands (None where a band has none)."""
        ds, bands = self._datasets[0], self.bands[0]
        return [ds.descriptions[i - 1] for i in bands]

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        planes, valid = [], np.ones((int(window.height), int(window.width)), dtype=bool)
        for ds, bands in zip(self._datasets, self.bands, strict=True):
            raw = ds.read(bands, window=window)
            valid &= source_valid(ds, bands, raw, window=window)
            planes.append(raw.astype(np.float32))
        data = np.concatenate(planes)
        if self.scale is not None:
            data *= np.float32(self.scale)
        valid &= np.isfinite(data).all(axis=0)
        data[:, ~valid] = 0.0
        return data, valid

    def close(self) -> None:
        for ds in self._datasets:
            ds.close()

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass
class Block:
    """One block read for training or validation: ``image`` (C, h, w) float32 input units,
    ``labels`` (h', w') uint8 class ids (IGNORE where unlabelled or nodata). ``inner`` is where
    the labelled block sits inside ``image`` (rows, cols slices; the rest is context)."""

    window: Window
    image: np.ndarray
    labels: np.ndarray
    inner: tuple[slice, slice] = (slice(None), slice(None))

    @property
    def labelled(self) -> int:
        return int((self.labels != IGNORE).sum())


@dataclass
class Samples:
    """What was read: training blocks, held-out blocks, and pixel counts."""

    train: list[Block] = field(default_factory=list)
    holdout: list[Block] = field(default_factory=list)
    train_pixels: int = 0
    holdout_pixels: int = 0

    def class_ids(self) -> list[int]:
        """Class ids found in the labels (train and held-out), sorted."""
        found: set[int] = set()
        for block in self.train + self.holdout:
            found.update(np.unique(block.labels).tolist())
        found.discard(IGNORE)
        return sorted(found)


def _grow(window: Window, margin: int, height: int, width: int) -> tuple[Window, tuple[slice, ...]]:
    """``window`` grown by ``margin`` px on each side (clipped to the image), and where the
    original sits inside it."""
    c0, r0 = int(window.col_off), int(window.row_off)
    c1, r1 = c0 + int(window.width), r0 + int(window.height)
    gc0, gr0 = max(0, c0 - margin), max(0, r0 - margin)
    gc1, gr1 = min(width, c1 + margin), min(height, r1 + margin)
    grown = Window(gc0, gr0, gc1 - gc0, gr1 - gr0)  # type: ignore[call-arg]
    return grown, (slice(r0 - gr0, r1 - gr0), slice(c0 - gc0, c1 - gc0))


def read_samples(
    reader: ImageReader,
    labels: LabelSource,
    split: SpatialSplit,
    *,
    budget_pixels: int,
    margin: int = 32,
    progress: ProgressFn | None = None,
) -> Samples:
    """Read training and held-out blocks until ``budget_pixels`` are read, in the split's
    shares, visiting blocks in a random order seeded by ``split.seed``. The labels of a block
    are read first; blocks without a labelled pixel are skipped (their image is not read)."""
    report = progress or (lambda _p, _m: None)
    rng = np.random.default_rng(split.seed + 1)
    blocks = split.windows()
    order = rng.permutation(len(blocks))
    budgets = {False: budget_pixels * (1 - split.holdout), True: budget_pixels * split.holdout}
    spent = {False: 0, True: 0}
    sizes = [int(w.width) * int(w.height) for w, _ in blocks]
    smallest, target = min(sizes), min(budget_pixels, sum(sizes))
    out = Samples()
    reported = -1
    for index in order:
        if all(spent[k] > 0 and spent[k] + smallest > budgets[k] for k in (False, True)):
            break  # both budgets spent
        window, held = blocks[index]
        size = int(window.width) * int(window.height)
        if spent[held] > 0 and spent[held] + size > budgets[held]:
            continue
        ids = labels.read(window)
        if not (ids != IGNORE).any():
            continue  # unlabelled: not read, not counted (sparse polygons stay cheap)
        spent[held] += size
        if held:
            grown, inner = _grow(window, margin, reader.height, reader.width)
            image, valid = reader.read(grown)
            ids[~valid[inner]] = IGNORE
            block = Block(window, image, ids, (inner[0], inner[1]))
        else:
            image, valid = reader.read(window)
            ids[~valid] = IGNORE
            block = Block(window, image, ids)
        if block.labelled:
            (out.holdout if held else out.train).append(block)
            if held:
                out.holdout_pixels += block.labelled
            else:
                out.train_pixels += block.labelled
        percent = 100.0 * sum(spent.values()) / target
        if int(percent) > reported:  # at most one report per percent
            reported = int(percent)
            report(min(percent, 100.0), f"read {sum(spent.values()):,} px")
    if not out.train or not out.holdout:
        side = "training" if not out.train else "held-out"
        raise TrainingError(f"no labelled pixels in the {side} blocks: check the labels' extent")
    return out


def normalization(blocks: Sequence[Block], dates: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and standard deviation (input units) over the labelled pixels of
    ``blocks`` (nodata pixels are unlabelled); for two dates they are pooled over both dates."""
    total = None
    squares = None
    count = 0
    for block in blocks:
        image = block.image.astype(np.float64)
        c = image.shape[0] // dates
        valid = block.labels != IGNORE
        if not valid.any():
            continue
        pixels = image.reshape(dates, c, -1)[:, :, valid.reshape(-1)]
        s, q = pixels.sum(axis=(0, 2)), (pixels**2).sum(axis=(0, 2))
        total = s if total is None else total + s
        squares = q if squares is None else squares + q
        count += pixels.shape[0] * pixels.shape[2]
    if total is None or squares is None or count == 0:
        raise TrainingError("no valid pixels to compute the input statistics from")
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean.astype(np.float32), np.maximum(std, 1e-6).astype(np.float32)


class ChipSampler:
    """Random training chips of ``chip`` px from training blocks, with class-balanced centres.

    With probability ``balance`` a chip is centred (with jitter) on a pixel of a class drawn
    uniformly among the classes present, so rare classes (a few % of changed pixels) are seen
    as often as common ones; otherwise the block is drawn by area and the chip placed uniformly.
    Labels come out as channel indexes (``lut[class id]``; IGNORE stays IGNORE).
    """

    POSITIONS_PER_CLASS = 512  # remembered pixel positions per class and block

    def __init__(
        self,
        blocks: Sequence[Block],
        chip: int,
        lut: np.ndarray,
        *,
        balance: float = 0.5,
        augment: bool = True,
        seed: int = 0,
    ) -> None:
        self.blocks = [b for b in blocks if min(b.labels.shape) >= chip]
        if not self.blocks:
            raise TrainingError(f"no training block is at least {chip} px on each side")
        self.chip, self.balance, self.augment = chip, balance, augment
        self.rng = np.random.default_rng(seed)
        self.indexes = [lut[b.labels] for b in self.blocks]
        areas = np.array([b.labels.size for b in self.blocks], dtype=np.float64)
        self.block_p = areas / areas.sum()
        per_class: dict[int, list[np.ndarray]] = {}
        for k, index in enumerate(self.indexes):
            for c in np.unique(index).tolist():
                if c == IGNORE:
                    continue
                rows, cols = np.nonzero(index == c)
                pick = self.rng.choice(
                    len(rows), min(len(rows), self.POSITIONS_PER_CLASS), replace=False
                )
                per_class.setdefault(c, []).append(
                    np.column_stack([np.full(len(pick), k), rows[pick], cols[pick]])
                )
        self.positions = [np.concatenate(v) for _, v in sorted(per_class.items())]

    @property
    def pixels(self) -> int:
        return int(sum(b.labels.size for b in self.blocks))

    def _origin(self) -> tuple[int, int, int]:
        c = self.chip
        if self.positions and self.rng.random() < self.balance:
            table = self.positions[self.rng.integers(len(self.positions))]
            k, row, col = (int(v) for v in table[self.rng.integers(len(table))])
            h, w = self.blocks[k].labels.shape
            jitter = self.rng.integers(-c // 4, c // 4 + 1, size=2)
            r0 = int(np.clip(row - c // 2 + jitter[0], 0, h - c))
            c0 = int(np.clip(col - c // 2 + jitter[1], 0, w - c))
            return k, r0, c0
        k = int(self.rng.choice(len(self.blocks), p=self.block_p))
        h, w = self.blocks[k].labels.shape
        return k, int(self.rng.integers(h - c + 1)), int(self.rng.integers(w - c + 1))

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``size`` chips: inputs (size, C, chip, chip) float32, labels (size, chip, chip) int64
        channel indexes (IGNORE = not counted). Augmented by a random one of the 8 flips and
        quarter turns of the square when ``augment``."""
        c = self.chip
        channels = self.blocks[0].image.shape[0]
        x = np.empty((size, channels, c, c), dtype=np.float32)
        y = np.empty((size, c, c), dtype=np.int64)
        for i in range(size):
            k, r0, c0 = self._origin()
            image = self.blocks[k].image[:, r0 : r0 + c, c0 : c0 + c]
            label = self.indexes[k][r0 : r0 + c, c0 : c0 + c]
            if self.augment:
                turn = int(self.rng.integers(8))
                image, label = np.rot90(image, turn % 4, (1, 2)), np.rot90(label, turn % 4)
                if turn >= 4:
                    image, label = image[:, :, ::-1], label[:, ::-1]
            x[i], y[i] = image, label
        return x, y

    def chips_per_epoch(self) -> int:
        """Chips in one nominal epoch: the training pixels over the chip area."""
        return max(1, math.ceil(self.pixels / self.chip**2))


def class_lut(class_ids: Sequence[int]) -> np.ndarray:
    """A 256-entry table class id -> channel index (IGNORE for ids the model does not have)."""
    lut = np.full(256, IGNORE, dtype=np.uint8)
    lut[list(class_ids)] = np.arange(len(class_ids), dtype=np.uint8)
    return lut
