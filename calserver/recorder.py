"""Feed polls and landing views, recorded in memory and written in batches.

The request path only appends to a list or bumps a counter; a background task writes the
batch every `poll_flush_seconds` (and on shutdown) in one transaction, then runs the
lifecycle sweep. A crash loses at most the polls and views of one interval — telemetry,
never a subscription: subscriptions are written by their own request's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calserver.clock import Clock
from storage.families import Thresholds
from storage.lifecycle import sweep
from storage.receipts import sweep_undelivered, write_receipts
from storage.rewards import write_offers
from storage.telemetry import FLUSH_SLICE, PollBatch, purge_polls, write_polls, write_views

log = logging.getLogger(__name__)
# If the database stays down, keep at most this many polls in memory, then drop the oldest.
MAX_PENDING = 200_000
PURGE_EVERY = timedelta(hours=1)
# The lifecycle sweep looks for subscriptions silent for hours or days: once a minute is
# plenty, and sweeping at every flush cost an idle server more CPU than its polls did.
SWEEP_EVERY = timedelta(minutes=1)


class Recorder:
    def __init__(self, stamp: Callable[[datetime], Any]) -> None:
        self._stamp = stamp  # an instant in the database's own form
        self.polls = PollBatch()
        self.delivered: dict[tuple[int, int], tuple[datetime, str]] = {}
        self.views: Counter[tuple[int, date, str, str]] = Counter()
        # (segment, day, copy variant, reward announced): the reward and A/B denominators
        self.offers: Counter[tuple[int, date, str, bool]] = Counter()
        self.requests: Counter[tuple[int, str]] = Counter()  # (HTTP status, family)
        self.flushed_polls = 0
        self.oldest_pending: float | None = None  # monotonic time of the oldest unflushed item
        self._last_purge: datetime | None = None

    def poll(self, subscription_id: int, workspace_id: int, day: date, now: datetime, status: int,
             family: str, etag: str, latest: bool = True) -> None:  # fmt: skip
        """The request path's only telemetry work: a few dict and list operations.
        ``latest``: write the subscription's last poll too (PollBatch.add)."""
        self.requests[(status, family)] += 1
        if self.oldest_pending is None:
            self.oldest_pending = time.monotonic()
        if len(self.polls) < MAX_PENDING:  # the database is down for long: drop, do not grow
            self.polls.add(
                subscription_id, workspace_id, day, self._stamp(now), status, family, etag, latest
            )

    def receipts(self, personal: tuple[tuple[int, int], ...], now: datetime, family: str) -> None:
        """Personal events (trigger, SEQUENCE) a client was just given; the first wins."""
        for item in personal:
            if item not in self.delivered:
                self.delivered[item] = (now, family)

    def view(self, segment_id: int, day: date, src: str, platform: str) -> None:
        if self.oldest_pending is None:
            self.oldest_pending = time.monotonic()
        self.views[(segment_id, day, src, platform)] += 1

    def offer(self, segment_id: int, day: date, variant: str, offered: bool) -> None:
        """A person's landing view, by the copy variant shown and whether a reward was."""
        self.offers[(segment_id, day, variant, offered)] += 1

    def lag_seconds(self) -> float:
        return 0.0 if self.oldest_pending is None else time.monotonic() - self.oldest_pending

    async def flush(self, sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
        """Write what is pending; on failure keep it for the next try. Returns polls written."""
        polls, views, oldest, delivered = (
            self.polls,
            self.views,
            self.oldest_pending,
            self.delivered,
        )
        self.polls, self.views, self.oldest_pending, self.delivered = (
            PollBatch(),
            Counter(),
            None,
            {},
        )
        offers, self.offers = self.offers, Counter()
        if not polls and not views and not delivered and not offers:
            return 0
        try:
            async with sessions.begin() as session:
                await write_polls(session, polls, now)
                await write_views(session, views)
                await write_offers(session, offers)
                await write_receipts(session, delivered, now)
        except BaseException:
            polls.put_back(self.polls)
            self.polls = polls
            self.views.update(views)
            self.offers.update(offers)
            self.delivered = {**delivered, **self.delivered}
            self.oldest_pending = oldest
            raise
        written = len(polls)
        self.flushed_polls += written
        await _release(polls.rows)
        return written

    async def maintain(
        self, sessions: async_sessionmaker[AsyncSession], thresholds: dict[str, Thresholds],
        now: datetime, retention_hours: int,
    ) -> None:  # fmt: skip
        """After a flush: the lifecycle sweep, and hourly the purge of old raw polls."""
        async with sessions.begin() as session:
            await sweep(session, thresholds, now)
            await sweep_undelivered(session, now)
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            await purge_polls(sessions, now - timedelta(hours=retention_hours))
            self._last_purge = now


async def _release(rows: list[Any]) -> None:
    """Free written rows a slice at a time, polls answered between slices: 100,000 rows
    (a busy interval's) freed at once held the event loop for 13-25 ms, a poll's p99."""
    while rows:
        del rows[-FLUSH_SLICE:]
        await asyncio.sleep(0)


async def run_forever(
    recorder: Recorder, sessions: async_sessionmaker[AsyncSession], clock: Clock,
    interval: float, thresholds: dict[str, Thresholds], retention_hours: int,
    stop: asyncio.Event,
) -> None:  # fmt: skip
    """Write every ``interval`` seconds until ``stop`` is set. A write under way when it is
    set is finished, never cancelled: a write cancelled halfway can leave SQLite's write lock
    with a connection nobody rolls back, and the last write on shutdown would then wait for
    it in vain (a stopping ``serve --workers`` child lost its polls that way)."""
    swept: datetime | None = None
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                await stop.wait()
        if stop.is_set():
            return
        try:
            await recorder.flush(sessions, clock.now())
            now = clock.now()
            if swept is None or now - swept >= SWEEP_EVERY or now < swept:
                await recorder.maintain(sessions, thresholds, now, retention_hours)
                swept = now
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("writing recorded polls failed; will retry")
