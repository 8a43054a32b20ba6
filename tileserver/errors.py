"""cogsight's exception tree and the single map from exception to HTTP status.

Library code raises these; ``install_error_handlers`` is the only place that knows about HTTP.
Every error body is ``{"code": ..., "detail": ...}``, plus the ``extra`` fields an error carries
(``needs_samples``: a sample-set body); a 500 is logged with its traceback and answers a generic
message so internals never leak.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from morecantile.errors import InvalidIdentifier, MorecantileError
from rasterio.errors import RasterioIOError
from rio_tiler.errors import (
    EmptyMosaicError,
    ExpressionMixingWarning,
    InvalidBandName,
    InvalidExpression,
    MissingBands,
    NoAssetFoundError,
    PointOutsideBounds,
    RioTilerError,
    TileOutsideBounds,
)
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from titiler.core.errors import BadRequestError, TileNotFoundError

logger = logging.getLogger("cogsight")


class CogsightError(Exception):
    """Base of every error cogsight raises on purpose."""

    code = "error"
    extra: Mapping[str, object] = MappingProxyType({})
    """Fields the JSON error body carries beside ``code`` and ``detail`` (none for most)."""


class NotFoundError(CogsightError):
    code = "not_found"


class DatasetNotFound(NotFoundError):
    code = "dataset_not_found"


class MosaicNotFound(NotFoundError):
    code = "mosaic_not_found"


class InvalidInput(CogsightError):
    """The client asked for something malformed (bad expression, unknown band, bad query)."""

    code = "invalid_input"


class UnknownBand(InvalidInput):
    code = "unknown_band"


class NeedsSamples(UnknownBand):
    """A classifying tool cannot run on the image's bands and no zero-sample method on them is
    credible: a 422 whose body also carries ``labelling``, a sample-set body for the tool's
    classes (``POST /samples``), so a client opens the labelling loop instead of failing."""

    code = "needs_samples"

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.extra = extra


class UnknownIndex(InvalidInput):
    code = "unknown_index"


class InvalidRaster(InvalidInput):
    """The file is not a raster we can serve (unreadable, not georeferenced, bad dtype)."""

    code = "invalid_raster"


class IncompatibleScenes(InvalidInput):
    code = "incompatible_scenes"


class PayloadTooLarge(InvalidInput):
    """A request over a size limit (an upload over ``max_upload_bytes``, refused as soon as the
    stream passes it; a project body, or a project grown past its limits)."""

    code = "payload_too_large"


class UnsupportedMediaType(InvalidInput):
    """An upload whose content is none of the formats cogsight ingests."""

    code = "unsupported_media_type"


class ForbiddenSource(CogsightError):
    """A path or URI outside the data root or the configured remote prefixes."""

    code = "forbidden_source"


class Unauthorized(CogsightError):
    """No valid token where one is required."""

    code = "unauthorized"


class Forbidden(CogsightError):
    """A known user asking for what only the owner (or an admin) may do."""

    code = "forbidden"


class QuotaExceeded(Forbidden):
    """A quota that does not renew by itself (storage, largest task)."""

    code = "quota_exceeded"


class MonthlyQuotaExceeded(QuotaExceeded):
    """A monthly quota (AI compute time, downloads): try again when the month renews."""

    code = "monthly_quota_exceeded"


class AlreadyExists(CogsightError):
    code = "already_exists"


class InUse(AlreadyExists):
    """A delete refused because something still depends on the thing (a job, a mosaic)."""

    code = "in_use"


class OutsideBounds(CogsightError):
    code = "outside_bounds"


class SourceUnavailable(CogsightError):
    """A remote STAC source (API, catalog, items file) could not be read: unreachable, an
    HTTP error, a timeout or a malformed answer. The message names the source, never its
    credentials."""

    code = "source_unavailable"


class InsufficientStorage(CogsightError):
    """The server's disk is full, or would be by what the request needs (507)."""

    code = "insufficient_storage"


DISK_FULL = "The server's storage is full; nothing was stored. Try again once space is freed."


def name_few(items: Sequence[object], shown: int = 5) -> str:
    """``a, b, c``, or the first ``shown`` and ``… and 99,995 more``: a message about a
    client's list names a few entries (each clipped to 64 characters), never echoes it whole."""
    names = [str(item) if len(str(item)) <= 64 else str(item)[:63] + "…" for item in items[:shown]]
    rest = len(items) - len(names)
    return ", ".join(names) + (f" … and {rest:,} more" if rest > 0 else "")


STATUS_BY_EXCEPTION: dict[type[Exception], int] = {
    NotFoundError: 404,
    InvalidInput: 400,
    NeedsSamples: 422,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    ForbiddenSource: 403,
    Unauthorized: 401,
    Forbidden: 403,
    QuotaExceeded: 403,
    MonthlyQuotaExceeded: 429,
    AlreadyExists: 409,
    OutsideBounds: 404,
    SourceUnavailable: 502,
    InsufficientStorage: 507,
    TileOutsideBounds: 404,
    PointOutsideBounds: 404,
    NoAssetFoundError: 404,
    EmptyMosaicError: 404,
    InvalidExpression: 400,
    InvalidBandName: 400,
    MissingBands: 400,
    ExpressionMixingWarning: 400,
    MorecantileError: 400,
    InvalidIdentifier: 404,
    BadRequestError: 400,
    TileNotFoundError: 404,
    RioTilerError: 400,
    RasterioIOError: 503,
}

CODE_BY_EXCEPTION: dict[type[Exception], str] = {
    TileOutsideBounds: "outside_bounds",
    TileNotFoundError: "outside_bounds",
    PointOutsideBounds: "outside_bounds",
    NoAssetFoundError: "outside_bounds",
    EmptyMosaicError: "outside_bounds",
    InvalidExpression: "invalid_expression",
    InvalidBandName: "unknown_band",
    MissingBands: "invalid_input",
    RasterioIOError: "source_unavailable",
}


def status_for(exc: Exception) -> int:
    """Most specific status for an exception, walking its class hierarchy."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_EXCEPTION:
            return STATUS_BY_EXCEPTION[cls]
    return 500


def code_for(exc: Exception) -> str:
    if isinstance(exc, CogsightError):
        return exc.code
    for cls in type(exc).__mro__:
        if cls in CODE_BY_EXCEPTION:
            return CODE_BY_EXCEPTION[cls]
    return "invalid_input"


def error_response(
    status: int, code: str, detail: object, extra: Mapping[str, object] | None = None
) -> JSONResponse:
    """``{"code", "detail"}`` and any ``extra`` fields (which never replace those two), all
    redacted."""
    from tileserver.auth.redact import redact_data  # here: tileserver.auth imports this module

    fields = {k: v for k, v in (extra or {}).items() if k not in ("code", "detail")}
    content = {"code": code, "detail": redact_data(detail), **redact_data(fields)}
    return JSONResponse(status_code=status, content=content)


def _answer(
    request: Request,
    status: int,
    code: str,
    detail: object,
    extra: Mapping[str, object] | None = None,
) -> Response:
    """The JSON error, or an image of it where a map client asked an image route for one."""
    from tileserver.tiling.error_images import answer  # here: tileserver.tiling imports this

    return answer(request, status, code, detail, error_response(status, code, detail, extra))


def _rasterio_detail(exc: Exception) -> str:
    """rasterio's messages carry server paths; never echo them."""
    return "The dataset's file could not be read."


async def _handle_known(request: Request, exc: Exception) -> Response:
    if _disk_full(request, exc):
        return _answer(request, 507, InsufficientStorage.code, DISK_FULL)
    status = status_for(exc)
    if isinstance(exc, RasterioIOError):
        logger.error("source unreadable on %s: %s", request.url.path, exc)
    elif status >= 500 and not isinstance(exc, SourceUnavailable | InsufficientStorage):
        return await _handle_unexpected(request, exc)  # those two reasons are safe to show
    detail = _rasterio_detail(exc) if isinstance(exc, RasterioIOError) else str(exc)
    extra = exc.extra if isinstance(exc, CogsightError) else None
    return _answer(request, status, code_for(exc), detail, extra)


async def _handle_http(request: Request, exc: StarletteHTTPException) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    response = _answer(request, exc.status_code, code, exc.detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _handle_validation(request: Request, exc: RequestValidationError) -> Response:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        problems.append(f"{where}: {err.get('msg')}")
    return _answer(request, 422, "validation_error", "; ".join(problems) or "Invalid request.")


def _disk_full(request: Request, exc: Exception) -> bool:
    """ENOSPC or SQLite's "database or disk is full", wherever it surfaced (a write of an
    upload, a conversion, an edit, an export, a job row): a 507 with a reason, not a 500."""
    from tileserver.scratch import is_disk_full  # here: tileserver.scratch imports settings

    if isinstance(exc, InsufficientStorage) or not is_disk_full(exc):
        return False
    logger.error("disk full on %s %s: %s", request.method, request.url.path, exc)
    return True


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    if _disk_full(request, exc):
        return _answer(request, 507, InsufficientStorage.code, DISK_FULL)
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _answer(request, 500, "internal_error", "Internal server error.")


def install_error_handlers(app: FastAPI) -> None:
    """Install the exception map on an app; the one place exceptions become HTTP answers."""
    for exc_cls in STATUS_BY_EXCEPTION:
        app.add_exception_handler(exc_cls, _handle_known)
    app.add_exception_handler(CogsightError, _handle_known)
    app.add_exception_handler(StarletteHTTPException, _handle_http)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _handle_validation)  # type: ignore[arg-type]
    # a full disk surfaces as these (ENOSPC, SQLite's "database or disk is full"): handled
    # here rather than by the catch-all, which re-raises after answering, so a 507 is not
    # logged as a crash; any other of them is still a logged 500
    app.add_exception_handler(OSError, _handle_unexpected)
    app.add_exception_handler(SQLAlchemyOperationalError, _handle_unexpected)
    app.add_exception_handler(Exception, _handle_unexpected)
