"""Headless Debian chromium on the viewer, shared by the browser tests: the launch, the page's
record of outside requests and script errors, and the waits and screen positions they use."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.tiling.helpers import decode

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("COGSIGHT_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--ignore-gpu-blocklist",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def viewer_page(live_server: str, width: int, height: int) -> Iterator[Any]:
    """The viewer loaded and ready in a ``width`` x ``height`` window. ``page.outside_requests``
    lists every URL it asked for off the server (none should be), ``page.errors`` its uncaught
    script errors."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.outside_requests = []  # type: ignore[attr-defined]
        page.errors = []  # type: ignore[attr-defined]
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith((live_server, "data:", "blob:"))
                else page.outside_requests.append(r.url)  # type: ignore[attr-defined]
            ),
        )
        page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
        page.goto(f"{live_server}/")
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        yield page
        browser.close()


def settle(page: Any, extra_ms: int = 1200) -> None:
    """Wait until the globe and every vector tileset have loaded what is in view."""
    page.wait_for_function(
        """() => { const c = window.cogsight; c.viewer.scene.requestRender();
        return c.viewer.scene.globe.tilesLoaded && c.vectorLayers.every(
            h => !h.loading && h.provider && h.provider.tileset.tilesLoaded); }""",
        timeout=120_000,
        polling=500,
    )
    page.wait_for_timeout(extra_ms)


def screen(page: Any, lon: float, lat: float) -> tuple[float, float]:
    """The window position of a point on the globe."""
    p = page.evaluate("([lon, lat]) => window.cogsight.screenPosition(lon, lat)", [lon, lat])
    return p["x"], p["y"]


def shot(page: Any, name: str) -> np.ndarray:
    """A screenshot saved as ``test-artifacts/name``, as an RGB array (bands first)."""
    return decode(page.screenshot(path=str(ARTIFACTS / name)))[:3].astype(int)


def save(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name))
