"""index: a named spectral index or any band-math expression → a float32 COG."""

from __future__ import annotations

import re

import numexpr
import numpy as np
import rasterio
from pydantic import BaseModel, Field, model_validator
from rasterio.windows import Window

from tileserver.catalog import Catalog, DatasetRecord
from tileserver.errors import InvalidInput
from tileserver.expressions import index_expression, to_band_expression
from tileserver.processing.base import DatasetId, Process, ProcessResult, register
from tileserver.processing.blocks import Grid, WindowTuple, write_blockwise
from tileserver.processing.context import JobContext
from tileserver.processing.estimate import WorkEstimate, raster_estimate, raster_record
from tileserver.processing.publish import publish_raster
from tileserver.scenes.masks import read_masked
from tileserver.settings import Settings


class IndexInputs(BaseModel):
    dataset: DatasetId = Field(description="Id of the raster dataset.")
    index: str | None = Field(default=None, description="Named index from GET /indices.")
    expression: str | None = Field(
        default=None, description="Band math over band names or bN; ';' for several bands."
    )
    title: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> IndexInputs:
        if bool(self.index) == bool(self.expression):
            raise ValueError("give exactly one of 'index' or 'expression'")
        return self


def index_block(window: WindowTuple, path: str, parts: list[str], bands: list[int]) -> np.ndarray:
    """Evaluate the expression on one window; NaN where any input band is nodata."""
    with rasterio.open(path) as src:
        data = read_masked(src, bands, window=Window(*window))  # an archive scene's QA mask
    valid = ~np.ma.getmaskarray(data).any(axis=0)
    local = {f"b{b}": data[i].filled(0).astype("float32") for i, b in enumerate(bands)}
    out = np.empty((len(parts), window[3], window[2]), dtype="float32")
    with np.errstate(all="ignore"):
        for i, part in enumerate(parts):
            value = numexpr.evaluate(part, local_dict=local).astype("float32")
            value[~valid | ~np.isfinite(value)] = np.nan
            out[i] = value
    return out


def _expression(
    params: IndexInputs, record: DatasetRecord
) -> tuple[list[str], list[str], list[int]]:
    """Output band names, the ``bN`` expression of each output band, and the bands it reads."""
    if params.index:
        spectral, expression = index_expression(params.index, record)
        names = [spectral.name]
    else:
        expression = to_band_expression(params.expression or "", record.band_names, record.sensor)
        names = [f"expr{i + 1}" for i in range(len(expression.split(";")))]
    bands = sorted({int(b) for b in re.findall(r"\bb(\d+)\b", expression)})
    if not bands:
        raise InvalidInput("The expression uses no band.")
    return names, expression.split(";"), bands


class IndexProcess(Process):
    id = "index"
    title = "Spectral index"
    description = "A named index (NDVI, MNDWI ...) or an expression, as a float32 COG."
    inputs = IndexInputs

    def check(self, params: IndexInputs, catalog: Catalog) -> None:
        """Evaluate the expression once on float32 zeros, as ``index_block`` will on pixels,
        so a malformed one is a 400 now rather than a failed job later."""
        _names, parts, bands = _expression(params, catalog.get_dataset(params.dataset))
        trial = {f"b{b}": np.zeros(1, dtype="float32") for b in bands}
        for part in parts:
            try:
                with np.errstate(all="ignore"):
                    numexpr.evaluate(part, local_dict=trial)
            except Exception as exc:
                raise InvalidInput(f"Invalid expression '{part}': {exc}") from None

    def estimate(self, params: IndexInputs, catalog: Catalog, settings: Settings) -> WorkEstimate:
        """The source's grid, one float32 band per expression."""
        record = raster_record(catalog, params.dataset)
        _names, parts, _bands = _expression(params, record)
        return raster_estimate(
            record.width, record.height, len(parts), "float32", settings.job_block_size
        )

    def run(self, params: IndexInputs, ctx: JobContext) -> ProcessResult:
        record = ctx.dataset(params.dataset)
        names, parts, bands = _expression(params, record)
        with rasterio.open(ctx.path(record)) as src:
            grid = Grid.of(src.crs, src.transform, src.width, src.height)
        cog = write_blockwise(
            ctx,
            grid,
            count=len(parts),
            dtype="float32",
            nodata=float("nan"),
            block_fn=index_block,
            args=(ctx.path(record), parts, bands),
            band_names=names,
        )
        title = params.title or f"{params.index or 'expression'} of {record.title}"
        out = publish_raster(
            ctx,
            cog,
            process=self.id,
            params=params.model_dump(),
            title=title,
            band_names=names,
            datetime=record.datetime,
        )
        return ProcessResult(datasets=[out.id])


register(IndexProcess())
