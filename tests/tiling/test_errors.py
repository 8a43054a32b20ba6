"""Bad requests answer a precise 4xx with a JSON body; nothing a client names is opened."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def rid(demo):
    return demo["scene-2024-05-12"]


def _tile(rid: str, query: str, z: int = 14, x: int = 13398, y: int = 6730) -> str:
    return f"/raster/{rid}/tiles/WebMercatorQuad/{z}/{x}/{y}.png?{query}"


@pytest.mark.parametrize(
    ("query", "code", "needle"),
    [
        ("index=NBR", "unknown_band", "swir22"),
        ("expression=nir/coastal", "unknown_band", "coastal"),
        ("bidx=9", "unknown_band", "9"),
        ("expression=b1%2B(", "invalid_input", "Invalid expression"),
        ("expression=__import__('os')", "invalid_input", "__import__"),
        ("index=NOPE", "unknown_index", "NOPE"),
        ("index=NDVI&expression=b1", "invalid_input", "either"),
    ],
)
def test_bad_band_requests_are_400_and_say_why(client, rid, query, code, needle):
    response = client.get(_tile(rid, query))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == code and needle in body["detail"]


def test_unknown_ids_are_404(client):
    for url in [
        "/datasets/nope",
        "/raster/nope/info",
        "/raster/nope/tiles/WebMercatorQuad/1/1/1.png",
        "/mosaics/nope",
        "/mosaics/nope/tiles/WebMercatorQuad/1/1/1.png",
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] in {"dataset_not_found", "mosaic_not_found"}


def test_tiles_outside_bounds_are_a_consistent_404(client, rid):
    for z, x, y in [(1, 0, 0), (14, 0, 0), (3, 7, 0)]:
        response = client.get(_tile(rid, "bidx=1", z, x, y))
        assert response.status_code == 404
        assert response.json()["code"] == "outside_bounds"


def test_impossible_tile_coordinates_are_4xx(client, rid):
    for z, x, y in [(40, 1, 1), (2, 99, 99)]:
        response = client.get(_tile(rid, "bidx=1", z, x, y))
        assert 400 <= response.status_code < 500, (z, x, y, response.text)


def test_url_parameter_is_never_opened(client, rid):
    info = client.get(f"/raster/{rid}/info?url=/etc/passwd").json()
    assert info["count"] == 5
    assert client.get("/cog/info?url=/etc/passwd").status_code == 404


def test_unknown_tms_is_4xx(client, rid):
    response = client.get(f"/raster/{rid}/tiles/NoSuchTMS/1/1/1.png")
    assert 400 <= response.status_code < 500
