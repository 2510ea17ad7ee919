"""Writing a batch of recorded polls and landing views, in one transaction per flush."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.lifecycle import wake
from storage.models import LandingDaily, Poll, PollDaily, Subscription

SUBSCRIPTIONS = cast(Table, Subscription.__table__)
POLL_DAILY = cast(Table, PollDaily.__table__)
LANDING_DAILY = cast(Table, LandingDaily.__table__)


@dataclass(frozen=True)
class PollRecord:
    subscription_id: int
    workspace_id: int
    day: date  # in the workspace's zone
    at: datetime
    status: int
    family: str
    etag: str


async def increment(session: AsyncSession, table: Table, keys: Sequence[str], counter: str,
                    rows: Sequence[Mapping[str, Any]]) -> None:  # fmt: skip
    """INSERT … ON CONFLICT DO UPDATE SET counter = counter + excluded.counter."""
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = make(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={counter: table.c[counter] + statement.excluded[counter]}
    )
    await session.execute(statement, list(rows))


async def write_polls(session: AsyncSession, records: Sequence[PollRecord], now: datetime) -> None:
    if not records:
        return
    await session.execute(
        insert(Poll),
        [{"subscription_id": r.subscription_id, "at": r.at, "status": r.status, "family": r.family,
          "etag": r.etag} for r in records],
    )  # fmt: skip
    latest: dict[int, PollRecord] = {}
    first: dict[int, datetime] = {}
    daily: dict[tuple[int, date, str, int], int] = {}
    for record in records:
        if record.subscription_id not in latest or record.at >= latest[record.subscription_id].at:
            latest[record.subscription_id] = record
        first[record.subscription_id] = min(first.get(record.subscription_id, record.at), record.at)
        key = (record.workspace_id, record.day, record.family, record.status)
        daily[key] = daily.get(key, 0) + 1
    never_polled = set(
        (
            await session.scalars(
                select(Subscription.id).where(
                    Subscription.id.in_(latest), Subscription.activated_at.is_(None)
                )
            )
        ).all()
    )
    # Core table, not the ORM entity: an executemany UPDATE with a WHERE on a parameter.
    table = SUBSCRIPTIONS.c
    newer = table.last_poll_at.is_(None) | (table.last_poll_at < bindparam("at"))
    await session.execute(
        update(SUBSCRIPTIONS)
        .where(table.id == bindparam("sid"))
        .values(
            last_poll_at=case((newer, bindparam("at")), else_=table.last_poll_at),
            family=case((newer, bindparam("family")), else_=table.family),
            activated_at=func.coalesce(table.activated_at, bindparam("first")),
        ),
        [
            {"sid": sid, "at": r.at, "family": r.family, "first": first[sid]}
            for sid, r in latest.items()
        ],
    )
    await increment(
        session, POLL_DAILY, ("workspace_id", "day", "family", "status"), "polls",
        [{"workspace_id": w, "day": d, "family": f, "status": s, "polls": n} for (w, d, f, s), n in daily.items()],
    )  # fmt: skip
    await wake(session, sorted(latest), never_polled, now)


async def write_views(
    session: AsyncSession, views: Mapping[tuple[int, date, str, str], int]
) -> None:
    await increment(
        session, LANDING_DAILY, ("segment_id", "day", "src", "platform"), "views",
        [{"segment_id": s, "day": d, "src": src, "platform": p, "views": n} for (s, d, src, p), n in views.items()],
    )  # fmt: skip


async def purge_polls(session: AsyncSession, before: datetime) -> int:
    """Drop raw polls older than the retention; the daily aggregates stay."""
    result = await session.execute(delete(Poll).where(Poll.at < before))
    return int(getattr(result, "rowcount", 0) or 0)
