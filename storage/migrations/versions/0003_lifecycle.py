"""Poll tracking, the subscription lifecycle log, daily aggregates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("activated_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_poll_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("family", sa.String(16), nullable=False, server_default=""))
    # Subscriptions made before poll tracking counted as active from the start.
    op.execute("UPDATE subscriptions SET status = 'created' WHERE status = 'active'")
    op.create_table(
        "polls",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("etag", sa.String(48), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"],
            name="fk_polls_subscription_id_subscriptions", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_polls"),
    )
    op.create_table(
        "subscription_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("src", sa.String(32), nullable=False),
        sa.Column("delta_active", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"],
            name="fk_subscription_events_subscription_id_subscriptions", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"],
            name="fk_subscription_events_workspace_id_workspaces", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_events"),
    )
    op.create_index("ix_subscription_events_subscription_id", "subscription_events", ["subscription_id"])
    op.create_index("ix_subscription_events_workspace_at", "subscription_events", ["workspace_id", "at"])
    op.create_table(
        "poll_daily",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"],
            name="fk_poll_daily_workspace_id_workspaces", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "day", "family", "status", name="pk_poll_daily"),
    )
    op.create_table(
        "landing_daily",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("src", sa.String(32), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"],
            name="fk_landing_daily_segment_id_segments", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "day", "src", "platform", name="pk_landing_daily"),
    )


def downgrade() -> None:
    op.drop_table("landing_daily")
    op.drop_table("poll_daily")
    op.drop_table("subscription_events")
    op.drop_table("polls")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("family")
        batch.drop_column("last_poll_at")
        batch.drop_column("activated_at")
