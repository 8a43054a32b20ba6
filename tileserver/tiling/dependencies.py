"""FastAPI dependencies that plug the catalog into titiler's factories.

They are ``async`` on purpose: FastAPI runs every sync dependency in the thread pool, and a
dozen thread hops per tile cost more than the work they do (a dict lookup each). Database
reads still go to the thread pool, only on a cache miss.

Clients address data by id; these resolve the id to a server-side GDAL path, turn band names
and ``?index=`` into rio-tiler expressions, and pick sensible rendering defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from cachetools import TTLCache
from cogeo_mosaic.mosaic import MosaicJSON
from fastapi import Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from titiler.core.dependencies import (
    BidxExprParams,
    ColorMapParams,
    DatasetParams,
    DefaultDependency,
    ImageRenderingParams,
    TileParams,
)

from tileserver.auth.access import require_readable
from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord, MosaicRecord
from tileserver.errors import InvalidInput, UnknownBand
from tileserver.expressions import to_band_expression
from tileserver.indices import INDICES
from tileserver.settings import Settings
from tileserver.sources import gdal_path

RAW_FORMATS = {"tif", "npy", "pngraw"}


class RecordCache:
    """Short-lived in-process cache of catalog records so a tile costs no database round trip.

    The TTL keeps replicas consistent within seconds; records are immutable once written.
    """

    def __init__(self, catalog: Catalog, ttl: float = 10.0) -> None:
        self.catalog = catalog
        self._datasets: TTLCache[str, DatasetRecord] = TTLCache(maxsize=4096, ttl=ttl)
        self._mosaics: TTLCache[str, MosaicRecord] = TTLCache(maxsize=1024, ttl=ttl)
        self._documents: TTLCache[str, MosaicJSON] = TTLCache(maxsize=256, ttl=ttl)

    def peek_dataset(self, dataset_id: str) -> DatasetRecord | None:
        """The cached record, without touching the database (safe on the event loop)."""
        return self._datasets.get(dataset_id)

    def dataset(self, dataset_id: str) -> DatasetRecord:
        record = self._datasets.get(dataset_id)
        if record is None:
            record = self._datasets[dataset_id] = self.catalog.get_dataset(dataset_id)
        return record

    def mosaic(self, mosaic_id: str) -> MosaicRecord:
        record = self._mosaics.get(mosaic_id)
        if record is None:
            record = self._mosaics[mosaic_id] = self.catalog.get_mosaic(mosaic_id)
        return record

    def mosaic_document(self, mosaic_id: str) -> MosaicJSON:
        """The parsed MosaicJSON (parsing a large document per tile would dominate its cost)."""
        document = self._documents.get(mosaic_id)
        if document is None:
            record = self.mosaic(mosaic_id)
            document = self._documents[mosaic_id] = MosaicJSON.model_validate(record.mosaicjson)
        return document

    def forget(self, key: str) -> None:
        self._datasets.pop(key, None)
        self._mosaics.pop(key, None)
        self._documents.pop(key, None)


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


async def mosaic_path(record: MosaicRecord = Depends(mosaic_record)) -> str:
    return record.id


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


@dataclass
class LayerQuery(DefaultDependency):
    """The query side of band selection: ``bidx``, ``expression`` (names or bN), ``index``."""

    indexes: Annotated[
        list[int] | None,
        Query(alias="bidx", title="Band indexes", description="1-based band indexes."),
    ] = None
    expression: Annotated[
        str | None,
        Query(
            description="Band math over band names or bN, e.g. (nir-red)/(nir+red); "
            "';' separates output bands."
        ),
    ] = None
    index: Annotated[
        str | None,
        Query(description="A named spectral index from GET /indices, e.g. NDVI."),
    ] = None

    def __post_init__(self) -> None:
        given = [k for k in ("indexes", "expression", "index") if getattr(self, k)]
        if "index" in given and len(given) > 1:
            raise InvalidInput("Use either 'index', 'expression' or 'bidx', not several.")


class BandSource(Protocol):
    """What band resolution needs from a dataset or a mosaic."""

    @property
    def band_names(self) -> list[str]: ...
    @property
    def sensor(self) -> str | None: ...
    @property
    def reflectance_scale(self) -> float | None: ...
    @property
    def reflectance_offset(self) -> float | None: ...


def resolve_layer(query: LayerQuery, source: BandSource) -> BidxExprParams:
    """Turn names and named indices into what rio-tiler reads (``bidx`` / ``b1..bN``)."""
    names = list(source.band_names)
    if query.indexes:
        for i in query.indexes:
            if not 1 <= i <= len(names):
                raise UnknownBand(
                    f"Band index {i} does not exist: the data has {len(names)} band(s) "
                    f"({', '.join(names)})."
                )
    expression = query.expression
    scale = offset = None
    if query.index:
        spectral = INDICES.get(query.index)
        expression = spectral.formula
        scale, offset = source.reflectance_scale, source.reflectance_offset
    if expression:
        expression = to_band_expression(expression, names, source.sensor, scale, offset)
    return BidxExprParams(indexes=query.indexes, expression=expression)


async def raster_layer(
    query: LayerQuery = Depends(), record: DatasetRecord = Depends(dataset_record)
) -> BidxExprParams:
    return resolve_layer(query, record)


async def mosaic_layer(
    query: LayerQuery = Depends(), record: MosaicRecord = Depends(mosaic_record)
) -> BidxExprParams:
    return resolve_layer(query, record)


async def index_rendering(
    request: Request, render: ImageRenderingParams = Depends()
) -> ImageRenderingParams:
    """Default ``rescale`` of a named index to its natural range when none is given."""
    name = request.query_params.get("index")
    raw = request.path_params.get("format") in RAW_FORMATS
    if name and not render.rescale and not raw and name in INDICES:
        render.rescale = [INDICES.get(name).range]  # type: ignore[assignment,list-item]
    return render


# What a WMTS layer's tile URL may carry. WMTS checks its layers by calling these with query
# parameters alone, so they must not need a path or the catalog (LayerQuery, not raster_layer).
WMTS_TILE_QUERY: list[Any] = [
    DefaultDependency,
    TileParams,
    LayerQuery,
    DatasetParams,
    ColorMapParams,
    ImageRenderingParams,
]
