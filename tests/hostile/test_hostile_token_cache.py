"""Token lifecycle against the tile cache: for every cached tile family (raster and mosaic tiles
in PNG, JPEG and WebP; vector tiles in MVT), with the token as a Bearer header, as
``?access_token=`` and as ``?access%5Ftoken=``, with and without ``If-None-Match``: warm the
cache, then revoke the owner's tokens, change his token, make his data private or delete it, and
no 200 and no 304 comes back to a caller who may no longer read it — only the app's 401 or 404,
once the short principal and record caches have expired (the bound every replica keeps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count

import pytest
from fastapi.testclient import TestClient

from tests.auth.token_world import AUTH_MODES, Owner, deployment, new_owner, wait_out_caches
from tests.hostile.checks import assert_refused
from tileserver.auth.store import UserStore


def _revoke(owner: Owner) -> None:
    owner.revoke()


def _change_token(owner: Owner) -> None:
    owner.change_token()


def _make_private(owner: Owner) -> None:
    owner.make_private()


def _delete(owner: Owner) -> None:
    owner.delete_all()


# scenario: (the owner's data starts, what changes, who asked before and is refused now, status)
SCENARIOS: dict[str, tuple[str, Callable[[Owner], None], tuple[str, ...], int, str | None]] = {
    "revoke": ("private", _revoke, ("owner",), 401, "unauthorized"),
    "change-token": ("private", _change_token, ("owner",), 401, "unauthorized"),
    "make-private": ("public", _make_private, ("other", "anonymous"), 404, "not_found"),
    "delete": ("private", _delete, ("owner",), 404, None),  # dataset_ / mosaic_not_found
}
_SEEDS = count(10)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Iterator[tuple[TestClient, UserStore]]:
    app, store = deployment(tmp_path_factory.mktemp("hostile-token-cache"))
    with TestClient(app) as client:
        yield client, store


@pytest.mark.parametrize("mode", AUTH_MODES)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_token_lifecycle_against_the_cache(deployed, scenario, mode):
    client, store = deployed
    visibility, change, callers, status, code = SCENARIOS[scenario]
    owner = new_owner(client, store, f"bob-{scenario}-{mode}", visibility, next(_SEEDS))
    other_name = f"eve-{scenario}-{mode}"
    store.add(other_name)
    tokens = {"owner": owner.token, "other": store.create_token(other_name), "anonymous": None}

    def ask(url: str, who: str, **headers: str):  # type: ignore[no-untyped-def]
        token = tokens[who]
        return owner.get(url, None if token is None else mode, token=token, **headers)

    urls = owner.tile_urls()
    warm = {}
    for name, url in urls.items():
        for who in callers:
            first = ask(url, who)
            assert first.status_code == 200, (name, who, first.text[:200])
            assert ask(url, who, **{"If-None-Match": first.headers["etag"]}).status_code == 304
            warm[name, who] = first

    change(owner)
    wait_out_caches()
    for (name, who), first in warm.items():
        for headers in ({}, {"If-None-Match": first.headers["etag"]}):
            again = ask(urls[name], who, **headers)
            assert again.status_code not in (200, 304), (name, who, headers, again.status_code)
            assert_refused(again, status, code, hidden=[t for t in tokens.values() if t])

    if scenario == "change-token":  # the owner's new token still reads his tiles (same entry)
        fresh = owner.get(urls["raster-png"], mode)
        assert fresh.status_code == 200 and fresh.content == warm["raster-png", "owner"].content
    if scenario == "make-private":  # the owner still reads them, never publicly cached again
        mine = owner.get(urls["vector-mvt"], mode)
        assert mine.status_code == 200 and mine.headers["cache-control"].startswith("private")
