"""Harvesting a STAC API: the search options choose exactly the items registered; a re-run
writes nothing; changed and new items are updated and added; a failing API fails the run."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.harvest.conftest import WUHAN
from tests.harvest.helpers import dataset_writes, item_ids, registered
from tileserver.catalog import Catalog
from tileserver.errors import SourceUnavailable
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.runs import RunStore
from tileserver.harvest.service import harvest
from tileserver.settings import Settings


def test_bbox_datetime_collections_choose_exactly_the_items(
    stac_api: Any, archive_items: dict[str, dict[str, Any]], catalog: Catalog, settings: Settings
) -> None:
    api = stac_api(list(archive_items.values()))
    options = HarvestOptions(
        collections=["sentinel-2-l2a"], bbox=WUHAN, datetime="2024-01-01/2024-06-30"
    )
    run = harvest(catalog, settings, api.url, options)

    assert item_ids(catalog) == {"S2A_WUHAN_0105", "S2A_WUHAN_0320"}
    assert (run.status, run.seen, run.added, run.refused, run.total) == ("completed", 2, 2, 0, 2)
    assert run.percent == 100.0
    rows = registered(catalog)
    assert {r.collection for r in rows.values()} == {"sentinel-2-l2a"}
    # the search reached the API as asked (POST item search)
    body = api.searches()[0].body
    assert body["collections"] == ["sentinel-2-l2a"] and body["bbox"] == WUHAN
    assert body["datetime"].startswith("2024-01-01")


def test_max_items_and_filter(
    stac_api: Any, many_items: Any, catalog: Catalog, settings: Settings
) -> None:
    items = many_items(30)
    for i, item in enumerate(items):
        item["properties"]["eo:cloud_cover"] = float(i)
    api = stac_api(items)
    cloud = {"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]}
    run = harvest(
        catalog, settings, api.url, HarvestOptions(filter=cloud, max_items=7, batch_size=3)
    )
    assert item_ids(catalog) == {f"S2X_{i:06d}" for i in range(7)}
    assert (run.status, run.seen, run.added) == ("completed", 7, 7)
    assert api.searches()[0].body["filter"] == cloud
    assert len(api.searches()) == 3  # pages of 3: 3 + 3 + 1 of the 7 wanted


def test_rerun_adds_nothing_and_writes_nothing(
    stac_api: Any, many_items: Any, catalog: Catalog, settings: Settings
) -> None:
    api = stac_api(many_items(40))
    first = harvest(catalog, settings, api.url, HarvestOptions(batch_size=15))
    before = {k: (r.id, r.source_hash) for k, r in registered(catalog).items()}
    with dataset_writes(catalog) as writes:
        again = harvest(catalog, settings, api.url, HarvestOptions(batch_size=15))
    assert first.added == 40
    assert again.id != first.id and again.status == "completed"
    assert (again.seen, again.added, again.updated, again.unchanged) == (40, 0, 0, 40)
    assert writes == []
    assert {k: (r.id, r.source_hash) for k, r in registered(catalog).items()} == before


def test_changed_item_is_updated_and_new_one_added(
    stac_api: Any, many_items: Any, catalog: Catalog, settings: Settings
) -> None:
    items = many_items(10)
    api = stac_api(items)
    harvest(catalog, settings, api.url, HarvestOptions())
    old = registered(catalog)["sentinel-2-l2a/S2X_000003"]

    changed = copy.deepcopy(items[3])
    changed["properties"]["eo:cloud_cover"] = 77.5
    api.items[3] = changed
    api.items.append(many_items(11)[10])
    run = harvest(catalog, settings, api.url, HarvestOptions())

    assert (run.added, run.updated, run.unchanged) == (1, 1, 9)
    rows = registered(catalog)
    assert len(rows) == 11
    new = rows["sentinel-2-l2a/S2X_000003"]
    assert new.id == old.id and new.source_hash != old.source_hash
    assert "sentinel-2-l2a/S2X_000010" in rows


@pytest.mark.parametrize(
    ("fail", "expected"),
    [
        ("500", "answered HTTP 500"),
        ("malformed", "not STAC JSON"),
        ("hang", "did not answer within 1 s"),
    ],
)
def test_failing_api_fails_the_run_with_the_reason(
    stac_api: Any,
    many_items: Any,
    catalog: Catalog,
    settings: Settings,
    fail: str,
    expected: str,
) -> None:
    # the landing page answers; the second search page fails
    api = stac_api(many_items(10), fail=fail, fail_paths=("/search",), fail_after=1, hang_seconds=3)
    with pytest.raises(SourceUnavailable, match=expected):
        harvest(catalog, settings, api.url, HarvestOptions(batch_size=5), timeout=1)
    [run] = RunStore(catalog).list()
    assert run.status == "failed" and expected in run.message
    assert (run.seen, run.added) == (5, 5)  # the first page stays registered, the run resumable
    assert RunStore(catalog).row(run.id).cursor is not None

    api.fail = None  # the archive is back: the same command continues the run
    again = harvest(catalog, settings, api.url, HarvestOptions(batch_size=5))
    assert again.id == run.id and again.status == "completed"
    assert (again.seen, again.added) == (10, 10)
    assert len(item_ids(catalog)) == 10


def test_unreachable_api_is_a_clear_error(catalog: Catalog, settings: Settings) -> None:
    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(SourceUnavailable, match="is not reachable"):
        harvest(catalog, settings, url, HarvestOptions(), timeout=2)
    [run] = RunStore(catalog).list()
    assert run.status == "failed" and "is not reachable" in run.message
    assert item_ids(catalog) == set()


def test_credentials_are_not_sent_to_another_host(
    stac_api: Any, many_items: Any, catalog: Catalog, settings: Settings
) -> None:
    from tileserver.settings import StacSource

    other = stac_api(many_items(3))
    api = stac_api(many_items(3), required_headers={"X-Api-Key": "sk-home-5678"})
    home_url = api.url
    api.url = other.url  # its landing page now names the other host's /search
    configured = settings.model_copy(
        update={
            "stac_sources": [
                StacSource(id="home", url=home_url, headers={"X-Api-Key": "sk-home-5678"})
            ]
        }
    )
    with pytest.raises(SourceUnavailable, match=r"links to another host .*; not followed with"):
        harvest(catalog, configured, "home", HarvestOptions())
    assert other.requests == []
    assert item_ids(catalog, "home") == set()
