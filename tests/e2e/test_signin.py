"""Signing in to the viewer, in headless Debian chromium, on a server with users: without a token
the page lists public data only; with alice's token typed in the header's sign-in control it
lists her private raster, draws it (tiles fetched with ``?access_token=``) and renames it from the
catalog panel (PATCH with ``Authorization: Bearer``); a wrong token is refused with the server's
reason; a token in the page address is kept and taken out of it; signing out hides her data again.

The server runs over a data dir of its own (two users, created with UserStore before it
starts). Nothing leaves the server and no script error is raised.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.e2e.browser import settle, shot, viewer_page
from tests.rasters import utm_geotiff
from tests.servers import uvicorn_server
from tileserver.auth.store import UserStore
from tileserver.http.app import create_app
from tileserver.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MAGENTA = (230, 20, 230)


def _rgb_tif(colour: tuple[int, int, int], easting: float, size: int = 128) -> bytes:
    """An 8-bit red/green/blue raster of one colour (drawn as it is), 10 m pixels in UTM 50N."""
    data = np.empty((3, size, size), dtype="uint8")
    for band, value in enumerate(colour):
        data[band] = value
    return utm_geotiff(data, easting, ("red", "green", "blue"))


class World:
    def __init__(self, url: str, tokens: dict[str, str], ids: dict[str, str]) -> None:
        self.url, self.tokens, self.ids = url, tokens, ids

    def get(self, who: str | None, path: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=30)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("signin-data")
    settings = Settings(data_dir=data)
    store = UserStore(create_app(settings).state.catalog, settings)
    tokens = {}
    for name in ("alice", "bob"):
        store.add(name)
        tokens[name] = store.create_token(name)

    with uvicorn_server(data, {"COGSIGHT_BASEMAPS": None}) as url:

        def upload(who: str, name: str, body: bytes, visibility: str) -> str:
            r = httpx.post(
                f"{url}/datasets",
                headers={"Authorization": f"Bearer {tokens[who]}"},
                files={"file": (name, body, "image/tiff")},
                data={"visibility": visibility, "title": name},
                timeout=120,
            )
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        ids = {
            "private": upload("alice", "alice-private.tif", _rgb_tif(MAGENTA, 250000), "private"),
            "public": upload("bob", "bob-public.tif", _rgb_tif((20, 200, 20), 254000), "public"),
        }
        yield World(url, tokens, ids)


def _ready(page: Any) -> None:
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    page.wait_for_selector("[data-testid='account-name']", timeout=30_000)


def _listed(page: Any, dataset_id: str) -> bool:
    return bool(page.locator(f"[data-testid='catalog-entry-{dataset_id}']").count() == 1)


def _box(image: np.ndarray, x: float, y: float, r: int = 12) -> np.ndarray:
    xi, yi = round(x), round(y)
    return image[:, yi - r : yi + r, xi - r : xi + r].reshape(3, -1)


@pytest.mark.browser
def test_signing_in_shows_draws_and_renames_private_data_and_signing_out_hides_it(world):
    private, public = world.ids["private"], world.ids["public"]
    alice = world.tokens["alice"]
    with viewer_page(world.url, 960, 600) as page:
        tiles: list[tuple[str, int]] = []
        tile_path = f"/raster/{private}/tiles/"
        page.on(
            "response", lambda r: tiles.append((r.url, r.status)) if tile_path in r.url else None
        )
        patches: list[tuple[str, str | None]] = []
        page.on(
            "request",
            lambda r: (
                patches.append((r.url, r.headers.get("authorization")))
                if r.method == "PATCH"
                else None
            ),
        )
        _ready(page)

        # anonymous: bob's public raster only, no lock on it
        assert page.inner_text("[data-testid='account-name']") == "not signed in"
        assert _listed(page, public) and not _listed(page, private)
        assert page.locator(f"[data-testid='private-{public}']").count() == 0

        # a wrong token: refused with the server's reason, nothing kept
        page.click("[data-testid='signin-open']")
        page.fill("[data-testid='signin-token']", "cs_not-a-real-token")
        page.click("[data-testid='signin-submit']")
        page.wait_for_selector("[data-testid='signin-error']", timeout=10_000)
        assert "unknown or revoked" in page.inner_text("[data-testid='signin-error']")
        assert page.evaluate("() => localStorage.getItem('cogsight.token')") is None

        # alice's token, typed in the control: the page starts again as alice
        page.fill("[data-testid='signin-token']", alice)
        with page.expect_navigation(timeout=30_000):
            page.click("[data-testid='signin-submit']")
        _ready(page)
        assert page.inner_text("[data-testid='account-name']") == "alice"
        assert page.locator("[data-testid='signout']").count() == 1
        assert _listed(page, private) and _listed(page, public)
        assert page.locator(f"[data-testid='private-{private}']").count() == 1, "a lock badge"

        # added from the catalog: her tiles are fetched with the token and drawn
        page.click(f"[data-testid='add-{private}']")
        page.wait_for_function("() => window.cogsight.layers.length === 1", timeout=30_000)
        page.evaluate(
            "(id) => window.cogsight.zoomTo(window.cogsight.layers[0], {duration: 0})", private
        )
        settle(page)
        bounds = world.get("alice", f"/datasets/{private}").json()["bounds"]
        centre = page.evaluate(
            "([lon, lat]) => window.cogsight.screenPosition(lon, lat)",
            [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2],
        )
        drawn = np.median(_box(shot(page, "signin-alice-private.png"), centre["x"], centre["y"]), 1)
        page.evaluate("() => { window.cogsight.layers[0].imageryLayer.show = false; }")
        settle(page, 600)
        bare = np.median(_box(shot(page, "signin-alice-hidden.png"), centre["x"], centre["y"]), 1)
        page.evaluate("() => { window.cogsight.layers[0].imageryLayer.show = true; }")
        assert drawn[0] > 170 and drawn[1] < 90 and drawn[2] > 170, f"magenta drawn: {drawn}"
        assert np.abs(drawn - bare).sum() > 150, f"the layer changed the picture: {drawn} vs {bare}"
        assert tiles and all(s == 200 for _, s in tiles), tiles
        assert all(f"access_token={alice}" in u for u, _ in tiles), "tiles carry the token"
        handle_url = page.evaluate("() => window.cogsight.layers[0].url")
        assert "access_token" not in handle_url, "the layer's shown URL stays token-free"

        # renamed from the catalog panel: a PATCH with her bearer token
        page.click(f"[data-testid='manage-{private}']")
        page.fill(f"[data-testid='manage-title-{private}']", "Alice's lake, renamed")
        page.click(f"[data-testid='manage-save-{private}']")
        page.wait_for_selector(
            f"[data-testid='catalog-title-{private}']:has-text(\"Alice's lake, renamed\")",
            timeout=15_000,
        )
        assert world.get("alice", f"/datasets/{private}").json()["title"] == "Alice's lake, renamed"
        assert patches == [(f"{world.url}/datasets/{private}", f"Bearer {alice}")]

        # signing out: her data disappears
        with page.expect_navigation(timeout=30_000):
            page.click("[data-testid='signout']")
        _ready(page)
        assert page.inner_text("[data-testid='account-name']") == "not signed in"
        assert page.evaluate("() => localStorage.getItem('cogsight.token')") is None
        assert not _listed(page, private) and _listed(page, public)

        # a token in the address: kept, and taken out of the address before anything else
        page.goto(f"{world.url}/?x=1#access_token={world.tokens['bob']}")
        _ready(page)
        assert page.evaluate("() => location.href") == f"{world.url}/?x=1"
        assert page.inner_text("[data-testid='account-name']") == "bob"
        assert not _listed(page, private) and _listed(page, public)

        assert page.outside_requests == [], "nothing leaves the server"  # type: ignore[attr-defined]
        assert page.errors == [], page.errors  # type: ignore[attr-defined]
