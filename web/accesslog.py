"""One line per request, when the `access_log` option is on: method, path (tokens and keys
redacted), status, body size and time. No client address: calserver keeps nothing that
identifies a subscriber, and a feed token in a log would let anyone read (or end) a
subscription, as in web/dav/bridge.py's Radicale log filter."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from functools import lru_cache
from typing import Any, ClassVar

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

LOGGER = logging.getLogger("calserver.access")
FLUSH_SECONDS = 1.0
FLUSH_LINES = 1000
# The path segment that is a token on token routes (/f/T.ics, /m/T, /dav/T/…, /dlr/sms/T).
_TOKEN_ROUTE = re.compile(r"^/(f|m|u|p|subscribed|dav|dlr/[^/]*)/[^/?]+?(?=\.ics$|\.ics\?|[/?]|$)")
# Anything else that looks like a signed token or an admin key (in a query string, say).
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16,}|csk_[A-Za-z0-9_-]+")


@lru_cache(maxsize=65536)  # a subscriber polls the same path again and again
def redact(path: str) -> str:
    path = _TOKEN_ROUTE.sub(lambda m: f"/{m.group(1)}/[token]", path, count=1)
    return _TOKEN.sub("[token]", path)


class AccessLogger(AbstractAccessLogger):
    """Lines are formatted per request and written once a second (or every 1,000 lines) as
    one log record: a record per request measured ~70 µs against ~4 µs for this, on a
    loaded 2-core machine (a feed 304 costs a few hundred µs)."""

    _pending: ClassVar[list[str]] = []
    _scheduled: ClassVar[bool] = False

    def log(self, request: web.BaseRequest, response: web.StreamResponse, took: float) -> None:
        pending = AccessLogger._pending
        pending.append(
            f"{_clock()} {request.method} "
            f"{redact(request.raw_path)} {response.status} {response.body_length} "
            f"{took * 1000:.1f}ms"
        )
        if len(pending) >= FLUSH_LINES:
            flush()
        elif not AccessLogger._scheduled:
            AccessLogger._scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, flush)


_second: list[Any] = [0, ""]


def _clock() -> str:
    """UTC time of day with milliseconds; the seconds part formatted once a second."""
    now = time.time()
    second = int(now)
    if second != _second[0]:
        _second[:] = [second, time.strftime("%H:%M:%S", time.gmtime(second))]
    return f"{_second[1]}.{int((now - second) * 1000):03d}"


def flush() -> None:
    """Write the lines gathered so far (also called on shutdown)."""
    AccessLogger._scheduled = False
    lines, AccessLogger._pending[:] = list(AccessLogger._pending), []
    if lines:
        LOGGER.info("\n".join(lines))
