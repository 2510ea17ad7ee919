"""The background writer of recorded polls: a write under way when the server stops is
finished, never cancelled halfway (a cancelled SQLite write can keep the write lock on a
connection nobody rolls back, and the last write on shutdown then fails)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from calserver.clock import FrozenClock
from calserver.recorder import Recorder, run_forever

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class SlowWrites(Recorder):
    """A recorder whose write waits for the test to let it finish."""

    def __init__(self) -> None:
        super().__init__(lambda moment: moment)
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.finished = 0

    async def flush(self, sessions: Any, now: datetime) -> int:
        self.started.set()
        await self.release.wait()
        self.finished += 1
        return 0


async def test_a_write_under_way_when_stopping_is_finished_not_cancelled() -> None:
    recorder, stop = SlowWrites(), asyncio.Event()
    task = asyncio.create_task(
        run_forever(recorder, None, FrozenClock(NOW), 0.01, {}, 48, stop)  # type: ignore[arg-type]
    )
    await asyncio.wait_for(recorder.started.wait(), 5)
    stop.set()
    await asyncio.sleep(0.05)
    assert not task.done()  # it waits for the write
    recorder.release.set()
    await asyncio.wait_for(task, 5)
    assert recorder.finished == 1


async def test_stopping_between_writes_ends_at_once() -> None:
    recorder, stop = SlowWrites(), asyncio.Event()
    task = asyncio.create_task(
        run_forever(recorder, None, FrozenClock(NOW), 3600, {}, 48, stop)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert recorder.finished == 0 and not recorder.started.is_set()
