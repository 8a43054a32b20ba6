"""``/wms``, ``/raster/{dataset_id}/wms``, ``/mosaics/{mosaic_id}/wms``: OGC WMS 1.1.1 and 1.3.0.

Thin over ``tileserver.wms.service.handle``: resolve who asks (a bad token is a WMS exception
report too, not JSON), run the request in the thread pool, set Cache-Control. A capabilities
document asked for with ``?access_token=`` carries it in its URLs: ``private, no-store``.
Images are ``public`` only for public data asked for without a token, as tiles are.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tileserver.auth.principal import get_principal, token_of
from tileserver.auth.schemas import Principal
from tileserver.errors import CogsightError, status_for
from tileserver.wms.errors import REPORT_MEDIA_TYPE, WMSError, exception_report
from tileserver.wms.layers import Scope
from tileserver.wms.params import lower_keys, report_version
from tileserver.wms.service import Context, Reply, handle

DOC = (
    "OGC WMS 1.1.1 / 1.3.0: `SERVICE=WMS&REQUEST=GetCapabilities|GetMap|GetFeatureInfo|"
    "GetLegendGraphic` (parameter names in any case). Layers: `{dataset_id}` (default "
    "rendering, presets as STYLES), `{dataset_id}:{preset}`, `mosaic:{mosaic_id}[:{preset}]`."
)


def _resource(request: Request) -> str:
    """This endpoint's URL for the capabilities, with the caller's query token (encoded)."""
    url = f"{str(request.base_url).rstrip('/')}{request.url.path}?"
    token = request.query_params.get("access_token")
    return f"{url}{urlencode({'access_token': token})}&" if token else url


def _cache_control(request: Request, reply: Reply, principal: Principal, max_age: int) -> str:
    if reply.kind == "error":
        return "no-store"
    if reply.kind == "document" and "access_token" in request.query_params:
        return "private, no-store"
    shared = reply.public and principal.user is None and token_of(request.scope) is None
    who = "public" if shared else "private"
    return f"{who}, no-cache" if reply.kind == "document" else f"{who}, max-age={max_age}"


async def _answer(request: Request, scope: Scope) -> Response:
    pairs = request.query_params.multi_items()
    try:
        principal = await get_principal(request)
    except CogsightError as exc:  # an unknown or revoked token
        version = report_version(lower_keys(pairs))
        error = WMSError(str(exc), None, None, status_for(exc))
        return Response(
            exception_report(version, error),
            status_code=error.status,
            headers={"content-type": REPORT_MEDIA_TYPE[version], "cache-control": "no-store"},
        )
    app = request.app
    context = Context(
        catalog=app.state.catalog,
        records=app.state.records,
        settings=app.state.settings,
        principal=principal,
        scope=scope,
        resource=_resource(request),
    )
    reply = await run_in_threadpool(handle, pairs, context)
    control = _cache_control(request, reply, principal, app.state.settings.tile_cache_max_age)
    # set as a header, not media_type: Starlette would append a charset to text/xml, and
    # OWSLib recognises an exception report by its exact content type
    return Response(
        reply.body,
        status_code=reply.status,
        headers={"content-type": reply.media_type, "cache-control": control},
    )


def build_wms_router() -> APIRouter:
    router = APIRouter(tags=["WMS"])

    @router.get(
        "/wms", summary="WMS over every raster and mosaic the caller may see", description=DOC
    )
    async def catalog_wms(request: Request) -> Response:
        return await _answer(request, Scope("catalog"))

    @router.get("/raster/{dataset_id}/wms", summary="WMS of one raster dataset", description=DOC)
    async def dataset_wms(request: Request, dataset_id: str) -> Response:
        return await _answer(request, Scope("dataset", dataset_id))

    @router.get("/mosaics/{mosaic_id}/wms", summary="WMS of one mosaic", description=DOC)
    async def mosaic_wms(request: Request, mosaic_id: str) -> Response:
        return await _answer(request, Scope("mosaic", mosaic_id))

    return router
