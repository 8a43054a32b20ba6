"""animation: an ordered set of rasters (or one index over them) over an AOI → GIF and MP4."""

from __future__ import annotations

import uuid
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator
from rio_tiler.colormap import cmap
from rio_tiler.io import Reader

from tileserver.catalog import Catalog
from tileserver.errors import InvalidInput
from tileserver.expressions import index_expression
from tileserver.processing.base import DatasetId, Process, ProcessResult, register
from tileserver.processing.context import JobContext
from tileserver.processing.estimate import WorkEstimate, raster_record
from tileserver.processing.tools.ids import MAX_PROCESS_DATASETS, sized_ids
from tileserver.settings import Settings
from tileserver.storage import atomic_dir


class AnimationInputs(BaseModel):
    datasets: list[DatasetId] = Field(
        min_length=2,
        max_length=MAX_PROCESS_DATASETS,
        description="Dataset ids in time order, one per frame (a frame may repeat).",
    )
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="west,south,east,north (WGS84); default: all datasets."
    )
    index: str | None = Field(default=None, description="Show this index instead of colour.")
    bands: list[str] = Field(
        default=["red", "green", "blue"], max_length=3, description="RGB band names."
    )
    rescale: tuple[float, float] | None = None
    colormap: str = "rdylgn"
    size: int = Field(default=512, ge=64, le=2048, description="Longest side, pixels.")
    fps: float = Field(default=1.0, gt=0, le=30)
    formats: list[Literal["gif", "mp4"]] = Field(default=["gif", "mp4"], max_length=2)

    _datasets = field_validator("datasets")(sized_ids)  # a frame may be shown twice

    @field_validator("colormap")
    @classmethod
    def _known_colormap(cls, value: str) -> str:
        if value.lower() not in cmap.list():
            raise ValueError(f"unknown colormap '{value[:40]}'; see /colorMaps")
        return value.lower()

    @model_validator(mode="after")
    def _bands(self) -> AnimationInputs:
        if not self.index and len(self.bands) not in (1, 3):
            raise ValueError("bands must name 1 or 3 bands")
        return self


def _label(frame: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(12, frame.shape[1] // 24))
    box = draw.textbbox((8, 8), text, font=font)
    draw.rectangle((box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4), fill=(0, 0, 0))
    draw.text((8, 8), text, fill=(255, 255, 255), font=font)
    return np.asarray(image)


class AnimationProcess(Process):
    id = "animation"
    title = "Time-series animation"
    description = "Frames of ordered rasters over an area, labelled with dates, as GIF and MP4."
    inputs = AnimationInputs
    outputs = {"gif": "URL of the GIF", "mp4": "URL of the MP4"}

    def estimate(
        self, params: AnimationInputs, catalog: Catalog, settings: Settings
    ) -> WorkEstimate:
        """Frames of at most ``size`` x ``size`` RGB pixels, held in memory and written as
        GIF and MP4 (no more than the raw frames)."""
        frames = len(params.datasets)
        for dataset_id in dict.fromkeys(params.datasets):
            raster_record(catalog, dataset_id)
        pixels = frames * params.size * params.size
        return WorkEstimate(
            pixels=pixels,
            blocks=frames,
            scratch_bytes=pixels * 3,
            output_bytes=pixels * 3 * len(params.formats),
            what=f"{frames} frames of up to {params.size:,} x {params.size:,} RGB",
        )

    def run(self, params: AnimationInputs, ctx: JobContext) -> ProcessResult:
        records = [ctx.dataset(i) for i in params.datasets]
        if params.bbox:
            bbox = params.bbox
        else:
            bbox = (
                min(r.bounds[0] for r in records),
                min(r.bounds[1] for r in records),
                max(r.bounds[2] for r in records),
                max(r.bounds[3] for r in records),
            )
        frames: list[np.ndarray] = []
        for n, record in enumerate(records, start=1):
            frames.append(self._frame(ctx, record, bbox, params))
            ctx.progress(80 * n / len(records), f"frame {n}/{len(records)}")
        height = max(f.shape[0] for f in frames) // 2 * 2
        width = max(f.shape[1] for f in frames) // 2 * 2
        frames = [np.ascontiguousarray(f[:height, :width]) for f in frames]
        key = uuid.uuid4().hex[:16]
        folder = ctx.settings.data_dir / "files" / key
        values: dict[str, str] = {}
        with atomic_dir(folder, ctx.settings) as tmp:
            import imageio.v2 as imageio

            if "gif" in params.formats:
                imageio.mimsave(
                    tmp / "animation.gif",
                    frames,  # type: ignore[arg-type]
                    duration=1.0 / params.fps,
                    loop=0,
                )
                values["gif"] = f"/files/{key}/animation.gif"
            if "mp4" in params.formats:
                with imageio.get_writer(
                    tmp / "animation.mp4",
                    fps=params.fps,
                    codec="libx264",
                    macro_block_size=2,
                    pixelformat="yuv420p",
                ) as writer:
                    for frame in frames:
                        writer.append_data(frame)  # type: ignore[attr-defined]
                values["mp4"] = f"/files/{key}/animation.mp4"
        ctx.progress(95, "written")
        return ProcessResult(values={**values, "frames": len(frames)})

    def _frame(self, ctx: JobContext, record, bbox, params: AnimationInputs) -> np.ndarray:
        with Reader(ctx.path(record)) as src:
            if params.index:
                spectral, expression = index_expression(params.index, record)
                img = src.part(
                    bbox, dst_crs="EPSG:3857", max_size=params.size, expression=expression
                )
                img.rescale([params.rescale or spectral.range])
                colormap: dict = cmap.get(params.colormap)  # type: ignore[assignment]
                rgba = np.array(
                    [colormap.get(int(v), (0, 0, 0, 0)) for v in range(256)], dtype="uint8"
                )
                rgb = rgba[img.data[0].astype("uint8")][..., :3]
            else:
                try:
                    indexes = [record.band_names.index(b) + 1 for b in params.bands]
                except ValueError:
                    raise InvalidInput(
                        f"{record.id} lacks one of the bands {params.bands} "
                        f"(has {record.band_names})."
                    ) from None
                img = src.part(bbox, dst_crs="EPSG:3857", max_size=params.size, indexes=indexes)
                low, high = (
                    params.rescale or tuple(np.percentile(img.array.compressed(), [2, 98]))
                    if img.array.count()
                    else (0, 1)
                )
                img.rescale([(low, high)] * len(indexes))
                rgb = np.moveaxis(np.broadcast_to(img.data, (3, *img.data.shape[1:])), 0, -1)
            rgb = np.where(img.mask[..., None] > 0, rgb, 0).astype("uint8")
        date = record.datetime.date().isoformat() if record.datetime else record.title
        return _label(np.ascontiguousarray(rgb), date)


register(AnimationProcess())
