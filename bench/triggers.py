"""Trigger ingest through the real HTTP API: triggers per second with 32 concurrent clients.

Starts `calserver serve` (SQLite in a temporary data directory) on 127.0.0.1, creates a
workspace and contacts, then POSTs --count triggers from --concurrency clients (keep-alive),
each with its own idempotency key, and reports accepted triggers per second (wall time) and
the server's CPU time per trigger. Goal (triggers issue): at least 2,000 triggers/s on SQLite.

    .venv/bin/python bench/triggers.py
    .venv/bin/python bench/triggers.py --count 20000 --concurrency 32
    .venv/bin/python bench/triggers.py --database-url "$CALSERVER_TEST_POSTGRES_URL"

With --database-url, a scratch database on that PostgreSQL server, and the database
server's CPU per trigger beside calserver's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from external import tree_cpu  # bench/ is the script's directory: on sys.path

CALSERVER = [sys.executable, "-m", "web"]
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of the server process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fire(
    base: str, key: str, count: int, concurrency: int, contacts: int
) -> tuple[int, list[int]]:
    headers = {"Authorization": f"Bearer {key}"}
    statuses: list[int] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def client() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                body = {
                    "external_id": f"c-{n % contacts}",
                    "idempotency_key": f"bench-{n}",
                    "event": {"title": f"Order {n} ready", "start": "2027-01-15T12:00:00", "duration": "PT1H",
                              "alarms": [{"before": "PT1H"}]},
                }  # fmt: skip
                async with session.post(
                    f"{base}/api/v1/triggers", json=body, headers=headers
                ) as answer:
                    statuses.append(answer.status)
                    await answer.read()

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return sum(1 for s in statuses if s == 202), statuses


async def setup(base: str, key: str, contacts: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session:
        for n in range(contacts):
            async with session.put(
                f"{base}/api/v1/contacts/c-{n}", json={"timezone": "Europe/Moscow"}, headers=headers
            ) as r:
                assert r.status in (200, 201), await r.text()


def main(args: Any) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from external import scratch_database

    with scratch_database(args.database_url) as database_url:
        run(args, database_url)


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of each PostgreSQL process on this machine (the bench's server), by pid."""
    seconds = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text.split("(", 1)[1].split(")", 1)
        if name.startswith("postgres"):
            fields = rest.split()
            seconds[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf(
                "SC_CLK_TCK"
            )
    return seconds


def postgres_cpu_since(before: dict[int, float]) -> float:
    """PostgreSQL's CPU seconds since ``before``: a backend that ended meanwhile (a setup
    connection closing) is left out, not subtracted."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in postgres_cpu().items())


def run(args: Any, database_url: str) -> None:
    data = tempfile.mkdtemp(prefix="calserver-bench-triggers-")
    env = {
        **os.environ,
        "CALSERVER_DATA_DIR": data,
        "CALSERVER_DEMO": "false",
        "CALSERVER_LOG_LEVEL": "warning",
    }
    env.pop("CALSERVER_DATABASE_URL", None)
    if database_url:
        env["CALSERVER_DATABASE_URL"] = database_url
    created = subprocess.run(
        [*CALSERVER, "workspace", "create", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    server = subprocess.Popen(
        [*CALSERVER, "serve", "--port", "0", "--workers", str(args.workers)],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        base = next(m.group(1) for line in server.stdout if (m := LISTENING.search(line)))
        asyncio.run(setup(base, key, args.contacts))
        cpu_before, began = tree_cpu(server.pid), time.perf_counter()
        database_before = postgres_cpu() if database_url else {}
        accepted, statuses = asyncio.run(
            fire(base, key, args.count, args.concurrency, args.contacts)
        )
        elapsed, cpu = time.perf_counter() - began, tree_cpu(server.pid) - cpu_before
        database = postgres_cpu_since(database_before) if database_url else 0.0
        others = sorted({s for s in statuses if s != 202})
        print(
            f"{accepted:,} of {args.count:,} triggers accepted (other statuses: {others or 'none'})"
        )
        print(f"{accepted / elapsed:,.0f} triggers/s with {args.concurrency} clients, {args.workers} "
              "server process(es) (goal ≥ 2,000); "
              f"server CPU {cpu / max(accepted, 1) * 1e6:,.0f} µs per trigger"
              + (f", PostgreSQL CPU {database / max(accepted, 1) * 1e6:,.0f} µs" if database_url else ""))  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--contacts", type=int, default=100)
    parser.add_argument("--database-url", default="", help="PostgreSQL server; empty: SQLite")
    parser.add_argument("--workers", type=int, default=1,
                        help="calserver serve --workers (server CPU sums every process)")  # fmt: skip
    main(parser.parse_args())
