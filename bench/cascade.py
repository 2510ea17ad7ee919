"""Cascade dispatch: messages per second from `calserver worker` to a loopback SMS gateway.

Sets up SQLite in a temporary data directory through the real API (`calserver serve` with
its worker off): a workspace whose policy is one SMS step, --contacts contacts with phones,
--count triggers. Then starts `calserver worker` and measures, until every step is sent,
messages per second (wall time) and the worker's CPU time per message. The gateway runs in a
separate process (this one stays idle while measuring). Baseline, same session: a bare
aiohttp client posting the same messages to the same gateway with the same concurrency —
the HTTP cost no dispatcher avoids, run once before the workers and once after; the ratio
is the worker's CPU per message over the mean of the two. Goal (cascade issue): at least 1,000 messages/s; worker CPU per message at most 2.5× the
bare client's (scale issue). With --database-url, a scratch database on that PostgreSQL
server; with --workers 2, two `calserver worker` processes share the work (their CPU is
summed) and the gateway checks that no message was sent twice.

    .venv/bin/python bench/cascade.py
    .venv/bin/python bench/cascade.py --count 20000 --concurrency 64
    .venv/bin/python bench/cascade.py --database-url "$CALSERVER_TEST_POSTGRES_URL" --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from external import scratch_database
from triggers import CALSERVER, LISTENING, server_cpu

GATEWAY = textwrap.dedent("""
    import sys
    from aiohttp import web
    seen = set()
    requests = [0]
    async def send(request):
        await request.read()
        requests[0] += 1
        seen.add(request.headers.get("Idempotency-Key"))
        return web.json_response({"id": str(len(seen)), "status": "accepted"})
    async def stats(request):
        return web.json_response({"requests": requests[0], "distinct": len(seen)})
    app = web.Application()
    app.router.add_post("/send", send)
    app.router.add_get("/stats", stats)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def setup(base: str, key: str, count: int, contacts: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        policy = {"steps": [{"channel": "sms", "wait_seconds": 0}], "quiet_hours": False}
        async with http.put(f"{base}/api/v1/cascade/policy", json=policy) as r:
            assert r.status == 200, await r.text()
        for n in range(contacts):
            body = {"phone": f"+7916{n:07d}"}
            async with http.put(f"{base}/api/v1/contacts/c-{n}", json=body) as r:
                assert r.status in (200, 201), await r.text()
        queue = list(range(count))

        async def client() -> None:
            while queue:
                n = queue.pop()
                body = {"external_id": f"c-{n % contacts}", "idempotency_key": f"b-{n}",
                        "event": {"title": f"Order {n}", "start": "2030-01-15T12:00:00"}}  # fmt: skip
                async with http.post(f"{base}/api/v1/triggers", json=body) as r:
                    assert r.status == 202, await r.text()

        await asyncio.gather(*(client() for _ in range(32)))


def sent_counter(data: Path, database_url: str) -> Any:
    """A function counting the steps sent so far, in SQLite or PostgreSQL."""
    if not database_url:

        def sqlite_count() -> int:
            with sqlite3.connect(data / "calserver.db", timeout=30) as db:
                row = db.execute(SENT).fetchone()
                return int(row[0])

        return sqlite_count
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(make_url(database_url).set(drivername="postgresql+psycopg"))

    def postgres_count() -> int:
        with engine.connect() as connection:
            return int(connection.execute(text(SENT)).scalar_one())

    return postgres_count


SENT = "SELECT count(*) FROM cascade_steps WHERE state = 'sent'"


def gateway_stats(port: int) -> dict[str, int]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as answer:
        stats: dict[str, int] = json.load(answer)
        return stats


async def baseline(url: str, count: int, concurrency: int) -> tuple[float, float]:
    """A bare client posting ``count`` messages: (seconds, CPU seconds of this process)."""
    cpu, began = time.process_time(), time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        queue = list(range(count))

        async def one() -> None:
            while queue:
                n = queue.pop()
                body = {"to": "+79160000000", "text": f"Order {n}: 2030-01-15 15:00"}
                headers = {"Idempotency-Key": f"base-{n}"}
                async with http.post(url, json=body, headers=headers) as r:
                    await r.read()

        await asyncio.gather(*(one() for _ in range(concurrency)))
    return time.perf_counter() - began, time.process_time() - cpu


def main(args: Any) -> None:
    with scratch_database(args.database_url) as database_url:
        run(args, database_url)


def run(args: Any, database_url: str) -> None:
    data = Path(tempfile.mkdtemp(prefix="calserver-bench-cascade-"))
    port = free_port()
    gateway = subprocess.Popen([sys.executable, "-c", GATEWAY, str(port)])
    (data / "channels.toml").write_text(
        f'[sms]\ntype = "sms_http"\nprice = "2.40"\nurl = "http://127.0.0.1:{port}/send"\n'
        'id_field = "id"\n'
    )
    env = {**os.environ, "CALSERVER_DATA_DIR": str(data), "CALSERVER_DEMO": "false",
           "CALSERVER_LOG_LEVEL": "warning", "CALSERVER_CASCADE_WORKER": "false",
           "CALSERVER_CASCADE_CONCURRENCY": str(args.concurrency),
           "CALSERVER_CASCADE_BATCH_SIZE": str(args.batch)}  # fmt: skip
    env.pop("CALSERVER_DATABASE_URL", None)
    if database_url:
        env["CALSERVER_DATABASE_URL"] = database_url
    sent_count = sent_counter(data, database_url)
    try:
        created = subprocess.run([*CALSERVER, "workspace", "create", "bench"], env=env,
                                 capture_output=True, text=True, check=True)  # fmt: skip
        key = created.stdout.strip().splitlines()[-1]
        server = subprocess.Popen([*CALSERVER, "serve", "--port", "0"], env=env,
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert server.stdout is not None
        base = next(m.group(1) for line in server.stdout if (m := LISTENING.search(line)))
        asyncio.run(setup(base, key, args.count, args.contacts))
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()
        time.sleep(0.5)
        base_seconds, base_cpu = asyncio.run(
            baseline(f"http://127.0.0.1:{port}/send", args.count, args.concurrency)
        )
        before = gateway_stats(port)
        workers = [subprocess.Popen([*CALSERVER, "worker"], env=env, stdout=subprocess.DEVNULL)
                   for _ in range(args.workers)]  # fmt: skip
        # The clock starts with the first message sent: the workers' start-up is not dispatch.
        while (first := sent_count()) == 0:
            time.sleep(0.01)
        began, cpu_before = time.perf_counter(), sum(server_cpu(w.pid) for w in workers)
        while sent_count() < args.count:
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
        cpu = sum(server_cpu(w.pid) for w in workers) - cpu_before
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
        after = gateway_stats(port)
        requests = after["requests"] - before["requests"]
        distinct = after["distinct"] - before["distinct"]
        # The bare client again, after: the machine's speed drifts between the two runs, and
        # the mean of one before and one after the workers is the fairer baseline.
        time.sleep(0.5)
        again_seconds, again_cpu = asyncio.run(
            baseline(f"http://127.0.0.1:{port}/send", args.count, args.concurrency)
        )
        print(f"{'PostgreSQL' if database_url else 'SQLite'}, {args.workers} worker process(es): "
              f"the gateway got {requests:,} requests for {distinct:,} distinct messages "
              f"({'none sent twice' if requests == distinct == args.count else 'DUPLICATES or LOSS'})")  # fmt: skip
        measured = args.count - first
        per_message = cpu / measured * 1e6
        before_us, after_us = base_cpu / args.count * 1e6, again_cpu / args.count * 1e6
        base_per_message = (before_us + after_us) / 2
        base_rate = 2 * args.count / (base_seconds + again_seconds)
        print(f"{measured:,} messages in {elapsed:.2f} s: {measured / elapsed:,.0f} messages/s "
              f"(goal ≥ 1,000)")  # fmt: skip
        print(f"worker CPU {per_message:,.0f} µs per message; bare client {base_per_message:,.0f} µs "
              f"({before_us:,.0f} before, {after_us:,.0f} after the workers; {base_rate:,.0f} "
              f"messages/s): ratio {per_message / base_per_message:.2f}×")  # fmt: skip
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="calserver worker processes")
    parser.add_argument("--database-url", default="", help="PostgreSQL server; empty: SQLite")
    main(parser.parse_args())
