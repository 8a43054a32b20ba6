"""Downloads charged by the bytes they send: a range read costs its range, not the file.

``metered_download`` checks the month's download quota against what the request asks for
(the ``Range`` when there is one, else the whole file) before anything is sent, then wraps
the response so that the body bytes that actually go out are recorded once it ends, an
interrupted transfer included. A response that sends nothing (a HEAD, a 416) costs nothing.

``MeteredExportRoute`` does the same for the raster tiler's ``bbox`` and ``feature`` images
(an area of a dataset at up to full resolution, as GeoTIFF or an image): refused when the
month is used up, charged the bytes of the image sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from tileserver.auth.principal import get_principal
from tileserver.auth.quotas import check_download, record_download
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog

_SINGLE_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def requested_length(range_header: str | None, size: int) -> int:
    """Bytes a request for a ``size``-byte file asks for: one ``Range`` (``a-b``, ``a-``,
    ``-n``) gives its length; no range, several ranges or a malformed one count as the whole
    file (an upper bound for the check; what is recorded is what is sent)."""
    match = _SINGLE_RANGE.match(range_header or "")
    if match is None:
        return size
    first, last = match.groups()
    if not first and not last:
        return size
    if not first:  # the last n bytes
        return min(int(last), size)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return max(0, end - start + 1)


class MeteredResponse(Response):
    """``inner`` sent as it is, its body bytes counted and handed to ``on_sent`` at the end."""

    def __init__(self, inner: Response, on_sent: Callable[[int], None]) -> None:
        # Not Response.__init__: the inner response renders its own body and headers.
        self.inner = inner
        self.on_sent = on_sent
        self.status_code = inner.status_code
        self.raw_headers = inner.raw_headers
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sent = 0

        async def counting(message: Message) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        extensions = scope.get("extensions") or {}
        if "http.response.pathsend" in extensions:  # the server would send the file unseen
            extensions = {k: v for k, v in extensions.items() if k != "http.response.pathsend"}
            scope = {**scope, "extensions": extensions}
        try:
            await self.inner(scope, receive, counting)
        finally:
            if sent:
                with anyio.CancelScope(shield=True):  # a client gone mid-transfer still pays
                    await run_in_threadpool(self.on_sent, sent)
        if self.background is not None:
            await self.background()


def metered_download(
    response: Response,
    catalog: Catalog,
    principal: Principal,
    dataset_id: str | None,
    expected: int,
) -> Response:
    """Refuse (429 ``monthly_quota_exceeded``) a download of ``expected`` bytes the user's
    month cannot hold; otherwise ``response``, recording the bytes it sends. Anonymous and
    single-user requests are not metered."""
    user = principal.user
    if user is None:
        return response
    check_download(catalog, user, expected)
    return MeteredResponse(response, _recorder(catalog, user.id, dataset_id))


def _recorder(catalog: Catalog, user_id: str, dataset_id: str | None) -> Callable[[int], None]:
    def record(sent: int) -> None:
        record_download(catalog, user_id, dataset_id, sent)

    return record


_EXPORT_PATH = re.compile(r"/(bbox|feature)(/|\.|$)")


class MeteredExportRoute(APIRoute):
    """A tiler route whose ``bbox`` / ``feature`` images count as downloads (other routes,
    tiles among them, are left as they are)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not _EXPORT_PATH.search(self.path) or self.path.endswith("/assets"):
            return handler

        async def metered(request: Request) -> Response:
            user = (await get_principal(request)).user
            if user is None:
                return await handler(request)
            catalog = request.app.state.catalog
            # the image's size is known only once rendered: refused when the month is used up
            await run_in_threadpool(check_download, catalog, user, None)
            response = await handler(request)
            dataset_id: Any = request.path_params.get("dataset_id")
            return MeteredResponse(response, _recorder(catalog, user.id, dataset_id))

        return metered
