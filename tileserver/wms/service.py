"""One WMS request, start to end: query pairs in, a ``Reply`` (bytes, media type, status) out.

A plain function, testable without HTTP; ``routers/wms.py`` calls it in the thread pool. Every
refusal becomes a ServiceExceptionReport in the request's version (or, for a GetMap that asks
``EXCEPTIONS=INIMAGE`` / ``BLANK``, an image), never cogsight's JSON error body: WMS clients parse
the XML. Errors from below (an expression a preset cannot apply, a file that cannot be read)
are reported the same way, with the status the app's error map gives them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from rasterio.errors import RasterioIOError

from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog
from tileserver.errors import CogsightError, NotFoundError, status_for
from tileserver.settings import Settings
from tileserver.tiling.records import RecordCache
from tileserver.wms.capabilities import capabilities_document
from tileserver.wms.errors import REPORT_MEDIA_TYPE, WMSError, exception_report
from tileserver.wms.featureinfo import feature_info
from tileserver.wms.layers import Layer, Layers, Scope
from tileserver.wms.legend import draw_legend, legend_spec
from tileserver.wms.params import (
    CAPABILITIES_FORMATS,
    FORMAT_ALIASES,
    MAP_FORMATS,
    Query,
    Version,
    check_service,
    exceptions_mode,
    lower_keys,
    negotiated_version,
    operation,
    parse_feature_info,
    parse_legend,
    parse_map,
    report_version,
    request_version,
)
from tileserver.wms.render import Sources, draw_map, message_image

logger = logging.getLogger("cogsight")
DEFAULT_SIDE = 256


@dataclass(frozen=True)
class Context:
    """What a request runs against: the catalog, who asks, the endpoint and its URL."""

    catalog: Catalog
    records: RecordCache
    settings: Settings
    principal: Principal
    scope: Scope
    resource: str
    """The endpoint URL operations are sent to, ending in ``?`` or ``&`` (with the caller's
    ``access_token`` when the request carried one)."""


@dataclass(frozen=True)
class Reply:
    body: bytes
    media_type: str
    status: int = 200
    kind: Literal["document", "image", "error"] = "image"
    public: bool = False
    """Whether everything in the answer is public data (a shared cache may keep it)."""


def _report(version: Version, error: WMSError) -> Reply:
    return Reply(
        exception_report(version, error), REPORT_MEDIA_TYPE[version], error.status, "error"
    )


def _capabilities(q: Query, layers: Layers, ctx: Context) -> Reply:
    check_service(q, required=False)
    version = negotiated_version(q)
    groups = layers.groups(ctx.scope)
    if ctx.scope.kind == "catalog":
        title = "cogsight"
    else:
        title = groups[0].title if groups else "cogsight"
    asked = (q.get("format") or "").strip().lower()
    media = asked if asked in ("text/xml", "application/xml") else CAPABILITIES_FORMATS[version]
    body = capabilities_document(version, ctx.resource, title, groups)
    public = all(layer.source.visibility == "public" for g in groups for layer in g.layers[:1])
    return Reply(body, media, kind="document", public=public)


def _styled(
    layers: Layers, ctx: Context, names: list[str], styles: list[str]
) -> list[tuple[Layer, str]]:
    return [
        (layers.layer(name, ctx.scope), style) for name, style in zip(names, styles, strict=True)
    ]


def _public(chosen: Iterable[Layer]) -> bool:
    return all(layer.source.visibility == "public" for layer in chosen)


def _map(q: Query, version: Version, layers: Layers, ctx: Context) -> Reply:
    check_service(q, required=False)
    query = parse_map(q, version)
    chosen = [
        (layer, layer.style(style)[1])
        for layer, style in _styled(layers, ctx, query.layers, query.styles)
    ]
    body = draw_map(chosen, query, Sources(ctx.settings, ctx.records))
    return Reply(body, query.format, public=_public(layer for layer, _ in chosen))


def _feature_info(q: Query, version: Version, layers: Layers, ctx: Context) -> Reply:
    check_service(q, required=False)
    query = parse_feature_info(q, version)
    for layer, style in _styled(layers, ctx, query.map.layers, query.map.styles):
        layer.style(style)  # an unknown style is refused here as in GetMap
    queried = [layers.layer(name, ctx.scope) for name in query.query_layers]
    body = feature_info(queried, query, Sources(ctx.settings, ctx.records))
    media = query.info_format
    if media.startswith("text/"):
        media += "; charset=utf-8"
    return Reply(body, media, public=_public(queried))


def _legend(q: Query, version: Version, layers: Layers, ctx: Context) -> Reply:
    check_service(q, required=False)
    query = parse_legend(q, version)
    layer = layers.layer(query.layer, ctx.scope)
    _, render = layer.style(query.style)
    symbol = (query.width or 0, query.height or 0) if query.width or query.height else None
    if symbol is not None:
        default = legend_spec(render, layer.source)
        symbol = (symbol[0] or (200 if default.kind == "ramp" else 16), symbol[1] or 16)
    body = draw_legend(legend_spec(render, layer.source), symbol)
    return Reply(body, "image/png", public=_public([layer]))


def _error_image(q: Query, error: WMSError, mode: str) -> Reply:
    """``EXCEPTIONS=INIMAGE`` / ``BLANK``: an image of the asked size and format where they can
    be read (else 256 px PNG), the message drawn on it for INIMAGE."""

    def side(key: str) -> int:
        try:
            value = int(q.get(key, ""))
        except ValueError:
            return DEFAULT_SIDE
        return value if 1 <= value <= 4096 else DEFAULT_SIDE

    asked = (q.get("format") or "").strip().lower()
    media = FORMAT_ALIASES.get(asked, asked)
    media = media if media in MAP_FORMATS else "image/png"
    transparent = (q.get("transparent") or "").strip().lower() in ("true", "1")
    body = message_image(
        str(error) if mode == "inimage" else None,
        side("width"),
        side("height"),
        media,
        transparent,
        (255, 255, 255),
    )
    return Reply(body, media, kind="image")


def handle(pairs: Iterable[tuple[str, str]], ctx: Context) -> Reply:
    """Answer one WMS request (any operation, any version)."""
    q = lower_keys(pairs)
    version = report_version(q)
    name = ""
    try:
        name = operation(q)
        layers = Layers(ctx.catalog, ctx.records, ctx.principal, ctx.settings.anonymous_read)
        layers.check_scope(ctx.scope)
        if name == "GetCapabilities":
            return _capabilities(q, layers, ctx)
        version = request_version(q)
        if name == "GetMap":
            return _map(q, version, layers, ctx)
        if name == "GetFeatureInfo":
            return _feature_info(q, version, layers, ctx)
        return _legend(q, version, layers, ctx)
    except WMSError as exc:
        error = exc
    except NotFoundError as exc:  # a record deleted while the request ran
        error = WMSError(str(exc), "LayerNotDefined", "LAYERS")
    except RasterioIOError as exc:
        logger.error("WMS source unreadable: %s", exc)
        error = WMSError("The dataset's file could not be read.", None, None, 503)
    except CogsightError as exc:
        error = WMSError(str(exc), None, None, status_for(exc))
    except Exception as exc:
        status = status_for(exc)
        if status >= 500:
            raise
        error = WMSError(str(exc), None, None, status)  # rio-tiler's refusals (an expression …)
    mode = exceptions_mode(q)
    if name == "GetMap" and mode in ("inimage", "blank") and error.status < 500:
        return _error_image(q, error, mode)
    return _report(version, error)
