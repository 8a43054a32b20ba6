"""composite: ordered single-band datasets stacked into one multi-band COG."""

from __future__ import annotations

import numpy as np
import rasterio
from pydantic import BaseModel, Field, field_validator

from tileserver.catalog import Catalog
from tileserver.errors import InvalidInput, name_few
from tileserver.processing.base import DatasetId, Process, ProcessResult, register
from tileserver.processing.blocks import (
    Grid,
    WindowTuple,
    output_nodata,
    read_onto_grid,
    write_blockwise,
)
from tileserver.processing.context import JobContext
from tileserver.processing.estimate import WorkEstimate, raster_estimate, raster_record
from tileserver.processing.publish import publish_raster
from tileserver.processing.tools.ids import MAX_PROCESS_DATASETS, sized_ids
from tileserver.settings import Settings


class CompositeInputs(BaseModel):
    datasets: list[DatasetId] = Field(
        min_length=2,
        max_length=MAX_PROCESS_DATASETS,
        description="Single-band dataset ids, in order.",
    )
    band_names: list[str] | None = Field(
        default=None, max_length=MAX_PROCESS_DATASETS, description="Names of the output bands."
    )
    sensor: str = Field(default="generic", description="Sensor preset of the result.")
    title: str | None = None

    _datasets = field_validator("datasets")(sized_ids)


def composite_block(
    window: WindowTuple, paths: list[str], grid: Grid, nodata: float, dtype: str
) -> np.ndarray:
    layers = [read_onto_grid(p, grid, window, indexes=[1]) for p in paths]
    stack = np.ma.concatenate(layers, axis=0)
    return np.ma.filled(stack.astype(dtype), nodata)


class CompositeProcess(Process):
    id = "composite"
    title = "Band composite"
    description = "Stack single-band rasters (e.g. Landsat SR_B2..B7 files) into one COG."
    inputs = CompositeInputs

    def estimate(
        self, params: CompositeInputs, catalog: Catalog, settings: Settings
    ) -> WorkEstimate:
        """The first dataset's grid, one band per dataset."""
        records = [raster_record(catalog, i) for i in params.datasets]
        dtype = np.result_type(*[r.dtype for r in records]).name
        first = records[0]
        return raster_estimate(
            first.width, first.height, len(records), dtype, settings.job_block_size
        )

    def run(self, params: CompositeInputs, ctx: JobContext) -> ProcessResult:
        records = [ctx.dataset(i) for i in params.datasets]
        multi = [r.id for r in records if len(r.band_names) != 1]
        if multi:
            raise InvalidInput(
                f"Composite takes single-band datasets; {name_few(multi)} have several."
            )
        names = params.band_names or [
            r.band_names[0] if r.band_names[0] != "b1" else r.title for r in records
        ]
        if len(names) != len(records) or len({n.lower() for n in names}) != len(names):
            raise InvalidInput("band_names must be unique, one per dataset.")
        first = records[0]
        with rasterio.open(ctx.path(first)) as src:
            grid = Grid.of(src.crs, src.transform, src.width, src.height)
        dtype = np.result_type(*[r.dtype for r in records]).name
        nodata = output_nodata(dtype, first.nodata)
        cog = write_blockwise(
            ctx,
            grid,
            count=len(records),
            dtype=dtype,
            nodata=nodata,
            block_fn=composite_block,
            args=([ctx.path(r) for r in records], grid, nodata, dtype),
            band_names=names,
        )
        out = publish_raster(
            ctx,
            cog,
            process=self.id,
            params=params.model_dump(),
            title=params.title or f"Composite of {len(records)} bands",
            band_names=names,
            sensor=params.sensor,
            datetime=first.datetime,
        )
        return ProcessResult(datasets=[out.id])


register(CompositeProcess())
