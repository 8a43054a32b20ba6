"""Forgetting a changed or deleted dataset or mosaic in this API process's caches, at once.

Two caches hold what a change must reach: ``app.state.records`` (``RecordCache``: records for
10 s, so a tile costs no database round trip) and the tile cache middleware (rendered tiles,
keyed by path). The middleware checks the record's visibility before every hit, so forgetting
the record is what hides a dataset made private; dropping its tiles frees the memory and keeps
a renamed or replaced thing from answering old bytes. Other replicas catch up when their
record caches expire.
"""

from __future__ import annotations

from typing import Any

from tileserver.http.cache import TileCacheMiddleware
from tileserver.manage.caches import Family

TILE_PREFIXES: dict[str, tuple[str, ...]] = {
    "dataset": ("/raster/", "/vectors/"),
    "mosaic": ("/mosaics/",),
}


def tile_caches(app: Any) -> list[Any]:
    """The ``TileCacheMiddleware`` instances of ``app``: Starlette builds the middleware stack
    on the first request and keeps it as ``app.middleware_stack``, each layer holding the next
    as ``.app`` (none before the first request, when nothing is cached yet)."""
    found: list[Any] = []
    node = getattr(app, "middleware_stack", None)
    seen: set[int] = set()
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, TileCacheMiddleware):
            found.append(node)
        node = getattr(node, "app", None)
    return found


class AppCaches:
    """A ``Forget`` over one app's caches (what the routers pass to the services)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, family: Family, ident: str) -> None:
        records = getattr(self.app.state, "records", None)
        if records is not None:
            records.forget(ident)
        for cache in tile_caches(self.app):
            for prefix in TILE_PREFIXES[family]:
                cache.invalidate(f"{prefix}{ident}/")
