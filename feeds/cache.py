"""An in-process LRU of rendered feed bodies, filled once per key even under a burst.

Keys carry the segment versions read from the database on each poll, so a change made
through any process sharing the database is picked up at the next poll: there is
nothing to invalidate.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from feeds.ics import LINK_PLACEHOLDER


@dataclass(eq=False)
class CachedFeed:
    body: bytes  # with LINK_PLACEHOLDER where each subscriber's link goes
    parts: tuple[bytes, ...]  # the body split at the placeholders: link.join(parts) fills them
    digest: bytes  # of body; with the link it makes the strong ETag
    last_modified: datetime
    last_modified_http: str  # the Last-Modified header, formatted once
    # (trigger id, SEQUENCE) of the personal events in this body: serving it is their receipt.
    personal: tuple[tuple[int, int], ...] = ()
    # Set once this body's receipts were handed to the recorder: later polls of the same
    # body add nothing new (a crash loses both the cache and the recorder alike).
    receipts_recorded: bool = False
    parts_bytes: int = 0  # the parts' lengths added up, so a poll need not add them again
    _slots: list[bytes] = field(default_factory=list, repr=False)  # for behind(), its own

    def __post_init__(self) -> None:
        self._slots = list(self.parts)

    def length_with(self, link: bytes) -> int:
        """The length of ``link.join(parts)``, without joining."""
        return self.parts_bytes + len(link) * (len(self.parts) - 1)

    def behind(self, head: bytes, link: bytes) -> bytes:
        """``head`` followed by ``link.join(parts)``, the body copied once. The join reads a
        list kept for it whose first slot each call rewrites as its head and the first part:
        a new sequence of 500 parts built for every poll cost a third as much as the join
        itself. Nothing runs between the write and the join (no await): polls never share it."""
        slots = self._slots
        slots[0] = head + self.parts[0]
        return link.join(slots)


def cached_feed(
    text: str, last_modified: datetime, personal: tuple[tuple[int, int], ...] = ()
) -> CachedFeed:
    body = text.encode()
    digest = hashlib.blake2b(body, digest_size=16).digest()
    parts = tuple(body.split(LINK_PLACEHOLDER.encode()))
    http_date = format_datetime(last_modified.astimezone(UTC), usegmt=True)
    parts_bytes = len(body) - len(LINK_PLACEHOLDER.encode()) * (len(parts) - 1)
    return CachedFeed(
        body, parts, digest, last_modified, http_date, personal, parts_bytes=parts_bytes
    )


class FeedCache:
    def __init__(self, max_entries: int):
        self._entries: OrderedDict[Hashable, CachedFeed] = OrderedDict()
        self._building: dict[Hashable, asyncio.Future[CachedFeed]] = {}
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    def peek(self, key: Hashable) -> CachedFeed | None:
        """The entry if cached: the hot path's synchronous hit."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        return entry

    async def get(self, key: Hashable, build: Callable[[], Awaitable[CachedFeed]]) -> CachedFeed:
        entry = self.peek(key)
        if entry is not None:
            return entry
        pending = self._building.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        self.misses += 1
        future: asyncio.Future[CachedFeed] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            entry = await build()
        except BaseException as error:
            if isinstance(error, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(error)
                future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            del self._building[key]
        future.set_result(entry)
        self._entries[key] = entry
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return entry

    def clear(self) -> None:
        """Forget every body (as a restarted process would)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
