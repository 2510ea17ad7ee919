"""Group commit for CRM triggers: those arriving within a few milliseconds share one
transaction, so a burst of thousands a second pays for one commit per batch, not per
trigger, and SQLite's single writer is never fought over.

Each request still gets its answer only after its own trigger is committed. Anything the
batch cannot settle on its own (a key another process inserted at the same moment) is
handed back to the request, which takes the one-transaction-per-trigger path.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

from sqlalchemy import null, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import TypeEngine

from calserver.clock import Clock
from calserver.eventspec import SPEC_COLUMNS, EventSpec, parse_event
from calserver.shapes.events import EventInput
from calserver.validation import FieldErrors
from storage.errors import Conflict, NotFound
from storage.lookup import WorkspaceRow
from storage.models import Contact, Trigger
from storage.telemetry import timestamp_for

MAX_BATCH = 256
GATHER_SECONDS = 0.002  # how long a batch waits for company


class ContactRef(NamedTuple):
    id: int
    external_id: str
    timezone: str | None


class RetryAlone(Exception):
    """The batch could not settle this trigger; take the per-trigger path."""


@dataclass
class Submitted:
    workspace: WorkspaceRow
    external_id: str
    key: str
    digest: str
    event: EventInput  # its shape checked; parse_event checks the rules between its fields
    deliver_by: datetime | None
    critical: bool
    create_contact: bool
    # The CRM's own cascade steps for this trigger (None: the workspace's), or no cascade.
    cascade_policy: dict[str, Any] | None = None
    cascade_off: bool = False
    future: asyncio.Future[tuple[bool, Trigger, str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def wants_cascade(self) -> bool:
        """Its own steps, or the workspace's policy; unless turned off for this trigger."""
        return not self.cascade_off and (
            self.cascade_policy is not None or self.workspace.has_cascade
        )


def in_event_pointer(error: FieldErrors) -> FieldErrors:
    return FieldErrors([(f"/event{pointer}", message) for pointer, message in error.errors])


class TriggerIngest:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, margin: timedelta):
        self._sessions, self._clock, self._margin = sessions, clock, margin
        self._queue: list[Submitted] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: Submitted) -> tuple[bool, Trigger, str]:
        """(created, trigger, external id) once committed; raises what the request should."""
        self._queue.append(item)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await item.future

    async def _drain(self) -> None:
        while self._queue:
            await asyncio.sleep(GATHER_SECONDS)
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await self._write(batch)
            except IntegrityError:
                outcome: BaseException = RetryAlone()
            except Exception as error:  # the database failed: every request hears it
                outcome = error
            else:
                continue
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(outcome)

    async def _write(self, batch: list[Submitted]) -> None:
        now = self._clock.now()
        results: list[tuple[Submitted, Any]] = []
        async with self._sessions.begin() as session:
            for workspace_id in {item.workspace.id for item in batch}:
                items = [item for item in batch if item.workspace.id == workspace_id]
                results += await self._write_workspace(session, items, now)
        for item, outcome in results:
            if item.future.done():
                continue
            if isinstance(outcome, BaseException):
                item.future.set_exception(outcome)
            else:
                item.future.set_result(outcome)

    async def _write_workspace(
        self, session: AsyncSession, items: list[Submitted], now: datetime
    ) -> list[tuple[Submitted, Any]]:
        workspace = items[0].workspace
        existing, contacts = await _look_up(session, workspace.id, items)
        names = {c.id: c.external_id for c in contacts.values()}
        results: list[tuple[Submitted, Any]] = []
        created: list[tuple[Submitted, dict[str, Any], ContactRef]] = []
        for item in items:
            if item.key in existing:
                trigger = existing[item.key]
                same = trigger.request_hash == item.digest
                results.append((item, (False, trigger, names.get(trigger.contact_id, "")) if same
                                else Conflict("this idempotency key was used with another body")))  # fmt: skip
                continue
            if item.external_id not in contacts and item.create_contact:
                added = Contact(workspace_id=workspace.id, external_id=item.external_id, version=1,
                                attributes={}, created_at=now, updated_at=now)  # fmt: skip
                session.add(added)
                await session.flush()
                contacts[item.external_id] = ContactRef(added.id, added.external_id, added.timezone)
                names[added.id] = item.external_id
            if (contact := contacts.get(item.external_id)) is None:
                results.append((item, NotFound(f"no contact {item.external_id!r}")))
                continue
            try:
                spec = parse_event(item.event, contact.timezone or workspace.timezone)
            except FieldErrors as error:
                results.append((item, in_event_pointer(error)))
                continue
            row = _new_row(item, contact, spec, now, self._margin)
            existing[item.key] = SimpleNamespace(**row)  # a repeat of the key answers alike
            created.append((item, row, contact))
        if created:
            touched = sorted({contact.id for _, _, contact in created})
            ids = await _insert(session, [row for _, row, _ in created], touched, now)
            for item, row, contact in created:
                row["id"] = existing[item.key].id = ids[item.key]
                results.append((item, (True, SimpleNamespace(**row), contact.external_id)))
        return results


async def _look_up(
    session: AsyncSession, workspace_id: int, items: list[Submitted]
) -> tuple[dict[str, Any], dict[str, ContactRef]]:
    """The triggers already stored under the batch's keys, and the three columns a trigger
    needs of each of its contacts (whole ORM contacts cost more to load than the triggers
    cost to insert): one round trip, the triggers loaded whole only when a key repeats."""
    names, keys = sorted({item.external_id for item in items}), sorted({item.key for item in items})
    connection = await session.connection()
    rows: Sequence[Sequence[Any]]
    if connection.dialect.name == "postgresql":
        # Arrays, not IN lists: one prepared statement whatever the batch's size.
        rows = (await connection.exec_driver_sql(_PG_LOOK_UP, (workspace_id, names, keys))).all()
    else:
        contacts = select(Contact.id, Contact.external_id, Contact.timezone, null()).where(
            Contact.workspace_id == workspace_id, Contact.external_id.in_(names)
        )
        repeats = select(Trigger.id, null(), null(), Trigger.idempotency_key).where(
            Trigger.workspace_id == workspace_id, Trigger.idempotency_key.in_(keys)
        )
        rows = (await session.execute(contacts.union_all(repeats))).all()
    found: dict[str, ContactRef] = {}
    repeated: list[int] = []
    for row_id, external_id, timezone, key in cast(Sequence[Sequence[Any]], rows):
        if key is None:
            found[external_id] = ContactRef(row_id, external_id, timezone)
        else:
            repeated.append(row_id)
    existing: dict[str, Any] = {}
    if repeated:
        stored = await session.scalars(select(Trigger).where(Trigger.id.in_(repeated)))
        existing = {trigger.idempotency_key: trigger for trigger in stored.all()}
    return existing, found


# Each name and key looked up on its own through the unique indexes: with "= ANY" the
# cached generic plan (made while the tables were small) used the index's first column only
# and filtered every trigger of the workspace, slower with each trigger stored.
_PG_LOOK_UP = """
SELECT c.id, c.external_id, c.timezone, NULL::text
FROM unnest($2::text[]) AS wanted(name) CROSS JOIN LATERAL (
    SELECT id, external_id, timezone FROM contacts
    WHERE workspace_id = $1 AND external_id = wanted.name OFFSET 0) AS c
UNION ALL
SELECT t.id, NULL, NULL, t.idempotency_key
FROM unnest($3::text[]) AS wanted(key) CROSS JOIN LATERAL (
    SELECT id, idempotency_key FROM triggers
    WHERE workspace_id = $1 AND idempotency_key = wanted.key OFFSET 0) AS t
"""


_COLUMNS = (
    "workspace_id", "contact_id", "idempotency_key", "request_hash", "status", "critical", "deliver_by",
    "uid", "sequence", "created_at", "updated_at", "stale_on_google", "cascade_at", "cascade_nudges",
    "cascade_policy", *SPEC_COLUMNS,
)  # fmt: skip
_INSTANTS = {"deliver_by", "created_at", "updated_at", "starts_at", "ends_at", "cascade_at"}
_JSON = {"alarms", "cascade_policy"}


async def _insert(
    session: AsyncSession, rows: list[dict[str, Any]], contact_ids: list[int], now: datetime
) -> dict[str, int]:
    """Insert the batch's triggers and their "created" timeline rows straight through the
    driver (no per-row type processing) and bump their contacts' versions, so the contacts'
    feeds are rebuilt with the new events; the triggers' ids by key."""
    connection = await session.connection()
    dialect = connection.dialect.name
    stamp = timestamp_for(dialect)

    def value(name: str, value: Any) -> Any:
        if value is None:
            return None
        if name in _INSTANTS:
            return stamp(value)
        return json.dumps(value) if name in _JSON else value

    values = [tuple(value(name, row[name]) for name in _COLUMNS) for row in rows]
    detail = json.dumps({"sequence": 0})
    if dialect == "postgresql":
        # One statement: the rows go in as one array per column, and the timeline rows and
        # the ids come from what the insert returns (a row per execution costs PostgreSQL
        # an executor run each).
        columns = [list(column) for column in zip(*values, strict=True)]
        inserted = await connection.exec_driver_sql(
            _pg_insert(connection.dialect), (*columns, stamp(now), detail, contact_ids)
        )
        return dict(cast(list[tuple[str, int]], inserted.all()))
    marks = ", ".join("?" * len(_COLUMNS))
    await connection.exec_driver_sql(
        f"INSERT INTO triggers ({', '.join(_COLUMNS)}) VALUES ({marks})",  # noqa: S608 - names only
        values,
    )
    found = await session.execute(
        select(Trigger.idempotency_key, Trigger.id).where(
            Trigger.workspace_id == rows[0]["workspace_id"],
            Trigger.idempotency_key.in_([row["idempotency_key"] for row in rows]),
        )
    )
    ids = {str(row[0]): int(row[1]) for row in found.all()}
    await connection.exec_driver_sql(
        "INSERT INTO trigger_events (trigger_id, at, type, detail) VALUES (?, ?, ?, ?)",
        [(ids[row["idempotency_key"]], stamp(now), "created", detail) for row in rows],
    )
    await session.execute(
        update(Contact)
        .where(Contact.id.in_(contact_ids))
        .values(version=Contact.version + 1, updated_at=now)
        # Nothing reads a contact object's version after this: syncing the session's
        # objects cost a good part of a batch's CPU.
        .execution_options(synchronize_session=False)
    )
    return ids


@lru_cache(maxsize=1)
def _pg_insert(dialect: Dialect) -> str:
    table = Trigger.__table__
    arrays = ", ".join(
        f"${n}::{_pg_type(table.c[name].type, dialect)}[]"
        for n, name in enumerate(_COLUMNS, start=1)
    )
    at, detail, contacts = len(_COLUMNS) + 1, len(_COLUMNS) + 2, len(_COLUMNS) + 3
    contact_id = _pg_type(Contact.__table__.c.id.type, dialect)
    # The contacts are locked in id order: batches of two processes (or two batches in
    # flight) touching the same contacts wait for each other instead of deadlocking.
    return (
        f"WITH created AS (INSERT INTO triggers ({', '.join(_COLUMNS)}) "  # noqa: S608 - names only
        f"SELECT * FROM unnest({arrays}) RETURNING id, idempotency_key), "
        f"timeline AS (INSERT INTO trigger_events (trigger_id, at, type, detail) "
        f"SELECT id, ${at}::timestamptz, 'created', ${detail}::json FROM created), "
        f"locked AS (SELECT id FROM contacts WHERE id = ANY(${contacts}::{contact_id}[]) "
        "ORDER BY id FOR UPDATE), "
        f"bumped AS (UPDATE contacts SET version = contacts.version + 1, updated_at = ${at}::timestamptz "
        "FROM locked WHERE contacts.id = locked.id) "
        "SELECT idempotency_key, id FROM created"
    )


def _pg_type(column_type: TypeEngine[Any], dialect: Dialect) -> str:
    """An array element type asyncpg can encode the column's values as."""
    name = str(column_type.compile(dialect=dialect))
    return "text" if name.startswith(("VARCHAR", "TEXT")) else name.lower()


def default_deliver_by(spec: EventSpec, margin: timedelta) -> datetime:
    """The first alarm of the first occurrence (the start when there is none), minus a
    margin that leaves a fallback channel time to arrive before the alarm rings."""
    return spec.starts_at - timedelta(seconds=max(spec.alarms, default=0)) - margin


def _new_row(
    item: Submitted, contact: ContactRef, spec: EventSpec, now: datetime, margin: timedelta
) -> dict[str, Any]:
    deliver_by = item.deliver_by or default_deliver_by(spec, margin)
    return {
        "workspace_id": item.workspace.id, "contact_id": contact.id, "idempotency_key": item.key,
        "request_hash": item.digest, "status": "pending", "critical": item.critical, "deliver_by": deliver_by,
        "uid": spec.uid or f"trigger-{uuid.uuid4()}@{item.workspace.slug}.calserver", "sequence": 0,
        "created_at": now, "updated_at": now, "stale_on_google": False, "cancelled_at": None,
        "delivered_at": None, "delivered_sequence": None, "delivered_family": None,
        "cascade_at": now if item.wants_cascade else None, "cascade_lease": None, "cascade_nudges": 0,
        "cascade_policy": item.cascade_policy,
        **{column: getattr(spec, column) for column in SPEC_COLUMNS},
    }  # fmt: skip
