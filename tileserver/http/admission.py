"""Admission control for expensive requests, so cheap tile requests keep their latency.

Tiles, previews, exports and statistics all run in one thread pool (``request_threads``). A
few dozen GeoPackage exports of a large public vector used to take every thread, and every
other request waited behind them for tens of seconds. This ASGI middleware sorts requests into
kinds before they reach the app:

- ``exports``: vector downloads (``/vectors/{id}/download``) and feature pages larger than
  ``LARGE_FEATURE_PAGE``;
- ``analysis``: raster and mosaic statistics, previews, bbox and feature images, and WMS
  ``GetMap`` images larger than ``LARGE_IMAGE_PIXELS``;

everything else (tiles above all) passes untouched. Each kind runs at most ``export_slots`` /
``analysis_slots`` requests at once per process; more wait for a slot on the event loop,
holding no thread, for up to ``heavy_wait_seconds`` (then 503). One client (its user, or its
IP address without a valid token) may have ``client_heavy_requests`` of each kind in flight,
waiting included; more is a 429 at once. Both answers carry ``Retry-After``. A slot is held
until the response is fully sent, so a streamed download counts while it streams.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from tileserver.auth.principal import query_pairs, remember, resolve_principal, token_of
from tileserver.errors import error_response
from tileserver.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LARGE_FEATURE_PAGE = 1000
"""Feature pages (``/vectors/{id}/features?limit=``) above this many features are exports."""
LARGE_IMAGE_PIXELS = 1024 * 1024
"""WMS GetMap images above this many pixels (width x height) are analysis requests."""
RETRY_AFTER_SECONDS = 5

_EXPORT = re.compile(r"^/vectors/[^/]+/download$")
_FEATURES = re.compile(r"^/vectors/[^/]+/features$")
_ANALYSIS = re.compile(r"^/(?:raster|mosaics)/[^/]+/(?:statistics|preview|bbox|feature)(?:[/.]|$)")
_WMS = re.compile(r"^/(?:wms|raster/[^/]+/wms|mosaics/[^/]+/wms)$")


def _number(value: str | None) -> float:
    try:
        number = float(value) if value is not None else 0.0
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


def request_kind(scope: Scope) -> str | None:
    """``exports``, ``analysis`` or None (not limited) for a request."""
    if scope["method"] not in ("GET", "POST", "HEAD"):
        return None
    path = scope["path"]
    if _EXPORT.match(path):
        return "exports"
    if _ANALYSIS.match(path):
        return "analysis"
    if _FEATURES.match(path):
        limit = dict(query_pairs(scope)).get("limit")
        return "exports" if _number(limit) > LARGE_FEATURE_PAGE else None
    if _WMS.match(path):
        query = {k.lower(): v for k, v in query_pairs(scope)}
        if query.get("request", "").lower() != "getmap":
            return None
        pixels = _number(query.get("width")) * _number(query.get("height"))
        return "analysis" if pixels > LARGE_IMAGE_PIXELS else None
    return None


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _refuse(send: Send, status: int, code: str, detail: str, retry_after: int) -> None:
    response = error_response(status, code, detail)
    response.headers["Retry-After"] = str(retry_after)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class AdmissionMiddleware:
    """Bounded pools per kind of expensive request, and a per-client cap (see the module)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.slots = {"exports": settings.export_slots, "analysis": settings.analysis_slots}
        self.per_client = settings.client_heavy_requests
        self.wait = settings.heavy_wait_seconds
        self._pools: dict[str, anyio.Semaphore] = {}
        self.in_flight: Counter[tuple[str, str]] = Counter()

    def _pool(self, kind: str) -> anyio.Semaphore | None:
        if not self.slots[kind]:
            return None
        if kind not in self._pools:  # made on the event loop, at first use
            self._pools[kind] = anyio.Semaphore(self.slots[kind])
        return self._pools[kind]

    async def _client(self, scope: Scope) -> str:
        """The user a valid token acts for, else the caller's IP address (a bad token is the
        app's 401 to answer; its requests still count against the address)."""
        try:
            principal = await resolve_principal(scope["app"], token_of(scope))
        except Exception:
            return f"ip:{_client_ip(scope)}"
        remember(scope, principal)
        if principal.user is not None:
            return f"user:{principal.user.id}"
        return f"ip:{_client_ip(scope)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = request_kind(scope) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        key = (kind, await self._client(scope))
        if self.per_client and self.in_flight[key] >= self.per_client:
            detail = (
                f"Too many {kind} requests at once: {self.in_flight[key]} of yours are running "
                f"or waiting, the limit is {self.per_client} per client "
                "(COGSIGHT_CLIENT_HEAVY_REQUESTS); retry when one has finished."
            )
            await _refuse(send, 429, "too_many_requests", detail, RETRY_AFTER_SECONDS)
            return
        self.in_flight[key] += 1
        try:
            await self._admit(kind, scope, receive, send)
        finally:
            self.in_flight[key] -= 1
            if self.in_flight[key] <= 0:
                del self.in_flight[key]

    async def _admit(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        pool = self._pool(kind)
        if pool is None:
            await self.app(scope, receive, send)
            return
        acquired = False
        with anyio.move_on_after(self.wait):
            await pool.acquire()
            acquired = True
        if not acquired:
            detail = (
                f"The server is busy with {kind} requests ({self.slots[kind]} at once, waited "
                f"{self.wait:g} s for a slot); retry shortly."
            )
            await _refuse(send, 503, "busy", detail, max(1, math.ceil(self.wait)))
            return
        try:
            await self.app(scope, receive, send)
        finally:
            pool.release()
