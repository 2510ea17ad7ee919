"""Webhook endpoints of a workspace (their messages are in storage/outbox.py)."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.models import OutboxMessage, WebhookEndpoint

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


async def list_endpoints(session: AsyncSession, workspace_id: int) -> list[WebhookEndpoint]:
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.workspace_id == workspace_id)
        .order_by(WebhookEndpoint.id)
    )
    return list((await session.scalars(query)).all())


async def get_endpoint(
    session: AsyncSession, workspace_id: int, webhook_id: int
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == webhook_id, WebhookEndpoint.workspace_id == workspace_id
        )
    )
    if endpoint is None:
        raise NotFound(f"no webhook {webhook_id} in this workspace")
    return endpoint


async def add_endpoint(
    session: AsyncSession, workspace_id: int, url: str, events: list[str], now: datetime
) -> WebhookEndpoint:
    """A new endpoint with a fresh signing secret (shown once, by the caller)."""
    endpoint = WebhookEndpoint(
        workspace_id=workspace_id, url=url, events=events, active=True, created_at=now,
        # Kept in clear: it signs every delivery.
        secret=SECRET_PREFIX + secrets.token_urlsafe(32),
    )  # fmt: skip
    session.add(endpoint)
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, workspace_id: int, webhook_id: int) -> None:
    endpoint = await get_endpoint(session, workspace_id, webhook_id)
    # Its undelivered messages go with it (the foreign key cascades too).
    await session.execute(delete(OutboxMessage).where(OutboxMessage.endpoint_id == endpoint.id))
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))


async def latest_deliveries(
    session: AsyncSession, endpoint_id: int, limit: int
) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.endpoint_id == endpoint_id)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())
