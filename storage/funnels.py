"""A segment's landing funnel split by what the page showed: with or without a reward, or
by A/B copy variant. Views come from offer_daily (people only); the rest from the
subscriptions made on that segment's page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import OfferDaily, Subscription, SubscriptionSegment


@dataclass(frozen=True)
class Funnel:
    views: int = 0
    subscribed: int = 0  # clicks on a subscribe button (subscriptions made)
    activated: int = 0  # polled by a calendar app at least once
    active: int = 0
    unsubscribed: int = 0


def _counts() -> list[ColumnElement[int]]:
    status = Subscription.status
    return [
        func.count(Subscription.id),
        func.count(Subscription.activated_at),
        func.sum(case((status == "active", 1), else_=0)),
        func.sum(case((status == "unsubscribed", 1), else_=0)),
    ]


async def by_reward(session: AsyncSession, segment_id: int) -> dict[bool, Funnel]:
    """{True: the funnel of views that announced a reward, False: of those that did not}."""
    views = dict(
        (
            await session.execute(
                select(OfferDaily.offered, func.sum(OfferDaily.views))
                .where(OfferDaily.segment_id == segment_id)
                .group_by(OfferDaily.offered)
            )
        ).all()
    )
    rows = await session.execute(
        select(Subscription.reward_segment_id, *_counts())
        .join(SubscriptionSegment, SubscriptionSegment.subscription_id == Subscription.id)
        .where(SubscriptionSegment.segment_id == segment_id, Subscription.contact_id.is_(None))
        .group_by(Subscription.reward_segment_id)
    )
    made: dict[bool, list[int]] = {}
    for row in rows.all():
        counts = made.setdefault(row[0] == segment_id, [0, 0, 0, 0])
        for index, value in enumerate(row[1:]):
            counts[index] += int(value or 0)
    return {
        flag: Funnel(int(views.get(flag, 0) or 0), *made.get(flag, [0, 0, 0, 0]))
        for flag in (True, False)
    }


async def by_variant(session: AsyncSession, segment_id: int) -> dict[str, Funnel]:
    """The funnel of each copy variant the segment's landing page showed."""
    views = dict(
        (
            await session.execute(
                select(OfferDaily.variant, func.sum(OfferDaily.views))
                .where(OfferDaily.segment_id == segment_id)
                .group_by(OfferDaily.variant)
            )
        ).all()
    )
    rows = await session.execute(
        select(Subscription.variant, *_counts())
        .join(SubscriptionSegment, SubscriptionSegment.subscription_id == Subscription.id)
        .where(SubscriptionSegment.segment_id == segment_id, Subscription.contact_id.is_(None))
        .group_by(Subscription.variant)
    )
    made = {str(row[0]): [int(v or 0) for v in row[1:]] for row in rows.all()}
    return {
        key: Funnel(int(views.get(key, 0) or 0), *made.get(key, [0, 0, 0, 0]))
        for key in sorted(set(views) | set(made))
    }
