"""Reading the funnel and lifecycle figures: a few grouped queries, summed up in Python.

Days are the workspace's own calendar days. Lifecycle figures come from the
subscription_events log; the active count on a day is the running sum of delta_active.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    LandingDaily,
    PollDaily,
    Segment,
    Subscription,
    SubscriptionEvent,
    SubscriptionSegment,
)

EVENT_TYPES = ("created", "activated", "unsubscribed", "revoked", "lapsed", "returned", "resumed")


@dataclass(frozen=True)
class Scope:
    workspace_id: int
    timezone: str
    first: date
    last: date  # inclusive
    segment_id: int | None = None

    @property
    def start(self) -> datetime:
        return self._midnight(self.first)

    @property
    def end(self) -> datetime:
        return self._midnight(self.last + timedelta(days=1))

    def _midnight(self, day: date) -> datetime:
        """The start of ``day`` in the workspace's zone, as UTC (a midnight skipped by DST
        reads with the offset before the gap, as feeds.alarms.to_utc does)."""
        return datetime.combine(day, datetime.min.time(), ZoneInfo(self.timezone)).astimezone(UTC)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


@dataclass
class Tally:
    """Counts for one group (all, one source, one family, one segment) or one day."""

    landing_views: int = 0
    events: Counter[str] = field(default_factory=Counter)
    active_before: int = 0
    delta: int = 0

    @property
    def active(self) -> int:
        return self.active_before + self.delta


def _group_column(group: str | None) -> Any:
    """The column a breakdown groups by; a constant when there is no breakdown."""
    # The subscription's own source and latest family: an unsubscribe written before the
    # first poll was recorded still counts under the family that polled.
    if group == "src":
        return Subscription.src
    if group == "family":
        return Subscription.family
    if group == "segment":
        return Segment.slug
    return literal("")


def _events(scope: Scope, group: str | None) -> Select[Any]:
    query = select(
        SubscriptionEvent.type,
        SubscriptionEvent.at,
        SubscriptionEvent.delta_active,
        _group_column(group),
    ).where(SubscriptionEvent.workspace_id == scope.workspace_id)
    return _segment_filter(query, scope, group)


def _segment_filter(query: Select[Any], scope: Scope, group: str | None) -> Select[Any]:
    if group in ("src", "family"):
        query = query.join(Subscription, Subscription.id == SubscriptionEvent.subscription_id)
    if scope.segment_id is None and group != "segment":
        return query
    query = query.join(
        SubscriptionSegment,
        SubscriptionSegment.subscription_id == SubscriptionEvent.subscription_id,
    )
    if group == "segment":
        query = query.join(Segment, Segment.id == SubscriptionSegment.segment_id)
    if scope.segment_id is not None:
        query = query.where(SubscriptionSegment.segment_id == scope.segment_id)
    return query


async def _views(session: AsyncSession, scope: Scope, group: str | None) -> Iterable[Any]:
    if group == "family":
        return []  # page views have a platform, not a calendar client
    key = {"src": LandingDaily.src, "segment": Segment.slug}.get(group or "")
    columns = [LandingDaily.day] if key is None else [LandingDaily.day, key]
    query = (
        select(*columns, func.sum(LandingDaily.views))
        .join(Segment, Segment.id == LandingDaily.segment_id)
        .where(
            Segment.workspace_id == scope.workspace_id,
            LandingDaily.day.between(scope.first, scope.last),
        )
        .group_by(*columns)
    )
    if scope.segment_id is not None:
        query = query.where(LandingDaily.segment_id == scope.segment_id)
    rows = (await session.execute(query)).all()
    return [(row[0], "", row[1]) for row in rows] if key is None else rows


async def _active_before(session: AsyncSession, scope: Scope, group: str | None) -> dict[str, int]:
    before = select(_group_column(group), func.sum(SubscriptionEvent.delta_active)).where(
        SubscriptionEvent.workspace_id == scope.workspace_id, SubscriptionEvent.at < scope.start
    )
    if group is not None:
        before = before.group_by(_group_column(group))
    rows = (await session.execute(_segment_filter(before, scope, group))).all()
    return {key or "": int(total or 0) for key, total in rows}


async def totals(session: AsyncSession, scope: Scope, group: str | None = None) -> dict[str, Tally]:
    """{group key: Tally for the whole range}, counted by the database (no row per event)."""
    result: dict[str, Tally] = defaultdict(Tally)
    for key, active in (await _active_before(session, scope, group)).items():
        result[key].active_before = active
    key_column = _group_column(group)
    counted = (
        select(
            key_column,
            SubscriptionEvent.type,
            func.count(),
            func.sum(SubscriptionEvent.delta_active),
        )
        .where(SubscriptionEvent.workspace_id == scope.workspace_id)
        .where(SubscriptionEvent.at >= scope.start, SubscriptionEvent.at < scope.end)
        .group_by(key_column, SubscriptionEvent.type)
    )
    for key, kind, count, delta in (
        await session.execute(_segment_filter(counted, scope, group))
    ).all():
        result[key or ""].events[kind] += int(count)
        result[key or ""].delta += int(delta or 0)
    for _day, key, views in await _views(session, scope, group):
        result[key or ""].landing_views += int(views)
    return result


async def tallies(
    session: AsyncSession, scope: Scope, group: str | None = None
) -> dict[str, dict[date | None, Tally]]:
    """{group key: {day: Tally, None: Tally for the whole range}}: days in the workspace's zone."""
    result: dict[str, dict[date | None, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for key, active in (await _active_before(session, scope, group)).items():
        result[key][None].active_before = active
    in_range = _events(scope, group).where(
        SubscriptionEvent.at >= scope.start, SubscriptionEvent.at < scope.end
    )
    zone, days = ZoneInfo(scope.timezone), dict[datetime, date]()
    for kind, at, delta, key in (await session.execute(in_range)).all():
        # Convert each quarter hour once, not each row (every zone's offset is a multiple
        # of 15 minutes, so a local day never starts inside a quarter).
        quarter = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
        day = days.get(quarter)
        if day is None:
            day = days[quarter] = quarter.astimezone(zone).date()
        for bucket in (result[key or ""][day], result[key or ""][None]):
            bucket.events[kind] += 1
            bucket.delta += delta
    for day, key, views in await _views(session, scope, group):
        result[key or ""][day].landing_views += int(views)
        result[key or ""][None].landing_views += int(views)
    return result


async def polls_per_day(session: AsyncSession, scope: Scope) -> dict[date, int]:
    query = (
        select(PollDaily.day, func.sum(PollDaily.polls))
        .where(
            PollDaily.workspace_id == scope.workspace_id,
            PollDaily.day.between(scope.first, scope.last),
        )
        .group_by(PollDaily.day)
    )
    return {day: int(total) for day, total in (await session.execute(query)).all()}


async def count_by_status(
    session: AsyncSession, workspace_id: int, segment_id: int | None
) -> Counter[str]:
    query = select(Subscription.status, func.count(Subscription.id)).where(
        Subscription.workspace_id == workspace_id
    )
    if segment_id is not None:
        query = query.join(
            SubscriptionSegment, SubscriptionSegment.subscription_id == Subscription.id
        ).where(SubscriptionSegment.segment_id == segment_id)
    rows = (await session.execute(query.group_by(Subscription.status))).all()
    return Counter({status: int(count) for status, count in rows})
