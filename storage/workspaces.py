"""Workspaces (one per business) and their admin API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, NotFound
from storage.models import ApiKey, Workspace

KEY_PREFIX = "csk_"
# Writing last_used_at on every request would turn reads into writes; once an hour is enough.
LAST_USED_RESOLUTION = timedelta(hours=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_workspace(
    session: AsyncSession, slug: str, name: str, now: datetime, language: str = "en"
) -> Workspace:
    if await session.scalar(select(Workspace.id).where(Workspace.slug == slug)) is not None:
        raise Conflict(f"workspace {slug!r} already exists")
    workspace = Workspace(
        slug=slug, name=name, timezone="UTC", quiet_start="22:00", quiet_end="08:00",
        currency="RUB", language=language, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(workspace)
    await session.flush()
    return workspace


async def workspace_by_slug(session: AsyncSession, slug: str) -> Workspace:
    workspace = await session.scalar(select(Workspace).where(Workspace.slug == slug))
    if workspace is None:
        raise NotFound(f"no workspace {slug!r}")
    return workspace


async def count_workspaces(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(Workspace.id))) or 0)


async def add_key(session: AsyncSession, workspace: Workspace, label: str, now: datetime) -> str:
    """Create a key and return it in clear text: the only time it is ever shown."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            workspace_id=workspace.id,
            key_hash=hash_key(key),
            prefix=key[:12],
            label=label,
            created_at=now,
        )
    )
    await session.flush()
    return key


async def touch_key(session: AsyncSession, key_id: int, now: datetime) -> None:
    """Note that a key was used (callers do it at most once per LAST_USED_RESOLUTION)."""
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


async def revoke_key(
    session: AsyncSession, workspace: Workspace, prefix: str, now: datetime
) -> int:
    keys = (
        await session.scalars(
            select(ApiKey).where(
                ApiKey.workspace_id == workspace.id,
                ApiKey.prefix == prefix,
                ApiKey.revoked_at.is_(None),
            )
        )
    ).all()
    for api_key in keys:
        api_key.revoked_at = now
    return len(keys)


async def list_keys(session: AsyncSession, workspace: Workspace) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.workspace_id == workspace.id).order_by(ApiKey.id)
    return list((await session.scalars(query)).all())
