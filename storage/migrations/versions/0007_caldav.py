"""Tombstones of deleted segment events, for CalDAV sync-collection deltas.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deleted_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name="fk_deleted_events_segment_id_segments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deleted_events"),
    )
    op.create_index(
        "ix_deleted_events_segment_at", "deleted_events", ["segment_id", "deleted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_deleted_events_segment_at", table_name="deleted_events")
    op.drop_table("deleted_events")
