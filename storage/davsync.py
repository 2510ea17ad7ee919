"""The CalDAV side's reads, on a synchronous engine (Radicale runs in worker threads).

One query gives a subscription's whole state (its zone, workspace, followed segments with
their versions, and the contact whose personal events it carries): collection ETags and
sync tokens come from it without reading any event. Events are read only to build a
calendar (a cache miss), to narrow a time-range query, or to answer a sync delta.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, create_engine, event, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from storage.engine import StoreSettings, sqlite_pragmas
from storage.models import (
    Contact,
    DeletedEvent,
    Event,
    Subscription,
    Trigger,
)
from storage.subscriptions import VIEW_WIDTH, FeedView, view_from_rows, view_query

# A local event is shown at the subscriber's wall time, up to 26 hours away from the
# instants stored in the event's own zone: time-range candidates are widened by that.
ZONE_SLACK = timedelta(hours=27)


def sync_engine(config: StoreSettings, pool_size: int) -> Engine:
    """The same database through a blocking driver: stdlib sqlite3 or psycopg."""
    url = make_url(config.resolved_database_url)
    if url.drivername.startswith("sqlite"):
        engine = create_engine(url.set(drivername="sqlite"), pool_size=pool_size)
        event.listen(engine, "connect", sqlite_pragmas)
        return engine
    # asyncpg's ?ssl=… is libpq's sslmode for psycopg.
    query = dict(url.query)
    if "ssl" in query and "sslmode" not in query:
        mode = query.pop("ssl")
        query["sslmode"] = "require" if mode in ("true", "True", "1") else mode
    return create_engine(
        url.set(drivername="postgresql+psycopg", query=query),
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=True,
    )


@dataclass(frozen=True)
class DavState:
    """Names, descriptions and change times: read only when a request needs them (the
    versions that ETags and sync tokens come from are in the poll lookup's PollView)."""

    view: FeedView
    contact_id: int | None
    contact_version: int | None
    contact_updated_at: datetime | None


def dav_state(session: Session, subscription_id: int) -> DavState | None:
    extra = (Subscription.contact_id, Contact.version, Contact.updated_at)
    query = view_query(subscription_id, *extra).outerjoin(
        Contact, Contact.id == Subscription.contact_id
    )
    rows = session.execute(query).all()
    view = view_from_rows(subscription_id, rows, len(extra))
    if view is None:
        return None
    contact_id, version, updated_at = rows[0][VIEW_WIDTH : VIEW_WIDTH + len(extra)]
    return DavState(view, contact_id, version, updated_at)


def calendar_events(
    session: Session, segment_ids: Sequence[int], contact_id: int | None, retained: datetime
) -> tuple[list[Event], list[Trigger]]:
    """The feed's events, as web/feed.py reads them (same retention, same order)."""
    events = session.scalars(
        select(Event)
        .where(Event.segment_id.in_(segment_ids))
        .where(or_(Event.ends_at.is_(None), Event.ends_at >= retained))
        .order_by(Event.starts_at, Event.id)
    ).all()
    personal: Sequence[Trigger] = []
    if contact_id is not None:
        personal = session.scalars(
            select(Trigger)
            .where(Trigger.contact_id == contact_id)
            .where(or_(Trigger.ends_at.is_(None), Trigger.ends_at >= retained))
            .order_by(Trigger.starts_at, Trigger.id)
        ).all()
    session.expunge_all()
    return list(events), list(personal)


def in_range(
    session: Session, segment_ids: Sequence[int], contact_id: int | None, start: datetime,
    end: datetime,
) -> tuple[set[int], set[int]]:  # fmt: skip
    """Ids of events and triggers that may occur between start and end (a superset: Radicale
    still applies the exact filter to what is returned)."""
    low, high = start - ZONE_SLACK, end + ZONE_SLACK
    events = session.scalars(
        select(Event.id)
        .where(Event.segment_id.in_(segment_ids))
        .where(Event.starts_at < high)
        .where(or_(Event.ends_at.is_(None), Event.ends_at > low))
    ).all()
    triggers: Sequence[int] = []
    if contact_id is not None:
        triggers = session.scalars(
            select(Trigger.id)
            .where(Trigger.contact_id == contact_id)
            .where(Trigger.starts_at < high)
            .where(or_(Trigger.ends_at.is_(None), Trigger.ends_at > low))
        ).all()
    return set(events), set(triggers)


@dataclass(frozen=True)
class Delta:
    events: set[int]  # changed, deleted, or gone out of retention
    triggers: set[int]


def changes_since(
    session: Session, segment_ids: Sequence[int], contact_id: int | None, since: datetime,
    retained_then: datetime, retained_now: datetime,
) -> Delta:  # fmt: skip
    """Everything that may differ since ``since``: changed rows, tombstones, and events
    that ended before the retention cutoff moved past them."""
    changed = session.scalars(
        select(Event.id)
        .where(Event.segment_id.in_(segment_ids))
        .where(
            or_(
                Event.updated_at >= since,
                (Event.ends_at >= retained_then) & (Event.ends_at < retained_now),
            )
        )
    ).all()
    deleted = session.scalars(
        select(DeletedEvent.event_id)
        .where(DeletedEvent.segment_id.in_(segment_ids))
        .where(DeletedEvent.deleted_at >= since)
    ).all()
    triggers: Sequence[int] = []
    if contact_id is not None:
        triggers = session.scalars(
            select(Trigger.id)
            .where(Trigger.contact_id == contact_id)
            .where(
                or_(
                    Trigger.updated_at >= since,
                    (Trigger.ends_at >= retained_then) & (Trigger.ends_at < retained_now),
                )
            )
        ).all()
    return Delta({*changed, *deleted}, set(triggers))
