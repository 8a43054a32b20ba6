"""The STAC API as its clients see it, on a real uvicorn server on loopback: stac-api-validator
(offline, with the bundled JSON schemas) passes every class the landing page declares, every
item validates against its schemas, and pystac-client filters in cql2-text and cql2-json."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pystac_client import Client
from requests.adapters import HTTPAdapter

from tests.stac import offline_validator
from tests.stac.conftest import LANDSAT, NAIP, S1, S2, UNDATED, VECTOR

HERE = Path(__file__).resolve().parent
# The validator's class -> the landing-page URI that declares it.
VALIDATED = {
    "core": "https://api.stacspec.org/v1.0.0/core",
    "collections": "https://api.stacspec.org/v1.0.0/collections",
    "features": "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "item-search": "https://api.stacspec.org/v1.0.0/item-search",
    "item-search#sort": "https://api.stacspec.org/v1.0.0/item-search#sort",
    "filter": "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
}


def test_stac_api_validator_passes_every_declared_class(products_server: str) -> None:
    declared = set(httpx.get(f"{products_server}/stac/conformance").json()["conformsTo"])
    classes = [name for name, uri in VALIDATED.items() if uri in declared]
    stac_api = {u for u in declared if u.startswith("https://api.stacspec.org/")}
    assert stac_api == {VALIDATED[c] for c in classes} | {
        "https://api.stacspec.org/v1.0.0-rc.2/ogcapi-features#filter"  # no validator class
    }
    args = [f"--conformance={c}" for c in classes]
    # Sentinel-2's collection: the validator's sort check cannot order a null datetime (a
    # valid STAC value), so the undated items are checked by the next test instead.
    area = json.dumps(
        {
            "type": "Polygon",
            "coordinates": [[[10, 45.5], [11, 45.5], [11, 46.5], [10, 46.5], [10, 45.5]]],
        }
    )
    run = subprocess.run(
        [sys.executable, str(HERE / "offline_validator.py"), "--root-url",
         f"{products_server}/stac", *args, "--collection", "sentinel-2-l2a", "--geometry", area,
         "--log-level", "WARNING"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    report = run.stdout + run.stderr
    print(f"stac-api-validator {' '.join(args)}:\n{run.stdout[-4000:]}")
    assert "no bundled file" not in run.stderr, report[-3000:]
    assert "Errors: none" in run.stdout, report[-6000:]
    assert run.returncode == 0, report[-3000:]
    # the schema checks ran against the bundled files, not a network failure
    assert not re.search(r"ConnectionError|offline:", report), report[-3000:]


def test_every_item_validates_against_its_schemas(products_server: str, monkeypatch) -> None:
    """Dated and undated rasters and the vector: core item schema plus each extension's."""
    from stac_validator.stac_validator import StacValidate

    monkeypatch.setattr(HTTPAdapter, "send", offline_validator._offline_send)
    body = httpx.get(f"{products_server}/stac/search", params={"limit": 100}).json()
    assert len(body["features"]) == 6
    for item in body["features"]:
        validator = StacValidate()
        assert validator.validate_dict(item), (item["id"], validator.message)
        if item["properties"]["datetime"] is None:
            assert item["properties"]["start_datetime"] == "1900-01-01T00:00:00Z"
    assert not offline_validator.REFUSED


@pytest.fixture(scope="module")
def stac(products_server: str) -> Client:
    return Client.open(f"{products_server}/stac")


def _names(items, ids: dict[str, str]) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id[i.id] for i in items}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_pystac_client_cql2_text(stac: Client, products, method: str) -> None:
    """pystac-client sends cql2-text as it is by GET and converts it (with the cql2 package,
    needed on the client) to cql2-json for POST."""
    _settings, ids = products
    cases = {
        "datetime >= TIMESTAMP('2020-01-01T00:00:00Z')": {S2, S1, NAIP},
        "S_INTERSECTS(geometry, BBOX(10.9, 45.9, 12.1, 46.1))": {S1, UNDATED},
        "platform = 'sentinel-2a'": {S2},
        "datetime IS NULL": {UNDATED, VECTOR},
    }
    for text, expected in cases.items():
        search = stac.search(filter=text, filter_lang="cql2-text", method=method, max_items=100)
        assert _names(search.items(), ids) == expected, text


def test_pystac_client_cql2_json(stac: Client, products) -> None:
    _settings, ids = products
    spatial = {
        "op": "s_intersects",
        "args": [
            {"property": "geometry"},
            {
                "type": "Polygon",
                "coordinates": [[[-80, 0], [-70, 0], [-70, 2], [-80, 2], [-80, 0]]],
            },
        ],
    }
    since = {"op": ">=", "args": [{"property": "datetime"}, {"timestamp": "2019-01-01T00:00:00Z"}]}
    search = stac.search(filter={"op": "and", "args": [spatial, since]}, max_items=100)
    assert _names(search.items(), ids) == {LANDSAT}
    platform = {"op": "=", "args": [{"property": "platform"}, "sentinel-1a"]}
    assert _names(stac.search(filter=platform, method="GET").items(), ids) == {S1}
