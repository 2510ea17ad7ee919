"""A small in-memory limiter: at most N events per key per minute (sliding window)."""

from __future__ import annotations

import time
from collections import deque

WINDOW_SECONDS = 60.0
# Forget idle keys so a scan from many addresses cannot grow memory without bound.
MAX_KEYS = 100_000


class RateLimiter:
    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        """Record one event for ``key``; False when it is over the limit (0 means no limit)."""
        if self.per_minute <= 0:
            return True
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - WINDOW_SECONDS:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return False
        hits.append(now)
        if len(self._hits) > MAX_KEYS:
            self._forget_idle(now)
        return True

    def retry_after(self, key: str, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        hits = self._hits.get(key)
        if not hits:
            return 0
        return max(1, int(hits[0] + WINDOW_SECONDS - now) + 1)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - WINDOW_SECONDS]:
            del self._hits[key]
