"""The webhook outbox: a message per endpoint, written in the same transaction as the change
it reports, so nothing committed goes unreported and nothing rolled back is reported."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, WebhookEndpoint

EVENT_TYPES = (
    "subscription.created",
    "subscription.activated",
    "subscription.unsubscribed",
    "subscription.lapsed",
    "trigger.delivered",
    "trigger.undelivered",
    "reward.unlocked",
    "reward.pool_low",
)


async def enqueue(
    session: AsyncSession,
    workspace_id: int,
    event_type: str,
    data: Mapping[str, Any],
    now: datetime,
) -> int:
    """Queue ``event_type`` for every active endpoint of the workspace that wants it.

    Each message gets its own event id (kept across retries, so receivers can de-duplicate).
    Returns how many messages were queued.
    """
    endpoints = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.events).where(
                WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.active.is_(True)
            )
        )
    ).all()
    rows = []
    for endpoint_id, events in endpoints:
        if event_type not in events:
            continue
        event_id = uuid.uuid4().hex
        payload = {
            "id": event_id,
            "type": event_type,
            "created_at": now.isoformat(),
            "data": dict(data),
        }
        rows.append(
            {"workspace_id": workspace_id, "endpoint_id": endpoint_id, "event_id": event_id,
             "event_type": event_type, "payload": payload, "created_at": now, "attempts": 0,
             "next_attempt_at": now, "last_error": ""}
        )  # fmt: skip
    if rows:
        await session.execute(insert(OutboxMessage), rows)
    return len(rows)
