"""``POST /datasets`` (upload), ``/datasets/{id}/download`` and ``/datasets/{id}/thumbnail.png``.

Thin HTTP over ``tileserver.ingest``: the body is streamed to the scratch area by
``ingest.receive`` (never held in memory, refused the moment it passes the size limit or shows
a wrong type), then ``ingest.upload.ingest_file`` (the same code ``cogsight ingest`` runs)
validates, converts and records it in the thread pool.

An upload by a user holds a storage reservation from its first byte to its catalog row: the
declared Content-Length (if any) at once, then more as bytes arrive past it (a chunked body
has none), then exactly the size to be stored; refused with 403 ``quota_exceeded`` the moment
it no longer fits, leaving nothing behind. A download is charged the bytes it sends.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from tileserver.auth.access import require_writer
from tileserver.auth.metering import metered_download, requested_length
from tileserver.auth.principal import get_principal
from tileserver.auth.quotas import StorageReservation, check_download, record_download
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.elevation.detect import parse_elevation_flag
from tileserver.errors import InvalidInput, NotFoundError
from tileserver.http.cache import cache_scope
from tileserver.http.dependencies import get_catalog, get_settings, readable_dataset
from tileserver.http.openapi import multipart_body
from tileserver.http.routers.datasets import DatasetOut, dataset_out
from tileserver.ingest.detect import detect_format
from tileserver.ingest.receive import check_content_length, received_upload
from tileserver.ingest.thumbnail import thumbnail_path, write_thumbnail
from tileserver.ingest.upload import ingest_file, parse_band_names
from tileserver.objectstore import presigned_url, stored_here
from tileserver.scratch import require_free_space
from tileserver.settings import Settings
from tileserver.sources import is_remote, local_path
from tileserver.storage import scratch_dir

logger = logging.getLogger("cogsight.upload")

DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024**3
UPLOAD_FIELDS = frozenset(
    {"title", "sensor", "datetime", "bands", "cloud_cover", "visibility", "elevation", "kind"}
)
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Unreadable, not georeferenced, unknown CRS, bad dtype or bad field."},
    413: {"description": "Larger than COGSIGHT_MAX_UPLOAD_BYTES."},
    415: {"description": "Not a GeoTIFF, ERDAS Imagine or vector file."},
}

UPLOAD_BODY = multipart_body(
    "GeoTIFF/BigTIFF, ERDAS .img, .geojson/.json, .gpkg or a zipped shapefile.",
    {
        "title": {"type": "string"},
        "sensor": {"type": "string", "default": "generic"},
        "datetime": {"type": "string", "description": "ISO 8601."},
        "bands": {"type": "string", "description": "Comma-separated names."},
        "cloud_cover": {"type": "number", "minimum": 0, "maximum": 100},
        "elevation": {
            "type": "boolean",
            "description": "Force (true) or refuse (false) reading a single-band raster as a "
            "DEM; detected when absent.",
        },
        "kind": {
            "type": "string",
            "enum": ["elevation", "image"],
            "description": "Same as 'elevation': true / false.",
        },
        "visibility": {"type": "string", "enum": ["public", "private"], "default": "public"},
    },
)


def max_upload_bytes(settings: Settings) -> int:
    return int(getattr(settings, "max_upload_bytes", DEFAULT_MAX_UPLOAD_BYTES))


def upload_options(fields: dict[str, str]) -> dict[str, Any]:
    """The form's text fields as ``ingest_file`` keyword arguments (blank means not given)."""
    values = {k: v.strip() for k, v in fields.items() if v.strip()}
    cloud_cover: float | None = None
    if "cloud_cover" in values:
        try:
            cloud_cover = float(values["cloud_cover"])
        except ValueError:
            raise InvalidInput(
                f"cloud_cover must be a number, got '{values['cloud_cover']}'."
            ) from None
    return {
        "title": values.get("title"),
        "sensor": values.get("sensor", "generic"),
        "datetime_": values.get("datetime"),
        "band_names": parse_band_names(values.get("bands")),
        "cloud_cover": cloud_cover,
        "visibility": values.get("visibility", "public"),
        "elevation": parse_elevation_flag(values.get("elevation", values.get("kind"))),
    }


def download_filename(record: DatasetRecord, extension: str = ".tif") -> str:
    """``<title-slug>.tif``; ASCII only (so ``Content-Disposition`` stays plain), id if empty."""
    ascii_title = unicodedata.normalize("NFKD", record.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].strip("-")
    return f"{slug or record.id}{extension}"


def download_response(record: DatasetRecord, settings: Settings, request: Request) -> Response:
    """The dataset's bytes: the COG file, a redirect for vectors, a refusal for remote data."""
    if record.kind == "vector":
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/vectors/{record.id}/download?format=geojson", 307)
    if stored_here(record.uri, settings):
        # our own object storage: a short-lived presigned URL, so the bytes never pass through
        # an API worker
        return RedirectResponse(presigned_url(record.uri, settings, download_filename(record)), 307)
    if is_remote(record.uri):
        # Proxying would push gigabytes through a tile worker for bytes the client can range-read
        # from the store itself (and the record already publishes the URI).
        raise InvalidInput(
            f"Dataset '{record.id}' is stored remotely; read it from its URI: {record.uri}"
        )
    path = local_path(record.uri, settings)
    if not path.is_file():
        raise NotFoundError(f"The file of dataset '{record.id}' is missing on the server.")
    return FileResponse(
        path,
        media_type=COG_MEDIA_TYPE,
        filename=download_filename(record),
        content_disposition_type="attachment",
    )


def charged_download(
    catalog: Catalog,
    principal: Principal,
    record: DatasetRecord,
    response: Response,
    request: Request,
) -> Response:
    """The download checked against and counted in the user's monthly quota: a file by the
    bytes it sends (a range read by its range), a presigned redirect by the object or the
    range asked for (its bytes never pass through here). A vector's redirect costs nothing:
    its GeoJSON download is charged."""
    requested = request.headers.get("range")
    if isinstance(response, FileResponse):
        expected = requested_length(requested, _file_size(response))
        return metered_download(response, catalog, principal, record.id, expected)
    if principal.user is not None and record.kind == "raster":
        size = requested_length(requested, int(record.properties.get("size_bytes") or 0))
        check_download(catalog, principal.user, size)
        record_download(catalog, principal.user.id, record.id, size)
    return response


def _file_size(response: FileResponse) -> int:
    from pathlib import Path

    try:
        return Path(response.path).stat().st_size
    except OSError:
        return 0


def thumbnail_file(record: DatasetRecord, settings: Settings, principal: Principal) -> Response:
    """The stored preview, rendered now for rasters registered before previews existed;
    ``public`` for shared caches only when the dataset is public and no token was given."""
    path = thumbnail_path(settings, record.id)
    if not path.is_file():
        if record.kind != "raster":
            raise NotFoundError(f"Dataset '{record.id}' has no thumbnail.")
        path = write_thumbnail(settings, record)
    who = cache_scope(record.visibility, principal)
    return FileResponse(
        path,
        media_type="image/png",
        headers={"Cache-Control": f"{who}, max-age={settings.tile_cache_max_age}"},
    )


def build_uploads_router() -> APIRouter:
    router = APIRouter(tags=["Catalog"])

    @router.post(
        "/datasets",
        status_code=201,
        response_model=DatasetOut,
        openapi_extra=UPLOAD_BODY,
        responses=_ERRORS,
        summary="Upload a raster or vector file as a new dataset",
    )
    async def upload_dataset(
        request: Request,
        response: Response,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> Any:
        require_writer(principal)
        limit = max_upload_bytes(settings)
        declared = request.headers.get("content-length")
        check_content_length(declared, limit)
        if declared:  # a body the disk cannot hold is refused (507) before a byte is stored
            require_free_space(settings, int(declared), "this upload")
        held = StorageReservation(catalog, settings, principal.user, f"upload by {principal.id}")
        try:
            if principal.user is not None and declared:
                await run_in_threadpool(held.settle, int(declared))  # refused before a byte
            async with received_upload(
                request.stream(),
                request.headers.get("content-type"),
                scratch_dir(settings),
                limit,
                fields=UPLOAD_FIELDS,
                check_head=detect_format,
                allowance=held if principal.user is not None else None,
            ) as upload:
                options = upload_options(upload.fields)
                assert upload.path is not None
                record = await run_in_threadpool(
                    ingest_file,
                    catalog,
                    settings,
                    upload.path,
                    filename=upload.filename,
                    owner=principal.id,
                    charge=held.settle,
                    **options,
                )
        except ClientDisconnect:
            logger.info("upload abandoned by the client; its partial file was removed")
            return Response(status_code=499)  # nobody is listening; nginx's "client closed"
        finally:
            # the dataset, once recorded, counts itself
            await run_in_threadpool(held.release)
        response.headers["Location"] = str(request.url_for("get_dataset", dataset_id=record.id))
        return dataset_out(record, request)

    @router.get(
        "/datasets/{dataset_id}/download",
        response_class=FileResponse,
        responses={
            200: {"content": {COG_MEDIA_TYPE: {}}, "description": "The COG (Range supported)."},
            307: {"description": "Vector datasets: redirect to their GeoJSON download."},
        },
        summary="Download a dataset's file",
    )
    def download_dataset(
        request: Request,
        record: DatasetRecord = Depends(readable_dataset),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
    ) -> Response:
        response = download_response(record, settings, request)
        return charged_download(catalog, principal, record, response, request)

    @router.get(
        "/datasets/{dataset_id}/thumbnail.png",
        response_class=FileResponse,
        responses={200: {"content": {"image/png": {}}, "description": "At most 256 px."}},
        summary="A small PNG preview of a dataset",
    )
    def get_thumbnail(
        record: DatasetRecord = Depends(readable_dataset),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> Response:
        return thumbnail_file(record, settings, principal)

    return router
