"""Every typed key of the application and of requests, in one place."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from calserver.cascade.registry import Registry
from calserver.cascade.worker import Worker
from calserver.clock import Clock
from calserver.config import Config
from calserver.ingest import TriggerIngest
from calserver.ratelimit import RateLimiter
from calserver.recorder import Recorder
from calserver.signing import TokenSigner
from feeds.cache import FeedCache
from storage.lookup import BaseLookup, WorkspaceRow

CONFIG = web.AppKey("config", Config)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
SIGNER = web.AppKey("signer", TokenSigner)
# A small pool for CPU-heavy validation (recurrence expansion) so it never blocks the loop.
CPU_POOL = web.AppKey("cpu_pool", ThreadPoolExecutor)
# Checks of what a client sent (recurrence rules): apart from CPU_POOL, so a burst of
# hostile rules never delays rendering other subscribers' feeds.
CHECK_POOL = web.AppKey("check_pool", ThreadPoolExecutor)
FEED_CACHE = web.AppKey("feed_cache", FeedCache)
SUBSCRIBE_LIMITER = web.AppKey("subscribe_limiter", RateLimiter)
RECORDER = web.AppKey("recorder", Recorder)
LOOKUP = web.AppKey("lookup", BaseLookup)
INGEST = web.AppKey("ingest", TriggerIngest)
CHANNELS = web.AppKey("channels", Registry)
CASCADE = web.AppKey("cascade", Worker)

WORKSPACE = web.RequestKey("workspace", WorkspaceRow)
