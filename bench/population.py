"""Flat with population: feed CPU per poll polled at random across 10,000 and 1,000,000
subscriptions.

Two `calserver serve` processes (each pinned to core 0, wrk on the other core), each on its
own database: a segment of 50 events made through the API, then N subscriptions to it
inserted in bulk (one `executemany`), and N signed feed paths written to a file. wrk polls
a random path of that file on each request (`bench/random_path.lua`), so the lookup, the
token check and the link are each a cold miss as often as they are in production. Phases
alternate between the two servers; server CPU per request is read from /proc (for
PostgreSQL the database server's processes too). Goal (issue 16): the large population within
20 % of the small one.

    .venv/bin/python bench/population.py                       # SQLite, 10k and 1M
    .venv/bin/python bench/population.py --database-url "$CALSERVER_TEST_POSTGRES_URL"
    .venv/bin/python bench/population.py --last-poll-minutes 120  # every poll writes its row

Subscriptions are seeded active and last polled 15 minutes ago (an iPhone's cadence), so a
poll's own row is not rewritten (its stored last poll is still current: docs/stats.md);
with --last-poll-minutes 60 or more every poll rewrites it, the worst case.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from external import (
    CALSERVER,
    calserver_env,
    cores,
    create_workspace,
    pinned,
    postgres_pids,
    process,
    scratch_database,
    settle,
    tree_cpu,
)
from harness import SECRET, bench_segment
from sqlalchemy import insert, select

from calserver.config import Config
from calserver.links import FEED_PURPOSE
from calserver.signing import TokenSigner
from storage.engine import create_engine
from storage.models import Segment, Subscription, SubscriptionSegment, Workspace

LUA = str(Path(__file__).resolve().parent / "random_path.lua")
FLUSH_SECONDS = 5.0
CHUNK = 50_000


async def seed(url: str, data: str, count: int, paths: Path, last_poll_minutes: int) -> None:
    """``count`` active subscriptions to the bench segment, last polled ``last_poll_minutes``
    ago, and a file of their feed paths."""
    engine = create_engine(Config({"data_dir": data, "database_url": url}))
    signer = TokenSigner([SECRET])
    now = datetime.now(UTC)
    created, polled = now - timedelta(days=30), now - timedelta(minutes=last_poll_minutes)
    try:
        async with engine.connect() as connection:
            workspace = await connection.scalar(select(Workspace.id))
            segment = await connection.scalar(select(Segment.id))
        for start in range(0, count, CHUNK):  # one transaction per chunk: the server writes too
            async with engine.begin() as connection:
                # The steady state: subscriptions that were activated long ago and polled
                # lately, so a poll records a poll (not a first activation).
                rows = [{"workspace_id": workspace, "timezone": "Europe/London", "src": "bench",
                         "client": "apple", "status": "active", "created_at": created,
                         "updated_at": created, "activated_at": created, "last_poll_at": polled,
                         "family": "other"}
                        for _ in range(min(CHUNK, count - start))]  # fmt: skip
                ids = (
                    (
                        await connection.execute(
                            insert(Subscription).returning(Subscription.id), rows
                        )
                    )
                    .scalars()
                    .all()
                )
                await connection.execute(insert(SubscriptionSegment),
                                         [{"subscription_id": i, "segment_id": segment} for i in ids])  # fmt: skip
                with paths.open("a") as out:
                    out.writelines(f"/f/{signer.sign(FEED_PURPOSE, i)}.ics\n" for i in ids)
    finally:
        await engine.dispose()


def rss_mb(pid: int) -> float:
    """Resident memory of the server process, after it served every phase."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu(pid: int, with_postgres: bool) -> tuple[float, float]:
    database = sum(tree_cpu(p) for p in postgres_pids()) if with_postgres else 0.0
    return tree_cpu(pid), database


def load(url: str, paths: Path, seconds: int, connections: int, core: str | None) -> int:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", LUA, url]
    out = subprocess.run(pinned(command, core), env={**os.environ, "PATHS": str(paths)},
                         capture_output=True, text=True, check=True, timeout=seconds + 60).stdout  # fmt: skip
    return int(out.split(" requests in ")[0].split()[-1])


def main(args: argparse.Namespace) -> None:
    server_core, load_core = cores()
    sizes = args.sizes
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="calserver-bench-pop-"))
        servers: dict[int, tuple[int, str, Path]] = {}
        for size in sizes:
            data = Path(tmp) / str(size)
            data.mkdir()
            url = stack.enter_context(scratch_database(args.database_url))
            env = calserver_env(
                str(data), url, poll_flush_seconds=str(FLUSH_SECONDS), secrets=SECRET
            )
            key = create_workspace(env)
            pid, base = stack.enter_context(
                process(pinned([*CALSERVER, "serve", "--port", "0"], server_core), env)
            )
            asyncio.run(_segment(base, key))
            paths = data / "paths.txt"
            began = time.perf_counter()
            asyncio.run(
                seed(
                    url or f"sqlite+aiosqlite:///{data}/calserver.db",
                    str(data),
                    size,
                    paths,
                    args.last_poll_minutes,
                )
            )
            print(f"{size:,} subscriptions seeded in {time.perf_counter() - began:.0f} s")
            servers[size] = (pid, base, paths)
        pg = bool(args.database_url)
        results: dict[int, list[tuple[float, float]]] = {size: [] for size in sizes}
        for r in range(args.rounds + 1):  # round 0 warms up and is discarded
            for size in sizes if r % 2 == 0 else list(reversed(sizes)):
                pid, base, paths = servers[size]
                before = cpu(pid, pg)
                requests = load(base + "/", paths, args.seconds, args.connections, load_core)
                settle(FLUSH_SECONDS + 0.5)
                after = cpu(pid, pg)
                per = (
                    (after[0] - before[0]) / requests * 1e6,
                    (after[1] - before[1]) / requests * 1e6,
                )
                if r:
                    results[size].append(per)
                if r == args.rounds:
                    print(f"{size:,} subscriptions: server resident memory {rss_mb(pid):.0f} MB")
                print(f"round {r}{' (warm-up)' if not r else ''}: {size:,} subscriptions: "
                      f"calserver {per[0]:.1f} µs, database {per[1]:.1f} µs per poll ({requests:,} polls)")  # fmt: skip
    report(results, sizes, pg)


async def _segment(base: str, key: str) -> None:
    async with ClientSession() as session:
        await bench_segment(session, base, key, 50)


def report(results: dict[int, list[tuple[float, float]]], sizes: list[int], pg: bool) -> None:
    med = statistics.median
    small = sizes[0]
    print("\n| subscriptions | calserver CPU µs/poll | database CPU µs/poll | total | ratio to "
          f"{small:,} |\n|---:|---:|---:|---:|---:|")  # fmt: skip
    base = med(a + b for a, b in results[small])
    for size in sizes:
        app, db = med(a for a, _ in results[size]), med(b for _, b in results[size])
        total = med(a + b for a, b in results[size])
        print(f"| {size:,} | {app:.1f} | {db:.1f}{'' if pg else ' (in process)'} | {total:.1f} "
              f"| {total / base:.2f}× |")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", default="", help="PostgreSQL server; empty: SQLite")
    parser.add_argument("--last-poll-minutes", type=int, default=15,
                        help="seeded last poll; 60 or more: every poll rewrites its subscription's row")  # fmt: skip
    args: Any = parser.parse_args()
    main(args)
