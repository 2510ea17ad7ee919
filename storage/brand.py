"""A workspace's logo bytes, and the brand fields pages read (storage side of calserver/brand.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Workspace, WorkspaceLogo


@dataclass(frozen=True)
class StoredLogo:
    content_type: str
    digest: str
    body: bytes


async def put_logo(
    session: AsyncSession, workspace: Workspace, content_type: str, digest: str, body: bytes
) -> None:
    row = await session.get(WorkspaceLogo, workspace.id)
    if row is None:
        session.add(WorkspaceLogo(workspace_id=workspace.id, body=body))
    else:
        row.body = body
    workspace.logo_type, workspace.logo_digest = content_type, digest


async def delete_logo(session: AsyncSession, workspace: Workspace) -> None:
    row = await session.get(WorkspaceLogo, workspace.id)
    if row is not None:
        await session.delete(row)
    workspace.logo_type = workspace.logo_digest = None


async def logo_of(session: AsyncSession, workspace_slug: str) -> StoredLogo | None:
    row = (
        await session.execute(
            select(Workspace.logo_type, Workspace.logo_digest, WorkspaceLogo.body)
            .join(WorkspaceLogo, WorkspaceLogo.workspace_id == Workspace.id)
            .where(Workspace.slug == workspace_slug)
        )
    ).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    return StoredLogo(row[0], row[1], bytes(row[2]))
