"""Finding the principal of a request: a bearer token, ``?access_token=``, or nobody.

Tokens and the "are there users yet" answer are cached for a few seconds, so a tile request
costs no database round trip on the hot path (a revoked token stops working within that
time). A token that is given but unknown is a 401, never a silent anonymous read.
"""

from __future__ import annotations

import time
from typing import Any

from cachetools import TTLCache
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from tileserver.auth.schemas import Principal, User
from tileserver.auth.store import UserStore, digest
from tileserver.errors import Unauthorized

CACHE_SECONDS = 5.0


def _token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.query_params.get("access_token") or None


class PrincipalResolver:
    """Per-app caches: token digest -> user, and whether any user exists."""

    def __init__(self, store: UserStore) -> None:
        self.store = store
        self._tokens: TTLCache[str, User | None] = TTLCache(maxsize=4096, ttl=CACHE_SECONDS)
        self._users_seen: tuple[float, bool] | None = None

    def forget(self) -> None:
        self._tokens.clear()
        self._users_seen = None

    def users_exist(self) -> bool:
        now = time.monotonic()
        if self._users_seen is None or now - self._users_seen[0] > CACHE_SECONDS:
            self._users_seen = (now, self.store.count() > 0)
        return self._users_seen[1]

    def cached(self, token: str | None) -> Principal | None:
        """The principal without touching the database, or None when a lookup is needed."""
        if token is None:
            seen = self._users_seen
            if seen is not None and time.monotonic() - seen[0] <= CACHE_SECONDS:
                return Principal(single_user=not seen[1])
            return None
        key = digest(token)
        if key in self._tokens:
            return _from_user(self._tokens[key])
        return None

    def resolve(self, token: str | None) -> Principal:
        if token is None:
            return Principal(single_user=not self.users_exist())
        key = digest(token)
        if key not in self._tokens:
            self._tokens[key] = self.store.authenticate(token)
        return _from_user(self._tokens[key])


def _from_user(user: User | None) -> Principal:
    if user is None:
        raise Unauthorized("The API token is unknown or revoked.")
    return Principal(user=user)


def resolver_of(app: Any) -> PrincipalResolver:
    resolver = getattr(app.state, "principals", None)
    if resolver is None:
        resolver = app.state.principals = PrincipalResolver(
            UserStore(app.state.catalog, app.state.settings)
        )
    return resolver


async def get_principal(request: Request) -> Principal:
    """FastAPI dependency: who the request acts for (memoised on the request)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    resolver = resolver_of(request.app)
    token = _token_of(request)
    principal = resolver.cached(token)
    if principal is None:
        principal = await run_in_threadpool(resolver.resolve, token)
    request.state.principal = principal
    return principal
