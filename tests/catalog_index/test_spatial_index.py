"""The spatial index (R*Tree on SQLite, GiST on PostgreSQL) answers exactly what the plain
bounds columns answer, stays in sync through inserts, updates and deletes, and is filled for
the rows a catalog had before revision 0004."""

from __future__ import annotations

import random
from typing import Any

from alembic import command
from sqlalchemy import insert, select, text, update

from tests.catalog_index.rows import T0, scene
from tileserver.catalog import Catalog
from tileserver.catalog.engine import catalog_engine
from tileserver.catalog.migrate import alembic_config, upgrade
from tileserver.catalog.schemas import DatasetQuery
from tileserver.catalog.spatial import bounds_overlap
from tileserver.catalog.tables import DatasetRow
from tileserver.settings import Settings
from tileserver.stac import SearchRequest, search_datasets
from tileserver.stac.search import in_interval, sort_order


def overlaps(bounds: tuple[float, float, float, float], box: tuple[float, ...]) -> bool:
    """The definition, in Python: latitude ranges meet, and the longitude range meets the box's
    (one range, or two when the box crosses the antimeridian, west > east)."""
    west, south, east, north = bounds
    bw, bs, be, bn = box
    if south > bn or north < bs:
        return False
    if bw <= be:
        return west <= be and east >= bw
    return west <= be or east >= bw


def random_bounds(rng: random.Random) -> tuple[float, float, float, float]:
    west = rng.uniform(-180, 179)
    south = rng.uniform(-85, 84)
    return (west, south, min(180.0, west + rng.uniform(0, 3)), min(85.0, south + rng.uniform(0, 3)))


def random_box(rng: random.Random) -> tuple[float, float, float, float]:
    south = rng.uniform(-89, 80)
    north = south + rng.uniform(0, 10)
    if rng.random() < 0.3:  # across the antimeridian
        return (rng.uniform(150, 179.9), south, rng.uniform(-179.9, -150), north)
    west = rng.uniform(-180, 170)
    return (west, south, west + rng.uniform(0, 10), north)


def ids_overlapping(catalog: Catalog, box: tuple[float, ...]) -> set[str]:
    with catalog.session() as s:
        return set(s.scalars(select(DatasetRow.id).where(bounds_overlap(box))))


def test_index_returns_exactly_what_the_columns_say(database_url: str) -> None:
    rng = random.Random(11)
    catalog = Catalog(database_url)
    records = [scene(random_bounds(rng)) for _ in range(1500)]
    # Edge cases: touching the antimeridian on either side, the poles, a whole-world scene,
    # a point-sized one, and one stored west > east (crossing the antimeridian itself).
    extra = [
        (179.5, 10, 180, 11),
        (-180, 10, -179.5, 11),
        (-10, 85, 10, 90),
        (-180, -90, 180, 90),
        (12.5, 41.25, 12.5, 41.25),
        (179, -5, -179, 5),
    ]
    records += [scene(b) for b in extra]
    catalog.add_datasets(records)
    bounds = {r.id: r.bounds for r in records}
    boxes = [random_box(rng) for _ in range(150)]
    boxes += [(179.7, 10.5, -179.7, 10.6), (12.5, 41.25, 12.5, 41.25), (-180, -90, 180, 90)]
    for box in boxes:
        expected = {i for i, b in bounds.items() if overlaps(b, box)}
        assert ids_overlapping(catalog, box) == expected, box
    # The dataset list takes the same condition.
    listed = catalog.find_datasets(DatasetQuery(bbox=(12.0, 41.0, 13.0, 42.0), limit=10_000))
    assert {r.id for r in listed} == {i for i, b in bounds.items() if overlaps(b, (12, 41, 13, 42))}


def test_the_index_is_what_answers(database_url: str) -> None:
    """The query plan reads the R*Tree / the GiST index, not a scan of the bounds columns."""
    catalog = Catalog(database_url)
    rng = random.Random(3)
    catalog.add_datasets([scene(random_bounds(rng)) for _ in range(300)])
    spatial = select(DatasetRow.id).where(bounds_overlap((10, 40, 10.2, 40.2)))
    # STAC's default order over a datetime range reads an index in that order.
    newest = select(DatasetRow.id).where(in_interval(T0, None)).order_by(*sort_order(None))
    with catalog.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if not sqlite:
            conn.exec_driver_sql("ANALYZE datasets")
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_sort = off")

        def plan(stmt: Any) -> str:
            sql = str(stmt.compile(catalog.engine, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN" if sqlite else "EXPLAIN"
            return " ".join(str(r) for r in conn.exec_driver_sql(f"{explain} {sql}"))

        if sqlite:
            assert "datasets_rtree VIRTUAL TABLE" in plan(spatial)
            assert "USING INDEX ix_datasets_datetime" in plan(newest.limit(10))
        else:
            assert "ix_datasets_bounds_gist" in plan(spatial)
            assert "Scan using ix_datasets_datetime_sort" in plan(newest.limit(10))


def test_triggers_keep_the_index_in_sync(database_url: str, tmp_path) -> None:
    catalog = Catalog(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    rome = scene((12.4, 41.8, 12.6, 42.0))
    oslo = scene((10.6, 59.8, 10.9, 60.0))
    catalog.add_dataset(rome)
    catalog.add_dataset(oslo)

    def found(bbox: str) -> list[str]:
        box = [float(v) for v in bbox.split(",")]
        page = search_datasets(catalog, SearchRequest(bbox=box), settings)
        return [r.id for r in page.records]

    assert found("12,41,13,42") == [rome.id]
    # Moved (bounds and footprint): found at the new place only.
    paris = scene((2.2, 48.8, 2.4, 48.9)).footprint
    with catalog.session() as s:
        s.execute(
            update(DatasetRow)
            .where(DatasetRow.id == rome.id)
            .values(west=2.2, south=48.8, east=2.4, north=48.9, footprint=paris)
        )
    assert found("12,41,13,42") == []
    assert found("2,48,3,49") == [rome.id]
    # Deleted: found nowhere, and the index holds only what is left.
    catalog.delete_dataset(rome.id)
    assert found("2,48,3,49") == []
    assert found("-180,-90,180,90") == [oslo.id]
    with catalog.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            left = conn.execute(text("SELECT id FROM datasets_rtree")).scalars().all()
            rowid = conn.execute(text("SELECT rowid FROM datasets")).scalars().all()
            assert left == rowid and len(left) == 1


def test_migration_from_0003_fills_the_index_and_summaries(database_url: str) -> None:
    """A catalog that had scenes before revision 0004 finds them by the index afterwards."""
    engine = catalog_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
    rng = random.Random(5)
    old = [scene(random_bounds(rng), day=rng.randrange(300)) for _ in range(400)]
    old.append(scene((100, 10, 101, 11), owner="u1", visibility="private", collection=None))
    rows = []
    for r in old:
        values = r.model_dump(exclude={"bounds"})
        values.update(zip(("west", "south", "east", "north"), r.bounds, strict=True))
        rows.append(values)
    with engine.begin() as conn:
        conn.execute(insert(DatasetRow), rows)
    upgrade(engine)
    catalog = Catalog(database_url)
    bounds = {r.id: r.bounds for r in old}
    for box in [random_box(rng) for _ in range(40)]:
        assert ids_overlapping(catalog, box) == {i for i, b in bounds.items() if overlaps(b, box)}
    with catalog.engine.connect() as conn:
        summaries = conn.execute(
            text(
                "SELECT collection, owner, visibility, item_count FROM collection_summaries "
                "ORDER BY collection"
            )
        ).all()
    assert [tuple(s) for s in summaries] == [
        ("sentinel-2-l2a", "", "public", 400),
        ("sentinel2-l2a", "u1", "private", 1),
    ]
