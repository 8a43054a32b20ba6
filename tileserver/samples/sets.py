"""Sample sets as vector datasets: create, save (a new version each time), read, list, export.

Files, in the vector dataset's folder beside ``features.fgb`` and ``tiles.pmtiles``:
``versions/<n>.fgb`` (the samples of each saved version) and ``versions.json`` (who saved
what, when). A save is done under the dataset's edit lock (``vectors.history.edit_lock``,
the one the feature editor takes), written whole in scratch and renamed into place, so a
reader or a training job sees one version or the next, never a mixture.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pyogrio
import shapely

from tileserver.auth.access import require_owner, require_readable, require_writer
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.schemas import DatasetQuery
from tileserver.errors import InvalidInput, NotFoundError
from tileserver.samples.schemas import (
    SampleClass,
    SampleSetCreate,
    SampleSetInfo,
    SampleSetSave,
    SampleVersion,
)
from tileserver.samples.shapes import samples_frame
from tileserver.scratch import new_scratch, scratch_space
from tileserver.settings import Settings
from tileserver.vectors import export_vector, register_vector
from tileserver.vectors.export import EXPORT_FORMATS, ExportedFile
from tileserver.vectors.history import edit_lock
from tileserver.vectors.pmtiles_build import write_pmtiles
from tileserver.vectors.store import FEATURES_FILE, TILES_FILE, features_path, tiles_path

MARK = "sample_set"
VERSIONS_DIR = "versions"
VERSIONS_LOG = "versions.json"
LIST_LIMIT = 10_000


# --- reading ---------------------------------------------------------------------------------
def is_sample_set(record: DatasetRecord) -> bool:
    return record.kind == "vector" and bool(record.properties.get(MARK))


def sample_set(
    catalog: Catalog, settings: Settings, principal: Principal, set_id: str
) -> SampleSetInfo:
    """The sample set ``set_id`` if the caller may see it (404 otherwise, or for a dataset
    that is not a sample set)."""
    return _info(settings, _readable_set(catalog, settings, principal, set_id))


def _readable_set(
    catalog: Catalog, settings: Settings, principal: Principal, set_id: str
) -> DatasetRecord:
    record = catalog.get_dataset(set_id)
    require_readable(principal, record, settings.anonymous_read, "Sample set")
    if not is_sample_set(record):
        raise NotFoundError(f"Sample set '{set_id}' not found (that dataset holds no samples).")
    return record


def list_sample_sets(
    catalog: Catalog, settings: Settings, principal: Principal, image: str | None = None
) -> list[SampleSetInfo]:
    """The sample sets the caller may see, newest first; ``image``: only those for it."""
    records = catalog.find_datasets(DatasetQuery(kind="vector", limit=LIST_LIMIT))
    from tileserver.auth.access import can_read

    out = [
        r
        for r in records
        if is_sample_set(r)
        and can_read(principal, r, settings.anonymous_read)
        and (image is None or image in r.properties.get("samples_for", []))
    ]
    out.sort(key=lambda r: r.created, reverse=True)
    return [_info(settings, r) for r in out]


def _folder(settings: Settings, record: DatasetRecord) -> Path:
    return features_path(settings, record).parent


def _versions(folder: Path) -> list[SampleVersion]:
    path = folder / VERSIONS_LOG
    if not path.is_file():
        return []
    return [SampleVersion.model_validate(v) for v in json.loads(path.read_text())]


def _info(settings: Settings, record: DatasetRecord) -> SampleSetInfo:
    props = record.properties
    versions = _versions(_folder(settings, record))
    last = versions[-1] if versions else None
    return SampleSetInfo(
        id=record.id,
        title=record.title,
        task=props.get("task", "segmentation"),
        samples_for=list(props.get("samples_for", [])),
        classes=[SampleClass.model_validate(c) for c in props.get("classes", [])],
        version=last.version if last else 0,
        samples=last.samples if last else 0,
        counts=last.counts if last else {},
        versions=versions,
        owner=record.owner,
        visibility=record.visibility,
    )


def _version_file(settings: Settings, record: DatasetRecord, version: int | None) -> Path:
    folder = _folder(settings, record)
    if version is None:
        return folder / FEATURES_FILE
    path = folder / VERSIONS_DIR / f"{version}.fgb"
    if version < 1 or not path.is_file():
        raise NotFoundError(f"Sample set '{record.id}' has no version {version}.")
    return path


def sample_features(
    catalog: Catalog,
    settings: Settings,
    principal: Principal,
    set_id: str,
    version: int | None = None,
) -> dict[str, Any]:
    """The samples of a version (default: the latest) as a GeoJSON FeatureCollection."""
    record = _readable_set(catalog, settings, principal, set_id)
    frame = pyogrio.read_dataframe(_version_file(settings, record, version))
    collection: dict[str, Any] = json.loads(frame.to_json(drop_id=True))
    return collection


def export_samples(
    catalog: Catalog,
    settings: Settings,
    principal: Principal,
    set_id: str,
    fmt: str,
    version: int | None = None,
) -> ExportedFile:
    """A download of the samples (geojson, gpkg, shapefile) of a version (default: latest)."""
    record = _readable_set(catalog, settings, principal, set_id)
    if version is None:
        return export_vector(settings, record, fmt)
    spec = EXPORT_FORMATS.get(fmt)
    if spec is None or fmt == "shapefile":
        raise InvalidInput(f"Unknown download format '{fmt}' for a version; use geojson or gpkg.")
    source = _version_file(settings, record, version)
    folder = new_scratch(settings, "export")
    try:
        path = folder / f"{record.id}-v{version}{spec.suffix}"
        options = {"RFC7946": "YES"} if fmt == "geojson" else {}
        frame = pyogrio.read_dataframe(source)
        pyogrio.write_dataframe(frame, path, driver=spec.driver, layer="samples", **options)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return ExportedFile(path=path, filename=path.name, media_type=spec.media_type, folder=folder)


# --- writing ---------------------------------------------------------------------------------
def readable_images(
    catalog: Catalog, settings: Settings, principal: Principal, ids: list[str]
) -> list[DatasetRecord]:
    """The image records (404 for one the caller may not see; 400 for a vector)."""
    records = []
    for image_id in ids:
        record = catalog.get_dataset(image_id)
        require_readable(principal, record, settings.anonymous_read)
        if record.kind != "raster":
            raise InvalidInput(f"Dataset '{image_id}' is a {record.kind}; samples need an image.")
        records.append(record)
    return records


def _multi(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Every geometry a MultiPolygon, so the layer has one geometry type."""
    frame = frame.copy()
    frame["geometry"] = [
        g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in frame.geometry
    ]
    return frame


def _version_entry(version: int, frame: gpd.GeoDataFrame, user: str | None) -> SampleVersion:
    counts = {str(k): int(v) for k, v in frame["class"].value_counts().sort_index().items()}
    return SampleVersion(
        version=version, time=datetime.now(UTC), user=user, samples=len(frame), counts=counts
    )


def _write_log(path: Path, versions: list[SampleVersion]) -> None:
    path.write_text(json.dumps([v.model_dump(mode="json") for v in versions]))


def _system(classes: list[SampleClass], entry: SampleVersion) -> dict[str, Any]:
    """What the catalog record says of the set (so a listing shows it without file reads)."""
    return {
        "classes": [c.model_dump() for c in classes],
        "sample_version": entry.version,
        "sample_count": entry.samples,
    }


def create_sample_set(
    catalog: Catalog, settings: Settings, principal: Principal, body: SampleSetCreate
) -> SampleSetInfo:
    """A new sample set for ``body.image`` (and ``later_image`` for change), version 1.

    Raises 404 for an image the caller may not see, 400 for a sample off the image or of an
    unknown class; leaves nothing behind on failure."""
    require_writer(principal)
    ids = [body.image] + ([body.later_image] if body.later_image else [])
    images = readable_images(catalog, settings, principal, ids)
    frame = _multi(samples_frame(body.samples, body.classes, images[0]))
    title = body.title or f"Samples on {images[0].title}"
    visibility: Literal["public", "private"] = body.visibility or (
        "private" if principal.user is not None else "public"
    )
    entry = _version_entry(1, frame, principal.id)
    properties = {
        MARK: True,
        "samples_for": ids,
        "task": "change" if body.later_image else "segmentation",
        **_system(body.classes, entry),
    }
    with scratch_space(settings, "samples") as work:
        source = work / "samples.geojson"
        pyogrio.write_dataframe(frame, source, driver="GeoJSON", layer="samples")
        record = register_vector(
            catalog,
            settings,
            source,
            title=title,
            owner=principal.id,
            visibility=visibility,
            properties=properties,
            filename="samples.geojson",
            pixel_size_m=images[0].resolution or None,
        )
    try:
        folder = _folder(settings, record)
        (folder / VERSIONS_DIR).mkdir()
        shutil.copyfile(folder / FEATURES_FILE, folder / VERSIONS_DIR / "1.fgb")
        _write_log(folder / VERSIONS_LOG, [entry])
    except BaseException:
        catalog.delete_dataset(record.id)
        shutil.rmtree(_folder(settings, record), ignore_errors=True)
        raise
    return _info(settings, record)


def save_samples(
    catalog: Catalog,
    settings: Settings,
    principal: Principal,
    set_id: str,
    body: SampleSetSave,
) -> SampleSetInfo:
    """Replace the samples (and classes, if given) whole: the next version. Only the set's
    owner or an admin may save; a class still used by a sample cannot be dropped."""
    record = _readable_set(catalog, settings, principal, set_id)
    require_owner(principal, record, settings.anonymous_read, "Sample set")
    classes = body.classes or [
        SampleClass.model_validate(c) for c in record.properties.get("classes", [])
    ]
    image = readable_images(catalog, settings, principal, record.properties["samples_for"][:1])[0]
    frame = _multi(samples_frame(body.samples, classes, image))
    folder = _folder(settings, record)
    layer = str(record.properties.get("layer") or "samples")
    with edit_lock(folder):
        versions = _versions(folder)
        entry = _version_entry(len(versions) + 1, frame, principal.id)
        with scratch_space(settings, "samples") as work:
            fgb, tiles, log = work / FEATURES_FILE, work / TILES_FILE, work / VERSIONS_LOG
            pyogrio.write_dataframe(frame, fgb, driver="FlatGeobuf", layer=layer)
            write_pmtiles(
                frame, tiles, layer=layer, minzoom=record.minzoom, maxzoom=record.maxzoom,
                name=record.title,
            )  # fmt: skip
            _write_log(log, [*versions, entry])
            snapshot = folder / VERSIONS_DIR / f"{entry.version}.fgb"
            shutil.copyfile(fgb, work / "snapshot.fgb")
            os.replace(work / "snapshot.fgb", snapshot)
            os.replace(fgb, folder / FEATURES_FILE)
            os.replace(tiles, tiles_path(settings, record))
            os.replace(log, folder / VERSIONS_LOG)
        updated = catalog.update_dataset(record.id, properties=_system(classes, entry))
    return _info(settings, updated)
