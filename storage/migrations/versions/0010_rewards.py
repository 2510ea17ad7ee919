"""Rewards unlocked by a real subscription; A/B landing copy; views by offer and variant.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("reward_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reward_code", sa.String(100), nullable=True))
        batch.add_column(
            sa.Column("reward_pool", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("reward_available", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("variants", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("variant_kept", sa.String(8), nullable=True))
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("reward_segment_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reward_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reward_code", sa.String(100), nullable=True))
        batch.add_column(sa.Column("reward_unlocked_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("variant", sa.String(8), nullable=False, server_default=""))
        batch.create_foreign_key(
            "fk_subscriptions_reward_segment_id_segments",
            "segments",
            ["reward_segment_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "reward_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"],
            name="fk_reward_codes_segment_id_segments", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"],
            name="fk_reward_codes_subscription_id_subscriptions", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reward_codes"),
        sa.UniqueConstraint("segment_id", "code", name="uq_reward_codes_segment_code"),
        sa.UniqueConstraint("subscription_id", name="uq_reward_codes_subscription_id"),
    )  # fmt: skip
    op.create_index("ix_reward_codes_segment_id", "reward_codes", ["segment_id"])
    op.create_table(
        "offer_daily",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("variant", sa.String(8), nullable=False),
        sa.Column("offered", sa.Boolean(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"],
            name="fk_offer_daily_segment_id_segments", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "day", "variant", "offered", name="pk_offer_daily"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("offer_daily")
    op.drop_index("ix_reward_codes_segment_id", "reward_codes")
    op.drop_table("reward_codes")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_constraint("fk_subscriptions_reward_segment_id_segments", type_="foreignkey")
        for column in ("variant", "reward_unlocked_at", "reward_code", "reward_text",
                       "reward_segment_id"):  # fmt: skip
            batch.drop_column(column)
    with op.batch_alter_table("segments") as batch:
        for column in ("variant_kept", "variants", "reward_available", "reward_pool",
                       "reward_code", "reward_text"):  # fmt: skip
            batch.drop_column(column)
