"""The anonymous subscriber list of a workspace."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.models import Segment, Subscription, SubscriptionSegment


async def list_subscribers(
    session: AsyncSession,
    workspace_id: int,
    segment_id: int | None,
    status: str | None,
    limit: int,
    offset: int,
    *,
    family: str | None = None,
    src: str | None = None,
) -> tuple[list[Subscription], dict[int, list[str]]]:
    """A page of subscriptions and, in one more query, the slugs of their segments."""
    query = select(Subscription).where(Subscription.workspace_id == workspace_id)
    if segment_id is not None:
        query = query.join(
            SubscriptionSegment, SubscriptionSegment.subscription_id == Subscription.id
        ).where(SubscriptionSegment.segment_id == segment_id)
    if status is not None:
        query = query.where(Subscription.status == status)
    if family is not None:
        query = query.where(Subscription.family == family)
    if src is not None:
        query = query.where(Subscription.src == src)
    rows = list(
        (await session.scalars(query.order_by(Subscription.id).limit(limit).offset(offset))).all()
    )
    slugs: dict[int, list[str]] = defaultdict(list)
    if rows:
        pairs = await session.execute(
            select(SubscriptionSegment.subscription_id, Segment.slug)
            .join(Segment, Segment.id == SubscriptionSegment.segment_id)
            .where(SubscriptionSegment.subscription_id.in_([row.id for row in rows]))
            .order_by(Segment.slug)
        )
        for subscription_id, slug in pairs.all():
            slugs[subscription_id].append(slug)
    return rows, slugs


async def subscriber(
    session: AsyncSession, workspace_id: int, subscription_id: int
) -> Subscription:
    row = await session.scalar(
        select(Subscription).where(
            Subscription.workspace_id == workspace_id, Subscription.id == subscription_id
        )
    )
    if row is None:
        raise NotFound(f"no subscriber {subscription_id}")
    return row
