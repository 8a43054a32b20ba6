"""The /vectors endpoints over HTTP: MVT tiles, TileJSON, PMTiles ranges, features, downloads.

One generated grid of 1000 squares (UTM 16N, zipped shapefile) is registered for the module;
tiles are decoded with GDAL's MVT driver, downloads are read back with pyogrio.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import morecantile
import numpy as np
import pyogrio
import pytest
import shapely

from tileserver.catalog import DatasetRecord
from tileserver.vectors import register_vector

TMS = morecantile.tms.get("WebMercatorQuad")
MVT = "application/vnd.mapbox-vector-tile"


def square_grid(cols: int = 40, rows: int = 25, size: float = 100.0) -> gpd.GeoDataFrame:
    step = size + 50.0
    x, y = np.meshgrid(740_000 + np.arange(cols) * step, 3_735_000 + np.arange(rows) * step)
    x, y = x.ravel(), y.ravel()
    n = len(x)
    return gpd.GeoDataFrame(
        {
            "name": [f"sq{i}" for i in range(n)],
            "height": (np.arange(n) % 50).astype("float64"),
            "kind": np.arange(n) % 3,
            "label": ["café" if i % 2 else "bâtiment" for i in range(n)],
        },
        geometry=shapely.box(x, y, x + size, y + size),
        crs="EPSG:32616",
    )


@pytest.fixture(scope="module")
def squares() -> gpd.GeoDataFrame:
    return square_grid()


@pytest.fixture(scope="module")
def grid(catalog, settings, squares, tmp_path_factory) -> DatasetRecord:
    folder = tmp_path_factory.mktemp("grid")
    pyogrio.write_dataframe(squares, folder / "squares.shp", layer_options={"ENCODING": "UTF-8"})
    path = folder / "squares.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in folder.glob("squares.*"):
            if part.suffix != ".zip":
                zf.write(part, part.name)
    return register_vector(catalog, settings, path, title="Square grid")


@pytest.fixture(scope="module")
def raster_id(demo) -> str:
    return next(v for k, v in demo.items() if k != "mosaic")


def decode_tile(content: bytes, tile: morecantile.Tile, folder: Path) -> gpd.GeoDataFrame:
    """Read one MVT tile with GDAL's MVT driver (X/Y/Z open options georeference it)."""
    path = folder / f"{tile.z}-{tile.x}-{tile.y}.pbf"
    path.write_bytes(content)
    return pyogrio.read_dataframe(path, layer="squares", X=tile.x, Y=tile.y, Z=tile.z)


# --- tiles -------------------------------------------------------------------------------
def test_tile_decodes_with_the_right_features(client, grid, squares, tmp_path):
    target = squares.to_crs(4326).set_index("name").geometry["sq517"].centroid
    tile = TMS.tile(target.x, target.y, grid.maxzoom)
    response = client.get(f"/vectors/{grid.id}/tiles/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert response.status_code == 200
    assert response.headers["content-type"] == MVT
    assert "content-encoding" not in response.headers, "tiles are served decompressed"
    assert response.headers["etag"] and response.headers["cache-control"].startswith("public")

    decoded = decode_tile(response.content, tile, tmp_path)
    merc = squares.to_crs(3857)
    b = TMS.xy_bounds(tile)
    pad = (b.right - b.left) * 0.05
    inside = set(merc.loc[merc.intersects(shapely.box(*b)), "name"])
    near = set(merc.loc[merc.intersects(shapely.box(*b).buffer(pad)), "name"])
    names = set(decoded["name"])
    assert inside <= names <= near, "every square touching the tile, none far from it"
    assert len(decoded) == len(names), "one feature per square"
    row = decoded.set_index("name").loc["sq517"]
    assert (row["height"], row["kind"], row["label"]) == (17.0, 1, "café")


def test_empty_and_impossible_tiles(client, grid):
    z = grid.maxzoom
    empty = client.get(f"/vectors/{grid.id}/tiles/{z}/0/0.mvt")
    assert empty.status_code == 204 and empty.content == b""
    for path in (
        "25/0/0",
        "-1/0/0",
        f"{z}/{1 << z}/0",
        f"{z}/0/{1 << z}",
        f"{grid.maxzoom + 1}/0/0",
        f"{max(grid.minzoom - 1, 0)}/0/0" if grid.minzoom > 0 else "25/1/1",
    ):
        response = client.get(f"/vectors/{grid.id}/tiles/{path}.mvt")
        assert response.status_code == 404, path
        assert response.json()["code"] == "outside_bounds"


def test_tilejson_lists_layer_fields_and_absolute_tiles_url(client, grid):
    body = client.get(f"/vectors/{grid.id}/tilejson.json").json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"] == [f"http://testserver/vectors/{grid.id}/tiles/{{z}}/{{x}}/{{y}}.mvt"]
    (layer,) = body["vector_layers"]
    assert layer["id"] == grid.properties["layer"] == "squares"
    assert layer["fields"] == {
        "name": "String",
        "height": "Number",
        "kind": "Number",
        "label": "String",
    }
    assert (body["minzoom"], body["maxzoom"]) == (grid.minzoom, grid.maxzoom)
    assert np.allclose(body["bounds"], grid.bounds)


# --- the archive -------------------------------------------------------------------------
def test_pmtiles_archive_supports_ranges(client, grid, settings):
    data = (settings.data_dir / grid.properties["pmtiles"]).read_bytes()
    full = client.get(f"/vectors/{grid.id}.pmtiles")
    assert full.status_code == 200 and full.content == data
    assert full.headers["accept-ranges"] == "bytes"
    head = client.get(f"/vectors/{grid.id}.pmtiles", headers={"Range": "bytes=0-126"})
    assert head.status_code == 206 and head.content == data[:127]
    assert head.content[:7] == b"PMTiles"
    assert head.headers["content-range"] == f"bytes 0-126/{len(data)}"
    middle = client.get(f"/vectors/{grid.id}.pmtiles", headers={"Range": "bytes=127-2000"})
    assert middle.status_code == 206 and middle.content == data[127:2001]
    past = client.get(f"/vectors/{grid.id}.pmtiles", headers={"Range": f"bytes={len(data) + 10}-"})
    assert past.status_code == 416


# --- features ----------------------------------------------------------------------------
def test_features_bbox_returns_exactly_the_intersecting_ones(client, grid, squares):
    wgs = squares.to_crs(4326)
    c = wgs.set_index("name").geometry["sq517"].centroid
    bbox = (c.x - 0.002, c.y - 0.0015, c.x + 0.002, c.y + 0.0015)
    expected = set(wgs.loc[wgs.intersects(shapely.box(*bbox)), "name"])
    assert 4 <= len(expected) < 100

    url = f"/vectors/{grid.id}/features?bbox={','.join(map(str, bbox))}"
    body = client.get(url + "&limit=1000").json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == body["numberReturned"] == len(expected)
    assert {f["properties"]["name"] for f in body["features"]} == expected
    for feature in body["features"]:
        assert isinstance(feature["id"], int)
        assert shapely.geometry.shape(feature["geometry"]).intersects(shapely.box(*bbox))

    pages, offset = [], 0
    while offset < len(expected):
        page = client.get(f"{url}&limit=3&offset={offset}").json()
        assert page["numberMatched"] == len(expected)
        pages.extend(page["features"])
        offset += 3
    assert len({f["id"] for f in pages}) == len(pages) == len(expected)
    assert {f["properties"]["name"] for f in pages} == expected


def test_features_without_bbox_and_bad_queries(client, grid):
    response = client.get(f"/vectors/{grid.id}/features")
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["numberMatched"] == 1000 and body["numberReturned"] == 100
    beyond = client.get(f"/vectors/{grid.id}/features?offset=5000").json()
    assert beyond["features"] == [] and beyond["numberMatched"] == 1000
    for bad in ("1,2,3", "a,b,c,d", "10,0,5,1", "0,0,1,nan", "0,-95,1,1"):
        assert client.get(f"/vectors/{grid.id}/features?bbox={bad}").status_code == 400, bad


# --- downloads ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shapefile"])
def test_downloads_round_trip(client, grid, settings, tmp_path, fmt):
    response = client.get(f"/vectors/{grid.id}/download?format={fmt}")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    suffix = {"geojson": ".geojson", "gpkg": ".gpkg", "shapefile": ".zip"}[fmt]
    path = tmp_path / f"download{suffix}"
    path.write_bytes(response.content)
    if fmt == "shapefile":
        names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
        assert sorted(Path(n).suffix for n in names) == [".cpg", ".dbf", ".prj", ".shp", ".shx"]
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == 1000 and frame.crs.to_epsg() == 4326
    assert set(frame["label"]) == {"café", "bâtiment"}
    assert not list((settings.data_dir / ".tmp").glob("export-*")), "scratch files removed"


def test_unknown_download_format_is_400(client, grid):
    response = client.get(f"/vectors/{grid.id}/download?format=kml")
    assert response.status_code == 400 and "geojson" in response.json()["detail"]


# --- ids ---------------------------------------------------------------------------------
ENDPOINTS = (
    "/vectors/{id}/tiles/14/0/0.mvt",
    "/vectors/{id}/tilejson.json",
    "/vectors/{id}.pmtiles",
    "/vectors/{id}/features",
    "/vectors/{id}/download",
)


@pytest.mark.parametrize("template", ENDPOINTS)
def test_unknown_id_is_404_and_raster_id_is_400(client, raster_id, template):
    missing = client.get(template.format(id="000000000000"))
    assert missing.status_code == 404 and missing.json()["code"] == "dataset_not_found"
    raster = client.get(template.format(id=raster_id))
    assert raster.status_code == 400 and "not a vector" in raster.json()["detail"]
