"""CQL2 filters over every queryable, in cql2-text and cql2-json, by GET and POST; queryables,
conformance and the service description. The catalog: rasters uploaded under product names
(Sentinel-2, Sentinel-1, Landsat, NAIP, an undated upload) and a vector (``conftest.py``)."""

from __future__ import annotations

import json

import cql2
import pytest

from tests.stac.conftest import LANDSAT, NAIP, S1, S2, UNDATED, VECTOR
from tileserver.stac.landing import CONFORMANCE

ALL = {S2, S1, LANDSAT, NAIP, UNDATED, VECTOR}
DATED = {S2, S1, LANDSAT, NAIP}
WEST = "BBOX(-180, -90, 0, 90)"

CASES: dict[str, set[str]] = {
    "collection = 'sentinel-2-l2a'": {S2},
    "collection = 'vectors' OR collection = 'landsat-c2l2'": {VECTOR, LANDSAT},
    "datetime IS NULL": {UNDATED, VECTOR},
    "datetime IS NOT NULL": DATED,
    "datetime >= TIMESTAMP('2020-08-31T10:00:00Z')": {S2, S1},
    "datetime = DATE('2020-08-31')": {S2, NAIP},
    "datetime < TIMESTAMP('2021-04-08T04:39:23Z')": DATED,
    "T_INTERSECTS(datetime, INTERVAL('2020-08-31T00:00:00Z', '2020-08-31T23:59:59Z'))": {S2, NAIP},
    "T_BEFORE(datetime, TIMESTAMP('2020-01-01T00:00:00Z'))": {LANDSAT},
    "T_AFTER(datetime, DATE('2020-08-31'))": {S1},
    "T_DURING(datetime, INTERVAL('2020-08-01T00:00:00Z', '..'))": {S2, S1, NAIP},
    "NOT T_AFTER(datetime, INTERVAL('..', '2020-01-01T00:00:00Z'))": {LANDSAT},
    "T_DISJOINT(datetime, INTERVAL('2020-08-31T00:00:00Z', '2020-09-30T00:00:00Z'))": {LANDSAT},
    "T_EQUALS(datetime, TIMESTAMP('2020-08-31T10:10:31Z'))": {S2},
    "end_datetime >= TIMESTAMP('2000-01-01T00:00:00Z')": {UNDATED, VECTOR},
    "S_INTERSECTS(geometry, POLYGON((10.9 45.9, 11.1 45.9, 11.1 46.1, 10.9 46.1, 10.9 45.9)))": {
        S1
    },
    "S_INTERSECTS(geometry, BBOX(11.9, 45.9, 13.1, 46.1))": {UNDATED, VECTOR},
    "S_INTERSECTS(geometry, MULTIPOINT((11.005 46.005), (13.005 46.005)))": {S1, VECTOR},
    "S_WITHIN(geometry, BBOX(10.9, 45.9, 11.1, 46.1))": {S1},
    "S_CONTAINS(geometry, POINT(12.005 46.005))": {UNDATED},
    f"S_DISJOINT(geometry, {WEST})": {S2, S1, UNDATED, VECTOR},
    "NOT S_INTERSECTS(geometry, BBOX(0, 0, 20, 60))": {LANDSAT, NAIP},
    "eo:cloud_cover < 10": {S2},
    "eo:cloud_cover BETWEEN 10 AND 60": {LANDSAT, UNDATED},
    '"eo:cloud_cover" > 50 OR eo:cloud_cover IS NULL': {LANDSAT, S1, NAIP, VECTOR},
    "platform = 'sentinel-2a'": {S2},
    "constellation = 'sentinel-1'": {S1},
    "platform IN ('landsat-8', 'sentinel-1a')": {LANDSAT, S1},
    "A_CONTAINS(instruments, ('oli'))": {LANDSAT},
    "A_OVERLAPS(instruments, ('msi', 'c-sar'))": {S2, S1},
    "NOT A_CONTAINS(instruments, ('msi'))": {S1, LANDSAT},
    "gsd <= 10": {S2, NAIP},
    "gsd IS NULL": {S1, UNDATED, VECTOR},
    "proj:epsg = 26914": {NAIP},
    "proj:code = 'EPSG:32632'": {S2},
    "sensor = 'landsat-c2l2'": {LANDSAT},
    "title LIKE 'm_46%'": {NAIP},
    "title LIKE 'M_46%'": set(),  # case-sensitive on SQLite too
    "cogsight:kind = 'vector'": {VECTOR},
    "collection = 'generic' AND datetime IS NULL AND S_INTERSECTS(geometry, BBOX(11,45,13,47))": {
        UNDATED
    },
}


def _names(body: dict, ids: dict[str, str]) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id[f["id"]] for f in body["features"]}


@pytest.mark.parametrize("way", ["GET text", "GET json", "POST text", "POST json"])
@pytest.mark.parametrize(("text", "expected"), list(CASES.items()), ids=list(CASES))
def test_filter_finds_exactly(products, products_client, text, expected, way) -> None:
    _settings, ids = products
    tree = cql2.parse_text(text).to_json()
    method, lang = way.split()
    if method == "GET":
        value = text if lang == "text" else json.dumps(tree)
        params = {"filter": value, "filter-lang": f"cql2-{lang}", "limit": "100"}
        response = products_client.get("/stac/search", params=params)
    else:
        body = {"filter": text if lang == "text" else tree, "filter-lang": f"cql2-{lang}"}
        response = products_client.post("/stac/search", json={**body, "limit": 100})
    assert response.status_code == 200, response.text
    assert _names(response.json(), ids) == expected


def test_filter_by_id_and_on_collection_items(products, products_client) -> None:
    _settings, ids = products
    body = products_client.get(
        "/stac/search", params={"filter": f"id = '{ids[S1]}' OR id = '{ids[NAIP]}'"}
    ).json()
    assert _names(body, ids) == {S1, NAIP}
    body = products_client.get(
        "/stac/collections/generic/items", params={"filter": "datetime IS NULL"}
    ).json()
    assert _names(body, ids) == {UNDATED}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("datetime = TIMESTAMP('2020-13-01T00:00:00Z')", "Invalid datetime"),
        ("eo:cloud_cover = 'low'", "compares with a number"),
        ("id = 1", "compares with text"),
        ("platform LIKE 1", "text pattern"),
        ("instruments = 'msi'", "A_CONTAINS"),
        ("geometry = 'x'", "S_INTERSECTS"),
        ("S_INTERSECTS(geometry, POINT(200 95))", "within the world"),
        ("mission = 'x'", "Cannot filter on 'mission'"),
        ("T_AFTER(datetime, INTERVAL('2021-01-01T00:00:00Z', '2020-01-01T00:00:00Z'))", "after"),
        ("eo:cloud_cover < 10 AND", "Cannot parse the cql2-text filter"),
        ("CASEI(platform) = 'x'", "Unsupported filter operator"),
        ("(" * 80 + "eo:cloud_cover < 1" + ")" * 80, "nested more than 64"),
        (" OR ".join(["eo:cloud_cover < 1"] * 300), "more than 256"),
    ],
)
def test_bad_filters_are_precise_400s(products_client, text, needle) -> None:
    response = products_client.get("/stac/search", params={"filter": text})
    assert response.status_code == 400, response.text
    assert needle in response.json()["detail"], response.text


def test_queryables_list_every_property_with_its_type(products_client) -> None:
    for url in ("/stac/queryables", "/stac/collections/generic/queryables"):
        response = products_client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/schema+json")
        schema = response.json()
        assert schema["$id"] == f"http://testserver{url}"
        props = schema["properties"]
        assert props["eo:cloud_cover"]["type"] == "number"
        assert props["datetime"]["format"] == "date-time"
        assert props["instruments"]["type"] == "array"
        assert props["geometry"]["$ref"] == "https://geojson.org/schema/Geometry.json"
        assert {"id", "collection", "platform", "constellation", "gsd", "sensor"} <= set(props)
        assert props["proj:epsg"]["type"] == ["integer", "null"]
    assert products_client.get("/stac/collections/nope/queryables").status_code == 404
    collection = products_client.get("/stac/collections/generic").json()
    rel = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
    link = next(link for link in collection["links"] if link["rel"] == rel)
    assert link["href"].endswith("/stac/collections/generic/queryables")


def test_service_desc_is_openapi_with_its_media_type(products_client) -> None:
    landing = products_client.get("/stac").json()
    desc = next(link for link in landing["links"] if link["rel"] == "service-desc")
    assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"
    response = products_client.get(desc["href"], headers={"Accept": desc["type"]})
    assert response.status_code == 200
    assert response.headers["content-type"] == desc["type"]
    document = response.json()
    assert document["openapi"].startswith("3.") and "/stac/search" in document["paths"]


def test_conformance_declares_current_filter_classes(products_client) -> None:
    declared = set(products_client.get("/stac/conformance").json()["conformsTo"])
    assert declared == set(CONFORMANCE)
    for uri in (
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
        "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
        "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
        "http://www.opengis.net/spec/cql2/1.0/conf/array-functions",
    ):
        assert uri in declared
