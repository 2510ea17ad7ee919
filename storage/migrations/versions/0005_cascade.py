"""The cascade: policies, per-trigger steps (state machine and cost ledger), opt-outs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("cascade_policy", sa.JSON(), nullable=True))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("opt_out", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("triggers") as batch:
        batch.add_column(sa.Column("cascade_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("cascade_lease", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("cascade_nudges", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("cascade_policy", sa.JSON(), nullable=True))
        batch.create_index("ix_triggers_cascade_at", ["cascade_at"])
    op.create_table(
        "cascade_steps",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("trigger_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("price", sa.Numeric(12, 4), nullable=False),
        sa.Column("wait_seconds", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("provider_id", sa.String(200), nullable=True),
        sa.Column("cost", sa.Numeric(12, 4), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sending_at", UTCDateTime(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("late_report", sa.String(10), nullable=True),
        _fk("cascade_steps", "workspace_id", "workspaces"),
        _fk("cascade_steps", "trigger_id", "triggers"),
        _fk("cascade_steps", "contact_id", "contacts"),
        sa.PrimaryKeyConstraint("id", name="pk_cascade_steps"),
        sa.UniqueConstraint("trigger_id", "channel", name="uq_cascade_steps_trigger_channel"),
    )
    op.create_index("ix_cascade_steps_provider", "cascade_steps", ["channel", "provider_id"])
    op.create_index("ix_cascade_steps_contact_sending", "cascade_steps", ["contact_id", "sending_at"])
    op.create_index(
        "ix_cascade_steps_workspace_created", "cascade_steps", ["workspace_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("cascade_steps")
    with op.batch_alter_table("triggers") as batch:
        batch.drop_index("ix_triggers_cascade_at")
        batch.drop_column("cascade_policy")
        batch.drop_column("cascade_nudges")
        batch.drop_column("cascade_lease")
        batch.drop_column("cascade_at")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("opt_out")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("cascade_policy")
