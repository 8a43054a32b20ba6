"""The sliding-window engine: a model run over a raster of any size, strip by strip, into a COG.

``run_inference`` walks the chip rows of a ``ChipGrid`` top to bottom in strips. For each strip
a reader thread reads the input rows (mirrored past the image edges) while the previous strip
computes; chips go to the model in batches under ``torch.inference_mode()``; their outputs are
blended into a strip-sized accumulator (``blending``); the rows no later chip touches are
finished (argmax or normalised values, nodata where the inputs have none) and a writer thread
writes them as a strip GeoTIFF; the accumulator rows the next strip's chips still reach are
carried over. Memory is a few strips' buffers whatever the image height; a VRT stitches the
strips and one COG translation makes the output, renamed into place atomically.

``run_inference_distributed`` sends strips to Dask workers instead: ``process_strip`` (top-level,
picklable) builds the model in the worker from a factory (plus the parent's fitted state), also
runs the chip rows above its strip that reach into it (what the local engine carries), and
writes its own strip file. Both paths put chips on the same grid, so their results agree.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
import torch

from inference.blending import (
    StripAccumulator,
    axis_weight_sum,
    chip_weights,
    finish_classes,
    finish_scored,
    finish_values,
    weight_profile,
)
from inference.reading import RasterStack, StackSpec
from inference.windows import (
    STRIP_BUDGET_BYTES,
    ChipGrid,
    Strip,
    plan_block_rows,
    plan_strips,
    touching_chip_rows,
)
from inference.writer import OutputSpec, stitch_vrt, work_folder, write_cog, write_strip

Output = Literal["classes", "scored", "probabilities", "values"]
CLASS_OUTPUTS = ("classes", "scored")
ProgressFn = Callable[[float, str], None]

#: GDAL block cache while reading inputs (bytes): bounded so memory does not grow with the image.
READ_CACHE_BYTES = 64 * 2**20
#: Pixels finished (argmax or division) at a time: bounds the temporaries of that step.
FINISH_PIXELS = 4 * 2**20
#: Longest side (pixels) of the decimated whole-image read handed to ``model.fit``.
FIT_MAX_SIDE = 1024


@dataclass
class EngineStats:
    """What a run did; pass one to ``run_inference(stats=...)`` and the engine fills it in.

    Shapes are the largest seen: ``accumulator_shape`` is (classes, rows, cols) of one strip's
    running sums, ``input_shape`` (channels, rows, cols) of one strip's input buffer. Times are
    seconds; reading and writing overlap the model, so the parts add up to more than ``total_s``.
    On CUDA the model runs asynchronously: ``forward_s`` is then launch time and the wait for
    results shows in ``blend_s``.
    """

    device: str = ""
    classes: int = 0
    block_rows: int = 0
    strips: int = 0
    chips: int = 0
    chip_grid: tuple[int, int] = (0, 0)
    accumulator_shape: tuple[int, ...] = ()
    input_shape: tuple[int, ...] = ()
    read_s: float = 0.0
    forward_s: float = 0.0
    blend_s: float = 0.0
    write_s: float = 0.0
    cog_s: float = 0.0
    total_s: float = 0.0
    strip_heights: list[int] = field(default_factory=list)

    def add(self, other: EngineStats) -> None:
        """Fold a worker's strip stats into this run's."""
        self.chips += other.chips
        self.strips += other.strips
        self.strip_heights += other.strip_heights
        for name in ("read_s", "forward_s", "blend_s", "write_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.accumulator_shape = max(self.accumulator_shape, other.accumulator_shape)
        self.input_shape = max(self.input_shape, other.input_shape)


def resolve_device(device: str | None) -> torch.device:
    """``device`` as given, else CUDA when available, else CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fit_if_needed(model: torch.nn.Module, stack: RasterStack) -> None:
    """Call ``model.fit(sample, valid)`` on a decimated whole-image read when the model asks."""
    if getattr(model, "needs_fit", False):
        sample, valid = stack.sample(FIT_MAX_SIDE)
        model.fit(sample, valid)  # type: ignore[operator]


def probe_classes(model: torch.nn.Module, channels: int, chip: int, device: torch.device) -> int:
    """Run one blank chip to learn how many output bands (K) the model gives, checking shape."""
    with torch.inference_mode():
        out = model(torch.zeros((1, channels, chip, chip), device=device))
    if out.ndim != 4 or out.shape[0] != 1 or tuple(out.shape[2:]) != (chip, chip):
        raise ValueError(
            f"the model must map (B, C, H, W) to (B, K, H, W); a {chip}x{chip} chip gave "
            f"{tuple(out.shape)}"
        )
    return int(out.shape[1])


def output_spec(stack: RasterStack, output: Output, classes: int) -> OutputSpec:
    if output in CLASS_OUTPUTS:
        if classes > 255:
            raise ValueError(f"{classes} classes do not fit a uint8 class map (255 is nodata)")
        count = 1 if output == "classes" else 2
        return OutputSpec.of(stack.crs, stack.transform, stack.width, stack.height, count, "uint8")
    if output not in ("probabilities", "values"):
        raise ValueError(f"output must be classes, probabilities or values, not {output!r}")
    return OutputSpec.of(stack.crs, stack.transform, stack.width, stack.height, classes, "float32")


class StripComputer:
    """Runs the model over chip rows of one strip and blends the outputs; finishes rows."""

    def __init__(
        self,
        model: torch.nn.Module,
        grid: ChipGrid,
        spec: StackSpec,
        device: torch.device,
        batch: int,
        classes: int,
        output: Output,
        class_values: Sequence[int] | None = None,
    ) -> None:
        self.model, self.grid, self.spec = model, grid, spec
        self.device, self.batch, self.classes, self.output = device, batch, classes, output
        self.lut = _class_lut(class_values, classes)
        self.weights = chip_weights(grid.chip, grid.overlap)
        profile = weight_profile(grid.chip, grid.overlap)
        self.row_weight = axis_weight_sum(grid.rows, profile, 0, grid.height)
        self.col_weight = axis_weight_sum(grid.cols, profile, 0, grid.width)

    def read(self, stack: RasterStack, strip: Strip, chip_rows: range) -> tuple[np.ndarray, ...]:
        """The strip's input (rows of ``chip_rows``, chip-grid columns) and its validity."""
        g = self.grid
        top, bottom = g.rows[chip_rows.start], g.rows[chip_rows.stop - 1] + g.chip
        data = stack.read(top, bottom, g.left, g.right)
        valid = stack.valid(data, strip.row0, strip.row1, strip.row0 - top, -g.left)
        return data, valid

    def accumulate(
        self, data: np.ndarray, chip_rows: range, acc: StripAccumulator, stats: EngineStats
    ) -> None:
        """Run every chip of ``chip_rows`` (``data`` starts at the first one's top row).

        Chips are copied from the strip into one reused float32 batch, converted and scaled in
        the same pass, and sent to the device.
        """
        g, c = self.grid, self.grid.chip
        top = g.rows[chip_rows.start]
        positions = [(g.rows[j], col) for j in chip_rows for col in g.cols]
        floating = data.dtype.kind == "f"
        scale = None if self.spec.scale is None else np.float32(self.spec.scale)
        offset = np.float32(self.spec.offset)
        batch = np.empty((self.batch, data.shape[0], c, c), dtype=np.float32)
        for start in range(0, len(positions), self.batch):
            began = time.perf_counter()
            group = positions[start : start + self.batch]
            chips = batch[: len(group)]
            for i, (r, col) in enumerate(group):
                chip = data[:, r - top : r - top + c, col - g.left : col - g.left + c]
                if scale is None:
                    np.copyto(chips[i], chip, casting="unsafe")
                else:  # convert and scale in one pass
                    np.multiply(chip, scale, out=chips[i], casting="unsafe")
            if offset:
                chips += offset
            if floating:
                np.nan_to_num(chips, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
            x = torch.from_numpy(chips).to(self.device)
            forward = time.perf_counter()
            out = self.model(x)
            if out.shape[1] != self.classes or tuple(out.shape[2:]) != (c, c):
                raise ValueError(f"the model gave {tuple(out.shape)} for a batch of {c}x{c} chips")
            blended = time.perf_counter()
            acc.add(out.to(torch.float32), group)
            done = time.perf_counter()
            stats.forward_s += blended - forward
            stats.blend_s += (forward - began) + (done - blended)
        stats.chips += len(positions)

    def finish(self, acc: StripAccumulator, strip: Strip, valid: np.ndarray) -> np.ndarray:
        """The output rows of ``strip``: class map (uint8, 255 nodata; ``scored`` adds the
        class's blended probability x 254 as band 2) or values (NaN nodata).

        Finished a few million pixels at a time, so the temporaries (an argmax's int64 indexes,
        a division's result) stay small whatever the image width.
        """
        width = self.grid.width
        dtype: type[np.generic] = np.uint8
        if self.output in CLASS_OUTPUTS:
            count = 1 if self.output == "classes" else 2
        else:
            count, dtype = self.classes, np.float32
        out = np.empty((count, strip.height, width), dtype=dtype)
        step = max(1, FINISH_PIXELS // width)
        for row in range(strip.row0, strip.row1, step):
            end = min(row + step, strip.row1)
            sums = acc.rows(row, end, 0, width)
            y0, y1 = row - strip.row0, end - strip.row0
            if self.output == "classes":
                out[0, y0:y1] = self.lut[finish_classes(sums)]
            elif self.output == "scored":
                index, score = finish_scored(sums, self.row_weight[row:end], self.col_weight)
                out[0, y0:y1], out[1, y0:y1] = self.lut[index], score
            else:
                out[:, y0:y1] = finish_values(sums, self.row_weight[row:end], self.col_weight)
        out[:, ~valid] = 255 if self.output in CLASS_OUTPUTS else np.nan
        return out

    def new_accumulator(self, chip_rows: range) -> StripAccumulator:
        g = self.grid
        top = g.rows[chip_rows.start]
        rows = g.rows[chip_rows.stop - 1] + g.chip - top
        return StripAccumulator(
            self.classes, top, rows, g.left, g.right - g.left, self.weights, self.device
        )


def _class_lut(class_values: Sequence[int] | None, classes: int) -> np.ndarray:
    """Channel index -> class value written to the map (identity by default)."""
    lut = np.arange(256, dtype=np.uint8)
    if class_values is not None:
        if len(class_values) != classes:
            raise ValueError(f"{len(class_values)} class values for {classes} model outputs")
        if any(not 0 <= v < 255 for v in class_values):
            raise ValueError("class values must be 0..254 (255 is nodata)")
        lut[:classes] = np.asarray(class_values, dtype=np.uint8)
    return lut


def _plan(
    stack: RasterStack,
    chip: int,
    overlap: int,
    classes: int,
    output: Output,
    block_rows: int | None,
) -> tuple[ChipGrid, int]:
    grid = ChipGrid.over(stack.height, stack.width, chip, overlap)
    if block_rows is None:
        block_rows = plan_block_rows(
            stack.height,
            stack.width,
            chip=chip,
            overlap=overlap,
            channels=stack.channels,
            itemsize=stack.dtype.itemsize,
            classes=classes,
            output=output,
            budget_bytes=STRIP_BUDGET_BYTES,
        )
    return grid, block_rows


def _note(stats: EngineStats, acc: StripAccumulator, data: np.ndarray, strip: Strip) -> None:
    stats.accumulator_shape = max(stats.accumulator_shape, acc.shape)
    stats.input_shape = max(stats.input_shape, tuple(data.shape))
    stats.strips += 1
    stats.strip_heights.append(strip.height)


def run_inference(
    model: torch.nn.Module,
    sources: Sequence[str | Path],
    out_path: str | Path,
    *,
    bands: Sequence[Sequence[int]],
    scale: float | None = None,
    offset: float = 0.0,
    chip: int = 512,
    overlap: int = 64,
    batch: int = 4,
    output: Output = "classes",
    class_values: Sequence[int] | None = None,
    device: str | None = None,
    block_rows: int | None = None,
    progress: ProgressFn | None = None,
    stats: EngineStats | None = None,
) -> Path:
    """Run ``model`` over ``sources`` chip by chip and write a COG at ``out_path``.

    ``sources``: rasters on one grid (two for change detection; see ``align_second_date``),
    ``bands``: 1-based band indexes per source, stacked in order into the model's channels;
    ``scale`` multiplies them and ``offset`` is added after. ``chip`` and ``overlap`` are pixels
    (overlap >= 4x the model's receptive radius makes seams exact); ``block_rows``: most image
    rows per strip (default: planned from a memory budget). ``output``: ``classes`` (uint8
    argmax, 255 where an input is nodata; ``class_values[i]`` is written for channel i),
    ``scored`` (the same plus band 2, the class's blended probability x 254), ``probabilities``
    or ``values`` (float32, K bands, NaN nodata). ``progress`` gets (percent, message). The
    model is moved to ``device`` and set to eval mode.
    """
    began = time.perf_counter()
    stats = stats if stats is not None else EngineStats()
    out = Path(out_path)
    report = progress or (lambda _p, _m: None)
    dev = resolve_device(device)
    spec = StackSpec.of(sources, bands, scale, offset)
    with rasterio.Env(GDAL_CACHEMAX=READ_CACHE_BYTES), RasterStack(spec) as stack:
        report(0.0, "reading a sample" if getattr(model, "needs_fit", False) else "starting")
        fit_if_needed(model, stack)
        model = model.to(dev).eval()
        classes = probe_classes(model, stack.channels, chip, dev)
        target = output_spec(stack, output, classes)
        grid, block_rows = _plan(stack, chip, overlap, classes, output, block_rows)
        strips = plan_strips(grid, block_rows)
        stats.device, stats.classes, stats.block_rows = str(dev), classes, block_rows
        stats.chip_grid = (len(grid.rows), len(grid.cols))
        computer = StripComputer(model, grid, spec, dev, batch, classes, output, class_values)
        with (
            work_folder(out) as work,
            ThreadPoolExecutor(1) as reader,
            ThreadPoolExecutor(1) as writer,
        ):

            def read(strip: Strip) -> tuple[np.ndarray, ...]:
                t = time.perf_counter()
                result = computer.read(stack, strip, range(strip.first, strip.stop))
                stats.read_s += time.perf_counter() - t
                return result

            def write(strip: Strip, rows: np.ndarray) -> tuple[int, int, str]:
                t = time.perf_counter()
                path = write_strip(work, target, strip.row0, rows)
                stats.write_s += time.perf_counter() - t
                return strip.row0, strip.height, path

            parts: list[tuple[int, int, str]] = []
            pending_write: Future[tuple[int, int, str]] | None = None
            next_read = reader.submit(read, strips[0])
            carry: torch.Tensor | None = None
            with torch.inference_mode():
                for n, strip in enumerate(strips):
                    data, valid = next_read.result()
                    if n + 1 < len(strips):
                        next_read = reader.submit(read, strips[n + 1])
                    chip_rows = range(strip.first, strip.stop)
                    acc = computer.new_accumulator(chip_rows)
                    acc.add_carry(carry)
                    computer.accumulate(data, chip_rows, acc, stats)
                    t = time.perf_counter()
                    rows = computer.finish(acc, strip, valid)
                    carry = acc.carry(strip.row1) if n + 1 < len(strips) else None
                    stats.blend_s += time.perf_counter() - t
                    _note(stats, acc, data, strip)
                    del acc, data, valid
                    if pending_write is not None:
                        parts.append(pending_write.result())
                    pending_write = writer.submit(write, strip, rows)
                    report(5.0 + 85.0 * (n + 1) / len(strips), f"strip {n + 1}/{len(strips)}")
            if pending_write is not None:
                parts.append(pending_write.result())
            _finish_cog(target, parts, work, out, output, stats, report)
    stats.total_s = time.perf_counter() - began
    return out


def _finish_cog(
    target: OutputSpec,
    parts: list[tuple[int, int, str]],
    work: Path,
    out: Path,
    output: Output,
    stats: EngineStats,
    report: ProgressFn,
) -> None:
    report(90.0, "writing COG")
    t = time.perf_counter()
    vrt = work / "output.vrt"
    vrt.write_text(stitch_vrt(target, parts))
    resampling = "mode" if output in CLASS_OUTPUTS else "average"
    write_cog(vrt, out, resampling=resampling, tmp_dir=work)
    stats.cog_s += time.perf_counter() - t
    report(100.0, "done")


# --- distributed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StripJob:
    """One strip for a worker (picklable): what to read, the chip grid, where to write."""

    stack: StackSpec
    grid: ChipGrid
    strip: Strip
    target: OutputSpec
    output: Output
    classes: int
    batch: int
    device: str | None
    folder: str
    model_key: str
    class_values: tuple[int, ...] | None = None


_WORKER_MODEL: dict[str, torch.nn.Module] = {}


def _worker_model(
    key: str,
    factory: Callable[[], torch.nn.Module],
    state: dict[str, Any] | None,
    dev: torch.device,
) -> torch.nn.Module:
    """The run's model in this worker process, built once per run (and only the latest kept)."""
    model = _WORKER_MODEL.get(key)
    if model is None:
        _WORKER_MODEL.clear()
        model = factory()
        if state is not None:
            model.load_state_dict(state)
        model = model.to(dev).eval()
        _WORKER_MODEL[key] = model
    return model


def process_strip(
    job: StripJob, model_factory: Callable[[], torch.nn.Module], state: dict[str, Any] | None
) -> tuple[int, int, str, EngineStats]:
    """Compute one strip on its own and write it as a GeoTIFF: ``(row0, rows, path, stats)``.

    Also runs the chip rows above the strip that reach into it, so the strip needs nothing from
    its neighbours and equals the same rows of a local run.
    """
    stats = EngineStats()
    dev = resolve_device(job.device)
    model = _worker_model(job.model_key, model_factory, state, dev)
    computer = StripComputer(
        model, job.grid, job.stack, dev, job.batch, job.classes, job.output, job.class_values
    )
    chip_rows = touching_chip_rows(job.grid, job.strip)
    with rasterio.Env(GDAL_CACHEMAX=READ_CACHE_BYTES), RasterStack(job.stack) as stack:
        t = time.perf_counter()
        data, valid = computer.read(stack, job.strip, chip_rows)
        stats.read_s = time.perf_counter() - t
    with torch.inference_mode():
        acc = computer.new_accumulator(chip_rows)
        computer.accumulate(data, chip_rows, acc, stats)
        rows = computer.finish(acc, job.strip, valid)
    _note(stats, acc, data, job.strip)
    del acc, data
    t = time.perf_counter()
    path = write_strip(job.folder, job.target, job.strip.row0, rows)
    stats.write_s = time.perf_counter() - t
    return job.strip.row0, job.strip.height, path, stats


def run_inference_distributed(
    model_factory: Callable[[], torch.nn.Module],
    sources: Sequence[str | Path],
    out_path: str | Path,
    *,
    client: Any | None,
    bands: Sequence[Sequence[int]],
    scale: float | None = None,
    offset: float = 0.0,
    chip: int = 512,
    overlap: int = 64,
    batch: int = 4,
    output: Output = "classes",
    class_values: Sequence[int] | None = None,
    device: str | None = None,
    block_rows: int | None = None,
    progress: ProgressFn | None = None,
    stats: EngineStats | None = None,
) -> Path:
    """``run_inference`` with strips computed on the Dask workers of ``client``.

    ``model_factory`` (a top-level function or ``functools.partial``: it is pickled) builds the
    model in each worker. A model that ``needs_fit`` is fitted once here and its ``state_dict()``
    (fit results must live in buffers or ``get_extra_state``) is broadcast to the workers.
    Workers write strip files beside ``out_path``, so they need that filesystem. Without a
    client the run is local.
    """
    if client is None:
        return run_inference(
            model_factory(), sources, out_path, bands=bands, scale=scale, offset=offset,
            chip=chip, overlap=overlap, batch=batch, output=output, class_values=class_values,
            device=device, block_rows=block_rows, progress=progress, stats=stats,
        )  # fmt: skip
    from distributed import as_completed

    began = time.perf_counter()
    stats = stats if stats is not None else EngineStats()
    out = Path(out_path).resolve()
    report = progress or (lambda _p, _m: None)
    spec = StackSpec.of(sources, bands, scale, offset)
    model = model_factory()
    with rasterio.Env(GDAL_CACHEMAX=READ_CACHE_BYTES), RasterStack(spec) as stack:
        state = None
        if getattr(model, "needs_fit", False):
            report(0.0, "reading a sample")
            fit_if_needed(model, stack)
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        model.eval()
        classes = probe_classes(model, stack.channels, chip, torch.device("cpu"))
        target = output_spec(stack, output, classes)
        grid, block_rows = _plan(stack, chip, overlap, classes, output, block_rows)
    del model
    strips = plan_strips(grid, block_rows)
    stats.device, stats.classes, stats.block_rows = device or "auto", classes, block_rows
    stats.chip_grid = (len(grid.rows), len(grid.cols))
    key = uuid.uuid4().hex
    with work_folder(out) as work:
        # one object (a list scatters its items under content-derived keys; a dict would use
        # its parameter names as cluster-wide keys)
        state_ref = client.scatter([state], broadcast=True)[0] if state is not None else None
        values = tuple(class_values) if class_values is not None else None
        jobs = [
            StripJob(spec, grid, s, target, output, classes, batch, device, str(work), key, values)
            for s in strips
        ]
        futures = [
            client.submit(process_strip, job, model_factory, state_ref, pure=False) for job in jobs
        ]
        parts: list[tuple[int, int, str]] = []
        for n, future in enumerate(as_completed(futures), start=1):
            row0, rows, path, strip_stats = future.result()
            future.release()
            parts.append((row0, rows, path))
            stats.add(strip_stats)
            report(5.0 + 85.0 * n / len(strips), f"strip {n}/{len(strips)}")
        _finish_cog(target, parts, work, out, output, stats, report)
    stats.total_s = time.perf_counter() - began
    return out
