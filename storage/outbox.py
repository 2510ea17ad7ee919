"""The webhook outbox: a message per endpoint, written in the same transaction as the change
it reports, so nothing committed goes unreported and nothing rolled back is reported."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, WebhookEndpoint, Workspace

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


# --- the sender's side (calserver/webhooks.py) ----------------------------------------------


@dataclass(frozen=True)
class Due:
    """A message to send, with what sending it needs from its endpoint and workspace."""

    id: int
    endpoint_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    workspace_slug: str


def _due(message_id: int, now: datetime) -> tuple[Any, ...]:
    return (
        OutboxMessage.id == message_id,
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
    )


async def select_due(session: AsyncSession, now: datetime, limit: int) -> list[Due]:
    """The oldest undelivered messages due by ``now`` to active endpoints."""
    query = (
        select(
            OutboxMessage.id, OutboxMessage.endpoint_id, WebhookEndpoint.url,
            WebhookEndpoint.secret, OutboxMessage.event_id, OutboxMessage.event_type,
            OutboxMessage.payload, OutboxMessage.created_at, Workspace.slug,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == OutboxMessage.endpoint_id)
        .join(Workspace, Workspace.id == OutboxMessage.workspace_id)
        .where(
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            WebhookEndpoint.active.is_(True),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )  # fmt: skip
    return [Due(*row) for row in (await session.execute(query)).all()]


async def claim(
    session: AsyncSession, message_id: int, now: datetime, lease_until: datetime
) -> int | None:
    """Lease a due message until ``lease_until``; its attempts so far, or None if it is no
    longer due (delivered, or claimed by another sender). On PostgreSQL a row another
    process holds is skipped rather than waited for."""
    if session.get_bind().dialect.name == "postgresql":
        locked = await session.scalar(
            select(OutboxMessage.id).where(*_due(message_id, now)).with_for_update(skip_locked=True)
        )
        if locked is None:
            return None
    attempts: int | None = await session.scalar(
        update(OutboxMessage)
        .where(*_due(message_id, now))
        .values(next_attempt_at=lease_until)
        .returning(OutboxMessage.attempts)
        .execution_options(synchronize_session=False)
    )
    return attempts


async def set_outcome(
    session: AsyncSession,
    message_id: int,
    values: Mapping[str, Any],
    *,
    only_if_due: datetime | None,
) -> None:
    """Write a send's outcome (or a postponement); with ``only_if_due``, only while the
    message is still undelivered and due at that time (so a claim elsewhere wins)."""
    where = (
        _due(message_id, only_if_due)
        if only_if_due is not None
        else (OutboxMessage.id == message_id,)
    )
    await session.execute(
        update(OutboxMessage)
        .where(*where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
