"""Hostile requests on vector datasets: impossible tile addresses, bad feature queries, export
formats that are paths, byte ranges past the archive, and edits with broken geometries or
attributes. A refused edit leaves the dataset's files exactly as they were."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.hostile.checks import Status, assert_refused, assert_unchanged, data_state

TILES = {
    "z40": (40, 1, 1),
    "z-negative": (-1, 0, 0),
    "z-huge": (99999999999999999999, 0, 0),
    "x-2e40": (10, 2**40, 420),
    "y-negative": (10, 836, -5),
    "x-past-edge": (10, 1024, 420),
}


@pytest.mark.parametrize(("z", "x", "y"), list(TILES.values()), ids=list(TILES))
def test_impossible_vector_tiles(upload_client, vector_id, z, x, y):
    assert_refused(
        upload_client.get(f"/vectors/{vector_id}/tiles/{z}/{x}/{y}.mvt"), (400, 404, 422)
    )


QUERIES: dict[str, tuple[str, Status]] = {
    "features-bbox-text": ("/features?bbox=a,b,c,d", 400),
    "features-bbox-three": ("/features?bbox=1,2,3", 400),
    "features-bbox-nan": ("/features?bbox=nan,nan,nan,nan", 400),
    "features-bbox-inverted": ("/features?bbox=10,10,0,0", 400),
    "features-limit-1e9": ("/features?limit=1000000000", 422),
    "features-limit-0": ("/features?limit=0", 422),
    "features-offset-negative": ("/features?offset=-1", 422),
    "features-offset-text": ("/features?offset=abc", 422),
    "feature-fid-text": ("/features/abc", 422),
    "feature-fid-path": ("/features/..%2F..%2Fetc%2Fpasswd", (404, 422)),
    "feature-fid-huge": ("/features/99999999999999999999", (404, 422)),
    "feature-fid-negative": ("/features/-1", (404, 422)),
    "download-format-path": ("/download?format=../../etc/passwd", 400),
    "download-format-vrt": ("/download?format=vrt", 400),
    "download-format-nul": ("/download?format=gpkg%00", 400),
    "history-limit-1e9": ("/history?limit=1000000000", 422),
    "raster-endpoint-on-vector": ("", None),
}


@pytest.mark.parametrize(("suffix", "status"), list(QUERIES.values()), ids=list(QUERIES))
def test_bad_vector_queries(upload_client, vector_id, suffix, status):
    if status is None:  # a vector id where a raster is expected
        assert_refused(
            upload_client.get(f"/raster/{vector_id}/info"),
            400,
            "invalid_input",
            needle="not a raster",
        )
        return
    assert_refused(upload_client.get(f"/vectors/{vector_id}{suffix}"), status)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Range": "bytes=99999999999-"}, 416),
        ({"Range": "bytes=5-1"}, (400, 416)),
        ({"Range": "bytes=abc"}, (200, 400, 416)),
    ],
    ids=["past-end", "reversed", "garbage"],
)
def test_pmtiles_ranges(upload_client, vector_id, headers, status):
    r = upload_client.get(f"/vectors/{vector_id}.pmtiles", headers=headers)
    allowed = {status} if isinstance(status, int) else set(status)
    if r.status_code == 200 and 200 in allowed:
        return  # a Range header it cannot parse is ignored, as RFC 9110 allows
    assert_refused(r, {s for s in allowed if s != 200}, json_body=False)


SQUARE = [[114.31, 30.51], [114.32, 30.51], [114.32, 30.52], [114.31, 30.52], [114.31, 30.51]]
EDITS: dict[str, tuple[str, str, Any, Status]] = {
    # name: (method, suffix, body, statuses)
    "post-not-json": ("POST", "/features", "{", 422),
    "post-no-geometry": ("POST", "/features", {"type": "Feature", "properties": {}}, 422),
    "post-geometry-a-string": (
        "POST",
        "/features",
        {"type": "Feature", "geometry": "POINT(0 0)"},
        422,
    ),
    "post-circle": (
        "POST",
        "/features",
        {"type": "Feature", "geometry": {"type": "Circle", "coordinates": [0, 0]}},
        400,
    ),
    "post-nan": (
        "POST",
        "/features",
        '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [NaN, 30]}}',
        (400, 422),
    ),
    "post-lon-500": (
        "POST",
        "/features",
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [500, 30]}},
        400,
    ),
    "post-lat-95": (
        "POST",
        "/features",
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[114, 95], [115, 95], [115, 96], [114, 95]]],
            },
        },
        400,
    ),
    "post-empty-coordinates": (
        "POST",
        "/features",
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}},
        400,
    ),
    "post-unknown-field": (
        "POST",
        "/features",
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
            "properties": {"../../etc/passwd": 1},
        },
        400,
    ),
    "post-wrong-field-type": (
        "POST",
        "/features",
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
            "properties": {"name": {"a": [1, 2]}},
        },
        400,
    ),
    "post-deep-geometry": (
        "POST",
        "/features",
        '{"type": "Feature", "geometry": '
        + '{"type":"GeometryCollection","geometries":[' * 2000
        + "]}" * 2000
        + "}",
        (400, 422),
    ),
    "patch-unknown-fid": (
        "PATCH",
        "/features/999999",
        {"type": "Feature", "properties": {"name": "x"}},
        404,
    ),
    "patch-huge-fid": (
        "PATCH",
        "/features/99999999999999999999",
        {"type": "Feature", "properties": {"name": "x"}},
        (404, 422),
    ),
    "patch-nan-geometry": (
        "PATCH",
        "/features/0",
        '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [NaN, NaN]}}',
        (400, 422),
    ),
    "patch-string-coordinates": (
        "PATCH",
        "/features/0",
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[["a", "b"]]]}},
        400,
    ),
    "patch-unknown-field": (
        "PATCH",
        "/features/0",
        {"type": "Feature", "properties": {"/etc/passwd": "x"}},
        400,
    ),
    "delete-unknown-fid": ("DELETE", "/features/999999", None, 404),
    "delete-text-fid": ("DELETE", "/features/abc", None, 422),
}


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"), list(EDITS.values()), ids=list(EDITS)
)
def test_hostile_edits_change_nothing(
    upload_client, upload_app, vector_id, method, suffix, body, status
):
    before = data_state(upload_app)
    features = upload_client.get(f"/vectors/{vector_id}/features").json()
    url = f"/vectors/{vector_id}{suffix}"
    if body is None:
        r = upload_client.request(method, url)
    elif isinstance(body, str):
        r = upload_client.request(
            method, url, content=body, headers={"content-type": "application/json"}
        )
    else:
        r = upload_client.request(
            method, url, content=json.dumps(body), headers={"content-type": "application/json"}
        )
    assert_refused(r, status)
    assert_unchanged(upload_app, before)
    assert upload_client.get(f"/vectors/{vector_id}/features").json() == features


def test_layer_without_attributes_lists_its_features(upload_client):
    """GeoJSON whose features have no properties: each feature still comes back (with {})."""
    body = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [114.3 + i / 100, 30.5]},
            }
            for i in range(3)
        ],
    }
    r = upload_client.post(
        "/datasets", files={"file": ("bare.geojson", json.dumps(body).encode(), "x/y")}
    )
    assert r.status_code == 201, r.text
    listed = upload_client.get(f"/vectors/{r.json()['id']}/features")
    assert listed.status_code == 200, listed.text
    assert [f["properties"] for f in listed.json()["features"]] == [{}, {}, {}]
