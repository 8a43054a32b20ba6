"""Storage reservations: bytes held against a user's storage quota while an upload or a job
output is being stored, so parallel uploads cannot all pass one check made before any is stored.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storage_reservations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_storage_reservations_expires"), "storage_reservations", ["expires"], unique=False
    )
    op.create_index(
        op.f("ix_storage_reservations_user_id"), "storage_reservations", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_storage_reservations_user_id"), table_name="storage_reservations")
    op.drop_index(op.f("ix_storage_reservations_expires"), table_name="storage_reservations")
    op.drop_table("storage_reservations")
