"""Poll storage: bytes per recorded poll and per subscription-day, and the purge's time.

Seeds --subscriptions subscriptions polling every --interval minutes for --days days through
the real flush path (`storage.telemetry.write_polls`, batches of one flush), then reports
the bytes the raw `polls` table takes per row, what is kept for good per subscription-day
(daily aggregates, the subscription rows with their last poll, the lifecycle log), and
how long `purge_polls` takes to drop everything older than the default 48 hours.

    .venv/bin/python bench/polls.py                                  # SQLite
    .venv/bin/python bench/polls.py --database-url "$CALSERVER_TEST_POSTGRES_URL"
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from external import scratch_database
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from calserver.config import Config
from storage.engine import create_engine, session_factory
from storage.lifecycle import log_created
from storage.migrate import upgrade
from storage.models import Poll, Subscription
from storage.telemetry import PollBatch, purge_polls, timestamp_for, write_polls
from storage.workspaces import create_workspace

START = datetime(2026, 3, 1, tzinfo=UTC)
FAMILIES = ["apple-ios", "google", "microsoft", "icsx5", "apple-macos", "thunderbird"]
PER_SUBSCRIPTION = ("subscriptions", "subscription_segments", "subscription_events")


async def table_bytes(engine: AsyncEngine, table: str, vacuum: str = "VACUUM ANALYZE") -> int:
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":  # VACUUM refuses to run in a transaction
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f"{vacuum} {table}"))
            size = await connection.scalar(text(f"SELECT pg_total_relation_size('{table}')"))
        else:
            size = await connection.scalar(
                text("SELECT SUM(pgsize) FROM dbstat WHERE name = :t OR name LIKE :i"),
                {"t": table, "i": f"%{table}%"},
            )
    return int(size or 0)


async def seed(engine: AsyncEngine, args: argparse.Namespace) -> int:
    sessions, stamp = session_factory(engine), timestamp_for(engine.dialect.name)
    rng = random.Random(7)
    async with sessions.begin() as session:
        workspace = await create_workspace(session, "bench", "Bench", START)
        rows = [{"workspace_id": workspace.id, "timezone": "UTC", "src": "qr", "client": "apple",
                 "status": "created", "created_at": START, "updated_at": START}
                for _ in range(args.subscriptions)]  # fmt: skip
        ids = [
            r[0]
            for r in (
                await session.execute(insert(Subscription).returning(Subscription.id), rows)
            ).all()
        ]
        for row in (await session.scalars(select(Subscription))).all():
            await log_created(session, row)
    families = {s: rng.choice(FAMILIES) for s in ids}
    written, flush = 0, timedelta(seconds=args.batch_seconds)
    per_flush = max(1, round(len(ids) * flush.total_seconds() / (args.interval * 60)))
    moment, order, cursor = START, list(ids), 0
    end = START + timedelta(days=args.days)
    while moment < end:  # each flush interval, the share of subscriptions whose poll falls due
        batch = PollBatch()
        for _ in range(per_flush):
            sub: int = order[cursor]
            cursor = (cursor + 1) % len(order)
            batch.add(sub, 1, moment.date(), stamp(moment), 304 if rng.random() < 0.8 else 200,
                      families[sub], '"3f2a6c0e9b1d4e5f8a7b6c5d4e3f2a1b"')  # fmt: skip
        async with sessions.begin() as session:
            await write_polls(session, batch, moment)
        written += len(batch)
        moment += flush
    return written


def main(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="calserver-bench-polls-") as tmp,
        scratch_database(args.database_url) as scratch,
    ):
        asyncio.run(run(scratch or f"sqlite+aiosqlite:///{tmp}/polls.db", tmp, args))


async def run(url: str, tmp: str, args: argparse.Namespace) -> None:
    engine = create_engine(Config({"data_dir": tmp, "database_url": url}))
    try:
        await upgrade(engine)
        began = time.perf_counter()
        written = await seed(engine, args)
        print(f"{engine.dialect.name}: {written:,} polls of {args.subscriptions:,} subscriptions "
              f"every {args.interval} min over {args.days} days, seeded in "
              f"{time.perf_counter() - began:.0f} s")  # fmt: skip
        await report(engine, args, written)
    finally:
        await engine.dispose()


async def report(engine: AsyncEngine, args: argparse.Namespace, written: int) -> None:
    raw = await table_bytes(engine, "polls")
    per_sub = {table: await table_bytes(engine, table) for table in PER_SUBSCRIPTION}
    daily = await table_bytes(engine, "poll_daily")
    sub_days = args.subscriptions * args.days
    print(f"raw polls: {raw:,} bytes, {raw / written:.0f} bytes per poll")
    print("per subscription, kept for good (its row with first and last poll and family, its "
          "segments, its lifecycle log): "
          f"{sum(per_sub.values()) / args.subscriptions:,.0f} bytes ("
          + ", ".join(f"{t} {b:,}" for t, b in per_sub.items()) + ")")  # fmt: skip
    print(f"daily aggregates kept for good: {daily:,} bytes for {args.days} days = "
          f"{daily / sub_days:.2f} bytes per subscription-day (rows per workspace, day, family "
          f"and status: they do not grow with subscribers)")  # fmt: skip
    sessions = session_factory(engine)
    cutoff = START + timedelta(days=args.days) - timedelta(hours=48)
    began = time.perf_counter()
    purged = await purge_polls(sessions, cutoff)
    took = time.perf_counter() - began
    async with sessions() as session:
        left = int(await session.scalar(select(func.count(Poll.id))) or 0)
    print(f"purge of rows older than 48 h: {purged:,} rows in {took:.2f} s "
          f"({purged / max(took, 1e-9):,.0f} rows/s); {left:,} rows left")  # fmt: skip
    steady = 24 * 60 / args.interval * 2 * raw / written
    print(f"steady state with 48 h of raw polls: {steady:,.0f} bytes per subscription "
          f"polling every {args.interval} min")  # fmt: skip
    if engine.dialect.name == "postgresql":  # the live rows, without the dead versions
        live = {
            table: await table_bytes(engine, table, "VACUUM FULL") for table in PER_SUBSCRIPTION
        }
        print(f"per subscription after VACUUM FULL (live rows only): "
              f"{sum(live.values()) / args.subscriptions:,.0f} bytes ("
              + ", ".join(f"{t} {b:,}" for t, b in live.items()) + ")")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--interval", type=int, default=15, help="minutes between a client's polls")
    parser.add_argument("--batch-seconds", type=int, default=60, help="polls written per batch")
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL server (a scratch database is created and dropped); "
                        "empty: SQLite in a temporary directory")  # fmt: skip
    args: Any = parser.parse_args()
    main(args)
