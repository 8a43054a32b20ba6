"""The STAC endpoints over HTTP (in-process client): shapes, links, errors, POST paging."""

from __future__ import annotations

import json

import pystac
import pytest

EAST_LAKE = "114.38,30.53,114.42,30.57"
REQUIRED_ITEM_KEYS = {
    "type", "stac_version", "id", "collection", "geometry", "bbox", "properties", "links",
    "assets",
}  # fmt: skip


def _square(lon: float, lat: float, d: float) -> dict:
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _ids(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


def test_landing_page_links(client) -> None:
    body = client.get("/stac").json()
    assert body["type"] == "Catalog" and body["stac_version"] == "1.0.0"
    assert "https://api.stacspec.org/v1.0.0/item-search" in body["conformsTo"]
    rels = {(link["rel"], link.get("method")) for link in body["links"]}
    for rel in ("self", "root", "conformance", "data", "service-desc"):
        assert (rel, None) in rels
    assert {("search", "GET"), ("search", "POST")} <= rels
    catalog = pystac.Catalog.from_dict(body)
    assert catalog.id == "cogsight"
    desc = next(link for link in body["links"] if link["rel"] == "service-desc")
    assert client.get(desc["href"]).json()["paths"]["/stac/search"]["post"]
    conformance = client.get("/stac/conformance").json()["conformsTo"]
    assert conformance == body["conformsTo"]
    queryables = client.get("/stac/queryables").json()
    assert queryables["properties"]["eo:cloud_cover"]["type"] == "number"


def test_collections_have_extents_from_the_rows(client, demo) -> None:
    collections = {c["id"]: c for c in client.get("/stac/collections").json()["collections"]}
    assert {"generic", "sentinel-1-grd"} <= set(collections)
    sar = client.get("/stac/collections/sentinel-1-grd").json()
    pystac.Collection.from_dict(sar)
    (w, s, e, n) = sar["extent"]["spatial"]["bbox"][0]
    record = client.get(f"/datasets/{demo['sar-2024-05-14']}").json()
    rw, rs, re_, rn = record["bounds"]
    assert w <= rw and s <= rs and e >= re_ and n >= rn
    start, end = sar["extent"]["temporal"]["interval"][0]
    assert start <= "2024-05-14T10:28:00Z" <= end
    generic = collections["generic"]
    (gw, _gs, ge, _gn) = generic["extent"]["spatial"]["bbox"][0]
    assert gw <= 113.95 and ge >= 114.44  # the mosaic scenes and East Lake together
    items = client.get("/stac/collections/sentinel-1-grd/items", params={"limit": 1000}).json()
    assert demo["sar-2024-05-14"] in _ids(items)
    assert {f["collection"] for f in items["features"]} == {"sentinel-1-grd"}


def test_item_document(client, demo) -> None:
    rid = demo["scene-2024-05-12"]
    item = client.get(f"/stac/collections/generic/items/{rid}").json()
    assert set(item) >= REQUIRED_ITEM_KEYS
    parsed = pystac.Item.from_dict(item)
    assert parsed.id == rid and parsed.collection_id == "generic"
    assert item["properties"]["datetime"] == "2024-05-12T03:00:00Z"
    assert item["properties"]["cogsight:band_names"] == ["blue", "green", "red", "nir", "swir16"]
    assert item["properties"]["proj:epsg"] == 32650 and item["properties"]["gsd"] == 10.0
    assert "cogsight:datetime_estimated" not in item["properties"]
    links = {link["rel"]: link["href"] for link in item["links"]}
    base = "http://testserver"
    assert links["self"] == f"{base}/stac/collections/generic/items/{rid}"
    assert links["parent"] == links["collection"] == f"{base}/stac/collections/generic"
    assert links["root"] == f"{base}/stac"
    assert links["xyz"].startswith(
        f"{base}/raster/{rid}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
    )
    assert links["tilejson"].startswith(f"{base}/raster/{rid}/WebMercatorQuad/tilejson.json")
    assert links["wmts"].startswith(f"{base}/raster/{rid}/WMTSCapabilities.xml")
    assets = item["assets"]
    assert assets["data"]["href"] == f"{base}/datasets/{rid}/download"
    assert assets["data"]["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
    assert assets["data"]["roles"] == ["data"]
    assert assets["thumbnail"]["href"] == f"{base}/datasets/{rid}/thumbnail.png"
    assert assets["thumbnail"]["roles"] == ["thumbnail"]
    assert assets["tilejson"]["roles"] == ["tiles"]


@pytest.mark.parametrize(
    "path",
    [
        "/stac/collections/no-such-collection",
        "/stac/collections/no-such-collection/items",
        "/stac/collections/generic/items/no-such-item",
    ],
)
def test_unknown_collection_or_item_is_404(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["code"].endswith("not_found")


def test_item_under_the_wrong_collection_is_404(client, demo) -> None:
    response = client.get(f"/stac/collections/sentinel-1-grd/items/{demo['scene-2024-05-12']}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "0,10,1,5"},  # south > north
        {"bbox": "0,-91,1,5"},
        {"bbox": "-181,0,1,5"},
        {"bbox": "0,0,1,nan"},
        {"datetime": "2024-05-01"},
        {"datetime": "yesterday"},
        {"datetime": "2024-05-01T00:00:00"},  # no offset
        {"datetime": "../.."},
        {"datetime": "2024-06-01T00:00:00Z/2024-05-01T00:00:00Z"},
        {"datetime": "2024-02-30T00:00:00Z"},
        {"intersects": "{not json"},
        {"intersects": json.dumps({"type": "Polygon", "coordinates": "x"})},
        {"intersects": json.dumps({"type": "Feature"})},
        {"bbox": EAST_LAKE, "intersects": json.dumps(_square(114.4, 30.55, 0.01))},
        {"limit": "0"},
        {"limit": "ten"},
        {"sortby": "-title"},
        {"filter": "eo:cloud_cover <"},
        {"filter": "cloudiness < 10"},
        {"filter": "eo:cloud_cover < 'low'"},
        {"filter": "eo:cloud_cover < 10", "filter-lang": "cql2-json"},
        {"filter": "eo:cloud_cover < 10", "filter-lang": "sql"},
        {"filter": "eo:cloud_cover < 10", "filter-crs": "EPSG:3857"},
        {"token": "not-a-token"},
        {"intersects_dataset": "no-such-vector"},
    ],
)
def test_bad_search_parameters_are_400(client, params) -> None:
    response = client.get("/stac/search", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_input" and body["detail"]


def test_raster_is_not_a_search_area(client, demo) -> None:
    response = client.get("/stac/search", params={"intersects_dataset": demo["scene-2024-05-12"]})
    assert response.status_code == 400
    assert "not a vector" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        {"bbox": "x"},
        {"bbox": [0, 0, 1]},
        {"limit": -1},
        {"sortby": [{"field": "datetime", "direction": "sideways"}]},
        {"query": {"eo:cloud_cover": {"lt": 10}}},  # the query extension is not implemented
        {"filter": {"op": "like", "args": [{"property": "eo:cloud_cover"}, "1%"]}},
        {"filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}]}},
    ],
)
def test_bad_post_bodies_are_400(client, body) -> None:
    response = client.post("/stac/search", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_input"


def test_malformed_json_body_is_400(client) -> None:
    response = client.post(
        "/stac/search", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_post_search_and_post_next_links(client, demo) -> None:
    # the demo ids pin the result set: datasets that jobs publish meanwhile (their datetime is
    # their source's) would shift offset paging under the test's feet
    demo_ids = {ident for name, ident in demo.items() if name != "mosaic"}
    body = {
        "ids": sorted(demo_ids),
        "bbox": [113.9, 30.5, 114.5, 30.6],
        "datetime": "2024-05-01T00:00:00Z/2024-12-31T23:59:59Z",
        "collections": ["generic", "sentinel-1-grd"],
        "sortby": [{"field": "properties.datetime", "direction": "asc"}],
        "limit": 3,
    }
    seen: list[str] = []
    page = client.post("/stac/search", json=body).json()
    matched = page["numberMatched"]
    assert matched >= 7
    while True:
        assert page["type"] == "FeatureCollection"
        assert page["numberReturned"] == len(page["features"]) <= 3
        seen += _ids(page)
        nxt = next((link for link in page["links"] if link["rel"] == "next"), None)
        if nxt is None:
            break
        assert nxt["method"] == "POST" and nxt["body"]["token"]
        assert nxt["body"]["bbox"] == body["bbox"]
        page = client.post(nxt["href"], json=nxt["body"]).json()
    assert len(seen) == len(set(seen)) == matched
    assert demo_ids <= set(seen)


def test_get_next_link_is_a_url(client) -> None:
    page = client.get("/stac/search", params={"bbox": EAST_LAKE, "limit": 1}).json()
    nxt = next(link for link in page["links"] if link["rel"] == "next")
    assert "token=" in nxt["href"] and "bbox=" in nxt["href"] and "method" not in nxt
    second = client.get(nxt["href"]).json()
    assert _ids(second) and _ids(second) != _ids(page)


def test_limit_above_the_maximum_is_clamped(client) -> None:
    response = client.get("/stac/search", params={"limit": 5000})
    assert response.status_code == 200
    assert response.json()["numberReturned"] <= 1000


def test_space_is_tested_on_footprints_not_bounds(client, demo) -> None:
    """A square in East Lake's bounding box but outside its slanted footprint (the SW collar
    corner) matches neither as intersects nor as bbox: STAC asks for the item geometry."""
    corner = _square(114.3600, 30.5160, 0.0003)
    box = "114.3597,30.5157,114.3603,30.5163"  # the same square
    by_bbox = client.get("/stac/search", params={"bbox": box, "limit": 1000}).json()
    by_geometry = client.post("/stac/search", json={"intersects": corner, "limit": 1000}).json()
    for found in (by_bbox, by_geometry):
        assert demo["scene-2024-05-12"] not in _ids(found)
    centre = client.post(
        "/stac/search", json={"intersects": _square(114.40, 30.55, 0.001), "limit": 1000}
    ).json()
    assert demo["scene-2024-05-12"] in _ids(centre)
    assert centre["numberMatched"] == len(_ids(centre))
    nudged = client.get(
        "/stac/search", params={"bbox": "114.3597,30.5157,114.3700,30.5200", "limit": 1000}
    )
    assert demo["scene-2024-05-12"] in _ids(nudged.json())  # now reaching the footprint


def test_antimeridian_bbox(client, demo) -> None:
    response = client.get("/stac/search", params={"bbox": "170,-10,-170,10", "limit": 1000})
    assert response.status_code == 200
    assert demo["scene-2024-05-12"] not in _ids(response.json())
    wide = client.get("/stac/search", params={"bbox": "114,30,113,31", "limit": 1000}).json()
    assert demo["scene-2024-05-12"] in _ids(wide)  # 114 E .. 180 .. 113 E covers East Lake


def test_ids_and_collections_combine(client, demo) -> None:
    ids = f"{demo['scene-2024-05-12']},{demo['sar-2024-05-14']}"
    both = client.get("/stac/search", params={"ids": ids}).json()
    assert sorted(_ids(both)) == sorted(ids.split(","))
    sar_only = client.get("/stac/search", params={"ids": ids, "collections": "sentinel-1-grd"})
    assert _ids(sar_only.json()) == [demo["sar-2024-05-14"]]
    nothing = client.get("/stac/search", params={"collections": "no-such-collection"}).json()
    assert nothing["features"] == [] and nothing["numberMatched"] == 0
