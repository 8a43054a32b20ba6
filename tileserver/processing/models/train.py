"""``train``: a U-Net (or a Siamese U-Net for change) trained from catalog datasets.

The image(s) and labels are datasets: labels are a class raster (a mask) or a vector dataset
whose polygons carry the class. Training runs on a job worker under a time budget, holds out
part of the image for validation, and saves TorchScript + a model card under
``<data>/models/<name>/``; the model is registered at once and becomes a process of its own
(``POST /processes/<name>/execution``), on every replica and worker (they read that folder).

A trained model belongs to whoever trained it (the job's owner), recorded on its card with a
visibility: private by default when a user trains it, public in single-user mode (as the
datasets a job writes). Only its owner or an admin may train over it (``overwrite``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from inference.cores import available_cores
from tileserver.auth.access import can_read
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.errors import AlreadyExists, Forbidden, InvalidInput
from tileserver.expressions import resolve_band
from tileserver.processing.base import DatasetId, Process, ProcessResult, register
from tileserver.processing.context import JobContext
from tileserver.processing.estimate import WorkEstimate
from tileserver.processing.models.catalog import models_dir
from tileserver.vectors.store import features_path

if TYPE_CHECKING:
    from tileserver.auth.schemas import Principal
    from tileserver.processing.models.process import ModelProcess
    from tileserver.settings import Settings


class TrainInputs(BaseModel):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Name of the new model (kebab-case); an empty slot such as 'building' "
        "becomes runnable when trained under its name.",
    )
    task: Literal["segmentation", "change"] = "segmentation"
    dataset: DatasetId | None = Field(
        default=None, description="Image to learn from (segmentation)."
    )
    datasets: list[DatasetId] | None = Field(
        default=None, min_length=2, max_length=2, description="Earlier and later image (change)."
    )
    labels: DatasetId = Field(
        description="Dataset id: a class raster, or a vector with a class field."
    )
    class_field: str | None = Field(
        default=None, description="Attribute of a vector holding class ids (default: class 1)."
    )
    classes: dict[int, str] | None = Field(
        default=None, max_length=256, description="Class id -> name."
    )
    bands: list[str] = Field(
        default_factory=lambda: ["blue", "green", "red", "nir"],
        min_length=1,
        max_length=64,
        description="Common band names the model reads (resolved per dataset).",
    )
    method: Literal["unet", "pixel-classifier", "auto"] = Field(
        default="unet",
        description="'unet'; 'pixel-classifier': a random forest on multi-scale filter "
        "features (trains in seconds, learns from sparse strokes; segmentation only); "
        "'auto': the pixel classifier for segmentation, the U-Net for change.",
    )
    time_budget_s: float = Field(default=120.0, gt=0, le=6 * 3600, description="Seconds.")
    max_epochs: int = Field(default=100, ge=1, le=10_000)
    holdout: float = Field(default=0.25, gt=0, lt=1, description="Held-out share of the image.")
    title: str | None = None
    description: str = ""
    overwrite: bool = Field(
        default=False, description="Replace your trained model of this name (admins: any)."
    )
    visibility: Literal["public", "private"] | None = Field(
        default=None,
        description="Who may list and run the model: 'private' (you only) or 'public'; "
        "default private when a user trains it (public in single-user mode).",
    )

    @model_validator(mode="after")
    def _images(self) -> TrainInputs:
        if self.task == "segmentation" and not self.dataset:
            raise ValueError("segmentation training needs 'dataset'")
        if self.task == "change" and not self.datasets:
            raise ValueError("change training needs 'datasets' (earlier, later)")
        return self


class TrainProcess(Process):
    id = "train"
    title = "Train a model (U-Net / Siamese U-Net / pixel classifier)"
    description = (
        "Learns a segmentation or change model from an image and labels (a mask or polygons), "
        "validates it on a held-out part, saves TorchScript + model card and registers it."
    )
    inputs = TrainInputs
    outputs: ClassVar[dict[str, str]] = {"values": "model name, held-out metrics, model card"}
    sync_ok: ClassVar[bool] = False

    def check(self, params: TrainInputs, catalog: Catalog) -> None:
        from tileserver.processing.base import PROCESSES
        from tileserver.processing.models.process import ModelProcess

        if params.name in PROCESSES and not isinstance(PROCESSES.get(params.name), ModelProcess):
            raise InvalidInput(f"'{params.name}' is the name of a tool; choose another name.")
        for record in self._images(params, catalog):
            for band in params.bands:
                resolve_band(band, record.band_names, record.sensor)
        catalog.get_dataset(params.labels)

    def estimate(self, params: TrainInputs, catalog: Catalog, settings: Settings) -> WorkEstimate:
        """The image pixels training samples chips from (the model it saves is small)."""
        images = self._images(params, catalog)
        pixels = sum(r.width * r.height for r in images)
        blocks = sum(
            -(-r.width // settings.job_block_size) * -(-r.height // settings.job_block_size)
            for r in images
        )
        what = f"a model trained on {len(images)} image(s) of {pixels:,} pixels"
        return WorkEstimate(pixels, blocks, 0, 0, what)

    def authorize(
        self, params: TrainInputs, principal: Principal, anonymous_read: bool = True
    ) -> None:
        """Training over an existing model needs ``overwrite`` and its owner (or an admin). The
        name of a model the caller may not see is simply taken (the folder is global)."""
        existing = trained_model(params.name)
        if existing is None:
            return
        taken = AlreadyExists(
            f"A model named '{params.name}' exists already; choose another name "
            "(or pass overwrite: true to replace your own)."
        )
        if not can_read(principal, existing, anonymous_read) or not params.overwrite:
            raise taken
        if not may_replace(existing, principal.id, principal.is_admin):
            raise Forbidden(f"Model '{params.name}' belongs to someone else; choose another name.")

    def _images(self, params: TrainInputs, catalog: Catalog) -> list[DatasetRecord]:
        ids = params.datasets if params.task == "change" else [params.dataset]
        records = [catalog.get_dataset(str(i)) for i in ids or []]
        for record in records:
            if record.kind != "raster":
                raise InvalidInput(f"Dataset '{record.id}' is a {record.kind}; a raster is needed.")
        return records

    def run(self, params: TrainInputs, ctx: JobContext) -> ProcessResult:
        from inference.models import ModelError
        from inference.training import TrainingOptions, train_change, train_segmentation
        from tileserver.processing.models import sync_model_processes

        self.check(params, ctx.catalog)
        owner, visibility = self._ownership(params, ctx)
        images = self._images(params, ctx.catalog)
        labels = ctx.catalog.get_dataset(params.labels)
        label_path = (
            str(features_path(ctx.settings, labels))
            if labels.kind == "vector"
            else ctx.path(labels)
        )
        sources = {ctx.path(r): r.id for r in images} | {label_path: labels.id}
        bands = [resolve_band(b, images[0].band_names, images[0].sensor) for b in params.bands]
        common: dict[str, Any] = dict(
            bands=bands,
            name=params.name,
            models_dir=models_dir(ctx.settings),
            workdir=ctx.workdir,  # the job's scratch: its temporary files go with the job
            scale=None,  # the network learns its own input normalisation from the image
            band_names=params.bands,
            classes=params.classes,
            class_field=params.class_field,
            title=params.title,
            description=params.description,
            options=TrainingOptions(
                method=params.method,
                time_budget_s=params.time_budget_s,
                max_epochs=params.max_epochs,
                holdout=params.holdout,
                # one worker's share of the cores: oversubscribed torch threads ran 5-10x slower
                threads=max(1, available_cores() // max(1, ctx.settings.dask_workers)),
            ),
            progress=ctx.progress,
            overwrite=params.overwrite,
            data_names=[r.id for r in images] + [labels.id],  # the card names datasets, not files
            owner=owner,
            visibility=visibility,
        )
        try:
            if params.task == "change":
                second = [
                    resolve_band(b, images[1].band_names, images[1].sensor) for b in params.bands
                ]
                result = train_change(
                    ctx.path(images[0]), ctx.path(images[1]), label_path, bands2=second, **common
                )
            else:
                result = train_segmentation(ctx.path(images[0]), label_path, **common)
        except ModelError as exc:
            raise InvalidInput(_named(str(exc), sources)) from None
        sync_model_processes(ctx.settings)
        return ProcessResult(
            values={
                "model": result.name,
                "process": f"/processes/{result.name}",
                "metrics": result.metrics.model_dump(mode="json"),
                "training_seconds": round(result.training_seconds, 1),
                "epochs": result.epochs,
                "stopped_by": result.stopped_by,
                "card": result.card.model_dump(mode="json"),
            }
        )

    def _ownership(self, params: TrainInputs, ctx: JobContext) -> tuple[str | None, str]:
        """The new model's owner and visibility, checked again on the worker: the model of
        this name may have appeared (or changed hands) since the job was queued."""
        existing = trained_model(params.name)
        if existing is not None:
            if not params.overwrite:
                raise AlreadyExists(f"A model named '{params.name}' exists already.")
            if not may_replace(existing, ctx.owner, _is_admin(ctx)):
                raise Forbidden(f"Model '{params.name}' belongs to someone else.")
        owner = existing.owner if existing is not None and existing.owner else ctx.owner
        return owner, params.visibility or ctx.visibility


def trained_model(name: str) -> ModelProcess | None:
    """The trained model registered as ``name``, or None: slots are free to fill, and the
    name of a built-in or plug-in model is refused by training itself (check_name)."""
    from inference.models import MODELS
    from inference.models.user_models import is_user_model
    from tileserver.processing.base import PROCESSES
    from tileserver.processing.models.process import ModelProcess

    if name not in PROCESSES or name not in MODELS or not is_user_model(MODELS.get(name)):
        return None
    process = PROCESSES.get(name)
    return process if isinstance(process, ModelProcess) else None


def may_replace(model: ModelProcess, user_id: str | None, is_admin: bool) -> bool:
    """The owner or an admin; a model without an owner only an admin."""
    return is_admin or (model.owner is not None and model.owner == user_id)


def _is_admin(ctx: JobContext) -> bool:
    """Whether the job's owner is an admin (no owner: single-user mode or the CLI, the local
    administrator)."""
    if ctx.owner is None:
        return True
    from tileserver.auth.store import UserStore
    from tileserver.errors import NotFoundError

    try:
        return UserStore(ctx.catalog, ctx.settings).get(ctx.owner).is_admin
    except NotFoundError:
        return False


def _named(message: str, sources: dict[str, str]) -> str:
    """A training error naming the datasets by id where it named the files read."""
    for path in sorted(sources, key=len, reverse=True):
        message = message.replace(path, f"dataset '{sources[path]}'")
    return message


register(TrainProcess())
