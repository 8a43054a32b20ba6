"""One real server on loopback for every client test (the demo scenes, a synthetic R/G/B scene
and the real samples present), and the datasets as its clients find them."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clients.served import DATASETS, RESULTS, SIZE, Dataset, populate
from tests.e2e.browser import ARGS, CHROMIUM
from tests.servers import uvicorn_server
from tileserver.settings import Settings


@pytest.fixture(scope="session")
def clients_server(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, demo: dict[str, str]
) -> Iterator[tuple[str, dict[str, Dataset]]]:
    """The server's URL and each registered dataset by name (absent samples left out)."""
    RESULTS.unlink(missing_ok=True)  # the table is this run's
    data_dir = tmp_path_factory.mktemp("clients-data")
    scratch = tmp_path_factory.mktemp("clients-scratch")
    ids = populate(data_dir, settings.data_dir / "demo-source", scratch)
    with uvicorn_server(data_dir) as url:
        datasets = {}
        for name, (ident, mosaic) in ids.items():
            meta = httpx.get(f"{url}/{'mosaics' if mosaic else 'datasets'}/{ident}").json()
            datasets[name] = Dataset(name, meta, mosaic)
        yield url, datasets


@pytest.fixture(scope="session")
def server_url(clients_server: tuple[str, dict[str, Dataset]]) -> str:
    return clients_server[0]


@pytest.fixture(scope="session")
def datasets(clients_server: tuple[str, dict[str, Dataset]]) -> dict[str, Dataset]:
    return clients_server[1]


def pick(datasets: dict[str, Dataset], name: str) -> Dataset:
    """The dataset, or a skip naming the real sample that is not there."""
    if name not in datasets:
        pytest.skip(f"real sample for {name!r} not present (set COGSIGHT_REALDATA_DIR)")
    return datasets[name]


NAMES = list(DATASETS)
WEB = Path(__file__).with_name("web")
LIBRARIES = {"ol": "OpenLayers WMTS", "leaflet": "Leaflet XYZ", "maplibre": "MapLibre TileJSON"}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def web_origin() -> Iterator[str]:
    """``tests/clients/web`` on its own loopback port."""
    if not (WEB / "node_modules" / "ol").is_dir():
        pytest.skip("the web map libraries are not installed (make client-web: npm ci)")
    handler = functools.partial(_Quiet, directory=str(WEB))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def pages(browser: Any, web_origin: str) -> Iterator[dict[str, Any]]:
    """One page per library, reused for every dataset; each records its script errors
    (``errors``) and the console's error lines (``console``: failed loads among them)."""
    opened: dict[str, Any] = {}
    for lib in LIBRARIES:
        page = browser.new_page(viewport={"width": SIZE, "height": SIZE})
        page.errors = []
        page.console = []
        page.on("pageerror", lambda e, page=page: page.errors.append(str(e)))
        page.on(
            "console",
            lambda m, page=page: page.console.append(m.text) if m.type == "error" else None,
        )
        page.goto(f"{web_origin}/map.html?lib={lib}")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        opened[lib] = page
    yield opened
    for page in opened.values():
        page.close()
