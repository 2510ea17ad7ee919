"""Contacts, CRM triggers and their timeline, webhook endpoints and the outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("telegram_chat_id", sa.String(32), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _fk("contacts", "workspace_id", "workspaces"),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.UniqueConstraint("workspace_id", "external_id", name="uq_contacts_workspace_external"),
    )
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_subscriptions_contact_id_contacts", "contacts", ["contact_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_subscriptions_contact_id", ["contact_id"])
    op.create_table(
        "triggers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("deliver_by", UTCDateTime(), nullable=True),
        sa.Column("uid", sa.String(255), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(500), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("start_local", sa.String(19), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("rrule", sa.String(1000), nullable=True),
        sa.Column("alarms", sa.JSON(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_sequence", sa.Integer(), nullable=True),
        sa.Column("delivered_family", sa.String(16), nullable=True),
        sa.Column("stale_on_google", sa.Boolean(), nullable=False),
        _fk("triggers", "workspace_id", "workspaces"),
        _fk("triggers", "contact_id", "contacts"),
        sa.PrimaryKeyConstraint("id", name="pk_triggers"),
        sa.UniqueConstraint("workspace_id", "idempotency_key", name="uq_triggers_workspace_key"),
    )
    op.create_index("ix_triggers_contact", "triggers", ["contact_id"])
    op.create_table(
        "trigger_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("trigger_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        _fk("trigger_events", "trigger_id", "triggers"),
        sa.PrimaryKeyConstraint("id", name="pk_trigger_events"),
    )
    op.create_index("ix_trigger_events_trigger_id", "trigger_events", ["trigger_id"])
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _fk("webhook_endpoints", "workspace_id", "workspaces"),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_index("ix_webhook_endpoints_workspace_id", "webhook_endpoints", ["workspace_id"])
    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=False),
        _fk("outbox", "workspace_id", "workspaces"),
        _fk("outbox", "endpoint_id", "webhook_endpoints"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_due", "outbox", ["delivered_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("webhook_endpoints")
    op.drop_table("trigger_events")
    op.drop_table("triggers")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_index("ix_subscriptions_contact_id")
        batch.drop_constraint("fk_subscriptions_contact_id_contacts", type_="foreignkey")
        batch.drop_column("contact_id")
    op.drop_table("contacts")
