"""OpenLayers, Leaflet and MapLibre GL JS in headless chromium, each set up the way its own
documentation shows with the URLs the server publishes and no render parameters: OpenLayers
``optionsFromCapabilities`` on ``links.wmts`` (layer ``…_default``), Leaflet
``L.tileLayer(links.tiles)``, MapLibre a ``raster`` source from ``links.tilejson``. The
libraries come from ``tests/clients/web`` (``npm ci``), served from another origin than the tile
server, as a web page would load them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.clients.conftest import LIBRARIES, NAMES, pick
from tests.clients.served import (
    ARTIFACTS,
    SIZE,
    Dataset,
    assert_good,
    record,
    reference,
    rgba,
    verdict,
)


def _spec(lib: str, dataset: Dataset) -> dict[str, Any]:
    lon, lat = dataset.view.lonlat
    url = {"ol": "wmts", "leaflet": "tiles", "maplibre": "tilejson"}[lib]
    return {
        "lib": lib,
        "url": dataset.links[url],
        "layer": dataset.wmts_layer,
        "lon": lon,
        "lat": lat,
        "zoom": dataset.view.zoom,
    }


def show(page: Any, lib: str, dataset: Dataset, name: str) -> tuple[dict[str, Any], bytes]:
    """Draw ``dataset`` and screenshot the map (transparent where nothing is drawn)."""
    state = page.evaluate("(spec) => window.show(spec)", _spec(lib, dataset))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    picture = page.locator("#map").screenshot(
        path=str(ARTIFACTS / f"{name}.png"), omit_background=True
    )
    return state, picture


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lib", list(LIBRARIES))
def test_web_map_draws_the_default_rendering(pages, datasets, server_url, lib, name):
    dataset = pick(datasets, name)
    page = pages[lib]
    logged = len(page.console)
    state, picture = show(page, lib, dataset, f"{lib}-{name}")
    assert state == {"state": "loaded", "errors": []}, state
    assert not page.errors, page.errors
    assert not page.console[logged:], "failed loads: " + "; ".join(page.console[logged:])
    image = rgba(picture)
    assert image.shape == (SIZE, SIZE, 4)
    judged = verdict(dataset, image, reference(server_url, dataset))
    record(LIBRARIES[lib], dataset, judged)
    assert_good(judged, dataset, LIBRARIES[lib])
