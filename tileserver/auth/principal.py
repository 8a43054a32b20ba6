"""Finding the principal of a request: a bearer token, ``?access_token=``, or nobody.

Tokens and the "are there users yet" answer are cached for ``CACHE_SECONDS``, so a tile request
costs no database round trip on the hot path. That is also the bound on revocation: a token
revoked in the shared database (``cogsight user revoke``, any replica) stops working on every
API process within ``CACHE_SECONDS``; no process can clear the others' caches, so none tries.
A token that is given but unknown is a 401, never a silent anonymous read.

The tile cache middleware resolves the principal before it answers from its cache and leaves
it on the request (``remember``), so the app does not resolve it a second time.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from cachetools import TTLCache
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from tileserver.auth.schemas import Principal, User
from tileserver.auth.store import UserStore, digest
from tileserver.errors import Unauthorized

CACHE_SECONDS = 5.0

Scope = MutableMapping[str, Any]


def query_pairs(scope: Scope) -> list[tuple[str, str]]:
    """The decoded query, as Starlette's ``request.query_params`` reads it."""
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def token_of(scope: Scope, pairs: list[tuple[str, str]] | None = None) -> str | None:
    """The token a request carries: ``Authorization: Bearer`` first, else ``access_token`` from
    the decoded query (so ``access%5Ftoken=`` is one too; the last one wins, as in Starlette)."""
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            header = value.decode("latin-1")
            if header[:7].lower() == "bearer ":
                return header[7:].strip()
            break
    token = None
    for key, value in query_pairs(scope) if pairs is None else pairs:
        if key == "access_token":
            token = value
    return token or None


class PrincipalResolver:
    """Per-app caches: token digest -> user, and whether any user exists."""

    def __init__(self, store: UserStore, ttl: float = CACHE_SECONDS) -> None:
        self.store = store
        self.ttl = ttl
        self._tokens: TTLCache[str, User | None] = TTLCache(maxsize=4096, ttl=ttl)
        self._users_seen: tuple[float, bool] | None = None

    def forget(self) -> None:
        self._tokens.clear()
        self._users_seen = None

    def users_exist(self) -> bool:
        now = time.monotonic()
        if self._users_seen is None or now - self._users_seen[0] > self.ttl:
            self._users_seen = (now, self.store.count() > 0)
        return self._users_seen[1]

    def cached(self, token: str | None) -> Principal | None:
        """The principal without touching the database, or None when a lookup is needed."""
        if token is None:
            seen = self._users_seen
            if seen is not None and time.monotonic() - seen[0] <= self.ttl:
                return Principal(single_user=not seen[1])
            return None
        try:
            user = self._tokens[digest(token)]  # one lookup: this runs on every cached tile
        except KeyError:
            return None
        return _from_user(user)

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


async def resolve_principal(app: Any, token: str | None) -> Principal:
    """Who ``token`` acts for; no database round trip while the answer is cached.
    Raises Unauthorized for an unknown or revoked token."""
    resolver = resolver_of(app)
    principal = resolver.cached(token)
    if principal is None:
        principal = await run_in_threadpool(resolver.resolve, token)
    return principal


def remember(scope: Scope, principal: Principal) -> None:
    """Leave the principal on the request (``request.state.principal``) for ``get_principal``."""
    scope.setdefault("state", {})["principal"] = principal


async def get_principal(request: Request) -> Principal:
    """FastAPI dependency: who the request acts for (memoised on the request)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    principal = await resolve_principal(request.app, token_of(request.scope))
    request.state.principal = principal
    return principal
