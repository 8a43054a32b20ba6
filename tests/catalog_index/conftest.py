"""The scale-out backends (SQLite and a throwaway PostgreSQL) for the both-backend cases."""

from tests.scaleout.conftest import database_url, pg_url, postgres  # noqa: F401
