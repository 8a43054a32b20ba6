"""Item search as a plain function (no HTTP), over a private catalog built from demo records.

A private catalog keeps the datasets these tests add (a vector, a private scene, one without
a datetime) out of the session catalog other tests count on.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pystac
import pytest
from shapely.geometry import Point, box, mapping

from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.repository import utcnow
from tileserver.errors import InvalidInput
from tileserver.settings import Settings
from tileserver.stac import SearchRequest, SortField, search_datasets
from tileserver.stac.collections import list_collections
from tileserver.stac.items import dataset_to_item
from tileserver.stac.links import StacUrls

NAMES = (
    "scene-2024-05-12", "scene-2024-09-20", "sar-2024-05-14",
    "mosaic-49n-00", "mosaic-50n-01", "mosaic-49n-10", "mosaic-50n-11",
)  # fmt: skip
URLS = StacUrls.from_base("http://example.test/")


@pytest.fixture
def local(tmp_path: Path, catalog: Catalog, demo: dict[str, str]) -> tuple[Catalog, Settings]:
    settings = Settings(data_dir=tmp_path)
    private = Catalog(settings.resolved_database_url)
    for name in NAMES:
        private.add_dataset(catalog.get_dataset(demo[name]))
    return private, settings


def _names(demo: dict[str, str], records: list[DatasetRecord]) -> set[str]:
    by_id = {v: k for k, v in demo.items()}
    return {by_id[r.id] for r in records if r.id in by_id}


def _vector(catalog: Catalog, settings: Settings, vid: str, frame: gpd.GeoDataFrame) -> None:
    """A vector dataset the way uploads store it: vectors/{id}/features.fgb under data_dir."""
    path = settings.data_dir / "vectors" / vid / "features.fgb"
    path.parent.mkdir(parents=True)
    frame.to_file(path, driver="FlatGeobuf")
    bounds = tuple(frame.to_crs(4326).total_bounds.tolist())
    catalog.add_dataset(
        DatasetRecord(
            id=vid, title=f"aoi {vid}", kind="vector", uri=f"vectors/{vid}/features.fgb",
            crs="EPSG:4326", bounds=bounds, footprint=mapping(box(*bounds)), band_names=[],
            dtype="", width=0, height=0, resolution=0.0, minzoom=0, maxzoom=14,
            created=utcnow(),
        )
    )  # fmt: skip


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857"])
def test_intersects_dataset_uses_the_union_of_the_features(local, demo, crs) -> None:
    catalog, settings = local
    features = gpd.GeoDataFrame(
        {"name": ["nw-corner", "east-lake"]},
        geometry=[box(113.955, 30.58, 113.965, 30.59), Point(114.40, 30.55)],
        crs="EPSG:4326",
    ).to_crs(crs)
    _vector(catalog, settings, "aoi1", features)
    page = search_datasets(catalog, SearchRequest(intersects_dataset="aoi1", limit=100), settings)
    assert _names(demo, page.records) == {
        "mosaic-49n-00", "scene-2024-05-12", "scene-2024-09-20", "sar-2024-05-14",
    }  # fmt: skip
    assert page.matched == len(page.records) and page.next_token is None
    with pytest.raises(InvalidInput):
        search_datasets(
            catalog, SearchRequest(intersects_dataset="aoi1", bbox=[0, 0, 1, 1]), settings
        )


def test_vector_items_and_the_vectors_collection(local) -> None:
    catalog, settings = local
    _vector(
        catalog, settings, "aoi2",
        gpd.GeoDataFrame(geometry=[box(114.0, 30.5, 114.1, 30.6)], crs="EPSG:4326"),
    )  # fmt: skip
    collections = {c.id: c for c in list_collections(catalog)}
    assert collections["vectors"].count == 1
    assert collections["generic"].count == 6 and collections["sentinel-1-grd"].count == 1
    page = search_datasets(catalog, SearchRequest(collections=["vectors"]), settings)
    assert [r.id for r in page.records] == ["aoi2"]
    item = dataset_to_item(page.records[0], URLS)
    pystac.Item.from_dict(item)
    assert item["collection"] == "vectors"
    links = {link["rel"]: link for link in item["links"]}
    assert links["xyz"]["href"] == "http://example.test/vectors/aoi2/tiles/{z}/{x}/{y}.mvt"
    assert links["xyz"]["type"] == "application/vnd.mapbox-vector-tile"
    assert links["tilejson"]["href"] == "http://example.test/vectors/aoi2/tilejson.json"
    assert "proj:code" not in item["properties"] and "data" not in item["assets"]


def test_private_datasets_are_not_published(local, demo) -> None:
    catalog, settings = local
    hidden = catalog.get_dataset(demo["scene-2024-05-12"]).model_copy(
        update={"id": "hidden1", "visibility": "private", "sensor": "landsat-c2l2"}
    )
    catalog.add_dataset(hidden)
    page = search_datasets(catalog, SearchRequest(limit=100), settings)
    assert "hidden1" not in [r.id for r in page.records]
    assert "landsat-c2l2" not in {c.id for c in list_collections(catalog)}


def test_a_dataset_without_datetime_is_not_dated_by_its_registration(local, demo) -> None:
    """Unknown acquisition: datetime null, published as acquired between 1900 and its
    registration (valid STAC), found by ``datetime IS NULL`` and by searches without a time,
    never by a time range (nor dated by its registration); sorted after every dated item."""
    catalog, settings = local
    created = dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)
    undated = catalog.get_dataset(demo["scene-2024-05-12"]).model_copy(
        update={"id": "undated", "datetime": None, "created": created}
    )
    catalog.add_dataset(undated)
    item = dataset_to_item(catalog.get_dataset("undated"), URLS)
    props = item["properties"]
    assert props["datetime"] is None
    assert (props["start_datetime"], props["end_datetime"]) == (
        "1900-01-01T00:00:00Z",
        "2030-01-01T12:00:00Z",
    )
    assert props["created"] == "2030-01-01T12:00:00Z"
    assert "cogsight:datetime_estimated" not in props
    pystac.Item.from_dict(item)

    def ids(**kwargs) -> list[str]:
        found = search_datasets(catalog, SearchRequest(limit=1000, **kwargs), settings).records
        return [r.id for r in found]

    assert "undated" not in ids(datetime="2029-12-31T00:00:00Z/2030-01-02T00:00:00Z")
    assert "undated" not in ids(datetime="1900-01-01T00:00:00Z/..")
    assert "undated" in ids()
    assert "undated" not in ids(datetime="2030-01-02T00:00:00Z/..")  # registered before
    assert "undated" not in ids(datetime="../1899-12-31T00:00:00Z")
    assert ids(filter="datetime IS NULL") == ["undated"]
    assert "undated" not in ids(filter="datetime >= TIMESTAMP('2030-01-01T00:00:00Z')")
    assert ids()[-1] == "undated"  # default sort: -datetime, unknown last


def test_sort_by_cloud_cover_puts_unknown_cover_last(local, demo) -> None:
    catalog, settings = local
    scene = catalog.get_dataset(demo["scene-2024-05-12"])
    for ident, cover in (("cc30", 30.0), ("cc2", 2.0), ("cc75", 75.0)):
        catalog.add_dataset(scene.model_copy(update={"id": ident, "cloud_cover": cover}))
    for direction, expected in (
        ("asc", ["cc2", "cc30", "cc75"]),
        ("desc", ["cc75", "cc30", "cc2"]),
    ):
        request = SearchRequest(
            sortby=[SortField(field="properties.eo:cloud_cover", direction=direction)], limit=5
        )
        ids = [r.id for r in search_datasets(catalog, request, settings).records]
        assert ids[:3] == expected and not set(ids[3:]) & set(expected)
    request = SearchRequest(filter="eo:cloud_cover IS NULL", limit=100)
    nulls = search_datasets(catalog, request, settings).records
    assert _names(demo, nulls) == set(NAMES) and len(nulls) == len(NAMES)
    request = SearchRequest(filter="eo:cloud_cover > 10 or eo:cloud_cover = 2", limit=100)
    assert {r.id for r in search_datasets(catalog, request, settings).records} == {
        "cc2", "cc30", "cc75",
    }  # fmt: skip


def test_paging_with_tokens_covers_every_match_once(local) -> None:
    catalog, settings = local
    request = SearchRequest(limit=3, sortby=[SortField(field="id")])
    seen: list[str] = []
    while True:
        page = search_datasets(catalog, request, settings)
        assert page.matched == len(NAMES)
        seen += [r.id for r in page.records]
        if page.next_token is None:
            break
        request = request.model_copy(update={"token": page.next_token})
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == len(NAMES)


def test_paging_with_intersects_counts_after_the_exact_test(local, demo) -> None:
    catalog, settings = local
    area = mapping(box(113.99, 30.54, 114.01, 30.56))  # where the four mosaic scenes meet
    request = SearchRequest(intersects=area, limit=3)
    first = search_datasets(catalog, request, settings)
    assert first.matched == 4 and len(first.records) == 3 and first.next_token
    rest = search_datasets(
        catalog, request.model_copy(update={"token": first.next_token}), settings
    )
    assert len(rest.records) == 1 and rest.next_token is None
    assert _names(demo, first.records + rest.records) == {n for n in NAMES if "mosaic" in n}
