"""How long to wait before trying a failed delivery again (webhooks and the cascade)."""

from __future__ import annotations

from datetime import timedelta

FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(minutes=5)


def retry_delay(attempts: int) -> timedelta:
    """5 s after the first failure, doubling, at most 5 minutes."""
    delay: timedelta = FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 16)
    return min(delay, MAX_RETRY)
