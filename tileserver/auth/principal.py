"""Finding the principal of a request: a bearer token, ``?access_token=``, or nobody.

The user count is cached for a few seconds so that single-user mode costs one query per
interval, not per tile; a token lookup is one indexed query.
"""

from __future__ import annotations

import time

from fastapi import Request

from tileserver.auth.schemas import Principal
from tileserver.auth.store import UserStore
from tileserver.errors import Unauthorized

USERS_CACHE_SECONDS = 5.0


def _token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.query_params.get("access_token")


def principal_of(request: Request) -> Principal:
    """The principal for ``request`` (memoised on the request). A token that is given but
    unknown is a 401, never a silent anonymous read."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    app = request.app
    store = UserStore(app.state.catalog, app.state.settings)
    token = _token_of(request)
    if token:
        user = store.authenticate(token)
        if user is None:
            raise Unauthorized("The API token is unknown or revoked.")
        principal = Principal(user=user)
    else:
        principal = Principal(single_user=_no_users(app, store))
    request.state.principal = principal
    return principal


def _no_users(app: object, store: UserStore) -> bool:
    state = app.state  # type: ignore[attr-defined]
    now = time.monotonic()
    cached = getattr(state, "users_seen", None)
    if cached is not None and now - cached[0] < USERS_CACHE_SECONDS:
        return not cached[1]
    exists = store.count() > 0
    state.users_seen = (now, exists)
    return not exists
