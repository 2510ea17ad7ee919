"""A pool of 200 codes, 200 subscriptions activated at once through two server processes
on one PostgreSQL: 200 distinct codes, none twice; the 201st subscriber is offered nothing."""

from __future__ import annotations

import asyncio
import os
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from calserver.config import Config
from storage.engine import create_engine
from storage.models import RewardCode, Segment, Subscription
from storage.rewards import add_codes, set_reward
from tests.support.processes import http, run, serving

APPLE = "iOS/26.6 (23G71) dataaccessd/1.0"
POOL = [f"R{n:03d}" for n in range(200)]
CODE = re.compile(rb"SUMMARY:Gift: (R\d{3})\r\n")


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    return {**base, "CALSERVER_DATA_DIR": str(tmp_path / "data"),
            "CALSERVER_DATABASE_URL": database_url, "CALSERVER_DEMO": "false",
            "CALSERVER_SUBSCRIBE_RATE_LIMIT": "0"}  # fmt: skip


async def _pool(database_url: str) -> None:
    engine = create_engine(Config({"database_url": database_url}))
    try:
        async with engine.begin() as connection:
            session = AsyncSession(bind=connection)
            segment = await session.scalar(select(Segment).where(Segment.slug == "news"))
            assert segment is not None
            set_reward(segment, "Gift", None, pool=True)
            await add_codes(session, segment, POOL)
            await session.flush()
    finally:
        await engine.dispose()


async def _assigned(database_url: str) -> tuple[int, int, int]:
    engine = create_engine(Config({"database_url": database_url}))
    try:
        async with engine.connect() as connection:
            codes = await connection.scalar(
                select(func.count(func.distinct(RewardCode.subscription_id))).where(
                    RewardCode.subscription_id.is_not(None)
                )
            )
            rewarded = await connection.scalar(
                select(func.count(func.distinct(Subscription.reward_code)))
            )
            left = await connection.scalar(select(Segment.reward_available))
            return int(codes or 0), int(rewarded or 0), int(left or 0)
    finally:
        await engine.dispose()


def _poll(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": APPLE})
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200
        body: bytes = answer.read()
        return body


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_200_concurrent_activations_from_two_processes(
    env: dict[str, str], database_url: str
) -> None:
    key = run(["workspace", "create", "acme"], env).stdout.strip().splitlines()[-1]
    with serving([], env) as (a, _), serving([], env) as (b, _):
        assert http(f"{a}/api/v1/segments", key, {"slug": "news", "name": "News"})[0] == 201
        asyncio.run(_pool(database_url))
        assert "Subscribe and get: Gift" in http(f"{b}/s/acme/news")[1]
        feeds = []
        for n in range(200):
            status, links = http(f"{(a, b)[n % 2]}/s/acme/news", None, {})
            assert status == 201, links
            feeds.append(urlsplit(links["feed_url"]).path)
        # Every first poll at once, half through each process (the other one's feed URLs).
        urls = [f"{(b, a)[n % 2]}{path}" for n, path in enumerate(feeds)]
        with ThreadPoolExecutor(max_workers=64) as pool:
            bodies = list(pool.map(_poll, urls))
        codes = [match.group(1).decode() for body in bodies for match in CODE.finditer(body)]
        assert len(codes) == 200 and sorted(codes) == POOL  # 200 distinct codes, each once
        assert asyncio.run(_assigned(database_url)) == (200, 200, 0)

        assert "Subscribe and get" not in http(f"{a}/s/acme/news")[1]
        status, links = http(f"{b}/s/acme/news", None, {})
        assert status == 201
        late = _poll(a + urlsplit(links["feed_url"]).path)
        assert b"reward-" not in late and CODE.search(late) is None
