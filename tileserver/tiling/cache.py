"""An in-memory LRU cache for tile responses, with ETag and Cache-Control.

It is a plain ASGI middleware (no BaseHTTPMiddleware) so a hit costs microseconds: no
dependency resolution, no reader, no encoding. Tiles are keyed by path and normalized query.
Raster dataset ids are immutable, so those entries only go stale when a dataset is deleted,
which calls ``invalidate``. Files that can change in place (an edited vector dataset's
PMTiles archive) register a *freshness* function for their path prefix
(``register_freshness``): its value (e.g. the file's inode, mtime and size) is stored with the
entry and compared on every hit, so a replaced file is never answered from the cache, whichever
API process replaced it. Browsers may keep such tiles for ``max-age`` only when the URL names
a version (``?v=``); without one they must revalidate (``no-cache``, answered 304 by ETag).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cachetools import LRUCache

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TILE_PATH = re.compile(r"^/(raster|mosaics|vectors)/[^/]+/tiles/")

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


@dataclass(frozen=True)
class CachedTile:
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    etag: bytes
    version: Hashable = None


def _key(scope: Scope) -> str:
    """Path + sorted query (``access_token`` included) + the bearer token's hash: a tile the
    server authorised for one token is never answered from the cache for another."""
    query = scope.get("query_string", b"").decode("latin-1")
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    key = f"{scope['path']}?{urlencode(pairs)}"
    auth = _header(scope, b"authorization")
    if auth:
        key += "#" + hashlib.blake2b(auth, digest_size=12).hexdigest()
    return key


def _personal(scope: Scope) -> bool:
    """A request made with a token: its responses must not sit in shared caches."""
    return bool(_header(scope, b"authorization")) or b"access_token=" in scope.get(
        "query_string", b""
    )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value
    return None


class TileCacheMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, max_age: int) -> None:
        self.app = app
        self.max_age = max_age
        self.enabled = max_bytes > 0
        self.cache: LRUCache[str, CachedTile] = LRUCache(
            maxsize=max(max_bytes, 1), getsizeof=lambda t: len(t.body) + 256
        )
        self.hits = 0
        self.misses = 0
        self._cache_control = f"public, max-age={max_age}".encode()
        self._private = f"private, max-age={max_age}".encode()

    def _cache_header(self, scope: Scope) -> bytes:
        personal = _personal(scope)
        if _unversioned(scope):
            return b"private, no-cache" if personal else b"public, no-cache"
        return self._private if personal else self._cache_control

    def invalidate(self, path_prefix: str) -> int:
        stale = [k for k in self.cache if k.startswith(path_prefix)]
        for key in stale:
            self.cache.pop(key, None)
        return len(stale)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not TILE_PATH.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return

        key = _key(scope)
        version = _version(scope)
        if self.enabled and (hit := self.cache.get(key)) is not None:
            if hit.version == version:
                self.hits += 1
                await self._send_cached(scope, send, hit)
                return
            self.cache.pop(key, None)  # its source file changed since
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
                (b"cache-control", self._cache_header(scope)),
            )
            tile = CachedTile(body=body, headers=headers, etag=etag, version=version)
            if self.enabled:
                self.cache[key] = tile
            await self._send_cached(scope, send, tile)

        await self.app(scope, receive, capture)

    async def _send_cached(self, scope: Scope, send: Send, tile: CachedTile) -> None:
        if _header(scope, b"if-none-match") == tile.etag:
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": [
                        (b"etag", tile.etag),
                        (b"cache-control", self._cache_header(scope)),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [*tile.headers, (b"content-length", str(len(tile.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else tile.body
        await send({"type": "http.response.body", "body": body})
