"""Build a MosaicJSON from a catalog query; refuse scene sets that cannot mosaic cleanly."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from cogeo_mosaic.mosaic import MosaicJSON
from pydantic import BaseModel, Field

from tileserver.catalog import Catalog, DatasetRecord, MosaicRecord
from tileserver.catalog.repository import new_id, utcnow
from tileserver.catalog.schemas import DatasetQuery
from tileserver.errors import IncompatibleScenes, InvalidInput, name_few

MAX_MOSAIC_IDS = 500
"""Most dataset ids one ``POST /mosaics`` may name (a catalog query picks at most the catalog's
query limit); more is a 400 before the catalog is asked."""


class MosaicRequest(BaseModel):
    """Which scenes to mosaic: explicit ids (in priority order) or a catalog query."""

    title: str | None = Field(default=None, max_length=512)
    ids: list[str] | None = Field(
        default=None,
        description=f"Dataset ids, first on top; at most {MAX_MOSAIC_IDS}, each once.",
        json_schema_extra={"maxItems": MAX_MOSAIC_IDS, "uniqueItems": True},
    )
    bbox: tuple[float, float, float, float] | None = None
    datetime: str | None = Field(
        default=None,
        max_length=64,
        description="ISO instant or 'start/end' interval ('..' for open).",
    )
    sensor: str | None = Field(default=None, max_length=64)
    quadkey_zoom: int | None = Field(default=None, ge=0, le=20)


def parse_interval(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    if "/" in value:
        start, end = value.split("/", 1)
        return (None if start in ("", "..") else start, None if end in ("", "..") else end)
    return value, value


def check_ids(ids: list[str]) -> None:
    """At most ``MAX_MOSAIC_IDS`` ids, each named once (a scene twice adds nothing)."""
    if len(ids) > MAX_MOSAIC_IDS:
        raise InvalidInput(
            f"A mosaic takes at most {MAX_MOSAIC_IDS} dataset ids; this request names {len(ids):,}."
        )
    twice = [i for i, n in Counter(ids).items() if n > 1]
    if twice:
        raise InvalidInput(f"Each dataset may be named once; named again: {name_few(twice)}.")


def select_scenes(
    catalog: Catalog,
    request: MosaicRequest,
    visible: Callable[[DatasetRecord], bool] | None = None,
) -> list[DatasetRecord]:
    if request.ids:
        check_ids(request.ids)
    start, end = parse_interval(request.datetime)
    try:
        query = DatasetQuery.model_validate(
            {
                "ids": request.ids,
                "bbox": request.bbox,
                "sensor": request.sensor,
                "kind": "raster",
                "datetime_start": start,
                "datetime_end": end,
            }
        )
    except ValueError as exc:
        raise InvalidInput(f"Invalid mosaic query: {exc}") from None
    scenes = [s for s in catalog.find_datasets(query) if visible is None or visible(s)]
    if request.ids:
        found = {s.id for s in scenes}
        missing = [i for i in request.ids if i not in found]
        if missing:
            raise InvalidInput(f"Unknown dataset id(s): {name_few(missing)}.")
    if not scenes:
        raise InvalidInput("No raster datasets match the mosaic query.")
    return scenes


def check_compatible(scenes: list[DatasetRecord]) -> None:
    counts = {s.id: len(s.band_names) for s in scenes}
    if len(set(counts.values())) > 1:
        detail = name_few([f"{i}: {n}" for i, n in counts.items()])
        raise IncompatibleScenes(
            f"Scenes have different band counts ({detail}); mosaic scenes with the same bands."
        )


def build_mosaic(
    catalog: Catalog,
    request: MosaicRequest,
    quadkey_zoom_max: int = 12,
    *,
    owner: str | None = None,
    visible: Callable[[DatasetRecord], bool] | None = None,
) -> MosaicRecord:
    """A mosaic of the scenes ``request`` names or finds (among those ``visible`` to the
    caller), owned by ``owner``; private when any of its scenes is."""
    scenes = select_scenes(catalog, request, visible)
    check_compatible(scenes)
    minzoom = min(s.minzoom for s in scenes)
    maxzoom = max(s.maxzoom for s in scenes)
    quadkey_zoom = request.quadkey_zoom
    if quadkey_zoom is None:
        quadkey_zoom = min(max(minzoom, 0), quadkey_zoom_max)
    quadkey_zoom = max(minzoom, min(quadkey_zoom, maxzoom))
    features = [
        {"type": "Feature", "geometry": s.footprint, "properties": {"path": s.uri}} for s in scenes
    ]
    document = MosaicJSON.from_features(
        features, minzoom=minzoom, maxzoom=maxzoom, quadkey_zoom=quadkey_zoom, quiet=True
    )
    first = scenes[0]
    same = {
        k: len({getattr(s, k) for s in scenes}) == 1
        for k in ("sensor", "reflectance_scale", "reflectance_offset")
    }
    record = MosaicRecord(
        id=new_id(),
        title=request.title or f"Mosaic of {len(scenes)} scenes",
        dataset_ids=[s.id for s in scenes],
        band_names=list(first.band_names),
        bounds=tuple(document.bounds),  # type: ignore[arg-type]
        minzoom=minzoom,
        maxzoom=maxzoom,
        quadkey_zoom=quadkey_zoom,
        sensor=first.sensor if same["sensor"] else None,
        reflectance_scale=first.reflectance_scale if same["reflectance_scale"] else None,
        reflectance_offset=first.reflectance_offset if same["reflectance_offset"] else None,
        mosaicjson=document.model_dump(mode="json", exclude_none=True),
        owner=owner,
        visibility="private" if any(s.visibility == "private" for s in scenes) else "public",
        created=utcnow(),
    )
    return catalog.add_mosaic(record)
