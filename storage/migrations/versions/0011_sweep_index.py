"""An index for the lifecycle sweep: subscriptions by family, status and last poll.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_subscriptions_sweep", "subscriptions", ["family", "status", "last_poll_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_subscriptions_sweep", table_name="subscriptions")
