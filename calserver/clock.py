"""The server's clock, replaceable in tests (quiet hours, retention and lifecycle depend on it)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Whole seconds of UTC; the feed asks on every poll, so the datetime is built once per
    second."""

    _second = -1
    _now = datetime.min

    def now(self) -> datetime:
        second = int(time.time())
        if second != self._second:
            self._now = datetime.fromtimestamp(second, UTC)
            self._second = second
        return self._now


class FrozenClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment
