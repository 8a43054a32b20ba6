"""A spatial index on dataset bounds and a per-collection summary kept by triggers.

SQLite: an R*Tree virtual table ``datasets_rtree`` keyed by the datasets rowid, kept in sync
by triggers. PostgreSQL: a GiST index over the bounds as a PostGIS envelope, or over the
native ``box`` type where the server has no PostGIS (``tileserver/catalog/spatial.py`` picks
the matching condition). Both: ``collection_summaries`` (count, extent and time span per
collection, owner and visibility), maintained by triggers on every insert, update and delete.
PostgreSQL also gets an index in STAC's default order (newest first, unknown times last, id).

The SQL lives here, not in ``tables.py``: the R*Tree, the triggers and the expression index
are things SQLAlchemy's metadata cannot describe (``migrate.include_name`` keeps them out of
the comparison with the tables). A later revision that rebuilds ``datasets`` (SQLite batch
mode copies the table) drops these triggers and renumbers rowids: it must call
``create_sqlite_index`` again (so must anything that runs VACUUM, which SQLite documents may
renumber the rowids of a table without an INTEGER PRIMARY KEY; cogsight runs none).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RTREE = "datasets_rtree"
GIST = "ix_datasets_bounds_gist"
SORT = "ix_datasets_datetime_sort"
FUNCTIONS = ("cogsight_summary_insert", "cogsight_summary_delete", "cogsight_summary_update")


def _key(row: str) -> str:
    """The STAC collection of a datasets row: its own collection, else ``vectors`` for a
    vector, else its sensor (as ``tileserver/stac/collections.py`` says)."""
    return (
        f"CASE WHEN {row}.collection IS NOT NULL THEN {row}.collection "
        f"WHEN {row}.kind = 'vector' THEN 'vectors' ELSE {row}.sensor END"
    )


# SQLite --------------------------------------------------------------------------------------
def _rtree_values(row: str) -> str:
    """The box an R*Tree row holds: min/max so a box stored west > east (crossing the
    antimeridian) becomes a wider box; the exact test on the columns still follows."""
    return (
        f"{row}.rowid, min({row}.west, {row}.east), max({row}.west, {row}.east), "
        f"min({row}.south, {row}.north), max({row}.south, {row}.north)"
    )


def _sqlite_least(a: str, b: str, fn: str) -> str:
    """SQLite's two-argument min/max answer NULL when either side is NULL; keep the other."""
    return f"coalesce({fn}({a}, {b}), {a}, {b})"


def _sqlite_add(row: str) -> str:
    return f"""
    INSERT INTO collection_summaries (collection, owner, visibility, item_count, west, south,
        east, north, start_datetime, end_datetime)
    VALUES ({_key(row)}, coalesce({row}.owner, ''), {row}.visibility, 1, {row}.west,
        {row}.south, {row}.east, {row}.north, {row}.datetime, {row}.datetime)
    ON CONFLICT (collection, owner, visibility) DO UPDATE SET
        item_count = item_count + 1,
        west = {_sqlite_least("west", "excluded.west", "min")},
        south = {_sqlite_least("south", "excluded.south", "min")},
        east = {_sqlite_least("east", "excluded.east", "max")},
        north = {_sqlite_least("north", "excluded.north", "max")},
        start_datetime = {_sqlite_least("start_datetime", "excluded.start_datetime", "min")},
        end_datetime = {_sqlite_least("end_datetime", "excluded.end_datetime", "max")};"""


def _sqlite_remove(row: str) -> str:
    """Count one less; drop the summary at zero; recompute the extent from what is left only
    when the removed row was on its edge (one grouped read of that collection's rows)."""
    group = (
        f"collection = {_key(row)} AND owner = coalesce({row}.owner, '') "
        f"AND visibility = {row}.visibility"
    )
    return f"""
    UPDATE collection_summaries SET item_count = item_count - 1 WHERE {group};
    DELETE FROM collection_summaries WHERE {group} AND item_count <= 0;
    UPDATE collection_summaries
    SET (west, south, east, north, start_datetime, end_datetime) = (
        SELECT min(d.west), min(d.south), max(d.east), max(d.north), min(d.datetime),
            max(d.datetime)
        FROM datasets AS d
        WHERE d.owner IS {row}.owner AND d.visibility = {row}.visibility
            AND {_key("d")} = {_key(row)})
    WHERE {group} AND ({row}.west <= west OR {row}.south <= south OR {row}.east >= east
        OR {row}.north >= north OR {row}.datetime <= start_datetime
        OR {row}.datetime >= end_datetime);"""


SUMMARY_COLUMNS = "collection, kind, sensor, owner, visibility, west, south, east, north, datetime"


def create_sqlite_index() -> None:
    """The R*Tree, the summary triggers and both filled from the rows already there."""
    op.execute(f"DROP TABLE IF EXISTS {RTREE}")
    op.execute(f"CREATE VIRTUAL TABLE {RTREE} USING rtree(id, west, east, south, north)")
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS datasets_spatial_{name}")
        op.execute(f"DROP TRIGGER IF EXISTS datasets_summary_{name}")
    op.execute(
        f"""CREATE TRIGGER datasets_spatial_insert AFTER INSERT ON datasets BEGIN
        INSERT INTO {RTREE} (id, west, east, south, north) VALUES ({_rtree_values("new")});
        END"""
    )
    op.execute(
        f"""CREATE TRIGGER datasets_spatial_update AFTER UPDATE OF west, south, east, north
        ON datasets BEGIN
        DELETE FROM {RTREE} WHERE id = old.rowid;
        INSERT INTO {RTREE} (id, west, east, south, north) VALUES ({_rtree_values("new")});
        END"""
    )
    op.execute(
        f"""CREATE TRIGGER datasets_spatial_delete AFTER DELETE ON datasets BEGIN
        DELETE FROM {RTREE} WHERE id = old.rowid;
        END"""
    )
    op.execute(
        f"CREATE TRIGGER datasets_summary_insert AFTER INSERT ON datasets BEGIN "
        f"{_sqlite_add('new')} END"
    )
    op.execute(
        f"CREATE TRIGGER datasets_summary_update AFTER UPDATE OF {SUMMARY_COLUMNS} ON datasets "
        f"BEGIN {_sqlite_remove('old')} {_sqlite_add('new')} END"
    )
    op.execute(
        f"CREATE TRIGGER datasets_summary_delete AFTER DELETE ON datasets BEGIN "
        f"{_sqlite_remove('old')} END"
    )
    op.execute(
        f"INSERT INTO {RTREE} (id, west, east, south, north) "
        f"SELECT {_rtree_values('datasets')} FROM datasets"
    )
    op.execute("DELETE FROM collection_summaries")
    op.execute(f"INSERT INTO collection_summaries {_grouped('datasets')}")


def _grouped_select(relation: str) -> str:
    """Summary rows of the datasets in ``relation`` (a table, or a trigger's transition table
    or row)."""
    return f"""SELECT {_key("r")} AS collection, coalesce(r.owner, '') AS owner,
        r.visibility AS visibility, count(*) AS item_count, min(r.west) AS west,
        min(r.south) AS south, max(r.east) AS east, max(r.north) AS north,
        min(r.datetime) AS start_datetime, max(r.datetime) AS end_datetime
    FROM {relation} AS r GROUP BY 1, 2, 3"""


def _grouped(relation: str) -> str:
    """An INSERT's column list and rows: the summaries of ``relation``."""
    return (
        "(collection, owner, visibility, item_count, west, south, east, north, "
        f"start_datetime, end_datetime) {_grouped_select(relation)}"
    )


# PostgreSQL ----------------------------------------------------------------------------------
def _pg_add(relation: str) -> str:
    return f"""
    INSERT INTO collection_summaries AS c {_grouped(relation)}
    ON CONFLICT (collection, owner, visibility) DO UPDATE SET
        item_count = c.item_count + excluded.item_count,
        west = least(c.west, excluded.west), south = least(c.south, excluded.south),
        east = greatest(c.east, excluded.east), north = greatest(c.north, excluded.north),
        start_datetime = least(c.start_datetime, excluded.start_datetime),
        end_datetime = greatest(c.end_datetime, excluded.end_datetime);"""


def _pg_remove(relation: str) -> str:
    """As ``_sqlite_remove``, for a set of removed rows at once."""
    removed = f"({_grouped_select(relation)}) AS g"
    same = "(c.collection, c.owner, c.visibility) = (g.collection, g.owner, g.visibility)"
    return f"""
    UPDATE collection_summaries AS c SET item_count = c.item_count - g.item_count
    FROM {removed} WHERE {same};
    DELETE FROM collection_summaries WHERE item_count <= 0;
    UPDATE collection_summaries AS c
    SET (west, south, east, north, start_datetime, end_datetime) = (
        SELECT min(d.west), min(d.south), max(d.east), max(d.north), min(d.datetime),
            max(d.datetime)
        FROM datasets AS d
        WHERE coalesce(d.owner, '') = c.owner AND d.visibility = c.visibility
            AND {_key("d")} = c.collection)
    FROM {removed}
    WHERE {same} AND (g.west <= c.west OR g.south <= c.south OR g.east >= c.east
        OR g.north >= c.north OR g.start_datetime <= c.start_datetime
        OR g.end_datetime >= c.end_datetime);"""


def _pg_function(name: str, body: str) -> None:
    op.execute(
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
        f"BEGIN\n{body}\nRETURN NULL;\nEND\n$fn$"
    )


def _has_postgis() -> bool:
    """Create the PostGIS extension where the server has it (a savepoint: a refusal, e.g.
    no right to create extensions, leaves the migration's transaction usable)."""
    bind = op.get_bind()
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
    ).scalar()
    if not available:
        return False
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def create_postgres_index() -> None:
    if _has_postgis():
        expression = "ST_MakeEnvelope(west, south, east, north, 4326)"
    else:
        expression = "box(point(west, south), point(east, north))"
    op.execute(f"CREATE INDEX IF NOT EXISTS {GIST} ON datasets USING gist (({expression}))")
    # STAC's default order (newest first, unknown times last, then id), read off an index:
    # a backward scan of the plain datetime index gives NULLS FIRST, so it cannot serve it.
    op.execute(f"CREATE INDEX IF NOT EXISTS {SORT} ON datasets (datetime DESC NULLS LAST, id)")
    _pg_function("cogsight_summary_insert", _pg_add("new_rows"))
    _pg_function("cogsight_summary_delete", _pg_remove("old_rows"))
    # Row by row for updates: transition tables cannot be limited to the columns that matter,
    # and a title or property change must not touch the summary.
    _pg_function(
        "cogsight_summary_update",
        _pg_remove("(SELECT OLD.*)") + _pg_add("(SELECT NEW.*)"),
    )
    op.execute(
        "CREATE TRIGGER datasets_summary_insert AFTER INSERT ON datasets "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION cogsight_summary_insert()"
    )
    op.execute(
        "CREATE TRIGGER datasets_summary_delete AFTER DELETE ON datasets "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION cogsight_summary_delete()"
    )
    changed = " OR ".join(f"old.{c} IS DISTINCT FROM new.{c}" for c in SUMMARY_COLUMNS.split(", "))
    op.execute(
        f"CREATE TRIGGER datasets_summary_update AFTER UPDATE OF {SUMMARY_COLUMNS} "
        f"ON datasets FOR EACH ROW WHEN ({changed}) "
        "EXECUTE FUNCTION cogsight_summary_update()"
    )
    op.execute(f"INSERT INTO collection_summaries {_grouped('datasets')}")


def upgrade() -> None:
    op.create_table(
        "collection_summaries",
        sa.Column("collection", sa.String(length=128), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("west", sa.Float(), nullable=True),
        sa.Column("south", sa.Float(), nullable=True),
        sa.Column("east", sa.Float(), nullable=True),
        sa.Column("north", sa.Float(), nullable=True),
        sa.Column("start_datetime", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_datetime", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("collection", "owner", "visibility"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        create_sqlite_index()
    elif dialect == "postgresql":
        create_postgres_index()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS datasets_spatial_{name}")
            op.execute(f"DROP TRIGGER IF EXISTS datasets_summary_{name}")
        op.execute(f"DROP TABLE IF EXISTS {RTREE}")
    elif dialect == "postgresql":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS datasets_summary_{name} ON datasets")
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        op.execute(f"DROP INDEX IF EXISTS {GIST}")
        op.execute(f"DROP INDEX IF EXISTS {SORT}")
    op.drop_table("collection_summaries")
