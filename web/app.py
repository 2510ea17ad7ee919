"""create_app(config): the one place the server is assembled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from aiohttp import web
from sqlalchemy.engine import make_url

from calserver.appkeys import (
    CHANNELS,
    CHECK_POOL,
    CLOCK,
    CONFIG,
    CPU_POOL,
    ENGINE,
    FEED_CACHE,
    INGEST,
    LOOKUP,
    RECORDER,
    SESSIONS,
    SIGNER,
    SUBSCRIBE_LIMITER,
)
from calserver.cascade.registry import load_registry
from calserver.cascade.service import cascade_worker
from calserver.clock import Clock
from calserver.config import Config
from calserver.ingest import TriggerIngest
from calserver.ratelimit import RateLimiter
from calserver.recorder import Recorder, run_forever
from calserver.signing import TokenSigner, load_secrets
from calserver.webhooks import webhook_sender
from feeds.cache import FeedCache
from storage.engine import create_engine, session_factory
from storage.lookup import load as load_lookup
from storage.migrate import upgrade
from storage.telemetry import timestamp_for
from web.admin.auth import admin_middleware
from web.admin.keys import SIGN_IN_LIMITER
from web.api.common import api_auth_middleware, body_limit_middleware
from web.dav.bridge import dav_server
from web.headers import security_headers
from web.problems import error_middleware
from web.routes import setup_routes

log = logging.getLogger(__name__)
SWITCH_INTERVAL = 0.0005  # seconds


async def _database(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    engine = create_engine(config)
    if config.migrate_on_start:
        await upgrade(engine)
    app[ENGINE] = engine
    app[SESSIONS] = session_factory(engine)
    app[LOOKUP] = await load_lookup(config)
    margin = timedelta(minutes=config.deliver_margin_minutes)
    app[INGEST] = TriggerIngest(app[SESSIONS], app[CLOCK], margin)
    yield
    await app[LOOKUP].close()
    await engine.dispose()


async def _telemetry(app: web.Application) -> AsyncIterator[None]:
    """Write recorded polls and views in the background, and once more on shutdown."""
    config, recorder, stop = app[CONFIG], app[RECORDER], asyncio.Event()
    task = asyncio.create_task(
        run_forever(recorder, app[SESSIONS], app[CLOCK], config.poll_flush_seconds,
                    config.thresholds, config.poll_retention_hours, stop)
    )  # fmt: skip
    yield
    stop.set()  # a write under way ends first (calserver/recorder.py)
    with contextlib.suppress(Exception):  # a failed write keeps its polls for the last one
        await task
    try:
        await recorder.flush(app[SESSIONS], app[CLOCK].now())
    except Exception:
        log.exception("could not write the last recorded polls on shutdown")


async def _cpu_pool(app: web.Application) -> AsyncIterator[None]:
    # Threads doing CPU work (rendering, checking what clients send, Radicale's queries) hold
    # the GIL for Python's default 5 ms slices; the event loop then waits a slice per thread
    # at every turn. Shorter slices keep polls fast while such work runs.
    sys.setswitchinterval(SWITCH_INTERVAL)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="calserver-cpu")
    checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calserver-check")
    app[CPU_POOL], app[CHECK_POOL] = pool, checks
    yield
    pool.shutdown(wait=False, cancel_futures=True)
    checks.shutdown(wait=False, cancel_futures=True)


def create_app(
    config: Config, *, clock: Clock | None = None, senders: bool = True
) -> web.Application:
    """The server. ``senders`` False: this process sends no webhooks and runs no cascade
    worker (another process of ``serve --workers N`` on the same SQLite file does)."""
    if not senders:
        config = config.replace(cascade_worker=False)
    app = web.Application(
        client_max_size=config.max_body_bytes,
        middlewares=[
            error_middleware,
            body_limit_middleware,
            api_auth_middleware,
            admin_middleware,
        ],
    )
    app[CONFIG] = config
    app[CLOCK] = clock or Clock()
    app[SIGNER] = TokenSigner(load_secrets(config))
    app[FEED_CACHE] = FeedCache(config.feed_cache_entries)
    app[SUBSCRIBE_LIMITER] = RateLimiter(config.subscribe_rate_limit)
    app[CHANNELS] = load_registry(config)
    app[SIGN_IN_LIMITER] = RateLimiter(config.admin_sign_in_rate_limit)
    app[RECORDER] = Recorder(
        timestamp_for(make_url(config.resolved_database_url).get_dialect().name)
    )
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_cpu_pool)
    app.cleanup_ctx.append(_telemetry)
    if senders:
        app.cleanup_ctx.append(webhook_sender)
    app.cleanup_ctx.append(cascade_worker)
    app.cleanup_ctx.append(dav_server)
    app.on_response_prepare.append(security_headers)
    setup_routes(app)
    return app
