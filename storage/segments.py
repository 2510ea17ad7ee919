"""Segments (audiences) and their events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, NotFound
from storage.models import DeletedEvent, Event, Segment


async def list_segments(session: AsyncSession, workspace_id: int) -> list[Segment]:
    query = select(Segment).where(Segment.workspace_id == workspace_id).order_by(Segment.slug)
    return list((await session.scalars(query)).all())


async def get_segment(session: AsyncSession, workspace_id: int, slug: str) -> Segment:
    if "\x00" in slug:  # no slug holds one; PostgreSQL refuses it in a query
        raise NotFound(f"no segment {slug!r}")
    segment = await session.scalar(
        select(Segment).where(Segment.workspace_id == workspace_id, Segment.slug == slug)
    )
    if segment is None:
        raise NotFound(f"no segment {slug!r}")
    return segment


async def _slug_taken(session: AsyncSession, workspace_id: int, slug: str) -> bool:
    query = select(Segment.id).where(Segment.workspace_id == workspace_id, Segment.slug == slug)
    return await session.scalar(query) is not None


async def create_segment(
    session: AsyncSession, workspace_id: int, fields: Mapping[str, Any], now: datetime
) -> Segment:
    if await _slug_taken(session, workspace_id, fields["slug"]):
        raise Conflict(f"segment {fields['slug']!r} already exists")
    segment = Segment(
        workspace_id=workspace_id, version=1, created_at=now, updated_at=now, **fields
    )
    session.add(segment)
    await session.flush()
    return segment


async def update_segment(
    session: AsyncSession, segment: Segment, fields: Mapping[str, Any], now: datetime
) -> Segment:
    new_slug = fields.get("slug")
    if (
        new_slug
        and new_slug != segment.slug
        and await _slug_taken(session, segment.workspace_id, new_slug)
    ):
        raise Conflict(f"segment {new_slug!r} already exists")
    for name, value in fields.items():
        setattr(segment, name, value)
    segment.version += 1
    segment.updated_at = now
    await session.flush()
    return segment


async def touch_segment(session: AsyncSession, segment_id: int, now: datetime) -> None:
    """Bump the segment's version after one of its events changed (feed caches key on it)."""
    await session.execute(
        update(Segment)
        .where(Segment.id == segment_id)
        .values(version=Segment.version + 1, updated_at=now)
    )


# CalDAV sync tokens older than this are refused (the client resyncs in full), so older
# tombstones are never read again.
TOMBSTONE_DAYS = 60


async def bury_event(session: AsyncSession, segment_id: int, event_id: int, now: datetime) -> None:
    """Keep a tombstone so CalDAV clients syncing incrementally learn of the deletion, and
    drop the segment's tombstones no valid sync token can need any more."""
    await session.execute(
        delete(DeletedEvent).where(
            DeletedEvent.segment_id == segment_id,
            DeletedEvent.deleted_at < now - timedelta(days=TOMBSTONE_DAYS),
        )
    )
    session.add(DeletedEvent(segment_id=segment_id, event_id=event_id, deleted_at=now))


async def delete_segment(session: AsyncSession, segment: Segment) -> None:
    await session.delete(segment)
    await session.flush()


async def list_events(
    session: AsyncSession, segment_id: int, limit: int, offset: int
) -> list[Event]:
    query = (
        select(Event)
        .where(Event.segment_id == segment_id)
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.scalars(query)).all())


async def get_event(session: AsyncSession, segment_id: int, event_id: int) -> Event:
    event = await session.scalar(
        select(Event).where(Event.segment_id == segment_id, Event.id == event_id)
    )
    if event is None:
        raise NotFound(f"no event {event_id} in this segment")
    return event


async def uid_taken(
    session: AsyncSession, segment_id: int, uid: str, except_id: int | None = None
) -> bool:
    query = select(Event.id).where(Event.segment_id == segment_id, Event.uid == uid)
    if except_id is not None:
        query = query.where(Event.id != except_id)
    return await session.scalar(query) is not None


async def add_event(session: AsyncSession, event: Event) -> Event:
    if await uid_taken(session, event.segment_id, event.uid):
        raise Conflict(f"an event with uid {event.uid!r} already exists in this segment")
    session.add(event)
    await session.flush()
    return event


async def event_uids(session: AsyncSession, segment_id: int) -> set[str]:
    return set(
        (await session.scalars(select(Event.uid).where(Event.segment_id == segment_id))).all()
    )
