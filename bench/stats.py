"""How long the statistics endpoints take with a million recorded polls (SQLite or PostgreSQL).

Seeds a workspace with N subscriptions over 90 days — lifecycle events written by the real
lifecycle code (created, activated, lapses, unsubscribes) and polls written by the real
flush path (`storage.telemetry.write_polls`) — then times the real HTTP endpoints in
process: /api/v1/stats/summary (with its three breakdowns), /api/v1/stats/daily by family,
and /api/v1/subscribers as CSV. Goal (statistics issue): an answer in under 1 s.

    .venv/bin/python bench/stats.py                # 1,000,000 polls, 20,000 subscriptions
    .venv/bin/python bench/stats.py --polls 200000 --subscriptions 5000
    .venv/bin/python bench/stats.py --database-url "$CALSERVER_TEST_POSTGRES_URL"
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert, select

from calserver.appkeys import SESSIONS
from calserver.clock import FrozenClock
from calserver.config import Config
from storage.families import DEFAULT_THRESHOLDS
from storage.lifecycle import end, log_created, sweep
from storage.models import Segment, Subscription, SubscriptionSegment
from storage.telemetry import PollBatch, timestamp_for, write_polls
from storage.workspaces import add_key, create_workspace
from web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from external import scratch_database

FAMILIES = ["apple-ios", "google", "microsoft", "icsx5", "apple-macos", "thunderbird"]
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90


async def seed(client: TestClient, subscriptions: int, polls: int, rng: random.Random) -> str:  # type: ignore[type-arg]
    sessions = client.app[SESSIONS]
    async with sessions() as session:
        stamp = timestamp_for((await session.connection()).dialect.name)
    async with sessions.begin() as session:
        workspace = await create_workspace(session, "bench", "Bench", START)
        key = await add_key(session, workspace, "bench", START)
        ids = []
        for slug in ("news", "promo"):
            row = Segment(workspace_id=workspace.id, slug=slug, name=slug, description="", timezone="UTC",
                          version=1, created_at=START, updated_at=START)  # fmt: skip
            session.add(row)
            await session.flush()
            ids.append(row.id)
        created = [
            START + timedelta(seconds=rng.randrange(DAYS * 86400 // 2))
            for _ in range(subscriptions)
        ]
        rows = [{"workspace_id": workspace.id, "timezone": "UTC", "src": rng.choice(["qr", "site", "sms"]),
                 "client": "apple", "status": "created", "created_at": at, "updated_at": at} for at in created]  # fmt: skip
        result = await session.execute(insert(Subscription).returning(Subscription.id), rows)
        sub_ids = [row[0] for row in result.all()]
        await session.execute(
            insert(SubscriptionSegment),
            [{"subscription_id": s, "segment_id": rng.choice(ids)} for s in sub_ids],
        )
    async with sessions.begin() as session:
        for sub in (await session.scalars(select(Subscription))).all():
            await log_created(session, sub)
    per_sub = max(1, polls // subscriptions)
    families = {s: rng.choice(FAMILIES) for s in sub_ids}
    written, day = 0, 0
    while written < polls:
        moment = START + timedelta(days=day % DAYS, hours=rng.randrange(24))
        batch = PollBatch()
        for sub in rng.sample(sub_ids, min(len(sub_ids), 20_000)):
            if written >= polls:
                break
            batch.add(
                sub,
                1,
                moment.date(),
                stamp(moment),
                200 if rng.random() < 0.2 else 304,
                families[sub],
                '"etag"',
            )
            written += 1
        async with sessions.begin() as session:
            await write_polls(session, batch, moment)
        day += max(1, per_sub // 90)
    async with sessions.begin() as session:
        await sweep(session, DEFAULT_THRESHOLDS, START + timedelta(days=DAYS + 20))
        for sub in (await session.scalars(select(Subscription).limit(subscriptions // 20))).all():
            await end(session, sub, "unsubscribed", START + timedelta(days=DAYS))
    return key


async def timed(client: TestClient, key: str, path: str, accept: str, repeat: int) -> list[float]:  # type: ignore[type-arg]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        async with client.get(
            path, headers={"Authorization": f"Bearer {key}", "Accept": accept}
        ) as answer:
            assert answer.status == 200, await answer.text()
            await answer.read()
        times.append(time.perf_counter() - start)
    return times


def main(args: Any) -> None:
    with scratch_database(args.database_url) as database_url:
        asyncio.run(run(args, database_url))


async def run(args: Any, database_url: str) -> None:
    tmp = tempfile.mkdtemp(prefix="calserver-bench-stats-")
    config = Config({"data_dir": tmp, "database_url": database_url or f"sqlite+aiosqlite:///{tmp}/stats.db",
                     "demo": False, "secrets": ["bench-secret-0123456789abcdef"],
                     "poll_flush_seconds": 3600.0})  # fmt: skip
    print("PostgreSQL" if database_url else "SQLite")
    clock = FrozenClock(START + timedelta(days=DAYS + 20))
    client = TestClient(TestServer(create_app(config, clock=clock)))
    await client.start_server()
    try:
        began = time.perf_counter()
        key = await seed(client, args.subscriptions, args.polls, random.Random(7))
        print(
            f"seeded {args.polls:,} polls, {args.subscriptions:,} subscriptions in {time.perf_counter() - began:.0f} s"
        )
        queries = [
            ("summary, 90 days, 3 breakdowns", "/api/v1/stats/summary?from=2026-01-01&to=2026-03-31", "application/json"),
            ("summary, one segment", "/api/v1/stats/summary?from=2026-01-01&to=2026-03-31&segment=news", "application/json"),
            ("daily by family, 365 days", "/api/v1/stats/daily?from=2025-07-01&to=2026-06-30&by=family", "application/json"),
            ("subscribers, CSV, 10,000 rows", "/api/v1/subscribers?limit=10000", "text/csv"),
        ]  # fmt: skip
        print("| query | median s | max s |\n|---|---:|---:|")
        for name, path, accept in queries:
            times = await timed(client, key, path, accept, args.repeat)
            print(f"| {name} | {statistics.median(times):.3f} | {max(times):.3f} |")
    finally:
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=1_000_000)
    parser.add_argument("--subscriptions", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default="", help="PostgreSQL server; empty: SQLite")
    main(parser.parse_args())
