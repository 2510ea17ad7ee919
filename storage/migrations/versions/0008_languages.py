"""Languages: the workspace's and a segment's default, a subscription's, a contact's locale.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("locale", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("locale")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("language")
