"""The STAC API through a real client: pystac-client against the live uvicorn server."""

from __future__ import annotations

from pathlib import Path

import httpx
import morecantile
import numpy as np
import pystac
import pytest
import rasterio
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses
from rasterio.transform import from_bounds

from tileserver.ingest import register_raster

EAST_LAKE_BBOX = [114.38, 30.53, 114.42, 30.57]
MOSAIC_NAMES = ("mosaic-49n-00", "mosaic-50n-01", "mosaic-49n-10", "mosaic-50n-11")
MAY_NAMES = ("scene-2024-05-12", "sar-2024-05-14", "dem-east-lake")  # the DEM: the 12th
TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def stac(live_server: str) -> Client:
    return Client.open(f"{live_server}/stac")


@pytest.fixture(scope="module")
def cloudy(catalog, settings, tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """Two tiny rasters far from the demo scenes, with 5 % and 60 % cloud cover."""
    folder: Path = tmp_path_factory.mktemp("stac-cloudy")
    ids = {}
    for cover, west in ((5, 10.0), (60, 10.02)):
        path = folder / f"cloud-{cover}.tif"
        transform = from_bounds(west, 45.0, west + 0.01, 45.01, 32, 32)
        with rasterio.open(
            path, "w", driver="GTiff", width=32, height=32, count=1, dtype="uint8",
            crs="EPSG:4326", transform=transform,
        ) as dst:  # fmt: skip
            dst.write(np.full((1, 32, 32), 100, np.uint8))
        record = register_raster(
            catalog, settings, path, cloud_cover=cover, datetime_="2023-01-01T00:00:00Z"
        )
        ids[cover] = record.id
    return ids


def _ids(items) -> list[str]:
    return [i.id for i in items]


def _named(demo: dict[str, str], ids) -> set[str]:
    """Which demo scenes (by name) are among ``ids``."""
    by_id = {v: k for k, v in demo.items()}
    return {by_id[i] for i in ids if i in by_id}


def test_client_opens_and_sees_conformance(stac: Client) -> None:
    for cls in (
        ConformanceClasses.CORE,
        ConformanceClasses.ITEM_SEARCH,
        ConformanceClasses.COLLECTIONS,
        ConformanceClasses.FEATURES,
        ConformanceClasses.SORT,
        ConformanceClasses.FILTER,
    ):
        assert stac.conforms_to(cls), cls
    ids = {c.id for c in stac.get_collections()}
    assert {"generic", "sentinel-1-grd"} <= ids


def test_bbox_finds_the_east_lake_scenes(stac: Client, demo: dict[str, str]) -> None:
    found = _ids(stac.search(bbox=EAST_LAKE_BBOX, max_items=1000).items())
    names = _named(demo, found)
    assert {"scene-2024-05-12", "scene-2024-09-20", "sar-2024-05-14"} <= names
    assert not names & set(MOSAIC_NAMES)


def test_datetime_range_returns_the_may_scenes(stac: Client, demo: dict[str, str]) -> None:
    items = list(stac.search(datetime="2024-05-01/2024-05-31", max_items=1000).items())
    assert _named(demo, _ids(items)) == set(MAY_NAMES)
    for item in items:
        assert item.datetime is not None
        assert (item.datetime.year, item.datetime.month) == (2024, 5)


def test_open_datetime_range(stac: Client, demo: dict[str, str]) -> None:
    before = _ids(stac.search(datetime="../2024-05-31T23:59:59Z", max_items=1000).items())
    assert set(MAY_NAMES) <= _named(demo, before)
    assert "scene-2024-09-20" not in _named(demo, before)


def test_collections_filter(stac: Client, demo: dict[str, str]) -> None:
    items = list(stac.search(collections=["sentinel-1-grd"], max_items=1000).items())
    assert demo["sar-2024-05-14"] in _ids(items)
    assert all(i.collection_id == "sentinel-1-grd" for i in items)
    assert not _named(demo, _ids(items)) - {"sar-2024-05-14"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_paging_walks_every_match_once(stac: Client, method: str) -> None:
    search = stac.search(bbox=[113.9, 30.5, 114.5, 30.6], limit=2, method=method)
    pages = list(search.pages_as_dicts())
    ids = [f["id"] for page in pages for f in page["features"]]
    total = search.matched()
    assert total is not None and total >= 7  # the 7 demo scenes at least
    assert len(pages) == -(-total // 2)
    assert len(ids) == len(set(ids)) == total
    everything = stac.search(bbox=[113.9, 30.5, 114.5, 30.6], limit=1000, method=method)
    assert set(ids) == set(_ids(everything.items()))


def test_max_items_stops_early(stac: Client) -> None:
    assert len(list(stac.search(limit=2, max_items=3).items())) == 3


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sortby_datetime_descending(stac: Client, method: str) -> None:
    items = list(stac.search(sortby="-datetime", limit=5, max_items=50, method=method).items())
    stamps = [i.datetime for i in items]
    dated = [s for s in stamps if s is not None]
    assert len(dated) >= 7
    assert dated == sorted(dated, reverse=True)
    assert stamps[: len(dated)] == dated  # unknown acquisition times come last
    ascending = [i.datetime for i in stac.search(sortby="+datetime", max_items=50).items()]
    known = [s for s in ascending if s is not None]
    assert known == sorted(known) and ascending[: len(known)] == known


def test_intersects_inside_the_mosaic_area(stac: Client, demo: dict[str, str]) -> None:
    # a ~400 m square where all four mosaic scenes overlap, far from East Lake
    lon, lat, d = 114.0, 30.55, 0.002
    polygon = {
        "type": "Polygon",
        "coordinates": [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                         [lon - d, lat + d], [lon - d, lat - d]]],
    }  # fmt: skip
    found = _ids(stac.search(intersects=polygon, max_items=1000).items())
    assert _named(demo, found) == set(MOSAIC_NAMES)
    corner = {"type": "Point", "coordinates": [113.96, 30.585]}  # only the NW mosaic scene
    found = _ids(stac.search(intersects=corner, max_items=1000).items())
    assert _named(demo, found) == {"mosaic-49n-00"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_cloud_cover_filter(stac: Client, cloudy: dict[int, str], method: str) -> None:
    lang = "cql2-text" if method == "GET" else "cql2-json"
    text = "eo:cloud_cover < 10"
    tree = {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]}
    search = stac.search(
        filter=text if method == "GET" else tree, filter_lang=lang, method=method,
        max_items=1000,
    )  # fmt: skip
    items = list(search.items())
    assert cloudy[5] in _ids(items) and cloudy[60] not in _ids(items)
    assert all(i.properties["eo:cloud_cover"] < 10 for i in items)
    tight = stac.search(
        ids=list(cloudy.values()), filter=text, filter_lang="cql2-text", method="GET"
    )
    assert _ids(tight.items()) == [cloudy[5]]
    both = stac.search(
        ids=list(cloudy.values()), filter="eo:cloud_cover >= 5 AND NOT eo:cloud_cover > 60",
        filter_lang="cql2-text", method="GET", sortby="-properties.eo:cloud_cover",
    )  # fmt: skip
    assert _ids(both.items()) == [cloudy[60], cloudy[5]]


def test_items_parse_with_pystac(stac: Client, demo: dict[str, str]) -> None:
    item = next(stac.search(ids=[demo["scene-2024-05-12"]]).items())
    assert isinstance(item, pystac.Item)
    assert item.collection_id == "generic"
    assert item.properties["proj:code"] == "EPSG:32650"
    assert item.properties["gsd"] == 10.0
    assert item.assets["data"].media_type == pystac.MediaType.COG
    collection = stac.get_collection("generic")
    assert collection is not None
    assert demo["scene-2024-05-12"] in _ids(collection.get_items())


def _tile_url(template: str, bounds: list[float], zoom: int) -> str:
    w, s, e, n = bounds
    tile = TMS.tile((w + e) / 2, (s + n) / 2, zoom)
    return (
        template.replace("{z}", str(tile.z)).replace("{x}", str(tile.x)).replace("{y}", str(tile.y))
    )


@pytest.mark.parametrize("name", ["scene-2024-05-12", "sar-2024-05-14"])
def test_item_tile_links_serve(live_server: str, demo: dict[str, str], name: str) -> None:
    """The xyz link, filled with a real tile over the data, is a 200 PNG; tilejson and WMTS
    links answer too."""
    collection = "generic" if name.startswith("scene") else "sentinel-1-grd"
    item = httpx.get(f"{live_server}/stac/collections/{collection}/items/{demo[name]}").json()
    links = {link["rel"]: link for link in item["links"]}
    record = httpx.get(f"{live_server}/datasets/{demo[name]}").json()
    url = _tile_url(links["xyz"]["href"], item["bbox"], record["minzoom"])
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    tilejson = httpx.get(links["tilejson"]["href"], timeout=30).json()
    assert tilejson["tiles"][0].startswith(f"{live_server}/raster/{demo[name]}/tiles/")
    wmts = httpx.get(links["wmts"]["href"], timeout=30)
    assert wmts.status_code == 200 and links["wmts"]["wmts:layer"] in wmts.text
