"""Alembic's entry point: runs the revisions on the connection ``migrate.py`` hands over.

There is no ``alembic.ini`` and no URL here: ``tileserver.catalog.migrate`` opens the
connection (and holds the lock that keeps two starting servers from migrating at once).
"""

from __future__ import annotations

from alembic import context

from tileserver.catalog.migrate import include_name, render_item, target_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Run migrations through tileserver.catalog.migrate (python -m tileserver.catalog.migrate)."
    )

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    # SQLite cannot ALTER most things; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
