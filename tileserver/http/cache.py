"""An in-memory LRU cache for tile responses, with ETag and Cache-Control.

It is a plain ASGI middleware (no BaseHTTPMiddleware) so a hit costs microseconds: no
dependency resolution, no reader, no encoding. It authenticates first, all the same: before a
tile is answered, from the cache or not, the request's principal is resolved (a cached token
lookup, ``tileserver.auth.principal``) and the dataset's or mosaic's record (a cached catalog
read) must be readable by it; anything else (an unknown or revoked token, an unknown id, a
private thing of someone else) goes to the app, which answers 401 or 404 as it always does.
Revoking a token, making a dataset private or deleting it therefore reaches cached tiles as
soon as those short caches expire (``CACHE_SECONDS``, ``RecordCache``'s TTL), on every replica.

Entries are keyed by path, normalized query (``access_token`` left out) and the principal
(user id, anonymous, or single-user mode), never by token bytes, and live at most ``ttl``
seconds. Files that can change in place (an edited vector dataset's PMTiles archive) register a
*freshness* function for their path prefix (``register_freshness``): its value (e.g. the file's
inode, mtime and size) is stored with the entry and compared on every hit, so a replaced file is
never answered from the cache, whichever API process replaced it.

``Cache-Control`` is ``public`` only for a public dataset or mosaic asked for without a token;
everything else is ``private`` (``cache_scope``). Browsers may keep tiles of files that can
change for ``max-age`` only when the URL names a version (``?v=``); without one they must
revalidate (``no-cache``, answered 304 by ETag). TileJSON, WMTS capabilities and tileset
documents asked for with a token embed it in their URLs: they get ``private, no-store``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from starlette.concurrency import run_in_threadpool

from tileserver.auth.access import Owned, can_read
from tileserver.auth.principal import query_pairs, remember, resolve_principal, token_of
from tileserver.auth.schemas import Principal
from tileserver.errors import NotFoundError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TILE_PATH = re.compile(
    r"^/(raster|mosaics|vectors)/([^/]+)/tiles/(?:[^/]+/)?\d+/\d+/\d+(?:\.[A-Za-z0-9]+)?$"
)
TERRAIN_PATH = re.compile(r"^/(terrain)/([^/]+)/\d+/\d+/\d+\.terrain$")
"""Quantized-mesh tiles: the id is a dataset's or a mosaic's."""
DOCUMENT_PATH = re.compile(
    r"^/(?:raster|mosaics|vectors)/[^/]+/"
    r"(?:(?:[^/]+/)?tilejson\.json|WMTSCapabilities\.xml|tiles(?:/[^/]+)?)$"
)
"""Documents whose URLs repeat the request's query, ``access_token`` included."""

Freshness = Callable[[Scope], Hashable]
_FRESHNESS: dict[str, Freshness] = {}


def register_freshness(path_prefix: str, version: Freshness) -> None:
    """Cached tiles under ``path_prefix`` are valid only while ``version(scope)`` answers what
    it answered when the tile was made (one registration per prefix; later ones replace it)."""
    _FRESHNESS[path_prefix] = version


def _mutable(scope: Scope) -> Freshness | None:
    path = scope["path"]
    for prefix, version in _FRESHNESS.items():
        if path.startswith(prefix):
            return version
    return None


def _version(scope: Scope) -> Hashable:
    version = _mutable(scope)
    return version(scope) if version is not None else None


def _unversioned(scope: Scope) -> bool:
    """A tile of a file that may change, asked for without a ``v=`` version in the URL."""
    if _mutable(scope) is None:
        return False
    query = scope.get("query_string", b"")
    return not (query.startswith(b"v=") or b"&v=" in query)


def cache_scope(visibility: str, principal: Principal) -> str:
    """``public`` only for a public thing asked for without a token (a shared cache may keep
    it for everyone); ``private`` for anything private or asked for with a token."""
    return "public" if visibility == "public" and principal.user is None else "private"


@dataclass(frozen=True)
class CachedTile:
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    etag: bytes
    expires: float
    version: Hashable = None


def _who(principal: Principal) -> str:
    if principal.user is not None:
        return f"user:{principal.user.id}"
    return "single-user" if principal.single_user else "anonymous"


def _key(path: str, pairs: list[tuple[str, str]], principal: Principal) -> str:
    """Path + sorted query without the token + who asked: a tile made for one principal is
    never answered from the cache to another, and a new token of the same user still hits."""
    query = sorted(p for p in pairs if p[0] != "access_token")
    return f"{path}?{query!r}#{_who(principal)}"  # repr: unambiguous, and cheaper than urlencode


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value
    return None


async def _record(records: Any, family: str, ident: str) -> Owned:
    """The tile's dataset or mosaic (``RecordCache``: no database round trip while cached)."""
    if family == "terrain":
        found = records.peek_dataset(ident) or records.peek_mosaic(ident)
        if found is not None:
            return found  # type: ignore[no-any-return]
        try:
            return await run_in_threadpool(records.dataset, ident)  # type: ignore[no-any-return]
        except NotFoundError:
            return await run_in_threadpool(records.mosaic, ident)  # type: ignore[no-any-return]
    if family == "mosaics":
        mosaic = records.peek_mosaic(ident)
        return mosaic or await run_in_threadpool(records.mosaic, ident)
    dataset = records.peek_dataset(ident)
    return dataset or await run_in_threadpool(records.dataset, ident)


def _not_stored(send: Send) -> Send:
    """``send`` with the response marked ``private, no-store``."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k != b"cache-control"]
            message = {**message, "headers": [*headers, (b"cache-control", b"private, no-store")]}
        await send(message)

    return wrapped


class TileCacheMiddleware:
    def __init__(
        self, app: ASGIApp, max_bytes: int, max_age: int, ttl: float | None = None
    ) -> None:
        self.app = app
        self.max_age = max_age
        self.ttl = float(max_age if ttl is None else ttl)
        self.enabled = max_bytes > 0
        self.cache: LRUCache[str, CachedTile] = LRUCache(
            maxsize=max(max_bytes, 1), getsizeof=lambda t: len(t.body) + 256
        )
        self.hits = 0
        self.misses = 0
        self._controls = {
            (who, unversioned): (
                f"{who}, no-cache" if unversioned else f"{who}, max-age={max_age}"
            ).encode()
            for who in ("public", "private")
            for unversioned in (False, True)
        }

    def invalidate(self, path_prefix: str) -> int:
        stale = [k for k in self.cache if k.startswith(path_prefix)]
        for key in stale:
            self.cache.pop(key, None)
        return len(stale)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        tile = TILE_PATH.match(path) or TERRAIN_PATH.match(path)
        if tile is None:
            if DOCUMENT_PATH.match(path) and token_of(scope) is not None:
                send = _not_stored(send)
            await self.app(scope, receive, send)
            return

        app = scope["app"]
        pairs = query_pairs(scope)
        try:
            principal = await resolve_principal(app, token_of(scope, pairs))
            record = await _record(app.state.records, tile[1], tile[2])
        except Exception:
            # An unknown or revoked token, an unknown id, or anything else: the app answers it
            # (401, 404, its error map) and nothing is served from or put in the cache.
            await self.app(scope, receive, send)
            return
        remember(scope, principal)
        if not can_read(principal, record, app.state.settings.anonymous_read):
            await self.app(scope, receive, send)  # the app's 404, as if it did not exist
            return

        control = self._controls[cache_scope(record.visibility, principal), _unversioned(scope)]
        key = _key(path, pairs, principal)
        version = _version(scope)
        if self.enabled and (hit := self.cache.get(key)) is not None:
            if hit.version == version and time.monotonic() < hit.expires:
                self.hits += 1
                await self._send_cached(scope, send, hit, control)
                return
            self.cache.pop(key, None)  # expired, or its source file changed since
        self.misses += 1

        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            assert start is not None
            body = b"".join(chunks)
            if start["status"] != 200:
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
            headers = (
                *tuple(
                    (k, v)
                    for k, v in start.get("headers", [])
                    if k.lower() not in (b"content-length", b"etag", b"cache-control")
                ),
                (b"etag", etag),
            )
            made = CachedTile(
                body=body,
                headers=headers,
                etag=etag,
                expires=time.monotonic() + self.ttl,
                version=version,
            )
            if self.enabled:
                self.cache[key] = made
            await self._send_cached(scope, send, made, control)

        await self.app(scope, receive, capture)

    async def _send_cached(
        self, scope: Scope, send: Send, tile: CachedTile, control: bytes
    ) -> None:
        if _header(scope, b"if-none-match") == tile.etag:
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": [(b"etag", tile.etag), (b"cache-control", control)],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [
            *tile.headers,
            (b"cache-control", control),
            (b"content-length", str(len(tile.body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else tile.body
        await send({"type": "http.response.body", "body": body})
