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
from functools import cache
from operator import attrgetter
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.driver import Driver, driver_for, one_of
from storage.models import CascadeStep

_STEPS = CascadeStep.__table__
assert isinstance(_STEPS, Table)

# What the worker may change, in the order Step declares them after its fixed fields.
_CHANGING = ("state", "reason", "attempts", "provider_id", "cost", "due_at", "sending_at",
             "sent_at", "finished_at")  # fmt: skip
_FIXED = ("workspace_id", "trigger_id", "contact_id", "position", "channel", "price",
          "wait_seconds")  # fmt: skip


@dataclass(slots=True, eq=False)
class Step:
    """One step (storage.models.CascadeStep's columns the worker uses). It is written by its
    trigger and position, so a step the worker inserts needs no id read back."""

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
    connection = await session.connection()
    postgresql = connection.dialect.name == "postgresql"
    wanted = one_of(_STEPS.c.trigger_id, list(trigger_ids), postgresql)
    result = await connection.execute(_SELECT.where(wanted))
    for row in result.all():
        step = _step(row)
        steps[step.trigger_id].append(step)
    return steps


def new_step(
    workspace_id: int, trigger_id: int, contact_id: int, position: int, channel: str,
    price: Decimal, wait_seconds: int,
) -> Step:  # fmt: skip
    """A step of a trigger's plan, pending and never tried, not stored yet."""
    return Step(workspace_id, trigger_id, contact_id, position, channel, price, wait_seconds,
                "pending", "", 0, None, Decimal(0), None, None, None, None)  # fmt: skip


_INSERTED = (*_FIXED, *_CHANGING, "created_at")


@cache
def _statements(postgresql: bool) -> tuple[str, str]:
    """The insert and the update, in the driver's parameter style."""
    driver = driver_for("postgresql" if postgresql else "sqlite")
    marks = driver.marks(len(_INSERTED))
    # Names and placeholders only: every value is a parameter.
    insert = f"INSERT INTO cascade_steps ({', '.join(_INSERTED)}) VALUES ({', '.join(marks)})"  # noqa: S608
    marks = driver.marks(len(_CHANGING) + 2)
    sets = ", ".join(f"{name} = {mark}" for name, mark in zip(_CHANGING, marks, strict=False))
    # By trigger and position, not by channel: with the table's statistics not yet taken
    # (a new database), PostgreSQL picked the (channel, provider_id) index for "channel =",
    # and each update read every step of that channel. Only one index starts with trigger_id.
    update = (
        f"UPDATE cascade_steps SET {sets} WHERE trigger_id = {marks[-2]} AND position = {marks[-1]}"  # noqa: S608
    )
    return insert, update


def _stored(driver: Driver, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """_CHANGING's values as the driver takes them."""
    state, reason, attempts, provider_id, cost, due_at, sending_at, sent_at, finished_at = values
    instant = driver.instant
    return (state, reason, attempts, provider_id, driver.money(cost), instant(due_at),
            instant(sending_at), instant(sent_at), instant(finished_at))  # fmt: skip


async def save_steps(session: AsyncSession, steps: Iterable[Step], now: datetime) -> int:
    """Insert the steps not stored yet (created ``now``) and write those that changed since
    they were loaded: one statement each, straight through the driver; how many steps were
    written."""
    connection = await session.connection()
    driver = driver_for(connection.dialect.name)
    created = driver.instant(now)
    inserts, updates = [], []
    for step in steps:
        values = step.changing()
        if not step.loaded:
            inserts.append((step.workspace_id, step.trigger_id, step.contact_id, step.position,
                            step.channel, driver.money(step.price), step.wait_seconds,
                            *_stored(driver, values), created))  # fmt: skip
        elif values != step.loaded:
            updates.append((*_stored(driver, values), step.trigger_id, step.position))
        else:
            continue
        step.loaded = values
    insert, update = _statements(driver.postgresql)
    if inserts:
        await connection.exec_driver_sql(insert, inserts)
    if updates:
        await connection.exec_driver_sql(update, updates)
    return len(inserts) + len(updates)
