"""Train a model from plain files: ``train_segmentation`` and ``train_change``.

Both read the image(s) block by block (``sampling``), labels from a class raster or a vector
file (``labels``), train a small network under a time budget (``trainer``), score it on the
held-out blocks (``validation``) and save ``model.pt`` + ``card.json`` under
``<models_dir>/<name>/`` (``export``). They need no catalog and no web app; register the result
with ``inference.models.user_models.register_user_models(models_dir)``.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict

from inference.metrics import AccuracyReport
from inference.models.base import ClassInfo, ModelSpec
from inference.models.errors import TrainingError, file_name
from inference.models.registry import MODELS, ModelRegistry
from inference.models.user_models import check_name
from inference.networks import SiameseUNet, UNet
from inference.reading import NoOverlapError, align_second_date
from inference.training.card import ModelCard, TrainingDataset
from inference.training.export import model_folder, save_model
from inference.training.labels import IGNORE, ImageGrid, LabelKind, open_labels
from inference.training.options import TrainingOptions
from inference.training.pixel_training import (
    NET_CLASS,
    check_inside,
    fit_pixel_classifier,
    image_reader,
    pixel_dataset,
    pixel_options,
    resolve_method,
    save_pixel_classifier,
)
from inference.training.sampling import (
    ChipSampler,
    ImageReader,
    Samples,
    SpatialSplit,
    class_lut,
    normalization,
    read_samples,
)
from inference.training.trainer import seed_everything, torch_threads, train_loop
from inference.training.validation import evaluate

ProgressFn = Callable[[float, str], None]
Visibility = Literal["public", "private"]
ClassesArg = Mapping[int, str | ClassInfo] | None

PALETTE = (
    "#000000", "#1f6fd1", "#2e8b3a", "#e3c84b", "#d0433a", "#a88c6a", "#8e44ad", "#f39c12",
    "#16a085", "#7f8c8d", "#c0392b", "#2c3e50",
)  # fmt: skip
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class TrainingResult(BaseModel):
    """A finished training: where the model is, its spec (ready to register), the held-out
    scores (per class IoU / F1 / precision / recall) and the card written beside it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    folder: Path
    spec: ModelSpec
    metrics: AccuracyReport
    card: ModelCard
    training_seconds: float
    epochs: float
    stopped_by: Literal["time", "epochs"]


def train_segmentation(
    image: str | Path,
    labels: str | Path,
    *,
    bands: Sequence[int],
    name: str,
    models_dir: str | Path,
    scale: float | None = 1e-4,
    band_names: Sequence[str] | None = None,
    classes: ClassesArg = None,
    value_map: Mapping[int, int] | None = None,
    labels_kind: LabelKind = "auto",
    label_band: int = 1,
    class_field: str | None = None,
    class_value: int = 1,
    background: int | None = 0,
    title: str | None = None,
    description: str = "",
    options: TrainingOptions | None = None,
    progress: ProgressFn | None = None,
    overwrite: bool = False,
    registry: ModelRegistry = MODELS,
    data_names: Sequence[str] | None = None,
    owner: str | None = None,
    visibility: Visibility = "public",
    workdir: str | Path | None = None,
) -> TrainingResult:
    """Train a U-Net that maps ``bands`` of ``image`` to the classes of ``labels``.

    ``bands``: 1-based band indexes of ``image``; ``scale``: stored value x scale = the model's
    input (1e-4: reflectance x 10000 -> 0..1; None: values unchanged). ``labels``: a class
    raster (any grid; values are class ids, or mapped by ``value_map``; nodata and unmapped
    values are unlabelled) or a vector file (class id from ``class_field``, else
    ``class_value``; pixels outside the polygons get ``background``, None = unlabelled).
    ``classes``: class id -> name or ClassInfo (default: the ids found, named "class N").
    The model is saved in ``<models_dir>/<name>/``. Raises TrainingError (bad inputs, no
    labels, an existing folder without ``overwrite``) or ModelAlreadyRegistered (``name`` is
    a built-in model's). ``data_names``: what the card calls the image(s) then the labels (e.g.
    dataset ids; default their file names: a card never holds a path). ``owner`` and
    ``visibility`` go on the card: who trained the model and who may see it. ``workdir``: where
    temporary files go (a job's scratch folder, on the models' filesystem; default: the
    system's temporary folder, and the models folder for the model being saved).
    """
    return _train(
        "segmentation",
        [image],
        [list(bands)],
        labels,
        name=name,
        models_dir=models_dir,
        scale=scale,
        band_names=band_names,
        classes=classes,
        value_map=value_map,
        labels_kind=labels_kind,
        label_band=label_band,
        class_field=class_field,
        class_value=class_value,
        background=background,
        title=title,
        description=description,
        options=options,
        progress=progress,
        overwrite=overwrite,
        registry=registry,
        data_names=data_names,
        owner=owner,
        visibility=visibility,
        workdir=workdir,
    )


def train_change(
    image1: str | Path,
    image2: str | Path,
    labels: str | Path,
    *,
    bands: Sequence[int],
    name: str,
    models_dir: str | Path,
    bands2: Sequence[int] | None = None,
    scale: float | None = 1e-4,
    band_names: Sequence[str] | None = None,
    classes: ClassesArg = None,
    value_map: Mapping[int, int] | None = None,
    labels_kind: LabelKind = "auto",
    label_band: int = 1,
    class_field: str | None = None,
    class_value: int = 1,
    background: int | None = 0,
    title: str | None = None,
    description: str = "",
    options: TrainingOptions | None = None,
    progress: ProgressFn | None = None,
    overwrite: bool = False,
    registry: ModelRegistry = MODELS,
    data_names: Sequence[str] | None = None,
    owner: str | None = None,
    visibility: Visibility = "public",
    workdir: str | Path | None = None,
) -> TrainingResult:
    """Train a Siamese U-Net on a pair of dates: ``bands`` of ``image1`` (date 1) and
    ``bands2`` (default: the same indexes) of ``image2`` (date 2, warped onto image1's grid
    when it lies on another), labels of change classes on image1's grid or as polygons.
    Class 0 is usually "no change". Everything else as ``train_segmentation``.
    """
    bands2 = list(bands if bands2 is None else bands2)
    if len(bands2) != len(bands):
        raise TrainingError("both dates need the same number of bands")
    return _train(
        "change",
        [image1, image2],
        [list(bands), bands2],
        labels,
        name=name,
        models_dir=models_dir,
        scale=scale,
        band_names=band_names,
        classes=classes,
        value_map=value_map,
        labels_kind=labels_kind,
        label_band=label_band,
        class_field=class_field,
        class_value=class_value,
        background=background,
        title=title,
        description=description,
        options=options,
        progress=progress,
        overwrite=overwrite,
        registry=registry,
        data_names=data_names,
        owner=owner,
        visibility=visibility,
        workdir=workdir,
    )


def _stage(progress: ProgressFn | None, lo: float, hi: float) -> ProgressFn:
    """A progress callback mapping 0..100 onto ``lo..hi`` of the caller's."""
    report = progress or (lambda _p, _m: None)
    return lambda p, m: report(lo + (hi - lo) * min(max(p, 0.0), 100.0) / 100.0, m)


def _class_infos(classes: ClassesArg, found: list[int]) -> dict[int, ClassInfo]:
    """Class id -> name and colour. Unnamed classes are "class N"; when the caller names a
    single class and the labels hold 0 (the fill outside polygons), 0 is "background"."""
    if classes is None:
        classes = {c: ("background" if c == 0 else f"class {c}") for c in found}
    named = {int(k): v for k, v in classes.items()}
    if len(named) == 1 and 0 in found and 0 not in named:
        named = {0: "background", **named}
    out: dict[int, ClassInfo] = {}
    for class_id, info in sorted(named.items()):
        if not 0 <= int(class_id) < IGNORE:
            raise TrainingError(f"class ids must be 0..254, got {class_id}")
        color = PALETTE[int(class_id) % len(PALETTE)]
        out[int(class_id)] = ClassInfo(name=info, color=color) if isinstance(info, str) else info
    if len(out) < 2 or len(found) < 2:
        held = ", ".join(out[c].name if c in out else str(c) for c in found) or "none"
        raise TrainingError(
            f"need at least two classes: the labels hold {len(found)} class ({held}); add "
            "samples of another class (e.g. background)"
        )
    missing = [c for c in out if c not in found]
    if missing:
        raise TrainingError(f"classes {missing} have no labelled pixel in the sample read")
    return out


def _band_names(given: Sequence[str] | None, reader: ImageReader) -> list[str]:
    count = len(reader.bands[0])
    if given is not None:
        if len(given) != count:
            raise TrainingError(f"{len(given)} band names for {count} bands")
        return [str(b) for b in given]
    found = [(d or "").strip().lower() for d in reader.band_descriptions()]
    if all(found) and len(set(found)) == count:
        return found
    return [f"b{i}" for i in reader.bands[0]]


def _pixel_size_m(reader: ImageReader) -> float:
    """Mean pixel side in metres (degrees x 111.32 km for a geographic CRS)."""
    size = (abs(reader.transform.a) + abs(reader.transform.e)) / 2
    if reader.crs is not None and reader.crs.is_geographic:
        return size * 111_320.0
    try:
        return size * float(reader.crs.linear_units_factor[1])
    except Exception:  # no CRS or no linear unit: take the units as metres
        return size


def _train(
    task: Literal["segmentation", "change"],
    images: Sequence[str | Path],
    bands: list[list[int]],
    labels: str | Path,
    *,
    name: str,
    models_dir: str | Path,
    scale: float | None,
    band_names: Sequence[str] | None,
    classes: ClassesArg,
    value_map: Mapping[int, int] | None,
    labels_kind: LabelKind,
    label_band: int,
    class_field: str | None,
    class_value: int,
    background: int | None,
    title: str | None,
    description: str,
    options: TrainingOptions | None,
    progress: ProgressFn | None,
    overwrite: bool,
    registry: ModelRegistry,
    data_names: Sequence[str] | None = None,
    owner: str | None = None,
    visibility: Visibility = "public",
    workdir: str | Path | None = None,
) -> TrainingResult:
    opts = options or TrainingOptions()
    shown = (
        list(data_names) if data_names is not None else [file_name(p) for p in [*images, labels]]
    )
    if len(shown) != len(images) + 1:
        raise TrainingError(f"data_names: one per image and one for the labels, got {len(shown)}")
    if not NAME_PATTERN.match(name):
        raise TrainingError(f"model name {name!r}: use lower-case letters, digits and '-'")
    check_name(name, task, registry)
    model_folder(models_dir, name, overwrite=overwrite)
    for path in images:
        if not Path(path).exists() and "://" not in str(path):
            raise TrainingError(f"image not found: {file_name(path)}")
    device = torch.device(opts.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    report = progress or (lambda _p, _m: None)
    report(0.0, "reading samples")
    with ExitStack() as stack, torch_threads(opts.threads):
        sources = [str(p) for p in images]
        if task == "change":
            work = stack.enter_context(tempfile.TemporaryDirectory(prefix="train-", dir=workdir))
            try:
                sources[1] = align_second_date(sources[0], sources[1], workdir=work)
            except NoOverlapError as exc:
                raise TrainingError(str(exc)) from exc
        reader = stack.enter_context(ImageReader(sources, bands, scale))
        grid = ImageGrid(reader.crs, reader.transform, reader.width, reader.height)
        source = stack.enter_context(
            closing(
                open_labels(
                    labels,
                    grid,
                    kind=labels_kind,
                    band=label_band,
                    value_map=value_map,
                    class_field=class_field,
                    class_value=class_value,
                    background=background,
                )
            )
        )
        check_inside(source, grid)
        method = resolve_method(opts, task)
        if method == "pixel-classifier":
            opts = pixel_options(opts)
            fit = fit_pixel_classifier(
                image_reader(stack, sources[0], bands[0], scale),
                source,
                reader.height,
                reader.width,
                lambda found: _class_infos(classes, found),
                opts,
            )
            card = _card(
                name,
                title,
                task,
                description,
                _band_names(band_names, reader),
                fit.infos,
                opts,
                scale,
                _pixel_size_m(reader),
                fit.metrics,
                owner,
                visibility,
                seconds=fit.seconds,
                epochs=0.0,
                steps=opts.trees,
                stopped_by="epochs",
                dataset=pixel_dataset(shown, bands, source.description, fit, _pixel_size_m(reader)),
                architecture={"class": NET_CLASS},
            )
            report(90.0, "saving the model")
            folder, card = save_pixel_classifier(
                fit.model, card, models_dir, overwrite=overwrite, workdir=workdir
            )
            report(100.0, "done")
            return TrainingResult(
                name=name,
                folder=folder,
                spec=card.to_spec(folder),
                metrics=fit.metrics,
                card=card,
                training_seconds=fit.seconds,
                epochs=0.0,
                stopped_by="epochs",
            )
        block = opts.block or max(2 * opts.chip, 128)
        split = SpatialSplit(reader.height, reader.width, block, opts.holdout, opts.seed)
        samples = read_samples(
            reader,
            source,
            split,
            budget_pixels=opts.budget_pixels,
            margin=min(64, opts.chip // 2),
            progress=_stage(progress, 0.0, 10.0),
        )
        infos = _class_infos(classes, samples.class_ids())
        class_ids = sorted(infos)
        seed_everything(opts.seed)
        dates = len(images)
        net = _network(task, len(bands[0]), len(class_ids), opts)
        mean, std = normalization(samples.train, dates)
        net.set_normalization(torch.from_numpy(mean), torch.from_numpy(std))
        sampler = ChipSampler(
            samples.train,
            opts.chip,
            class_lut(class_ids),
            balance=opts.balance,
            augment=opts.augment,
            seed=opts.seed,
        )
        report(10.0, "training")
        outcome = train_loop(net, sampler, opts, device, _stage(progress, 10.0, 90.0))
        report(90.0, "scoring the held-out blocks")
        names = {c: info.name for c, info in infos.items()}
        metrics = evaluate(net, samples.holdout, class_ids, names, device)
        band_list = _band_names(band_names, reader)
        pixel_m = _pixel_size_m(reader)
        card = _card(
            name,
            title,
            task,
            description,
            band_list,
            infos,
            opts,
            scale,
            pixel_m,
            metrics,
            owner,
            visibility,
            seconds=outcome.seconds,
            epochs=outcome.epochs,
            steps=outcome.steps,
            stopped_by="time" if outcome.stopped_by == "time" else "epochs",
            dataset=_dataset(shown, bands, source.description, split, samples, pixel_m),
            architecture=_architecture(task, len(bands[0]), len(class_ids), opts),
        )
        card.to_spec(models_dir)  # a card that makes no valid spec fails before saving
        report(95.0, "saving the model")
        folder, card = save_model(net, card, models_dir, overwrite=overwrite, workdir=workdir)
    report(100.0, "done")
    return TrainingResult(
        name=name,
        folder=folder,
        spec=card.to_spec(folder),
        metrics=metrics,
        card=card,
        training_seconds=outcome.seconds,
        epochs=outcome.epochs,
        stopped_by=card.stopped_by,
    )


def _card(
    name: str,
    title: str | None,
    task: Literal["segmentation", "change"],
    description: str,
    band_list: list[str],
    infos: dict[int, ClassInfo],
    opts: TrainingOptions,
    scale: float | None,
    pixel_m: float,
    metrics: AccuracyReport,
    owner: str | None,
    visibility: Visibility,
    *,
    seconds: float,
    epochs: float,
    steps: int,
    stopped_by: Literal["time", "epochs"],
    dataset: TrainingDataset,
    architecture: dict[str, object],
) -> ModelCard:
    """The card of a trained model (either method)."""
    return ModelCard(
        name=name,
        title=title or f"{name.replace('-', ' ').capitalize()} (trained)",
        task=task,
        description=description,
        bands=band_list,
        dates=1 if task == "segmentation" else 2,
        classes=infos,
        chip_size=opts.inference_chip,
        overlap=opts.inference_overlap,
        resolution_range=opts.resolution_range or _resolution_range(pixel_m),
        input_scale=scale,
        architecture=architecture,
        metrics=metrics,
        dataset=dataset,
        training_seconds=seconds,
        epochs=epochs,
        steps=steps,
        stopped_by=stopped_by,
        options=opts.model_dump(mode="json"),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        torch_version=torch.__version__,
        owner=owner,
        visibility=visibility,
    )


def _network(task: str, bands: int, classes: int, opts: TrainingOptions) -> UNet | SiameseUNet:
    if task == "change":
        return SiameseUNet(bands, classes, width=opts.width, depth=opts.depth, norm=opts.norm)
    return UNet(bands, classes, width=opts.width, depth=opts.depth, norm=opts.norm)


def _architecture(task: str, bands: int, classes: int, opts: TrainingOptions) -> dict[str, object]:
    common = {"classes": classes, "width": opts.width, "depth": opts.depth, "norm": opts.norm}
    if task == "change":
        return {"class": "inference.networks:SiameseUNet", "bands": bands, **common}
    return {"class": "inference.networks:UNet", "in_channels": bands, **common}


def _resolution_range(pixel_m: float) -> tuple[float, float]:
    """Half to twice the training pixel size (metres), to 3 significant digits."""

    def round3(value: float) -> float:
        return round(value, 2 - math.floor(math.log10(value)))

    return round3(pixel_m / 2), round3(pixel_m * 2)


def _dataset(
    shown: list[str],
    bands: list[list[int]],
    label_source: str,
    split: SpatialSplit,
    samples: Samples,
    pixel_m: float,
) -> TrainingDataset:
    """What the card says about the training data: names (dataset ids or file names), never
    the paths the files were read from."""
    *images, labels = shown
    return TrainingDataset(
        description=f"{' and '.join(images)} ({samples.train_pixels:,} labelled training "
        f"pixels, {label_source}; {pixel_m:g} m pixels)",
        images=images,
        band_indexes=bands,
        labels=labels,
        label_source=label_source,
        split=split.describe(),
        train_pixels=samples.train_pixels,
        holdout_pixels=samples.holdout_pixels,
        pixel_size_m=round(pixel_m, 6),
    )


__all__ = ["TrainingResult", "train_change", "train_segmentation"]
