"""JSON request bodies read with a byte limit, before FastAPI parses and validates them.

FastAPI reads a body whole before any dependency runs, so a limit has to sit in the route
itself: ``bounded_route`` answers 413 ``payload_too_large`` from the ``Content-Length`` alone,
or the moment a streamed (chunked) body passes the limit, without holding more of it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from tileserver.errors import PayloadTooLarge
from tileserver.ingest.receive import human_bytes
from tileserver.settings import Settings

WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def _too_large(limit: int, setting: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than the limit of {human_bytes(limit)} "
        f"({limit} bytes, COGSIGHT_{setting.upper()})."
    )


async def read_bounded(request: Request, limit: int, setting: str) -> None:
    """Read the body (kept on the request for FastAPI) or raise ``PayloadTooLarge``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit, setting)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, setting)
        chunks.append(chunk)
    request._body = b"".join(chunks)


def bounded_route(setting: str) -> type[APIRoute]:
    """A route class whose POST/PUT/PATCH bodies are at most ``Settings.<setting>`` bytes."""

    class BoundedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def bounded(request: Request) -> Response:
                if request.method in WITH_BODY:
                    settings: Settings = request.app.state.settings
                    await read_bounded(request, int(getattr(settings, setting)), setting)
                return await handler(request)

            return bounded

    return BoundedRoute
