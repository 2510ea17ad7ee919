"""An index for the lifecycle sweep: subscriptions by family, status and last poll.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_subscriptions_sweep", "subscriptions", ["family", "status", "last_poll_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_subscriptions_sweep", table_name="subscriptions")
