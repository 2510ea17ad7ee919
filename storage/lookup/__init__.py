"""The feed poll's one read, kept off the ORM: the hot path's extension point.

A poll must cost little more than sending cached bytes, and an ORM session round trip
through aiosqlite costs twenty times that (docs/benchmarks.md). Each backend runs one
prepared statement with its own driver:

- ``sqlite``: a read-only sqlite3 connection queried on the event loop (a primary-key
  lookup in WAL mode takes microseconds and never waits for writers);
- ``postgresql``: an asyncpg pool with the statement prepared once per connection.

Polls that ask at the same moment share the statement: every subscription asked for during
one turn of the event loop is read by one statement on the next (``BATCH_SQL``), and the
polls that arrive while a backend's statements are in flight (``readers`` of them) wait for
the next, which reads them all. A round trip through asyncpg costs a poll several times what
answering it does, and even SQLite reads 32 subscriptions in one statement for 40 % of what
32 statements cost. Under load one statement serves tens of polls; a lone poll waits one
loop turn, nothing more.

Both read committed data on every poll, so several processes sharing one database see each
other's changes at the next poll.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy.engine import make_url

from storage.engine import StoreSettings

# One row per followed segment (a row with NULL segment columns when there is none).
POLL_SQL = """
SELECT s.status, s.timezone, w.id, w.timezone, w.name, w.quiet_start, w.quiet_end,
       s.contact_id, c.version, ss.segment_id, g.version, s.language,
       s.reward_segment_id, s.reward_unlocked_at, s.reward_text, s.reward_code,
       s.last_poll_at, s.family
FROM subscriptions s
JOIN workspaces w ON w.id = s.workspace_id
LEFT JOIN contacts c ON c.id = s.contact_id
LEFT JOIN subscription_segments ss ON ss.subscription_id = s.id
LEFT JOIN segments g ON g.id = ss.segment_id
WHERE s.id = {param}
ORDER BY ss.segment_id
"""


# POLL_SQL for many subscriptions ({ids}: the backend's test of s.id against its list
# parameter); each row as
# POLL_SQL's, with the subscription's id after the rest.
BATCH_SQL = (
    POLL_SQL.replace("s.family\n", "s.family, s.id\n", 1)
    .replace("WHERE s.id = {param}", "WHERE {ids}")
    .replace("ORDER BY ss.segment_id", "ORDER BY s.id, ss.segment_id")
)
_ID = 18  # the subscription's id in a BATCH_SQL row
# Subscriptions read by one statement at most; more wait for the next.
BATCH = 256


# An admin key's workspace, read on every API call (keys are looked up by their hash).
KEY_SQL = """
SELECT w.id, w.slug, w.name, w.timezone, w.quiet_start, w.quiet_end, w.sms_price, w.currency,
       w.created_at, w.updated_at, k.id, k.last_used_at,
       w.cascade_policy IS NOT NULL AND CAST(w.cascade_policy AS TEXT) <> 'null', w.language
FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
WHERE k.key_hash = {param} AND k.revoked_at IS NULL
"""


class PollView(NamedTuple):
    """What a poll needs to find (or build) its cached body."""

    subscription_id: int
    status: str
    timezone: str
    workspace_id: int
    workspace_timezone: str
    workspace_name: str
    quiet_start: str
    quiet_end: str
    contact_id: int | None  # personal events come from this contact's triggers
    contact_version: int | None
    segments: tuple[tuple[int, int], ...]  # (segment id, version)
    language: str = "en"  # the calendar's own texts (feeds/i18n.py)
    # A reward was announced and awaits the first poll by a calendar app (storage/rewards.py).
    reward_pending: bool = False
    # The reward it unlocked: (text, code, when), rendered as an event of its own feed.
    reward: tuple[str, str, datetime] | None = None
    # Its last poll as stored, and by which client family: a poll that finds them current
    # does not write them again (web/feed.py). Last: the fields before these are what its
    # body depends on, and key the body cache.
    last_poll_at: datetime | None = None
    family: str = ""

    @classmethod
    def from_rows(cls, subscription_id: int, rows: list[Any]) -> PollView | None:
        if not rows:
            return None
        segments = tuple((row[9], row[10]) for row in rows if row[9] is not None)
        r = rows[0]
        unlocked = _instant(r[13])
        reward = (r[14], r[15], unlocked) if unlocked and r[14] and r[15] else None
        return cls(
            subscription_id, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], segments, r[11],
            r[12] is not None and unlocked is None, reward, _instant(r[16]), r[17],
        )  # fmt: skip


class WorkspaceRow(NamedTuple):
    """A workspace as an API call sees it: read-only, cheaper to build than an ORM object."""

    id: int
    slug: str
    name: str
    timezone: str
    quiet_start: str
    quiet_end: str
    sms_price: Decimal | None
    currency: str
    created_at: datetime
    updated_at: datetime
    # A cascade policy is set: new triggers get a cascade (the worker never sees the others).
    has_cascade: bool = False
    language: str = "en"  # its pages' default language (feeds/i18n.py)


class KeyOwner(NamedTuple):
    workspace: WorkspaceRow
    key_id: int
    last_used_at: datetime | None


def _instant(value: Any) -> datetime | None:
    """SQLite keeps instants as naive UTC text; asyncpg gives aware datetimes."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def key_owner(row: Any) -> KeyOwner:
    price = row[6]
    workspace = WorkspaceRow(
        row[0], row[1], row[2], row[3], row[4], row[5],
        Decimal(str(price)).quantize(Decimal("0.0001")) if price is not None else None,
        row[7], _instant(row[8]) or datetime.min, _instant(row[9]) or datetime.min, bool(row[12]),
        row[13],
    )  # fmt: skip
    return KeyOwner(workspace, row[10], _instant(row[11]))


Waiting = dict[int, list["asyncio.Future[PollView | None]"]]


def _answer(batch: Waiting, rows: Sequence[Any]) -> None:
    found: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        found[row[_ID]].append(row)
    for subscription_id, futures in batch.items():
        view = PollView.from_rows(subscription_id, found.get(subscription_id, []))
        for future in futures:
            if not future.done():
                future.set_result(view)


class BaseLookup:
    """Reads the PollView of subscriptions (``rows``: BATCH_SQL for a list of ids, the polls
    that arrived since the last statement together) and the owner of an admin key;
    ``close`` releases connections."""

    # Statements in flight at once. A reader holds its connection while polls keep coming,
    # so polls that arrive during a statement go together in the next one (see _reader).
    readers = 1

    def __init__(self) -> None:
        # Polls waiting for the next statement: subscription id -> each poll's own future (a
        # poll that gives up cancels its own future, never another poll's).
        self._waiting: Waiting = defaultdict(list)
        self._starting = 0  # readers scheduled to start on the next loop turn
        self._active = 0  # readers running
        self._stopping = False
        self._reads: set[asyncio.Task[None]] = set()  # held here: the loop keeps weak ones

    def reading(self) -> AbstractAsyncContextManager[Any]:
        """A connection held for one reader's statements, handed to ``rows``."""
        return nullcontext()

    async def rows(self, ids: list[int], connection: Any) -> Sequence[Any]:
        """BATCH_SQL's rows for these subscriptions, on the reader's connection."""
        raise NotImplementedError

    async def view(self, subscription_id: int) -> PollView | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PollView | None] = loop.create_future()
        self._waiting[subscription_id].append(future)
        if self._active + self._starting < self.readers:
            # Started on the next turn, so the polls of this one go in its first statement.
            self._starting += 1
            loop.call_soon(self._start_reader)
        return await future

    def _start_reader(self) -> None:
        self._starting -= 1
        if self._waiting:
            self._active += 1
            read = asyncio.get_running_loop().create_task(self._reader())
            self._reads.add(read)
            read.add_done_callback(self._reads.discard)

    def _take(self) -> Waiting:
        batch: Waiting = {}
        for key in list(self._waiting)[:BATCH]:
            batch[key] = self._waiting.pop(key)
        return batch

    def _unserved(self, active: bool) -> Waiting:
        """Waiting polls a failing reader answers for: none once it has counted itself out
        (a poll arriving while it let go of its connection has a reader of its own)."""
        return self._take() if active else {}

    async def _reader(self) -> None:
        """Statement after statement on one connection until no poll waits. A failed
        statement fails its own polls and ends the reader (its connection may be the broken
        one); polls still waiting get a new reader, which fails them too if the database is
        down."""
        batch: Waiting = {}
        active = True
        try:
            async with self.reading() as connection:
                while self._waiting:
                    batch = self._take()
                    rows = await self.rows(list(batch), connection)
                    _answer(batch, rows)
                    batch = {}
                # Counted out before the connection's release awaits: a poll arriving during
                # it starts a reader of its own.
                self._active, active = self._active - 1, False
        except asyncio.CancelledError:  # the server is stopping
            for futures in [*batch.values(), *self._unserved(active).values()]:
                for future in futures:
                    future.cancel()
            raise
        except Exception as error:  # an outage: each poll handles it (web/feed.py)
            for futures in (batch or self._unserved(active)).values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
        finally:
            if active:
                self._active -= 1
                if self._waiting and not self._stopping:
                    self._starting += 1
                    asyncio.get_running_loop().call_soon(self._start_reader)

    async def _stop_reads(self) -> None:
        self._stopping = True
        for read in list(self._reads):
            read.cancel()
        await asyncio.gather(*self._reads, return_exceptions=True)

    async def key(self, key_hash: str) -> KeyOwner | None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


async def load(config: StoreSettings) -> BaseLookup:
    url = make_url(config.resolved_database_url)
    if url.drivername.startswith("sqlite"):
        from storage.lookup.sqlite import Lookup as SQLiteLookup

        return SQLiteLookup(str(url.database))
    from storage.lookup.postgresql import Lookup as PostgreSQLLookup

    return await PostgreSQLLookup.open(url.set(drivername="postgresql").render_as_string(hide_password=False),
                                       config.database_pool_size)  # fmt: skip
