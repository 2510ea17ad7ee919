"""Cascade steps as the worker reads and changes them: plain objects, written back in one
statement per batch.

The worker handles thousands of steps a second. Through the ORM, inserting a batch's new
steps and flushing their changes cost more CPU than everything else the worker does with
them (the unit of work tracks every attribute of every instance). A ``Step`` is a slotted
object that remembers what it was loaded with; ``save_steps`` writes only the steps that
changed, with one executemany ``UPDATE``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CascadeStep

_STEPS = CascadeStep.__table__
assert isinstance(_STEPS, Table)

# What the worker may change, in the order Step declares them after its fixed fields.
_CHANGING = ("state", "reason", "attempts", "provider_id", "cost", "due_at", "sending_at",
             "sent_at", "finished_at")  # fmt: skip
_FIXED = ("id", "trigger_id", "position", "channel", "price", "wait_seconds")


@dataclass(slots=True, eq=False)
class Step:
    """One step (storage.models.CascadeStep's columns the worker uses)."""

    id: int
    trigger_id: int
    position: int
    channel: str
    price: Decimal
    wait_seconds: int
    state: str
    reason: str
    attempts: int
    provider_id: str | None
    cost: Decimal
    due_at: datetime | None
    sending_at: datetime | None
    sent_at: datetime | None
    finished_at: datetime | None
    loaded: tuple[Any, ...] = field(default=(), repr=False)

    def changing(self) -> tuple[Any, ...]:
        values: tuple[Any, ...] = _changing(self)
        return values


_changing = attrgetter(*_CHANGING)


def _step(row: Sequence[Any]) -> Step:
    step = Step(*row)
    step.loaded = step.changing()
    return step


_SELECT = select(*(_STEPS.c[name] for name in (*_FIXED, *_CHANGING)))


async def load_steps(session: AsyncSession, trigger_ids: Iterable[int]) -> dict[int, list[Step]]:
    """These triggers' steps, by trigger (a trigger without steps is absent)."""
    steps: dict[int, list[Step]] = defaultdict(list)
    result = await session.execute(_SELECT.where(_STEPS.c.trigger_id.in_(list(trigger_ids))))
    for row in result.all():
        step = _step(row)
        steps[step.trigger_id].append(step)
    return steps


# A new step's changing fields, in _CHANGING's order.
_NEVER_TRIED = ("pending", "", 0, None, Decimal(0), None, None, None, None)
_INSERT = insert(_STEPS)


@dataclass(frozen=True)
class NewStep:
    workspace_id: int
    trigger_id: int
    contact_id: int
    position: int
    channel: str
    price: Decimal
    wait_seconds: int


async def add_steps(
    session: AsyncSession, new: Sequence[NewStep], now: datetime
) -> dict[int, list[Step]]:
    """Insert these steps (pending, never tried) in one statement and read them back with
    their ids (a second): them, by trigger."""
    if not new:
        return {}
    never_tried = dict(zip(_CHANGING, _NEVER_TRIED, strict=True))
    rows = [
        {"workspace_id": n.workspace_id, "trigger_id": n.trigger_id, "contact_id": n.contact_id,
         "position": n.position, "channel": n.channel, "price": n.price,
         "wait_seconds": n.wait_seconds, "created_at": now, **never_tried}
        for n in new
    ]  # fmt: skip
    connection = await session.connection()
    await connection.execute(_INSERT, rows)
    # Read back rather than RETURNING: SQLite returns rows in no promised order, so
    # SQLAlchemy would insert one row per statement to pair ids with parameters.
    return await load_steps(session, {n.trigger_id for n in new})


_NEW_NAMES = tuple(f"new_{name}" for name in _CHANGING)  # a SET's parameters, not its columns'
_UPDATE = (
    update(_STEPS)
    .where(_STEPS.c.id == bindparam("step_id"))
    .values(
        {
            name: bindparam(new, type_=_STEPS.c[name].type)
            for name, new in zip(_CHANGING, _NEW_NAMES, strict=True)
        }
    )
)


async def save_steps(session: AsyncSession, steps: Iterable[Step]) -> int:
    """Write the steps that changed since they were loaded (one statement); how many."""
    rows = []
    for step in steps:
        values = step.changing()
        if values != step.loaded:
            changed = dict(zip(_NEW_NAMES, values, strict=True))
            rows.append({"step_id": step.id, **changed})
            step.loaded = values
    if rows:
        connection = await session.connection()
        await connection.execute(_UPDATE, rows)
    return len(rows)
