"""A query mosaic's scene selection gives the same answers on SQLite and on PostgreSQL: order
(newest, least cloudy with unknown cover last), paging, the area, cloud cover and scene access."""

from __future__ import annotations

import datetime as dt

from tests.scaleout.conftest import database_url, pg_url, postgres  # noqa: F401  (fixtures)
from tests.scaleout.test_catalog_pg import box, dataset
from tileserver.catalog import Catalog
from tileserver.mosaics.query import MosaicQuery, SceneAccess, scenes_for_area, summarize

UTC = dt.UTC
AREA = (114.0, 30.0, 114.1, 30.1)


def _add(catalog: Catalog, title: str, day: int, cloud: float | None, **extra: object) -> str:
    record = dataset(
        title,
        AREA,
        datetime=dt.datetime(2024, 5, day, tzinfo=UTC),
        cloud_cover=cloud,
        **extra,
    )
    catalog.add_dataset(record)
    return record.id


def test_order_paging_area_and_access_on_both_backends(database_url: str) -> None:  # noqa: F811
    catalog = Catalog(database_url)
    ids = {
        "old-clear": _add(catalog, "old-clear", 1, 2.0),
        "mid-cloudy": _add(catalog, "mid-cloudy", 2, 60.0),
        "new-unknown": _add(catalog, "new-unknown", 3, None),
        "bobs": _add(catalog, "bobs", 4, 1.0, owner="bob", visibility="private"),
        "alices": _add(catalog, "alices", 5, 30.0, owner="alice", visibility="private"),
    }
    catalog.add_dataset(
        dataset("far", (10.0, 10.0, 10.1, 10.1), datetime=dt.datetime(2024, 4, 1, tzinfo=UTC))
    )
    names = {v: k for k, v in ids.items()}
    tile = (114.02, 30.02, 114.08, 30.08)

    def pick(query: MosaicQuery, access: SceneAccess, skip: int = 0, limit: int = 10) -> list[str]:
        return [names[s.id] for s in scenes_for_area(catalog, query, access, tile, limit, skip)]

    public, alice = SceneAccess("alice", private=False), SceneAccess("alice", private=True)
    newest = MosaicQuery(bbox=list(AREA))
    assert pick(newest, public) == ["new-unknown", "mid-cloudy", "old-clear"]
    assert pick(newest, alice) == ["alices", "new-unknown", "mid-cloudy", "old-clear"]
    assert pick(newest, alice, skip=1, limit=2) == ["new-unknown", "mid-cloudy"]
    cloudy = MosaicQuery(bbox=list(AREA), order="least-cloudy")
    assert pick(cloudy, alice) == ["old-clear", "alices", "mid-cloudy", "new-unknown"]
    clear = MosaicQuery(intersects=box(*AREA), cloud_cover_max=40)
    assert pick(clear, alice) == ["alices", "old-clear"]

    summary = summarize(catalog, MosaicQuery(), alice)
    assert summary is not None and summary.matched == 5 and summary.private
    assert summary.first_id == ids["alices"]
    assert summary.bounds == (10.0, 10.0, 114.1, 30.1)
    only_public = summarize(catalog, MosaicQuery(bbox=list(AREA)), public)
    assert only_public is not None and only_public.matched == 3 and not only_public.private
