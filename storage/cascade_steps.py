"""Cascade steps as the worker reads and changes them: plain objects, written back in one
statement per batch.

The worker handles thousands of steps a second. Through the ORM, inserting a batch's new
steps and flushing their changes cost more CPU than everything else the worker does with
them (the unit of work tracks every attribute of every instance). A ``Step`` is a slotted
object that remembers what it was loaded with; ``save_steps`` inserts the steps not stored
yet, as they are by then (the first decision already taken: no insert, read back and update
of the same rows), and writes only the steps that changed, one executemany statement each.
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
_FIXED = ("id", "workspace_id", "trigger_id", "contact_id", "position", "channel", "price",
          "wait_seconds")  # fmt: skip


@dataclass(slots=True, eq=False)
class Step:
    """One step (storage.models.CascadeStep's columns the worker uses). ``id`` is 0 for a
    step not stored yet and stays 0 once ``save_steps`` inserted it: a step is written by
    its trigger and channel (unique), so its id is never read back."""

    id: int
    workspace_id: int
    trigger_id: int
    contact_id: int
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
    # The changing fields as stored; empty for a step not stored yet.
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


def new_step(
    workspace_id: int, trigger_id: int, contact_id: int, position: int, channel: str,
    price: Decimal, wait_seconds: int,
) -> Step:  # fmt: skip
    """A step of a trigger's plan, pending and never tried, not stored yet."""
    return Step(0, workspace_id, trigger_id, contact_id, position, channel, price, wait_seconds,
                "pending", "", 0, None, Decimal(0), None, None, None, None)  # fmt: skip


_INSERT = insert(_STEPS)
_NEW_NAMES = tuple(f"new_{name}" for name in _CHANGING)  # a SET's parameters, not its columns'
_UPDATE = (
    update(_STEPS)
    .where(
        _STEPS.c.trigger_id == bindparam("of_trigger"), _STEPS.c.channel == bindparam("of_channel")
    )
    .values(
        {
            name: bindparam(new, type_=_STEPS.c[name].type)
            for name, new in zip(_CHANGING, _NEW_NAMES, strict=True)
        }
    )
)


async def save_steps(session: AsyncSession, steps: Iterable[Step], now: datetime) -> int:
    """Insert the steps not stored yet (created ``now``) and write those that changed since
    they were loaded: one statement each; how many steps were written."""
    inserts, updates = [], []
    for step in steps:
        values = step.changing()
        if not step.loaded:
            fixed = {name: getattr(step, name) for name in _FIXED[1:]}
            inserts.append(
                {**fixed, **dict(zip(_CHANGING, values, strict=True)), "created_at": now}
            )
        elif values != step.loaded:
            key = {"of_trigger": step.trigger_id, "of_channel": step.channel}
            updates.append({**key, **dict(zip(_NEW_NAMES, values, strict=True))})
        else:
            continue
        step.loaded = values
    connection = await session.connection()
    if inserts:
        await connection.execute(_INSERT, inserts)
    if updates:
        await connection.execute(_UPDATE, updates)
    return len(inserts) + len(updates)
