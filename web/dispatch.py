"""The runner calserver serves with: feed polls answered before aiohttp's router.

Polls are nearly all the requests a server answers, and the common one (a good token, its
subscription read, its body cached) needs none of what every other request goes through:
the router's match among ~120 routes, the four middlewares (errors, body limit, API keys,
dashboard), the response signal that adds the security headers, and aiohttp's response
object (the answer is written as one buffer of bytes, web/rawanswer.py). ``FastPaths`` sits in
front of the application's own handler and gives such a poll to the feed handler directly
(web/feed.py ``FeedHandler.fast``), whose answers carry every header those would have added.
Anything else — other paths, HEAD, a request with a body or an ``Expect``, a bad token, an
unknown subscription, an outage, a body still to render — goes the regular way, untouched,
before anything about it is recorded.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import HttpVersion11, hdrs, web

from web.feed import FEED_HANDLER, FeedHandler

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
FEED_PREFIX = "/f/"
FEED_SUFFIX = ".ics"


class FastPaths:
    """A server's request handler: the feed's common poll here, every other request to
    ``regular`` (the application's router, middlewares and signals)."""

    def __init__(self, regular: Handler, feed: FeedHandler):
        self.regular = regular
        self.feed = feed
        self.answered = 0  # polls answered here (tests tell the two paths apart by it)

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.raw_path  # as sent: a token never needs percent-decoding
        if (
            path.startswith(FEED_PREFIX)
            and path.endswith(FEED_SUFFIX)
            and request.method == hdrs.METH_GET
            and request.version == HttpVersion11  # the raw answer speaks HTTP/1.1 only
            and not request.body_exists
            and hdrs.EXPECT not in request.headers
        ):
            answer = await self.feed.fast(request, path[len(FEED_PREFIX) : -len(FEED_SUFFIX)])
            if answer is not None:
                self.answered += 1
                # A RawAnswer does what aiohttp asks of a response (web/rawanswer.py).
                return cast(web.StreamResponse, answer)
        return await self.regular(request)


def freeze_what_was_built() -> None:
    """Move what a long-running process has built by now (modules, routes, templates, the
    ORM's mappers: most of its objects, alive as long as it is) out of the collector's
    sight: a full collection under load then takes a few ms instead of ~70-100 ms (a
    server's p99 spike; ~17 µs of the cascade worker's ~300 µs per message). Garbage goes
    first, or it would never be collected."""
    gc.collect()
    gc.freeze()


class Runner(web.AppRunner):
    """``web.AppRunner`` whose server answers through ``FastPaths``."""

    def __init__(self, app: web.Application, *, freeze: bool = False, **kwargs: Any):
        super().__init__(app, **kwargs)
        self.fast_paths: FastPaths | None = None
        self.freeze = freeze  # a server's one runner: see setup

    async def setup(self) -> None:
        await super().setup()
        server = self.server
        assert server is not None
        # Connections copy the handler when they open: set before any site starts.
        self.fast_paths = FastPaths(server.request_handler, self.app[FEED_HANDLER])
        server.request_handler = self.fast_paths
        if self.freeze:
            # A process that builds many apps (the tests) leaves the default off.
            freeze_what_was_built()
