"""Running the cascade worker: inside the server (cleanup_ctx) or alone (`calserver worker`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from calserver import __version__
from calserver.appkeys import CASCADE, CHANNELS, CLOCK, CONFIG, ENGINE, SESSIONS
from calserver.cascade.registry import Registry
from calserver.cascade.worker import Worker, WorkerSettings
from calserver.clock import Clock
from calserver.config import Config

log = logging.getLogger(__name__)
USER_AGENT = f"calserver-cascade/{__version__}"


def worker_settings(config: Config) -> WorkerSettings:
    return WorkerSettings(
        batch_size=config.cascade_batch_size,
        concurrency=config.cascade_concurrency,
        lease_seconds=config.cascade_lease_seconds,
        poll_seconds=config.cascade_poll_seconds,
    )


@contextlib.asynccontextmanager
async def running_worker(
    config: Config, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
    clock: Clock, registry: Registry, *, background: bool,
) -> AsyncIterator[Worker]:  # fmt: skip
    """A worker with its own HTTP client (channel URLs come from the operator's channels
    file, so they are trusted: no private-address guard here); its loop runs when
    ``background``. On exit the loop stops after the round in flight."""
    settings = worker_settings(config)
    connector = aiohttp.TCPConnector(limit=settings.concurrency)
    async with aiohttp.ClientSession(
        connector=connector, headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
    ) as http:  # fmt: skip
        worker = Worker(engine, sessions, clock, registry, http, settings)
        task = asyncio.create_task(worker.run_forever()) if background else None
        try:
            yield worker
        finally:
            worker.stopping.set()
            if task is not None:
                done, _ = await asyncio.wait({task}, timeout=settings.lease_seconds)
                if not done:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task


async def cascade_worker(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the app's worker (its loop only when ``cascade_worker`` is on)."""
    config = app[CONFIG]
    async with running_worker(
        config, app[ENGINE], app[SESSIONS], app[CLOCK], app[CHANNELS],
        background=bool(config.cascade_worker),
    ) as worker:  # fmt: skip
        app[CASCADE] = worker
        yield
