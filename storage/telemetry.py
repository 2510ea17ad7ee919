"""Writing a batch of recorded polls and landing views, in one transaction per flush."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from storage.lifecycle import WAKES, wake
from storage.models import LandingDaily, Poll, PollDaily, Subscription

SUBSCRIPTIONS = cast(Table, Subscription.__table__)
POLLS = cast(Table, Poll.__table__)
POLL_DAILY = cast(Table, PollDaily.__table__)
LANDING_DAILY = cast(Table, LandingDaily.__table__)
# Raw polls deleted per transaction by the purge.
PURGE_BATCH = 20_000
# Rows per statement of a flush. A flush can hold 100,000 polls; handed to the driver at
# once, their parameters are prepared on the event loop in one go (~20 ms of a poll's
# latency, docs/benchmarks.md); in slices, polls are answered between them.
FLUSH_SLICE = 200
_T = TypeVar("_T")
# PostgreSQL takes a slice as one statement over arrays (a row per execution costs the
# database an executor run each, and the driver a message each).
_PG_POLLS = (
    "INSERT INTO polls (subscription_id, at, status, family, etag) SELECT * FROM "
    "unnest($1::integer[], $2::timestamptz[], $3::smallint[], $4::text[], $5::text[])"
)
_SQLITE_POLLS = (
    "INSERT INTO polls (subscription_id, at, status, family, etag) VALUES (?, ?, ?, ?, ?)"
)
_SQLITE_LATEST = (
    "UPDATE subscriptions SET last_poll_at = CASE WHEN last_poll_at IS NULL OR last_poll_at < ? "
    "THEN ? ELSE last_poll_at END, family = CASE WHEN last_poll_at IS NULL OR last_poll_at < ? "
    "THEN ? ELSE family END, activated_at = COALESCE(activated_at, ?) WHERE id = ?"
)
_PG_NEWER = "s.last_poll_at IS NULL OR s.last_poll_at < v.at"
_PG_LATEST = (
    f"UPDATE subscriptions AS s SET last_poll_at = CASE WHEN {_PG_NEWER} THEN v.at ELSE s.last_poll_at END, "  # noqa: S608 - no input
    f"family = CASE WHEN {_PG_NEWER} THEN v.family ELSE s.family END, "
    "activated_at = COALESCE(s.activated_at, v.first_at) "
    "FROM unnest($1::integer[], $2::timestamptz[], $3::text[], $4::timestamptz[]) AS v(id, at, family, first_at) "
    "WHERE s.id = v.id"
)


def _slices(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), FLUSH_SLICE):
        yield items[start : start + FLUSH_SLICE]


def timestamp_for(dialect: str) -> Callable[[datetime], Any]:
    """How the driver wants an instant: SQLite keeps SQLAlchemy's text form, naive UTC.

    Polls have a one-second clock, so consecutive polls share an instant: format it once.
    """
    if dialect == "postgresql":
        return lambda moment: moment
    last: list[Any] = [None, None]

    def stamp(moment: datetime) -> Any:
        if moment != last[0]:
            last[0] = moment
            last[1] = moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        return last[1]

    return stamp


@dataclass
class PollBatch:
    """Polls gathered on the request path, already in the shape the database stores, so a
    flush hands them to the driver without a Python loop over the rows."""

    rows: list[tuple[Any, ...]] = field(
        default_factory=list
    )  # (subscription_id, at, status, family, etag)
    latest: dict[int, tuple[Any, str]] = field(default_factory=dict)  # subscription -> (at, family)
    first: dict[int, Any] = field(default_factory=dict)  # subscription -> first at in the batch
    daily: Counter[tuple[int, date, str, int]] = field(default_factory=Counter)

    def add(self, subscription_id: int, workspace_id: int, day: date, at: Any, status: int,
            family: str, etag: str, latest: bool = True) -> None:  # fmt: skip
        """``latest``: the subscription's own last poll is to be written too (not when the
        stored one is still current: web/feed.py)."""
        self.rows.append((subscription_id, at, status, family, etag))
        if latest:
            self.latest[subscription_id] = (at, family)
            if subscription_id not in self.first:
                self.first[subscription_id] = at
        self.daily[(workspace_id, day, family, status)] += 1

    def put_back(self, newer: PollBatch) -> None:
        """After a failed write: this (older) batch goes first, then what came since."""
        self.rows.extend(newer.rows)
        self.latest.update(newer.latest)
        for key, at in newer.first.items():
            self.first.setdefault(key, at)
        self.daily.update(newer.daily)

    def __len__(self) -> int:
        return len(self.rows)


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


async def write_polls(session: AsyncSession, batch: PollBatch, now: datetime) -> None:
    """One executemany per table and slice, straight to the driver: the flush runs once for
    every poll, so ORM bookkeeping per row would cost more than the poll itself."""
    if not batch.rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        for rows in _slices(batch.rows):  # one statement per slice: its rows as arrays
            columns = tuple(list(column) for column in zip(*rows, strict=True))
            await connection.exec_driver_sql(_PG_POLLS, columns)
    else:
        for rows in _slices(batch.rows):
            await connection.exec_driver_sql(_SQLITE_POLLS, list(rows))
    candidates = await _wake_candidates(session, sorted(batch.latest))
    await _write_latest(connection, batch)
    await increment(
        session, POLL_DAILY, ("workspace_id", "day", "family", "status"), "polls",
        [{"workspace_id": w, "day": d, "family": f, "status": s, "polls": n} for (w, d, f, s), n in batch.daily.items()],
    )  # fmt: skip
    if candidates:
        never_polled = {sub_id for sub_id, never in candidates if never}
        await wake(session, sorted(sub_id for sub_id, _ in candidates), never_polled, now)


async def _wake_candidates(session: AsyncSession, ids: list[int]) -> list[tuple[int, bool]]:
    """Only the subscriptions a poll can change besides its times: never polled before
    (True), or in a status a poll wakes. One query per slice finds them (in the steady
    state, none), so wake() looks at those few instead of at every polled subscription."""
    waking = [status for status, _ in WAKES]
    found: list[tuple[int, bool]] = []
    for some in _slices(ids):
        result = await session.execute(
            select(Subscription.id, Subscription.activated_at.is_(None)).where(
                Subscription.id.in_(some),
                Subscription.activated_at.is_(None) | Subscription.status.in_(waking),
            )
        )
        found += [(sub_id, bool(never)) for sub_id, never in result.all()]
    return found


async def _write_latest(connection: AsyncConnection, batch: PollBatch) -> None:
    """Each polled subscription's last poll (a later one already written wins), its client
    family and, on its first poll ever, when it became active."""
    if connection.dialect.name == "postgresql":
        # In id order, so two processes flushing at once lock the rows they share in the
        # same order (no deadlock); one statement per slice.
        for ids in _slices(sorted(batch.latest)):
            columns = ([batch.latest[i][0] for i in ids], [batch.latest[i][1] for i in ids],
                       [batch.first[i] for i in ids])  # fmt: skip
            await connection.exec_driver_sql(_PG_LATEST, (list(ids), *columns))
        return
    # qmark: one parameter per question mark, in order
    rows = [(a, a, a, f, batch.first[key], key) for key, (a, f) in batch.latest.items()]
    for some in _slices(rows):
        await connection.exec_driver_sql(_SQLITE_LATEST, list(some))


async def write_views(
    session: AsyncSession, views: Mapping[tuple[int, date, str, str], int]
) -> None:
    await increment(
        session, LANDING_DAILY, ("segment_id", "day", "src", "platform"), "views",
        [{"segment_id": s, "day": d, "src": src, "platform": p, "views": n} for (s, d, src, p), n in views.items()],
    )  # fmt: skip


async def purge_polls(
    sessions: async_sessionmaker[AsyncSession], before: datetime, batch: int = PURGE_BATCH
) -> int:
    """Drop raw polls older than ``before``; returns how many. Nothing the statistics read
    is touched: they come from the daily aggregates and each subscription's own state.

    Polls are appended in time order (give or take one flush interval between processes),
    so ids order them: the first id to keep is found by walking the primary key from the
    oldest row (only the rows about to go are read), then the rows below it are deleted as
    primary-key ranges of ``batch`` rows, one short transaction each, so a purge of millions
    of rows never holds a long transaction or blocks the flush. No index on `at` is needed,
    which keeps every poll's insert cheaper.
    """
    async with sessions() as session:
        first = await session.scalar(select(func.min(Poll.id)))
        keep_from = await session.scalar(
            select(Poll.id).where(Poll.at >= before).order_by(Poll.id).limit(1)
        )
        if keep_from is None:
            keep_from = await session.scalar(select(func.max(Poll.id) + 1))
    if first is None or keep_from is None:
        return 0
    purged = 0
    for low in range(first, keep_from, batch):
        async with sessions.begin() as session:
            result = await session.execute(
                delete(Poll).where(Poll.id >= low, Poll.id < min(low + batch, keep_from))
            )
        purged += int(getattr(result, "rowcount", 0) or 0)
    return purged
