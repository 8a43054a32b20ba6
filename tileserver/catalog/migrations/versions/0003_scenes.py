"""Scenes registered from STAC items: the collection, the archive source, the source's
"collection/item" key (unique per source) and a hash of the item as last seen.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("collection", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("source_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_datasets_collection"), ["collection"], unique=False)
        batch_op.create_index(
            "ux_datasets_source_external_id", ["source", "external_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index("ux_datasets_source_external_id")
        batch_op.drop_index(batch_op.f("ix_datasets_collection"))
        batch_op.drop_column("source_hash")
        batch_op.drop_column("external_id")
        batch_op.drop_column("source")
        batch_op.drop_column("collection")
