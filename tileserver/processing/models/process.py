"""Every registered model as an OGC process: ``POST /processes/{model}/execution``.

A run reads the image(s) through the sliding-window engine (strips fanned out to the Dask
workers when it runs in one), writes the class raster with per-pixel scores, traces it into
polygons (block-wise, valid coverage, simplified), and publishes both as catalog datasets;
with a reference it also reports IoU / F1 / precision / recall per class. Slots (models
without weights) are listed and refuse to run with the reason. torch is imported only inside
``run``, which executes on a job worker, never in the API process.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import shapely
from pydantic import BaseModel

from inference.models import ModelError, ModelSpec
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.errors import InvalidInput, UnknownBand
from tileserver.processing.base import PROCESSES, Process, ProcessResult
from tileserver.processing.context import JobContext
from tileserver.processing.estimate import WorkEstimate, pixels_estimate
from tileserver.processing.models import labelling, sources
from tileserver.processing.models.catalog import models_dir
from tileserver.processing.models.inputs import (
    ChangeInputs,
    ClassMapOptions,
    EnhancementInputs,
    SegmentationInputs,
)

INPUTS: dict[str, type[BaseModel]] = {
    "segmentation": SegmentationInputs,
    "change": ChangeInputs,
    "enhancement": EnhancementInputs,
}


class ModelProcess(Process):
    """One model; ``inputs`` depends on its task (one image, two dates, or enhancement)."""

    sync_ok: ClassVar[bool] = False  # a network never runs inside the API process

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.id = spec.name  # type: ignore[misc]
        self.title = spec.title  # type: ignore[misc]
        what = "class raster + polygons" if spec.task != "enhancement" else "enhanced raster"
        self.description = f"{spec.description} Output: {what}."  # type: ignore[misc]
        self.inputs = INPUTS[spec.task]  # type: ignore[misc]
        self.owner = spec.owner  # a trained model's trainer; the API filters by these two
        self.visibility = spec.visibility

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["jobControlOptions"] = ["async-execute", "dismiss"]
        out["model"] = self.spec.model_dump(mode="json", exclude={"weights"})
        return out

    # checks before queueing (also repeated by the run) -----------------------------------
    def check(self, params: Any, catalog: Catalog) -> None:
        if not self.spec.runnable:
            raise InvalidInput(f"Model '{self.spec.name}' cannot run yet: {self.spec.reason}.")
        records = self._records(params, catalog)
        refusal: UnknownBand | None = None
        for record in records:
            try:
                sources.band_indexes(self.spec, record)
            except UnknownBand as exc:
                if not labelling.offers_labelling(self.spec):
                    raise
                refusal = refusal or labelling.refusal(self.spec, records, record, exc)
        sources.aoi_shape(params.aoi)
        if isinstance(params, ClassMapOptions) and params.reference:
            catalog.get_dataset(params.reference)
        if len(records) == 2 and not _overlap(records[0], records[1]):
            raise InvalidInput(
                f"Datasets '{records[0].id}' and '{records[1].id}' do not overlap: change "
                "detection needs two images of the same area."
            )
        if refusal is not None:  # last: every other mistake is said first
            raise refusal
        sources.band_set(self.spec, records)  # the dates of a change share one band set

    def task_pixels(self, params: Any, catalog: Catalog) -> int:
        """Pixels the run reads from its (first) image: the AOI's share of it, else all of it
        (estimated from WGS84 bounds: cheap enough to check before queueing)."""
        record = self._records(params, catalog)[0]
        total = record.width * record.height
        area = sources.aoi_shape(params.aoi)
        if area is None:
            return total
        w, s, e, n = record.bounds
        full = shapely.box(w, s, e, n)
        if full.area <= 0:
            return total
        return int(total * min(1.0, full.intersection(area.envelope).area / full.area))

    def estimate(self, params: Any, catalog: Catalog, settings: Any) -> WorkEstimate:
        """The pixels the run reads (``task_pixels``) as its output raster: classes with a
        score (2 x uint8) or enhanced values (float32 per band); polygons are not counted."""
        pixels = self.task_pixels(params, catalog)
        if self.spec.task == "enhancement":
            count, dtype = len(self.spec.bands), "float32"
        else:
            count, dtype = 2, "uint8"
        blocks = max(1, math.ceil(pixels / settings.job_block_size**2))
        what = f"a {count}-band {dtype} raster over {pixels:,} pixels of its image"
        return pixels_estimate(pixels, count, dtype, blocks, what)

    def _records(self, params: Any, catalog: Catalog) -> list[DatasetRecord]:
        ids = params.datasets if self.spec.task == "change" else [params.dataset]
        records = [catalog.get_dataset(i) for i in ids]
        for record in records:
            if record.kind != "raster":
                raise InvalidInput(f"Dataset '{record.id}' is a {record.kind}; a raster is needed.")
        return records

    # the run -------------------------------------------------------------------------------
    def run(self, params: Any, ctx: JobContext) -> ProcessResult:
        from tileserver.processing.models.runner import run_model

        self.check(params, ctx.catalog)
        try:
            return run_model(self.spec, params, self._records(params, ctx.catalog), ctx)
        except ModelError as exc:
            raise InvalidInput(str(exc)) from None


def _overlap(a: DatasetRecord, b: DatasetRecord) -> bool:
    aw, as_, ae, an = a.bounds
    bw, bs, be, bn = b.bounds
    return min(ae, be) > max(aw, bw) and min(an, bn) > max(as_, bs)


def register_model_processes(folder: str | None = None) -> list[str]:
    """A process per registered model (re-registered so trained models replace slots); the
    process of a model that is gone (removed here or by another replica) goes too."""
    from tileserver.processing.models.catalog import ensure_user_models

    registry = ensure_user_models(folder)
    names = []
    for entry in registry:
        process = ModelProcess(entry.spec)
        if process.id in PROCESSES and not isinstance(PROCESSES.get(process.id), ModelProcess):
            continue  # a tool of the same name wins; models never shadow tools
        PROCESSES.register(process.id, process, overwrite=True)
        names.append(process.id)
    for known in list(PROCESSES):
        if isinstance(known, ModelProcess) and known.id not in registry:
            PROCESSES.unregister(known.id)
    return names


def sync_model_processes(settings: Any) -> list[str]:
    """Model processes including trained models kept under the settings' data dir."""
    return register_model_processes(str(models_dir(settings)))


__all__ = ["ModelProcess", "register_model_processes", "sync_model_processes"]
