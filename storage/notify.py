"""Webhooks for subscription lifecycle changes (subscription.created, .activated, …)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Contact, Segment, Subscription, SubscriptionSegment, WebhookEndpoint
from storage.outbox import enqueue


async def notify_subscriptions(
    session: AsyncSession,
    event_type: str,
    rows: Sequence[Any],
    status: str,
    at_of: str,
    now: datetime,
) -> None:
    """Queue ``event_type`` for each row (id, workspace_id, src, family, …); nothing is read
    unless a workspace has an endpoint that wants it."""
    workspaces = {row.workspace_id for row in rows}
    if not workspaces:
        return
    endpoints = await session.execute(
        select(WebhookEndpoint.workspace_id, WebhookEndpoint.events).where(
            WebhookEndpoint.workspace_id.in_(workspaces), WebhookEndpoint.active.is_(True)
        )
    )
    wanted = {workspace for workspace, events in endpoints.all() if event_type in events}
    rows = [row for row in rows if row.workspace_id in wanted]
    if not rows:
        return
    ids = [row.id for row in rows]
    slugs: dict[int, list[str]] = defaultdict(list)
    pairs = await session.execute(
        select(SubscriptionSegment.subscription_id, Segment.slug)
        .join(Segment, Segment.id == SubscriptionSegment.segment_id)
        .where(SubscriptionSegment.subscription_id.in_(ids))
        .order_by(Segment.slug)
    )
    for subscription_id, slug in pairs.all():
        slugs[subscription_id].append(slug)
    found = await session.execute(
        select(Subscription.id, Contact.external_id)
        .join(Contact, Contact.id == Subscription.contact_id)
        .where(Subscription.id.in_(ids))
    )
    contacts = {subscription_id: external_id for subscription_id, external_id in found.all()}
    for row in rows:
        at = getattr(row, at_of, None) or now
        data = {
            "subscription_id": row.id,
            "status": status,
            "segments": slugs.get(row.id, []),
            "src": row.src or None,
            "family": row.family or None,
            "contact_external_id": contacts.get(row.id),
            "at": at.isoformat(),
        }
        await enqueue(session, row.workspace_id, event_type, data, now)
