"""The cascade's state in the database: claiming due triggers, loading what the planner
needs, steps, delivery reports and nudges.

A trigger's ``cascade_at`` says when a worker should look at it next. A worker claims due
triggers by moving ``cascade_at`` a lease into the future (on PostgreSQL under
``FOR UPDATE SKIP LOCKED``, so two workers never hold the same trigger); when the worker
dies, the lease runs out and another worker picks the trigger up and reconciles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.cascade_steps import Step, load_steps
from storage.driver import driver_for, one_of
from storage.models import (
    CascadeStep,
    Contact,
    Subscription,
    Trigger,
    Workspace,
)

LIVE = ("created", "active")
_TRIGGERS = cast(Table, Trigger.__table__)
_SUBSCRIPTIONS = cast(Table, Subscription.__table__)


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, lease: timedelta, *, postgresql: bool
) -> dict[int, int]:
    """Lease up to ``limit`` due triggers to this worker: their ids and nudge counts."""
    # Core statements on the table, on the connection: the ORM's statement handling cost
    # more than these two statements' own work per batch.
    t = _TRIGGERS.c
    free = or_(t.cascade_lease.is_(None), t.cascade_lease <= now)
    due = select(t.id).where(t.cascade_at <= now, free).order_by(t.cascade_at).limit(limit)
    if postgresql:
        due = due.with_for_update(skip_locked=True)
    connection = await session.connection()
    ids = list((await connection.scalars(due)).all())
    if not ids:
        return {}
    claimed = await connection.execute(
        update(_TRIGGERS)
        .where(one_of(t.id, ids, postgresql), t.cascade_at <= now, free)
        .values(cascade_lease=now + lease)
        .returning(t.id, t.cascade_nudges)
    )
    return {trigger_id: nudges for trigger_id, nudges in claimed.all()}


@cache
def _release_sql(postgresql: bool) -> str:
    # In the order they appear: sqlite3's "?" are positional.
    nudges, wake, trigger = driver_for("postgresql" if postgresql else "sqlite").marks(3)
    wake = f"{wake}::timestamptz" if postgresql else wake  # typed for asyncpg: a CASE hides it
    return (
        f"UPDATE triggers SET cascade_at = CASE WHEN cascade_nudges = {nudges} THEN {wake} "  # noqa: S608 - placeholders only
        f"ELSE cascade_at END, cascade_lease = NULL WHERE id = {trigger}"
    )


async def release(
    session: AsyncSession, triggers: Sequence[tuple[int, int, datetime | None]]
) -> None:
    """Give triggers back, each ``(id, nudges seen at claim, next time)`` — unless one was
    nudged meanwhile: then it stays due now. One statement for the whole batch."""
    if not triggers:
        return
    connection = await session.connection()
    driver = driver_for(connection.dialect.name)
    rows = [(n, driver.instant(wake), t) for t, n, wake in triggers]
    await connection.exec_driver_sql(_release_sql(driver.postgresql), rows)


def timeline_row(trigger_id: int, at: datetime, **detail: Any) -> dict[str, Any]:
    return {"trigger_id": trigger_id, "at": at, "type": "cascade", "detail": detail}


@cache
def _timeline_sql(postgresql: bool) -> str:
    marks = ", ".join(driver_for("postgresql" if postgresql else "sqlite").marks(4))
    return f"INSERT INTO trigger_events (trigger_id, at, type, detail) VALUES ({marks})"  # noqa: S608 - placeholders only


async def write_timeline(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection = await session.connection()
        driver = driver_for(connection.dialect.name)
        values = [(r["trigger_id"], driver.instant(r["at"]), r["type"], driver.json(r["detail"]))
                  for r in rows]  # fmt: skip
        await connection.exec_driver_sql(_timeline_sql(driver.postgresql), values)


@dataclass(slots=True)  # not frozen: a frozen init sets each field through object.__setattr__
class CascadeTrigger:
    """What the worker reads of a trigger: its cascade and its event (feeds.render.AnyEvent).
    A plain row: a batch's ORM triggers cost the worker more CPU than anything it did with
    them but the send."""

    id: int
    workspace_id: int
    contact_id: int
    idempotency_key: str
    status: str
    critical: bool
    deliver_by: datetime | None
    delivered_at: datetime | None
    cascade_policy: dict[str, Any] | None
    uid: str
    title: str
    description: str
    location: str
    url: str
    kind: str
    start_local: str
    timezone: str
    duration_seconds: int
    rrule: str | None
    alarms: list[int]
    sequence: int
    starts_at: datetime
    ends_at: datetime | None
    updated_at: datetime


@dataclass(slots=True)
class CascadeContact:
    """What the worker reads of a contact: its addresses, zone, language and opt-outs."""

    id: int
    external_id: str
    phone: str | None
    email: str | None
    telegram_chat_id: str | None
    timezone: str | None
    locale: str | None
    opt_out: list[str]


@dataclass(slots=True)
class CascadeWorkspace:
    """What the worker reads of a workspace: its name in idempotency keys, its zone, quiet
    hours, language and policy (an ORM workspace carries its whole brand and settings)."""

    id: int
    slug: str
    timezone: str
    quiet_start: str
    quiet_end: str
    language: str
    cascade_policy: dict[str, Any] | None


def _columns(table: Any, row_type: type) -> Any:
    """A select of the table's columns that ``row_type`` (a dataclass) names, in its order."""
    return select(*(table.c[f.name] for f in fields(row_type)))


_SELECT_TRIGGERS = _columns(_TRIGGERS, CascadeTrigger)
_CONTACTS = Contact.__table__
_SELECT_CONTACTS = _columns(_CONTACTS, CascadeContact)
_WORKSPACES = Workspace.__table__
_SELECT_WORKSPACES = _columns(_WORKSPACES, CascadeWorkspace)


@dataclass
class Batch:
    triggers: list[CascadeTrigger]
    workspaces: dict[int, CascadeWorkspace]
    contacts: dict[int, CascadeContact]
    steps: dict[int, list[Step]]
    families: dict[int, list[str]] = field(default_factory=dict)
    recent_sends: dict[int, list[datetime]] = field(default_factory=dict)


async def load_batch(session: AsyncSession, trigger_ids: Sequence[int]) -> Batch:
    """The triggers with their workspaces, contacts, steps and live subscriptions' families:
    five queries in all."""
    connection = await session.connection()
    postgresql = connection.dialect.name == "postgresql"
    found = await connection.execute(
        _SELECT_TRIGGERS.where(one_of(_TRIGGERS.c.id, trigger_ids, postgresql))
    )
    triggers = [CascadeTrigger(*row) for row in found.all()]
    contact_ids = {t.contact_id for t in triggers}
    workspace_ids = {t.workspace_id for t in triggers}
    found = await connection.execute(
        _SELECT_WORKSPACES.where(one_of(_WORKSPACES.c.id, workspace_ids, postgresql))
    )
    workspaces = {row[0]: CascadeWorkspace(*row) for row in found.all()}
    rows = await connection.execute(
        _SELECT_CONTACTS.where(one_of(_CONTACTS.c.id, contact_ids, postgresql))
    )
    contacts = {row[0]: CascadeContact(*row) for row in rows.all()}
    steps = await load_steps(session, trigger_ids)
    batch = Batch(triggers, workspaces, contacts, steps)
    live = _SUBSCRIPTIONS.c
    subscriptions = await connection.execute(
        select(live.contact_id, live.family).where(
            one_of(live.contact_id, contact_ids, postgresql), live.status.in_(LIVE)
        )
    )
    for contact_id, family in subscriptions.all():
        assert contact_id is not None  # selected by it
        batch.families.setdefault(contact_id, []).append(family)
    return batch


async def load_recent_sends(session: AsyncSession, batch: Batch, since: datetime) -> None:
    """The batch's contacts' messages since ``since``, for frequency caps (one query)."""
    sends = await session.execute(
        select(CascadeStep.contact_id, CascadeStep.sending_at).where(
            CascadeStep.contact_id.in_(batch.contacts),
            CascadeStep.sending_at >= since,
            CascadeStep.channel != "calendar",
        )
    )
    for contact_id, at in sends.all():
        assert at is not None  # selected by it
        batch.recent_sends.setdefault(contact_id, []).append(at)


async def nudge(session: AsyncSession, trigger_ids: Iterable[int], now: datetime) -> None:
    """Have the worker look at these triggers now (a receipt, a change, a cancellation),
    unless their cascade is over (or never started)."""
    ids = list(trigger_ids)
    if not ids:
        return
    await session.execute(
        update(Trigger)
        .where(Trigger.id.in_(ids), Trigger.cascade_at.is_not(None))
        .values(cascade_at=now, cascade_nudges=Trigger.cascade_nudges + 1)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class ReportOutcome:
    matched: bool
    late: bool = False


async def record_report(
    session: AsyncSession, channel: str, provider_id: str, outcome: str, now: datetime
) -> ReportOutcome:
    """A provider's delivery report: the step's state if it still waits for one, else kept
    as a late report. Either way the worker looks at the trigger again."""
    step = await session.scalar(
        select(CascadeStep)
        .where(CascadeStep.channel == channel, CascadeStep.provider_id == provider_id)
        .with_for_update()
    )
    if step is None:
        return ReportOutcome(False)
    waited_until = (step.sent_at or now) + timedelta(seconds=step.wait_seconds)
    late = step.state != "sent" or (step.wait_seconds > 0 and now > waited_until)
    if step.state == "sent":
        step.state, step.reason, step.finished_at = outcome, "report", now
    if late:
        step.late_report = outcome
    row = timeline_row(step.trigger_id, now, channel=channel, state=outcome, reason="report",
                       late=late)  # fmt: skip
    await write_timeline(session, [row])
    await nudge(session, [step.trigger_id], now)
    return ReportOutcome(True, late)
