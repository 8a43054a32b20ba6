"""FastAPI dependencies that plug the catalog into titiler's factories.

They are ``async`` on purpose: FastAPI runs every sync dependency in the thread pool, and a
dozen thread hops per tile cost more than the work they do (a dict lookup each). Database
reads still go to the thread pool, only on a cache miss.

Clients address data by id; these resolve the id to a server-side GDAL path, turn band names
and ``?index=`` into rio-tiler expressions, and pick sensible rendering defaults.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated, Any

from cogeo_mosaic.mosaic import MosaicJSON
from fastapi import APIRouter, Depends, Path, Request
from pyproj import Transformer
from pyproj.exceptions import CRSError
from rio_tiler.colormap import cmap as colormaps
from rio_tiler.types import ColorMapType
from starlette.concurrency import run_in_threadpool
from titiler.core.dependencies import (
    BidxExprParams,
    ColorMapParams,
    DatasetParams,
    DefaultDependency,
    HistogramParams,
    ImageRenderingParams,
    PartFeatureParams,
    StatisticsParams,
    TileParams,
)

from tileserver.auth.access import require_readable
from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord, MosaicRecord
from tileserver.errors import InvalidInput, OutsideBounds
from tileserver.indices import INDICES
from tileserver.rendering import Render, dataset_presets, dataset_render
from tileserver.rendering.records import DEFAULT
from tileserver.rendering.requests import (
    COLORMAP_CHOICES,
    default_applies,
    mosaic_default,
    mosaic_renders,
    pick,
)
from tileserver.settings import Settings
from tileserver.sources import gdal_path
from tileserver.tiling.layers import LayerQuery, resolve_layer
from tileserver.tiling.limits import (
    MAX_HISTOGRAM_BINS,
    MAX_IMAGE_SIDE,
    MAX_TILE_MARGIN,
    MAX_ZOOM,
)
from tileserver.tiling.records import RecordCache, first_scene

RAW_FORMATS = {"tif", "npy", "pngraw"}
_IMAGE_SIDES = ("tilesize", "width", "height", "max_size")
_TILE_MARGINS = ("buffer", "padding")


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def request_limits(request: Request) -> None:
    """Refuse sizes, zooms and points no map client asks for, before any pixel is read."""
    given = {**request.query_params, **request.path_params}
    for name, limit in [
        *((n, MAX_IMAGE_SIDE) for n in _IMAGE_SIDES),
        *((n, MAX_TILE_MARGIN) for n in _TILE_MARGINS),
    ]:
        value = _number(given.get(name))
        if value is not None and not 0 <= value <= limit:
            raise InvalidInput(f"'{name}' must be within 0-{limit}, got {given[name][:20]}.")
    zoom = _number(request.path_params.get("z"))
    if zoom is not None and not 0 <= zoom <= MAX_ZOOM:
        raise OutsideBounds(f"Zoom {request.path_params['z'][:20]} is outside 0-{MAX_ZOOM}.")
    lon, lat = (_number(request.path_params.get(k)) for k in ("lon", "lat"))
    if lon is None or lat is None:
        return
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidInput("The point's coordinates must be finite numbers.")
    crs = request.query_params.get("coord_crs")
    if crs:
        try:
            to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        except CRSError:
            return
        lon, lat = to_wgs84.transform(lon, lat, errcheck=False)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise OutsideBounds("The point is outside the world (WGS84 degrees).")


@functools.wraps(ColorMapParams)
def checked_colormap(*args: Any, **kwargs: Any) -> Any:
    """titiler's ``colormap_name`` / ``colormap``, with a malformed JSON colormap a 400 (titiler
    parses ``{"a": ...}`` or ``[1, 2]`` into a ValueError or TypeError, a 500)."""
    try:
        colormap = ColorMapParams(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"Could not parse the colormap value: {exc}") from None
    if colormap is not None and not isinstance(colormap, dict | list):
        raise InvalidInput("A colormap is a JSON object of value -> color, or a list of intervals.")
    return colormap


@dataclass
class CheckedHistogramParams(HistogramParams):
    """titiler's histogram options, refused where numpy would fail (a 500) or allocate without
    bound: at most ``MAX_HISTOGRAM_BINS`` bins, increasing edges, a range with min < max."""

    def __post_init__(self) -> None:
        edges = [float(v) for v in self.bins.split(",")] if self.bins else []
        if len(edges) == 1 and not 1 <= edges[0] <= MAX_HISTOGRAM_BINS:
            raise InvalidInput(f"'histogram_bins' must be within 1-{MAX_HISTOGRAM_BINS}.")
        if len(edges) > 1 and (
            len(edges) > MAX_HISTOGRAM_BINS + 1 or any(a >= b for a, b in pairwise(edges))
        ):
            raise InvalidInput(
                f"'histogram_bins' edges must increase, at most {MAX_HISTOGRAM_BINS + 1} of them."
            )
        if self.range:
            bounds = [_number(v) for v in self.range.split(",")]
            low, high = [*bounds, None, None][:2]
            if len(bounds) != 2 or low is None or high is None or not low < high:
                raise InvalidInput("'histogram_range' must be 'min,max' with min < max.")
        super().__post_init__()


@dataclass
class CheckedStatisticsParams(StatisticsParams):
    """titiler's statistics options with percentiles checked (rio-tiler fails past 0-100)."""

    def __post_init__(self) -> None:
        if any(not 0 <= p <= 100 for p in self.percentiles or []):
            raise InvalidInput("Percentiles ('p') must be within 0-100.")
        super().__post_init__()


@dataclass
class BoundedPartParams(PartFeatureParams):
    """titiler's bbox/feature sizes, bounded: without ``width`` and ``height`` the image is at
    most ``MAX_IMAGE_SIDE`` on its longer side (titiler reads the area at full resolution), and
    one side alone may not imply the other from the shape of an arbitrary area."""

    def __post_init__(self) -> None:
        if bool(self.width) != bool(self.height):
            raise InvalidInput("Give both 'width' and 'height', or neither ('max_size' applies).")
        self.max_size = None if self.width else min(self.max_size or MAX_IMAGE_SIDE, MAX_IMAGE_SIDE)


def checked_factory_options() -> dict[str, Any]:
    """What the raster and mosaic tiler factories take to apply the bounds above: the request
    limits on every route, and titiler's dependencies swapped for their checked versions (the
    colormap one also fills in the data's default rendering); ``get_renders`` lists the data's
    presets as WMTS layers and TileJSON ``raster_layers``."""
    return {
        "router": APIRouter(dependencies=[Depends(request_limits)]),
        "img_part_dependency": BoundedPartParams,
        "stats_dependency": CheckedStatisticsParams,
        "histogram_dependency": CheckedHistogramParams,
        "colormap_dependency": render_colormap,
        "get_renders": listed_renders,
    }


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog


async def get_records(request: Request) -> RecordCache:
    return request.app.state.records


class DatasetPath(str):
    """A GDAL path that remembers its dataset, so WMTS can name layers by id, not by path."""

    record: DatasetRecord


async def readable_dataset(
    dataset_id: Annotated[str, Path(description="Dataset id from the catalog.")],
    records: RecordCache = Depends(get_records),
    principal: Principal = Depends(get_principal),
    settings: Settings = Depends(get_settings),
) -> DatasetRecord:
    """The dataset if the request may see it (404 otherwise, as if it did not exist)."""
    record = records.peek_dataset(dataset_id)
    if record is None:
        record = await run_in_threadpool(records.dataset, dataset_id)
    require_readable(principal, record, settings.anonymous_read)
    return record


async def dataset_record(record: DatasetRecord = Depends(readable_dataset)) -> DatasetRecord:
    if record.kind != "raster":
        raise InvalidInput(f"Dataset '{record.id}' is a {record.kind}, not a raster.")
    return record


async def dataset_path(
    record: DatasetRecord = Depends(dataset_record),
    settings: Settings = Depends(get_settings),
) -> str:
    path = DatasetPath(gdal_path(record.uri, settings))
    path.record = record
    return path


async def mosaic_record(
    mosaic_id: Annotated[str, Path(description="Mosaic id.")],
    records: RecordCache = Depends(get_records),
    principal: Principal = Depends(get_principal),
    settings: Settings = Depends(get_settings),
) -> MosaicRecord:
    record = await run_in_threadpool(records.mosaic, mosaic_id)
    require_readable(principal, record, settings.anonymous_read, what="Mosaic")
    return record


class MosaicPath(str):
    """A mosaic id that can find the mosaic's presets (for WMTS layers and TileJSON)."""

    mosaic: MosaicRecord
    records: RecordCache


async def mosaic_path(
    record: MosaicRecord = Depends(mosaic_record), records: RecordCache = Depends(get_records)
) -> str:
    path = MosaicPath(record.id)
    path.mosaic, path.records = record, records
    return path


@dataclass
class MosaicBackendParams(DefaultDependency):
    mosaic_def: MosaicJSON | None = None
    settings: Settings | None = None


async def mosaic_backend_params(
    record: MosaicRecord = Depends(mosaic_record),
    records: RecordCache = Depends(get_records),
    settings: Settings = Depends(get_settings),
) -> MosaicBackendParams:
    document = await run_in_threadpool(records.mosaic_document, record.id)
    return MosaicBackendParams(mosaic_def=document, settings=settings)


def layer_identifier(src_path: object) -> str:
    record = getattr(src_path, "record", None)
    if record is not None:
        return f"cogsight_{record.id}"
    return f"cogsight_mosaic_{src_path}" if isinstance(src_path, str) else "cogsight"


async def requested_render(
    request: Request,
    query: LayerQuery = Depends(),
    records: RecordCache = Depends(get_records),
    principal: Principal = Depends(get_principal),
    settings: Settings = Depends(get_settings),
) -> Render | None:
    """The rendering a request gets: ``?render=NAME``, or the data's default for an image
    request that chose no bands (a GIS client's bare tile URL); None when it chose its own.
    The dataset or mosaic is the one the path names, checked as its path dependency does."""
    route = request.scope.get("route")
    if not query.render and not default_applies(
        request.query_params, request.path_params, getattr(route, "name", None)
    ):
        return None
    params = request.path_params
    if "dataset_id" in params:
        record = await readable_dataset(params["dataset_id"], records, principal, settings)
        return pick(query.render, lambda: dataset_render(record), lambda: dataset_presets(record))
    if "mosaic_id" in params:
        mosaic = await mosaic_record(params["mosaic_id"], records, principal, settings)
        scene = await run_in_threadpool(first_scene, mosaic, records)
        facts = (mosaic.band_names, mosaic.sensor, mosaic.reflectance_scale, scene)
        return pick(query.render, lambda: mosaic_default(*facts), lambda: mosaic_renders(*facts))
    return None


def _colormap_given(request: Request) -> bool:
    return any(k in request.query_params for k in COLORMAP_CHOICES)


async def raster_layer(
    request: Request,
    query: LayerQuery = Depends(),
    record: DatasetRecord = Depends(dataset_record),
    render: Render | None = Depends(requested_render),
) -> BidxExprParams:
    return resolve_layer(query, record, render, _colormap_given(request))


async def mosaic_layer(
    request: Request,
    query: LayerQuery = Depends(),
    record: MosaicRecord = Depends(mosaic_record),
    render: Render | None = Depends(requested_render),
) -> BidxExprParams:
    return resolve_layer(query, record, render, _colormap_given(request))


async def index_rendering(
    request: Request,
    render: ImageRenderingParams = Depends(),
    chosen: Render | None = Depends(requested_render),
) -> ImageRenderingParams:
    """Default ``rescale``: a named index's natural range, else the chosen rendering's."""
    name = request.query_params.get("index")
    raw = request.path_params.get("format") in RAW_FORMATS
    if render.rescale or raw:
        return render
    if name and name in INDICES:
        render.rescale = [INDICES.get(name).range]  # type: ignore[assignment,list-item]
    elif chosen is not None and chosen.rescale:
        render.rescale = list(chosen.rescale)  # type: ignore[arg-type]
    return render


async def render_colormap(
    request: Request,
    colormap: ColorMapType | None = Depends(checked_colormap),
    chosen: Render | None = Depends(requested_render),
) -> ColorMapType | None:
    """The request's colormap, else the chosen rendering's (class colours, grey, terrain)."""
    if colormap is not None or chosen is None:
        return colormap
    if request.path_params.get("format") in RAW_FORMATS:
        return None
    if chosen.colormap:
        return chosen.colormap_value()  # type: ignore[return-value]
    return colormaps.get(chosen.colormap_name) if chosen.colormap_name else None


def listed_renders(src_dst: Any) -> dict[str, dict[str, Any]]:
    """titiler's ``get_renders``: the data's presets as explicit query values (WMTS makes each
    a layer, ``{id}_{tms}_{name}``; TileJSON lists them as ``raster_layers``). The default
    stays the parameter-free ``default`` layer."""
    path = getattr(src_dst, "input", None)
    record = getattr(path, "record", None)
    if isinstance(record, DatasetRecord):
        renders = dataset_presets(record)
    elif isinstance(path, MosaicPath):
        mosaic = path.mosaic
        scene = first_scene(mosaic, path.records)
        renders = mosaic_renders(mosaic.band_names, mosaic.sensor, mosaic.reflectance_scale, scene)
    else:
        return {}
    return {name: r.query_values() for name, r in renders.items() if name != DEFAULT}


# What a WMTS layer's tile URL may carry. WMTS checks its layers by calling these with query
# parameters alone, so they must not need a path or the catalog (LayerQuery, not raster_layer).
WMTS_TILE_QUERY: list[Any] = [
    DefaultDependency,
    TileParams,
    LayerQuery,
    DatasetParams,
    checked_colormap,
    ImageRenderingParams,
]
