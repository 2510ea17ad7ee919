"""Contacts (a CRM's clients) and their triggers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.models import Contact, Trigger, TriggerEvent


async def get_contact(session: AsyncSession, workspace_id: int, external_id: str) -> Contact:
    contact = await session.scalar(
        select(Contact).where(
            Contact.workspace_id == workspace_id, Contact.external_id == external_id
        )
    )
    if contact is None:
        raise NotFound(f"no contact {external_id!r}")
    return contact


async def contact_for(
    session: AsyncSession, workspace_id: int, external_id: str, create: bool, now: datetime
) -> Contact:
    """The contact, created empty when asked to (``create_contact`` of links and triggers)."""
    existing = await session.scalar(
        select(Contact).where(
            Contact.workspace_id == workspace_id, Contact.external_id == external_id
        )
    )
    if existing is not None:
        return existing
    if not create:
        raise NotFound(f"no contact {external_id!r}")
    contact, _ = await put_contact(session, workspace_id, external_id, {}, now)
    return contact


async def put_contact(
    session: AsyncSession,
    workspace_id: int,
    external_id: str,
    fields: Mapping[str, Any],
    now: datetime,
) -> tuple[Contact, bool]:
    """Create or replace the contact's data; True when it was created."""
    contact = await session.scalar(
        select(Contact).where(
            Contact.workspace_id == workspace_id, Contact.external_id == external_id
        )
    )
    created = contact is None
    if contact is None:
        contact = Contact(
            workspace_id=workspace_id, external_id=external_id, version=1, created_at=now
        )
        session.add(contact)
    for name in ("phone", "email", "telegram_chat_id", "timezone", "locale"):
        setattr(contact, name, fields.get(name))
    contact.attributes = dict(fields.get("attributes") or {})
    contact.opt_out = list(fields.get("opt_out") or [])
    contact.updated_at = now
    await session.flush()
    return contact, created


async def erase_contact(session: AsyncSession, contact: Contact) -> None:
    """Right to be forgotten: the row, its triggers and timelines go; subscriptions stay,
    anonymous again (the foreign key sets them to NULL); lifecycle aggregates stay."""
    await session.delete(contact)
    await session.flush()


async def touch_contact(session: AsyncSession, contact_id: int, now: datetime) -> None:
    """Bump the version that personal feed parts are cached by."""
    await session.execute(
        update(Contact)
        .where(Contact.id == contact_id)
        .values(version=Contact.version + 1, updated_at=now)
    )


async def get_trigger(session: AsyncSession, workspace_id: int, trigger_id: int) -> Trigger:
    trigger = await session.scalar(
        select(Trigger).where(Trigger.workspace_id == workspace_id, Trigger.id == trigger_id)
    )
    if trigger is None:
        raise NotFound(f"no trigger {trigger_id}")
    return trigger


async def trigger_by_key(session: AsyncSession, workspace_id: int, key: str) -> Trigger | None:
    return await session.scalar(
        select(Trigger).where(Trigger.workspace_id == workspace_id, Trigger.idempotency_key == key)
    )


async def personal_events(
    session: AsyncSession, contact_id: int, ended_before: datetime
) -> list[Trigger]:
    """A contact's triggers for its feeds: live ones, and cancelled ones still within
    retention (served as STATUS:CANCELLED so calendars remove them)."""
    query = (
        select(Trigger)
        .where(Trigger.contact_id == contact_id)
        .where((Trigger.ends_at.is_(None)) | (Trigger.ends_at >= ended_before))
        .order_by(Trigger.starts_at, Trigger.id)
    )
    return list((await session.scalars(query)).all())


async def trigger_timeline(session: AsyncSession, trigger_id: int) -> list[TriggerEvent]:
    query = select(TriggerEvent).where(TriggerEvent.trigger_id == trigger_id)
    return list((await session.scalars(query.order_by(TriggerEvent.id))).all())


async def latest_triggers(
    session: AsyncSession, workspace_id: int, status: str | None, limit: int, offset: int
) -> list[tuple[Trigger, str]]:
    """The newest triggers first, with their contact's external id."""
    query = (
        select(Trigger, Contact.external_id)
        .join(Contact, Contact.id == Trigger.contact_id)
        .where(Trigger.workspace_id == workspace_id)
    )
    if status is not None:
        query = query.where(Trigger.status == status)
    rows = await session.execute(query.order_by(Trigger.id.desc()).limit(limit).offset(offset))
    return [(trigger, external_id) for trigger, external_id in rows.all()]
