"""One model run from catalog datasets to published results (executes on a job worker).

Progress: 0-70 % the engine (reading, chips, strips, the COG), 70-88 % polygons, 88-96 %
vector tiles and accuracy, then registration. Everything is written in the job's scratch
folder and published only at the end, so a failed or killed run leaves no dataset behind.
"""

from __future__ import annotations

import time
from typing import Any

import rasterio

from inference.models import ModelSpec
from tileserver.catalog import DatasetRecord
from tileserver.errors import InvalidInput
from tileserver.processing.base import ProcessResult
from tileserver.processing.context import JobContext, current_worker_client
from tileserver.processing.models import outputs, sources
from tileserver.processing.models.catalog import models_dir
from tileserver.processing.models.factory import model_factory
from tileserver.processing.models.inputs import ClassMapOptions
from tileserver.processing.models.reference import accuracy
from tileserver.processing.publish import publish_raster

ENGINE_SHARE = 70.0


def run_model(
    spec: ModelSpec, params: Any, records: list[DatasetRecord], ctx: JobContext
) -> ProcessResult:
    from inference.engine import EngineStats, run_inference_distributed
    from inference.reading import NoOverlapError, align_second_date

    paths = [ctx.path(r) for r in records]
    chosen = sources.band_set(spec, records)
    bands = [sources.band_indexes(spec, r, chosen) for r in records]
    scaling = sources.scaling(spec, records[0])
    area = sources.aoi_shape(params.aoi)
    local_area = None
    if area is not None:
        window, local_area = sources.aoi_window(paths[0], area)
        paths[0] = sources.subset(paths[0], window)
    if len(paths) == 2:
        try:
            paths[1] = align_second_date(paths[0], paths[1], workdir=ctx.workdir)
        except NoOverlapError as exc:
            raise InvalidInput(str(exc)) from None

    def engine_progress(percent: float, message: str) -> None:
        ctx.progress(percent * ENGINE_SHARE / 100.0, message)

    classes = spec.task != "enhancement"
    out = ctx.scratch("classes.tif" if classes else "values.tif")
    stats = EngineStats()
    began = time.perf_counter()
    client_cm = current_worker_client()
    workers = 1
    kwargs: dict[str, Any] = dict(
        bands=bands,
        scale=scaling.scale,
        offset=scaling.offset,
        chip=spec.chip_size,
        overlap=spec.overlap,
        batch=params.batch,
        output="scored" if classes else "values",
        class_values=spec.class_ids if classes else None,
        device=params.device,
        progress=engine_progress,
        stats=stats,
    )
    try:
        if client_cm is None:
            factory = model_factory(spec.name, str(models_dir(ctx.settings)), workers, chosen)
            run_inference_distributed(factory, paths, out, client=None, **kwargs)
        else:
            with client_cm as client:
                workers = max(1, len(client.scheduler_info().get("workers", {})))
                factory = model_factory(spec.name, str(models_dir(ctx.settings)), workers, chosen)
                run_inference_distributed(factory, paths, out, client=client, **kwargs)
    except ValueError as exc:  # shape/class mismatches of user models, fit failures
        raise InvalidInput(f"The model could not run on this image: {exc}") from None
    seconds = time.perf_counter() - began
    with rasterio.open(out) as src:
        pixels = src.width * src.height
        pixel_m = outputs.pixel_metres(src.transform, src.crs)
    params_json = params.model_dump(mode="json")
    title = params.title or f"{spec.title} of {records[-1].title}"
    values: dict[str, Any] = {
        "model": spec.name,
        "pixels": pixels,
        "seconds": round(seconds, 3),
        "pixels_per_second": round(pixels / seconds, 1) if seconds > 0 else None,
        "device": stats.device,
    }
    low, high = spec.resolution_range
    if not low <= pixel_m <= high:
        values["warnings"] = [
            f"The image has {pixel_m:.1f} m pixels; {spec.name} is meant for {low:g}-{high:g} m."
        ]
    if not classes:
        record = publish_raster(
            ctx,
            out,
            process=spec.name,
            params=params_json,
            title=title,
            band_names=list(spec.bands),
            datetime=records[0].datetime,
            properties={"model": spec.name},
        )
        values["raster"] = record.id
        return ProcessResult(datasets=[record.id], values=values)
    return _class_results(spec, params, records, ctx, out, pixel_m, local_area, values, title)


def _class_results(
    spec: ModelSpec,
    params: ClassMapOptions,
    records: list[DatasetRecord],
    ctx: JobContext,
    out: Any,
    pixel_m: float,
    local_area: Any,
    values: dict[str, Any],
    title: str,
) -> ProcessResult:
    from inference.blending import SCORE_MAX
    from inference.vectorize import vectorize_raster

    names = {k: c.name for k, c in spec.classes.items()}
    params_json = params.model_dump(mode="json")
    values["classes"] = outputs.class_properties(spec)["classes"]
    if params.reference:
        ctx.progress(ENGINE_SHARE, "comparing with the reference")
        reference = ctx.catalog.get_dataset(params.reference)
        report = accuracy(
            ctx, str(out), reference, spec.class_ids, names, field=params.reference_field
        )
        values["metrics"] = report.model_dump(mode="json")
    vector = None
    if params.vectorize:
        wanted = params.classes
        if wanted is None:
            wanted = [c for c in spec.class_ids if c != 0] or spec.class_ids

        def vector_progress(percent: float, message: str) -> None:
            ctx.progress(ENGINE_SHARE + 18.0 * percent / 100.0, message)

        frame = vectorize_raster(
            str(out),
            score_path=str(out),
            score_band=2,
            score_scale=1.0 / SCORE_MAX,
            classes=wanted,
            simplify_tolerance=params.simplify_tolerance,
            smooth_iterations=params.smooth_iterations,
            regularize=params.regularize,
            min_area=params.min_area_m2,
            class_names=names,
            progress=vector_progress,
        )
        frame = outputs.clip_to(frame, local_area)
        values["polygons"] = len(frame)
        ctx.progress(88.0, f"building vector tiles of {len(frame)} polygons")
        vector = outputs.publish_polygons(
            ctx, frame, spec, params_json, f"{title} (polygons)", pixel_m, records[-1].id
        )
    raster = outputs.publish_class_raster(ctx, out, spec, params_json, title, records[-1].datetime)
    values["raster"] = raster.id
    values["vector"] = vector.id if vector is not None else None
    datasets = [raster.id] + ([vector.id] if vector is not None else [])
    return ProcessResult(datasets=datasets, values=values)
