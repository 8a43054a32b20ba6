"""register_items on its own: no network reads when the items carry proj:*, idempotent re-runs,
nothing half-registered when the transaction fails, presets by collection."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.archive.assets import synthetic_scene
from tests.archive.items import sentinel2_item
from tileserver.catalog import Catalog
from tileserver.errors import InvalidInput
from tileserver.rendering import dataset_render
from tileserver.scenes.items import parse_item
from tileserver.scenes.register import register_item, register_items
from tileserver.settings import Settings

NOWHERE = "https://archive.invalid/"  # never resolves: registration must not open anything


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Catalog, Settings]:
    settings = Settings(data_dir=tmp_path / "data", allowed_prefixes=[NOWHERE])
    settings.data_dir.mkdir()
    return Catalog(settings.resolved_database_url), settings


@pytest.fixture(scope="module")
def s2_items(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    folder = tmp_path_factory.mktemp("synthetic")
    scene = synthetic_scene(folder, "s2", "sentinel-2-l2a", size=32)
    base = sentinel2_item(scene.files, lambda p: NOWHERE + p.name, processing_baseline="05.00")
    items = []
    for i in range(6):
        item = copy.deepcopy(base)
        item["id"] = f"S2_TEST_{i}"
        items.append(item)
    return items


def _vrts(settings: Settings) -> list[Path]:
    return sorted((settings.data_dir / "scenes").glob("*.vrt"))


def test_items_with_proj_register_without_opening_an_asset(
    setup: tuple[Catalog, Settings], s2_items: list[dict]
) -> None:
    catalog, settings = setup
    outcomes = register_items(catalog, settings, s2_items, source="es")
    assert [o.status for o in outcomes] == ["added"] * 6
    record = catalog.get_dataset(outcomes[0].dataset_id or "")
    assert record.band_names == ["blue", "green", "red", "nir", "swir16", "swir22", "scl"]
    assert (record.reflectance_scale, record.reflectance_offset) == (1e-4, -0.1)
    assert record.external_id == "sentinel-2-l2a/S2_TEST_0" and record.source == "es"
    assert dataset_render(record).bidx == [3, 2, 1], "true colour, decided from the item"
    assert len(_vrts(settings)) == 6


def test_reruns_are_unchanged_and_changes_update_in_place(
    setup: tuple[Catalog, Settings], s2_items: list[dict]
) -> None:
    catalog, settings = setup
    first = register_items(catalog, settings, s2_items[:2], source="es")
    again = register_items(catalog, settings, s2_items[:2], source="es")
    assert [o.status for o in again] == ["unchanged", "unchanged"]
    changed = copy.deepcopy(s2_items[0])
    changed["properties"]["eo:cloud_cover"] = 1.5
    updated = register_items(catalog, settings, [changed], source="es")
    assert updated[0].status == "updated" and updated[0].dataset_id == first[0].dataset_id
    assert catalog.get_dataset(first[0].dataset_id or "").cloud_cover == 1.5
    assert len(_vrts(settings)) == 2, "the replaced VRT is removed"
    # the same item from another source is another scene
    other = register_items(catalog, settings, s2_items[:1], source="pc")
    assert other[0].status == "added" and other[0].dataset_id != first[0].dataset_id


def test_a_failed_transaction_leaves_no_row_and_no_file(
    setup: tuple[Catalog, Settings], s2_items: list[dict]
) -> None:
    catalog, settings = setup
    with catalog.engine.begin() as conn:  # the database refuses every new scene
        conn.execute(
            text(
                "CREATE TRIGGER refuse_scenes BEFORE INSERT ON datasets "
                "BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END"
            )
        )
    with pytest.raises(Exception, match="disk quota exceeded"):
        register_items(catalog, settings, s2_items, source="es")
    with pytest.raises(Exception, match="disk quota exceeded"):
        register_item(catalog, settings, s2_items[0])
    assert catalog.find_datasets() == [] and _vrts(settings) == []
    assert not list((settings.data_dir / "scenes").glob(".*.tmp"))


def test_refused_items_in_a_batch_do_not_stop_the_others(
    setup: tuple[Catalog, Settings], s2_items: list[dict]
) -> None:
    catalog, settings = setup
    outside = copy.deepcopy(s2_items[1])
    outside["assets"]["red"]["href"] = "https://elsewhere.invalid/red.tif"
    batch: list[Any] = [s2_items[0], outside, "not an item", s2_items[2], s2_items[2]]
    outcomes = register_items(catalog, settings, batch)
    assert [o.status for o in outcomes] == ["added", "refused", "refused", "added", "refused"]
    assert "allowed prefix" in (outcomes[1].reason or "")
    assert outcomes[2].reason == "A STAC item must be a JSON object."
    assert outcomes[4].reason == "The same item appears twice in this batch."
    assert len(catalog.find_datasets()) == 2 and len(_vrts(settings)) == 2


def test_sentinel1_rtc_scene_gets_a_sar_preset_and_rendering(
    setup: tuple[Catalog, Settings],
) -> None:
    catalog, settings = setup
    asset = {
        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "roles": ["data"],
        "proj:shape": [1000, 1000],
        "proj:transform": [10.0, 0.0, 600000.0, 0.0, -10.0, 3400000.0],
        "raster:bands": [{"data_type": "float32", "nodata": -32768}],
    }
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "S1A_IW_GRDH_RTC",
        "collection": "sentinel-1-rtc",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[114.0, 30.6], [114.1, 30.6], [114.1, 30.7], [114.0, 30.7], [114.0, 30.6]]
            ],
        },
        "bbox": [114.0, 30.6, 114.1, 30.7],
        "properties": {"datetime": "2024-05-01T10:00:00Z", "proj:epsg": 32649},
        "assets": {
            "vh": {**asset, "href": NOWHERE + "vh.tif"},
            "vv": {**asset, "href": NOWHERE + "vv.tif"},
            "thumbnail": {"href": NOWHERE + "t.png", "type": "image/png", "roles": ["thumbnail"]},
        },
        "links": [],
    }
    record = register_item(catalog, settings, item)
    assert record.sensor == "sentinel-1-rtc" and record.band_names == ["vh", "vv"]
    assert record.dtype == "float32" and record.datetime == dt.datetime(
        2024, 5, 1, 10, tzinfo=dt.UTC
    )
    render = dataset_render(record)
    assert render.bidx == [1] and render.colormap_name == "gray"


def test_parse_refuses_what_is_not_an_item() -> None:
    for bad, reason in (
        ({"type": "Feature", "id": "a", "assets": {"x": {"href": "h"}}}, "no GeoJSON geometry"),
        ({"type": "FeatureCollection"}, "'type' must be 'Feature'"),
        ({"type": "Feature", "id": "", "assets": {}}, "has no 'id'"),
    ):
        with pytest.raises(InvalidInput, match=reason):
            parse_item(bad)
