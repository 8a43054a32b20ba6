"""Alembic revisions of the catalog database (datasets, mosaics, jobs, users ...).

``tileserver.catalog.migrate`` runs them; ``Catalog(...)`` calls it on start, so a database is
brought to the newest schema by whichever process opens it first.
"""
