"""Dashboard users of a workspace (passwords are hashed by calserver/passwords.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict
from storage.models import User, Workspace


def normal_email(email: str) -> str:
    return email.strip().lower()


async def create_user(
    session: AsyncSession, workspace_id: int, email: str, password_hash: str, now: datetime
) -> User:
    email = normal_email(email)
    taken = select(User.id).where(User.workspace_id == workspace_id, User.email == email)
    if await session.scalar(taken) is not None:
        raise Conflict(f"user {email!r} already exists in this workspace")
    user = User(workspace_id=workspace_id, email=email, password_hash=password_hash, created_at=now)
    session.add(user)
    await session.flush()
    return user


async def user_for_sign_in(
    session: AsyncSession, workspace_slug: str, email: str
) -> tuple[User, Workspace] | None:
    row = (
        await session.execute(
            select(User, Workspace)
            .join(Workspace, Workspace.id == User.workspace_id)
            .where(Workspace.slug == workspace_slug.strip(), User.email == normal_email(email))
        )
    ).first()
    return (row[0], row[1]) if row else None


async def anyone_has_a_password(session: AsyncSession) -> bool:
    """False until the first dashboard user is added (then only an API key can sign in)."""
    return await session.scalar(select(User.id).limit(1)) is not None


async def list_users(session: AsyncSession, workspace_id: int) -> list[User]:
    query = select(User).where(User.workspace_id == workspace_id).order_by(User.email)
    return list((await session.scalars(query)).all())


async def get_user(session: AsyncSession, workspace_id: int, user_id: int) -> User | None:
    return await session.scalar(
        select(User).where(User.workspace_id == workspace_id, User.id == user_id)
    )
