"""What the in-process server benchmarks share (bench/feed.py, bench/caldav.py): a server
process with a CPU probe, started from the parent, and a checked request helper."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import platform
import resource
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from aiohttp import ClientSession, web

SECRET = "bench-secret-0123456789abcdef"


def bench_config(tmp: str, **extra: Any) -> Any:
    from calserver.config import Config

    return Config({
        "data_dir": tmp, "database_url": f"sqlite+aiosqlite:///{tmp}/b.db", "secrets": [SECRET],
        "demo": False, "public_url": "https://cal.example.test",
        "poll_flush_seconds": 3600,  # flushed by /__bench/cpu instead, see there
        **extra,
    })  # fmt: skip


async def serve_app(app: web.Application, conn: Connection) -> None:
    """Add the CPU probe, serve on a free port, create the bench workspace, send the parent
    (port, admin key), and run until the parent terminates this process."""
    from calserver.appkeys import RECORDER, SESSIONS
    from storage.workspaces import add_key, create_workspace

    async def cpu(request: web.Request) -> web.Response:
        # Write the recorded polls now, so a phase pays for the batch its own polls make.
        await app[RECORDER].flush(app[SESSIONS], datetime.now(UTC))
        usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of the server process
        return web.Response(text=repr(usage.ru_utime + usage.ru_stime))

    app.router.add_get("/__bench/cpu", cpu)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # runs migrations
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    now = datetime.now(UTC)
    async with app[SESSIONS].begin() as session:
        workspace = await create_workspace(session, "bench", "Bench shop", now)
        key = await add_key(session, workspace, "bench", now)
    conn.send((runner.addresses[0][1], key))
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def ok(session: ClientSession, method: str, url: str, status: int, **kw: Any) -> Any:
    async with session.request(method, url, **kw) as r:
        if r.status != status:
            raise RuntimeError(f"{method} {url}: {r.status} {await r.text()}")
        return await r.json() if r.content_type == "application/json" else await r.read()


async def bench_segment(session: ClientSession, base: str, key: str, events: int) -> None:
    """Segment "news" with ``events`` events over 90 days (every tenth weekly), by the API."""
    auth = {"Authorization": f"Bearer {key}"}
    seg = {"slug": "news", "name": "Shop news", "timezone": "Europe/London"}
    await ok(session, "POST", f"{base}/api/v1/segments", 201, json=seg, headers=auth)
    first = date.today() + timedelta(days=1)
    for i in range(events):
        event: dict[str, Any] = {
            "title": f"Event {i}",
            "start": f"{first + timedelta(days=i % 90)}T{9 + i % 8:02d}:00:00",
            "duration": "PT1H",
            "alarms": [{"before": "PT15M"}],
        }
        if i % 10 == 0:
            event["rrule"] = "FREQ=WEEKLY;COUNT=8"
        await ok(session, "POST", f"{base}/api/v1/segments/news/events", 201, json=event,
                 headers=auth)  # fmt: skip


def run_with_server(
    server_main: Callable[[str, Connection], None],
    run: Callable[[argparse.Namespace, int, str], Awaitable[None]],
    args: argparse.Namespace,
) -> None:
    """Start ``server_main`` in a spawned process, then ``run`` the client side against it."""
    print(f"python {platform.python_version()}, {mp.cpu_count()} CPUs, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="calserver-bench-") as tmp:
        parent, child = ctx.Pipe(duplex=False)
        server = ctx.Process(target=server_main, args=(tmp, child), daemon=True)
        server.start()
        try:
            if not parent.poll(60):
                raise RuntimeError("the server did not start within 60 s")
            port, key = parent.recv()
            asyncio.run(asyncio.wait_for(run(args, port, key), timeout=3600))
        finally:
            server.terminate()
            server.join(10)
            if server.is_alive():
                server.kill()
                server.join()
