"""Subscriptions, and the one query a feed poll makes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.lifecycle import log_created
from storage.models import Event, Segment, Subscription, SubscriptionSegment, Workspace


@dataclass(frozen=True)
class SegmentInfo:
    id: int
    slug: str
    version: int
    name: str
    description: str
    color: str | None
    updated_at: datetime


@dataclass(frozen=True)
class FeedView:
    """Everything a poll needs, from one query."""

    subscription_id: int
    status: str
    timezone: str
    subscription_updated_at: datetime
    workspace_id: int
    workspace_timezone: str
    workspace_name: str
    quiet_start: str
    quiet_end: str
    segments: tuple[SegmentInfo, ...]
    language: str = "en"  # of the page it was made on: the calendar's own texts speak it


async def segment_by_slugs(
    session: AsyncSession, workspace_slug: str, segment_slug: str
) -> tuple[Workspace, Segment]:
    if "\x00" in workspace_slug + segment_slug:  # no slug holds one; PostgreSQL refuses it
        raise NotFound("This calendar does not exist, or it was removed.")
    row = (
        await session.execute(
            select(Workspace, Segment)
            .join(Segment, Segment.workspace_id == Workspace.id)
            .where(Workspace.slug == workspace_slug, Segment.slug == segment_slug)
        )
    ).first()
    if row is None:
        raise NotFound("This calendar does not exist, or it was removed.")
    return row[0], row[1]


async def create_subscription(
    session: AsyncSession,
    workspace_id: int,
    segment_ids: Sequence[int],
    timezone: str,
    src: str,
    client: str,
    now: datetime,
    contact_id: int | None = None,
    language: str = "en",
) -> Subscription:
    subscription = Subscription(
        workspace_id=workspace_id,
        contact_id=contact_id,
        language=language,
        timezone=timezone,
        src=src,
        client=client,
        status="created",
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    await session.flush()
    session.add_all(
        SubscriptionSegment(subscription_id=subscription.id, segment_id=s) for s in segment_ids
    )
    await session.flush()
    await log_created(session, subscription)
    return subscription


_VIEW = (
    Subscription.status, Subscription.timezone, Subscription.updated_at, Workspace.id,
    Workspace.timezone, Workspace.name, Workspace.quiet_start, Workspace.quiet_end,
    Subscription.language,
)  # fmt: skip
VIEW_WIDTH = len(_VIEW)  # where ``view_query``'s extra columns start
_SEGMENT = (
    Segment.id, Segment.slug, Segment.version, Segment.name, Segment.description, Segment.color,
    Segment.updated_at,
)  # fmt: skip


def view_query(subscription_id: int, *extra: Any) -> Select[Any]:
    """A subscription's feed view, a row per followed segment; ``extra`` columns come between
    the view's and the segment's (read them with ``view_from_rows(..., len(extra))``)."""
    return (
        select(*_VIEW, *extra, *_SEGMENT)
        .join(Workspace, Workspace.id == Subscription.workspace_id)
        .outerjoin(SubscriptionSegment, SubscriptionSegment.subscription_id == Subscription.id)
        .outerjoin(Segment, Segment.id == SubscriptionSegment.segment_id)
        .where(Subscription.id == subscription_id)
        .order_by(Segment.id)
    )


def view_from_rows(subscription_id: int, rows: Sequence[Any], extra: int = 0) -> FeedView | None:
    if not rows:
        return None
    at = len(_VIEW) + extra
    segments = tuple(SegmentInfo(*row[at:]) for row in rows if row[at] is not None)
    status, zone, updated, ws_id, ws_zone, ws_name, quiet_start, quiet_end, language = rows[0][
        : len(_VIEW)
    ]
    return FeedView(
        subscription_id, status, zone, updated, ws_id, ws_zone, ws_name, quiet_start, quiet_end,
        segments, language,
    )  # fmt: skip


async def feed_view(session: AsyncSession, subscription_id: int) -> FeedView | None:
    rows = (await session.execute(view_query(subscription_id))).all()
    return view_from_rows(subscription_id, rows)


async def get_subscription(session: AsyncSession, subscription_id: int) -> Subscription:
    subscription = await session.get(Subscription, subscription_id)
    if subscription is None:
        raise NotFound("This subscription does not exist.")
    return subscription


async def events_for_segments(
    session: AsyncSession, segment_ids: Sequence[int], ended_before: datetime
) -> list[Event]:
    """Events of the segments, less those that ended before ``ended_before`` (retention)."""
    query = (
        select(Event)
        .where(Event.segment_id.in_(segment_ids))
        .where(or_(Event.ends_at.is_(None), Event.ends_at >= ended_before))
        .order_by(Event.starts_at, Event.id)
    )
    return list((await session.scalars(query)).all())


async def upcoming_events(
    session: AsyncSession, segment_id: int, after: datetime, limit: int
) -> list[Event]:
    """Events still to come (or still recurring), soonest first, for the landing page."""
    query = (
        select(Event)
        .where(Event.segment_id == segment_id)
        .where(or_(Event.ends_at.is_(None), Event.ends_at >= after))
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def change_subscription(
    session: AsyncSession,
    subscription: Subscription,
    segment_ids: Sequence[int],
    timezone: str,
    now: datetime,
) -> None:
    """Follow these segments (of the same workspace) in this zone from the next poll on."""
    allowed = set(
        (
            await session.scalars(
                select(Segment.id).where(Segment.workspace_id == subscription.workspace_id)
            )
        ).all()
    )
    if not set(segment_ids) <= allowed:
        raise NotFound("Some of these calendars do not exist.")
    current = set(
        (
            await session.scalars(
                select(SubscriptionSegment.segment_id).where(
                    SubscriptionSegment.subscription_id == subscription.id
                )
            )
        ).all()
    )
    wanted = set(segment_ids)
    if current - wanted:
        await session.execute(
            delete(SubscriptionSegment).where(
                SubscriptionSegment.subscription_id == subscription.id,
                SubscriptionSegment.segment_id.in_(current - wanted),
            )
        )
    session.add_all(
        SubscriptionSegment(subscription_id=subscription.id, segment_id=s) for s in wanted - current
    )
    subscription.timezone = timezone
    subscription.updated_at = now
    await session.flush()


async def workspace_segments(session: AsyncSession, workspace_id: int) -> list[Segment]:
    query = select(Segment).where(Segment.workspace_id == workspace_id).order_by(Segment.name)
    return list((await session.scalars(query)).all())
