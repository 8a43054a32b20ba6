"""Build a mosaic: a MosaicJSON of listed scenes, or a stored query evaluated per tile.

A mosaic of listed scenes ("kind": "scenes", the default) names at most ``MAX_STATIC_SCENES``:
a query matching more is a 400 that names the limit and the way out ("kind": "query"), never a
mosaic of the first thousand. A query mosaic has no limit on the scenes it matches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from cogeo_mosaic.mosaic import MosaicJSON
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tileserver.catalog import Catalog, DatasetRecord, MosaicRecord
from tileserver.catalog.repository import new_id, utcnow
from tileserver.catalog.schemas import DatasetQuery
from tileserver.errors import IncompatibleScenes, InvalidInput, name_few
from tileserver.mosaics.keys import MATCHED_KEY, QUERY_KEY, SCENE_KEY
from tileserver.mosaics.query import (
    MAX_SCENES_PER_TILE,
    SCENES_PER_TILE_LIMIT,
    MosaicQuery,
    SceneAccess,
    summarize,
)

MAX_MOSAIC_IDS = 500
"""Most dataset ids one ``POST /mosaics`` may name (a catalog query picks at most the catalog's
query limit); more is a 400 before the catalog is asked."""
MAX_STATIC_SCENES = 1000
"""Most scenes a mosaic of listed scenes holds (its MosaicJSON lists them per quadkey); a query
matching more is refused with this number, and a query mosaic has no such limit."""
QUERY_ONLY = (
    "intersects",
    "collections",
    "cloud_cover_max",
    "filter",
    "filter_lang",
    "order",
    "method",
    "max_scenes_per_tile",
)


class MosaicRequest(BaseModel):
    """Which scenes to mosaic: explicit ids (in priority order) or a catalog query, listed
    once ("kind": "scenes") or stored and run per tile ("kind": "query")."""

    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["scenes", "query"] = Field(
        default="scenes",
        description="'scenes': a MosaicJSON of the scenes matching now (at most "
        f"{MAX_STATIC_SCENES:,}); 'query': the query is stored and each tile reads the "
        "scenes under it (every match, scenes registered later included).",
    )
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
    intersects: dict[str, Any] | None = Field(
        default=None, description="Query mosaics: GeoJSON geometry (instead of bbox)."
    )
    collections: list[str] | None = Field(default=None, max_length=100)
    cloud_cover_max: float | None = Field(
        default=None, ge=0, le=100, description="Query mosaics: eo:cloud_cover at most this."
    )
    filter: dict[str, Any] | str | None = Field(
        default=None, description="Query mosaics: CQL2 over /stac/queryables."
    )
    filter_lang: Literal["cql2-text", "cql2-json"] | None = Field(default=None, alias="filter-lang")
    order: Literal["newest", "least-cloudy"] | None = Field(
        default=None,
        description="Query mosaics: which scene is on top, 'newest' (default) or 'least-cloudy'.",
    )
    method: Literal["first", "mean", "median"] | None = Field(
        default=None,
        description="Query mosaics: 'first' valid pixel on top (default), or a 'mean' / "
        "'median' composite of the scenes under each pixel.",
    )
    max_scenes_per_tile: int | None = Field(
        default=None,
        ge=1,
        le=SCENES_PER_TILE_LIMIT,
        description=f"Query mosaics: most scenes one tile reads (default {MAX_SCENES_PER_TILE}).",
    )


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
                "limit": SCAN_LIMIT,
            }
        )
    except ValueError as exc:
        raise InvalidInput(f"Invalid mosaic query: {exc}") from None
    rows = catalog.find_datasets(query)
    scenes = [s for s in rows if visible is None or visible(s)]
    if len(scenes) > MAX_STATIC_SCENES or len(rows) >= SCAN_LIMIT:
        many = f"{len(scenes):,}" if len(rows) < SCAN_LIMIT else f"over {SCAN_LIMIT:,}"
        raise InvalidInput(
            f"The query matches {many} scenes; a mosaic of listed scenes holds at most "
            f"{MAX_STATIC_SCENES:,}. Narrow the query, or create a query mosaic "
            '("kind": "query"), which uses every matching scene, read per tile.'
        )
    if request.ids:
        found = {s.id for s in scenes}
        missing = [i for i in request.ids if i not in found]
        if missing:
            raise InvalidInput(f"Unknown dataset id(s): {name_few(missing)}.")
    if not scenes:
        raise InvalidInput("No raster datasets match the mosaic query.")
    return scenes


SCAN_LIMIT = 10_000
"""Most rows a listed-scenes query reads (more is refused as over the limit anyway)."""


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
    if request.kind == "query":
        return build_query_mosaic(catalog, request, quadkey_zoom_max, owner=owner)
    given = [name for name in QUERY_ONLY if getattr(request, name) is not None]
    if given:
        raise InvalidInput(f'{", ".join(given)} apply to query mosaics only; add "kind": "query".')
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


def query_of(request: MosaicRequest) -> MosaicQuery:
    """The stored query of a ``"kind": "query"`` request (every malformed part a 400)."""
    if request.ids:
        raise InvalidInput("A query mosaic selects scenes by query; ids make a listed mosaic.")
    fields = request.model_dump(
        include={"bbox", "intersects", "datetime", "collections", "sensor", "cloud_cover_max"},
        exclude_none=True,
    )
    fields.update(
        {
            "filter": request.filter,
            "filter-lang": request.filter_lang,
            "order": request.order or "newest",
            "method": request.method or "first",
            "max_scenes_per_tile": request.max_scenes_per_tile or MAX_SCENES_PER_TILE,
        }
    )
    if "bbox" in fields:
        fields["bbox"] = list(fields["bbox"])
    try:
        query = MosaicQuery.model_validate(fields)
        query.search()  # datetime, collections and filter checked as STAC search checks them
    except ValidationError as exc:
        raise InvalidInput(
            f"Invalid mosaic query: {name_few([e['msg'] for e in exc.errors()])}"
        ) from None
    return query


def build_query_mosaic(
    catalog: Catalog,
    request: MosaicRequest,
    quadkey_zoom_max: int = 12,
    *,
    owner: str | None = None,
) -> MosaicRecord:
    """A mosaic that stores ``request``'s query; its tiles read the scenes under them. It is
    created over the scenes its owner may see (public and their own) that match today: private
    when one of them is private (it then shows its owner's scenes too), public otherwise."""
    query = query_of(request)
    summary = summarize(catalog, query, SceneAccess(owner, private=True))
    if summary is None:
        raise InvalidInput("No raster datasets match the mosaic query.")
    if len(summary.band_counts) > 1:
        detail = name_few(
            [f"{n} bands: {c:,} scenes, e.g. {e}" for n, (c, e) in summary.band_counts.items()]
        )
        raise IncompatibleScenes(
            f"The query matches scenes with different band counts ({detail}); narrow it "
            "(sensor, collections) to scenes with the same bands."
        )
    first = catalog.get_dataset(summary.first_id)
    minzoom, maxzoom = summary.minzoom, summary.maxzoom
    quadkey_zoom = min(max(minzoom, 0), quadkey_zoom_max)
    west, south, east, north = summary.bounds
    document = MosaicJSON(
        mosaicjson="0.0.3",
        minzoom=minzoom,
        maxzoom=maxzoom,
        quadkey_zoom=quadkey_zoom,
        bounds=(west, south, east, north),
        center=((west + east) / 2, (south + north) / 2, minzoom),
        tiles={},
    )
    stored = document.model_dump(mode="json", exclude_none=True)
    stored[QUERY_KEY] = query.model_dump(mode="json", by_alias=True, exclude_none=True)
    stored[MATCHED_KEY] = summary.matched
    stored[SCENE_KEY] = first.id
    shared = len(summary.looks) == 1
    record = MosaicRecord(
        id=new_id(),
        title=request.title or f"Mosaic over a query ({summary.matched:,} scenes today)",
        dataset_ids=[],
        band_names=list(first.band_names),
        bounds=(west, south, east, north),
        minzoom=minzoom,
        maxzoom=maxzoom,
        quadkey_zoom=quadkey_zoom,
        sensor=first.sensor if shared else None,
        reflectance_scale=first.reflectance_scale if shared else None,
        reflectance_offset=first.reflectance_offset if shared else None,
        mosaicjson=stored,
        owner=owner,
        visibility="private" if summary.private else "public",
        created=utcnow(),
    )
    return catalog.add_mosaic(record)
