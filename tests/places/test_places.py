"""/places: the offline gazetteer finds Wuhan and Hubei; a place's polygon is a search area."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod
from shapely.geometry import shape

from tests.rasters import utm_geotiff
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.ingest.raster import register_raster
from tileserver.places.gazetteer import DEFAULT_PATH
from tileserver.settings import Settings

pytestmark = pytest.mark.skipif(
    not DEFAULT_PATH.is_file(), reason="the gazetteer is not built (make places)"
)
GEOD = Geod(ellps="WGS84")


def km2(geometry: dict) -> float:
    return abs(GEOD.geometry_area_perimeter(shape(geometry))[0]) / 1e6


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """Two small scenes: one north of Wuhan (in Hubei), one in Zhejiang (outside)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("places"))
    catalog = Catalog(settings.resolved_database_url)
    ids = {}
    for name, easting in (("wuhan", 250000), ("zhejiang", 800000)):
        path = Path(settings.data_dir) / f"{name}.tif"
        path.write_bytes(utm_geotiff(np.full((1, 32, 32), 7, dtype="uint8"), easting=easting))
        ids[name] = register_raster(catalog, settings, path, datetime_="2024-01-01").id
    with TestClient(create_app(settings)) as client:
        yield client, ids


def test_wuhan_is_found_as_a_city_in_hubei(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = setup
    response = client.get("/places", params={"q": "Wuhan"})
    assert response.status_code == 200
    body = response.json()
    first = body["places"][0]
    assert (first["name"], first["kind"], first["country"], first["region"]) == (
        "Wuhan",
        "city",
        "CN",
        "Hubei",
    )
    west, south, east, north = first["bbox"]
    assert west < 114.27 < east and south < 30.58 < north
    assert "GeoNames" in body["attribution"] and "Natural Earth" in body["attribution"]
    feature = client.get(f"/places/{first['id']}").json()
    assert 1_000 < km2(feature["geometry"]) < 10_000  # a circle of ~33 km for 10 M people


@pytest.mark.parametrize("query", ["Hubei", "hubei", "HUBEI", "Hub", "湖北", "Húběi"])
def test_hubei_is_found_by_prefix_case_accent_and_local_name(
    setup: tuple[TestClient, dict[str, str]], query: str
) -> None:
    client, _ = setup
    places = client.get("/places", params={"q": query}).json()["places"]
    hubei = [p for p in places if p["name"] == "Hubei"]
    assert hubei and hubei[0]["kind"] == "region" and hubei[0]["type"] == "Province"
    assert hubei[0]["country_name"] == "China"


def test_hubei_polygon_has_the_province_area(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = setup
    hubei = client.get("/places", params={"q": "Hubei", "kind": "region"}).json()["places"][0]
    response = client.get(f"/places/{hubei['id']}")
    assert response.headers["content-type"] == "application/geo+json"
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == hubei["id"]
    assert 170_000 < km2(feature["geometry"]) < 200_000  # Hubei: 185,900 km²
    assert shape(feature["geometry"]).contains(
        shape({"type": "Point", "coordinates": [114.3, 30.6]})
    )
    country = client.get("/places", params={"q": "China", "kind": "country"}).json()["places"][0]
    china = client.get(f"/places/{country['id']}").json()
    assert 9.0e6 < km2(china["geometry"]) < 9.9e6


def test_search_by_the_polygon_returns_only_items_inside(
    setup: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = setup
    hubei = client.get("/places", params={"q": "Hubei"}).json()["places"][0]
    area = client.get(f"/places/{hubei['id']}").json()["geometry"]
    page = client.post("/stac/search", json={"intersects": area, "limit": 100}).json()
    assert [f["id"] for f in page["features"]] == [ids["wuhan"]]
    everything = client.post("/stac/search", json={"limit": 100}).json()
    assert {f["id"] for f in everything["features"]} == set(ids.values())


def test_bad_queries_and_unknown_places_are_precise_4xx(
    setup: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, _ = setup
    assert client.get("/places", params={"q": " -- "}).status_code == 400
    assert client.get("/places", params={"q": "x", "kind": "planet"}).status_code == 422
    missing = client.get("/places/region-NOPE-1")
    assert missing.status_code == 404 and "No place 'region-NOPE-1'" in missing.text
    settings = Settings(data_dir=tmp_path, places_path=tmp_path / "absent.sqlite")
    with TestClient(create_app(settings)) as other:
        response = other.get("/places", params={"q": "Wuhan"})
    assert response.status_code == 404 and "make places" in response.text
    assert str(tmp_path) not in response.text
