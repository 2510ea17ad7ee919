"""Brand: a workspace's colour, footer and logo (its bytes in their own table).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("brand_color", sa.String(7), nullable=True))
        batch.add_column(sa.Column("footer", sa.Text(), nullable=True))
        batch.add_column(sa.Column("logo_digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("logo_type", sa.String(32), nullable=True))
    op.create_table(
        "workspace_logos",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_workspace_logos_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name="pk_workspace_logos"),
    )


def downgrade() -> None:
    op.drop_table("workspace_logos")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("logo_type")
        batch.drop_column("logo_digest")
        batch.drop_column("footer")
        batch.drop_column("brand_color")
