"""Delivery receipts of personal events: "the calendar got it", inferred from feed polls.

A trigger counts as delivered when a feed holding its current SEQUENCE was served to one of
its contact's subscriptions: a 200, or a 304 for an ETag whose body held it. The receipt keeps
the time and the client family (Google and Microsoft drop feed alarms). A trigger still pending
at its deadline becomes undelivered. Both send a webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.cascade import nudge
from storage.families import DROPS_ALARMS
from storage.models import Contact, Trigger, TriggerEvent
from storage.outbox import enqueue

_RETURNED = (
    Trigger.id,
    Trigger.workspace_id,
    Trigger.contact_id,
    Trigger.idempotency_key,
    Trigger.sequence,
)


async def _external_ids(session: AsyncSession, contact_ids: set[int]) -> dict[int, str]:
    if not contact_ids:
        return {}
    rows = await session.execute(
        select(Contact.id, Contact.external_id).where(Contact.id.in_(contact_ids))
    )
    return {contact_id: external_id for contact_id, external_id in rows.all()}


def _data(row: Any, external_id: str, at: datetime | None, family: str | None) -> dict[str, Any]:
    return {
        "trigger_id": row.id,
        "idempotency_key": row.idempotency_key,
        "external_id": external_id,
        "sequence": row.sequence,
        "delivered_at": at.isoformat() if at else None,
        "family": family,
        "rings_alarms": family not in DROPS_ALARMS if family else None,
    }


async def write_receipts(
    session: AsyncSession, delivered: Mapping[tuple[int, int], tuple[datetime, str]], now: datetime
) -> None:
    """Mark served SEQUENCEs delivered; only the current SEQUENCE of a live trigger counts."""
    done = []
    for (trigger_id, sequence), (at, family) in delivered.items():
        row = (
            await session.execute(
                update(Trigger)
                .where(Trigger.id == trigger_id, Trigger.sequence == sequence)
                .where(Trigger.status.in_(("pending", "undelivered")))
                .values(
                    status="delivered",
                    delivered_at=at,
                    delivered_sequence=sequence,
                    delivered_family=family,
                )
                .returning(*_RETURNED)
            )
        ).first()
        if row is not None:
            done.append((row, at, family))
    # A receipt ends the cascade's wait on the calendar (and cancels what is not yet sent).
    await nudge(session, [row.id for row, _, _ in done], now)
    names = await _external_ids(session, {row.contact_id for row, _, _ in done})
    for row, at, family in done:
        detail = {
            "sequence": row.sequence,
            "family": family,
            "rings_alarms": family not in DROPS_ALARMS,
        }
        session.add(TriggerEvent(trigger_id=row.id, at=at, type="delivered", detail=detail))
        data = _data(row, names.get(row.contact_id, ""), at, family)
        await enqueue(session, row.workspace_id, "trigger.delivered", data, now)


async def sweep_undelivered(session: AsyncSession, now: datetime) -> int:
    """Pending triggers past their deadline: undelivered (a cascade takes it from here)."""
    rows = (
        await session.execute(
            update(Trigger)
            .where(Trigger.status == "pending", Trigger.deliver_by < now)
            .values(status="undelivered")
            .returning(*_RETURNED, Trigger.deliver_by)
        )
    ).all()
    names = await _external_ids(session, {row.contact_id for row in rows})
    for row in rows:
        session.add(
            TriggerEvent(
                trigger_id=row.id, at=now, type="undelivered", detail={"sequence": row.sequence}
            )
        )
        await enqueue(
            session,
            row.workspace_id,
            "trigger.undelivered",
            _data(row, names.get(row.contact_id, ""), None, None),
            now,
        )
    return len(rows)
