"""SQLAlchemy models: the single source of truth for workspaces, keys, segments and events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Explicit constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the backend keeps (SQLite has no zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    quiet_start: Mapped[str] = mapped_column(String(5), default="22:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00")
    sms_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 4), nullable=True)
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    # The language of its pages for visitors whose browser asks for none calserver speaks.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # The cascade's steps (calserver/cascade/policy.py), or None: no cascade.
    cascade_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the whole key: keys are 256-bit random, so a fast hash is enough and a
    # leaked table reveals nothing usable.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("workspace_id", "slug", name="uq_segments_workspace_slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str | None] = mapped_column(String(7), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # Its landing page's default language; None: the workspace's.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # Bumped on every change to the segment or its events; feed caches key on it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EventColumns:
    """What a segment event and a CRM trigger's personal event both store: enough to render
    it for any subscriber zone (calserver/eventspec.py fills it, feeds/render.py reads it)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(500), default="")
    url: Mapped[str] = mapped_column(String(2000), default="")
    # "timed" (a fixed instant in `timezone`), "local" (the same wall time in every
    # subscriber's zone) or "all_day" (dates).
    kind: Mapped[str] = mapped_column(String(10))
    # Wall-clock start: "YYYY-MM-DDTHH:MM:SS", or "YYYY-MM-DD" for all-day events.
    start_local: Mapped[str] = mapped_column(String(19))
    timezone: Mapped[str] = mapped_column(String(64))
    duration_seconds: Mapped[int] = mapped_column(Integer)
    rrule: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    alarms: Mapped[list[int]] = mapped_column(JSON, default=list)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # UTC bounds in the event's own zone, for ordering and retention; ends_at is None for
    # an endless recurrence.
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Event(EventColumns, Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("segment_id", "uid", name="uq_events_segment_uid"),
        Index("ix_events_segment_starts", "segment_id", "starts_at"),
    )

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))


class Subscription(Base):
    """One calendar subscription: anonymous, identified only by its signed feed token."""

    __tablename__ = "subscriptions"
    # The lifecycle sweep's lookup (family, status, silent since): without it each sweep
    # scanned every subscription, a cost growing with the population on every server.
    __table_args__ = (Index("ix_subscriptions_sweep", "family", "status", "last_poll_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    timezone: Mapped[str] = mapped_column(String(64))
    # Where the link was shared (qr, button, sms, site…) and which button was pressed.
    src: Mapped[str] = mapped_column(String(32), default="")
    client: Mapped[str] = mapped_column(String(16), default="")
    # created -> active (first poll) -> dormant -> lapsed, or unsubscribed / revoked;
    # see storage/lifecycle.py.
    status: Mapped[str] = mapped_column(String(16), default="created")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Client family of the latest poll (apple-ios, google, …); empty before the first.
    family: Mapped[str] = mapped_column(String(16), default="")
    # The language of the page it was made on: its calendar's own texts speak it.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # Set when subscribed through a personalized link; erased with the contact.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True, index=True
    )


class SubscriptionSegment(Base):
    __tablename__ = "subscription_segments"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Poll(Base):
    """One feed request, kept raw for poll_retention_hours (no IP address, ever)."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # No secondary index: each B-tree would cost every poll's insert more than any reader
    # needs (the lifecycle reads subscriptions.last_poll_at; the purge walks ids in order).
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    status: Mapped[int] = mapped_column(SmallInteger)
    family: Mapped[str] = mapped_column(String(16))
    etag: Mapped[str] = mapped_column(String(48))


class SubscriptionEvent(Base):
    """The lifecycle log: one row per change of state, with its effect on the active count."""

    __tablename__ = "subscription_events"
    __table_args__ = (Index("ix_subscription_events_workspace_at", "workspace_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # created, activated, dormant, lapsed, returned, unsubscribed, revoked
    type: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str] = mapped_column(String(16), default="")
    at: Mapped[datetime]
    family: Mapped[str] = mapped_column(String(16), default="")
    src: Mapped[str] = mapped_column(String(32), default="")
    # +1 when the subscription starts counting as active, -1 when it stops, else 0: the
    # active count on any day is the sum up to that day.
    delta_active: Mapped[int] = mapped_column(SmallInteger, default=0)


class PollDaily(Base):
    """Polls per day, family and HTTP status: kept after raw polls are purged."""

    __tablename__ = "poll_daily"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    family: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    polls: Mapped[int] = mapped_column(Integer, default=0)


class LandingDaily(Base):
    """Landing-page views per day, segment, source and platform (people only, no bots)."""

    __tablename__ = "landing_daily"

    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    src: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)


class Contact(Base):
    """A CRM's client, named by the CRM's own id; personal data erasable on request."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id", name="uq_contacts_workspace_external"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    telegram_chat_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The language of the cascade's messages; None: the workspace's.
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Cascade channels (step names) the contact asked not to be reached on.
    opt_out: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Bumped whenever one of the contact's triggers changes: personal feed parts key on it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Trigger(EventColumns, Base):
    """A personal event pushed by a CRM into one contact's feeds."""

    __tablename__ = "triggers"
    __table_args__ = (
        UniqueConstraint("workspace_id", "idempotency_key", name="uq_triggers_workspace_key"),
        Index("ix_triggers_contact", "contact_id"),
        Index("ix_triggers_cascade_at", "cascade_at"),
    )

    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    # pending -> delivered | undelivered; cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    critical: Mapped[bool] = mapped_column(default=False)
    deliver_by: Mapped[datetime | None] = mapped_column(nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The receipt: when a feed holding this SEQUENCE was first served, and to what.
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    delivered_sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delivered_family: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Changed after Google got it: Google often never applies changes.
    stale_on_google: Mapped[bool] = mapped_column(default=False)
    # When the cascade worker should look at this trigger next (None: nothing to do); until
    # when a worker holds it; how often something asked for a fresh look (receipts, reports,
    # changes: a worker's own next time never overwrites one); and this trigger's own steps
    # if the CRM overrode the workspace's policy.
    cascade_at: Mapped[datetime | None] = mapped_column(nullable=True)
    cascade_lease: Mapped[datetime | None] = mapped_column(nullable=True)
    cascade_nudges: Mapped[int] = mapped_column(Integer, default=0)
    cascade_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class CascadeStep(Base):
    """One step of a trigger's cascade: its channel, price, state and times — also the cost
    ledger (a step is one message: retries reuse its idempotency key and cost nothing more)."""

    __tablename__ = "cascade_steps"
    __table_args__ = (
        # Structural "never twice on one channel": one row per trigger and channel.
        UniqueConstraint("trigger_id", "channel", name="uq_cascade_steps_trigger_channel"),
        Index("ix_cascade_steps_provider", "channel", "provider_id"),
        Index("ix_cascade_steps_contact_sending", "contact_id", "sending_at"),
        Index("ix_cascade_steps_workspace_created", "workspace_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    trigger_id: Mapped[int] = mapped_column(ForeignKey("triggers.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(32))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal(0))
    wait_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # pending, sending, sent, delivered, failed, skipped, expired
    state: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    provider_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Charged: the provider accepted the message (a later failure report still costs).
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal(0))
    due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]
    sending_at: Mapped[datetime | None] = mapped_column(nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # A report that came after the cascade had moved on.
    late_report: Mapped[str | None] = mapped_column(String(10), nullable=True)


class TriggerEvent(Base):
    """A trigger's timeline: created, changed, served, delivered, undelivered, cancelled."""

    __tablename__ = "trigger_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    trigger_id: Mapped[int] = mapped_column(
        ForeignKey("triggers.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    # Kept in clear: it signs every delivery (shown once, at creation).
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class OutboxMessage(Base):
    """A webhook delivery, written in the same transaction as what it reports."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")


class User(Base):
    """A person who signs in to the admin dashboard of one workspace."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("workspace_id", "email", name="uq_users_workspace_email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # Kept lower-case: one person, one account, however they type their address.
    email: Mapped[str] = mapped_column(String(254))
    # "scrypt$N$r$p$salt$hash" (calserver/passwords.py); never the password itself.
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None] = mapped_column(nullable=True)


class DeletedEvent(Base):
    """A tombstone of a deleted segment event: CalDAV sync-collection reports it as removed
    to clients whose sync token is older (triggers are never deleted, only cancelled)."""

    __tablename__ = "deleted_events"
    __table_args__ = (Index("ix_deleted_events_segment_at", "segment_id", "deleted_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(Integer)
    deleted_at: Mapped[datetime]
