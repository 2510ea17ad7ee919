"""Server CPU per feed poll: the real `calserver serve` against a bare aiohttp app.

Both servers run in their own processes pinned to one core; `wrk` loads them from the other
core. Phases (interleaved, rotated each round, after a discarded warm-up):

- feed-200 / bare-200: a full body, 32 keep-alive connections;
- feed-304 / bare-304: `If-None-Match` with the feed's ETag;
- feed-close / bare-close: a full body with `Connection: close` (phones reconnect for each
  rare poll).

Per phase: server CPU µs per request (from /proc: the process, its threads and children),
requests per second and wrk's p50/p99. A calserver phase's CPU is read after the poll
flush interval has passed, so it pays for writing its own polls. At the end the polls the
database recorded are compared with the polls wrk completed. See bench/README.md.

    .venv/bin/python bench/feed.py
    .venv/bin/python bench/feed.py --events 500 --database-url postgresql+asyncpg://...
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession
from external import (
    BARE_APP,
    CALSERVER,
    Load,
    calserver_env,
    cores,
    create_workspace,
    pinned,
    process,
    run_wrk,
    scratch_database,
    settle,
    tree_cpu,
)
from harness import bench_segment, ok

FLUSH_SECONDS = 5.0  # the server's default poll_flush_seconds: polls are written as in production
PHASES = ("feed-200", "feed-304", "feed-close", "bare-200", "bare-304", "bare-close")


async def setup(base: str, key: str, events: int) -> tuple[str, str, bytes]:
    """Segment, events and one subscription through the API; (feed path, ETag, body)."""
    async with ClientSession() as session:
        await bench_segment(session, base, key, events)
        accept, zone = {"Accept": "application/json"}, {"timezone": "Europe/London"}
        sub = await ok(session, "POST", f"{base}/s/bench/news", 201, json=zone, headers=accept)
        path = urlsplit(sub["feed_url"]).path
        identity = {"Accept-Encoding": "identity"}
        async with session.get(base + path, headers=identity, auto_decompress=False) as r:
            body, etag = await r.read(), r.headers["ETag"]
            assert r.status == 200 and "Content-Encoding" not in r.headers, r.headers
        async with session.get(base + path, headers={**identity, "If-None-Match": etag}) as r:
            assert r.status == 304, r.status
    return str(path), etag, body


async def recorded_polls(base: str, key: str) -> int:
    async with ClientSession() as session:
        daily = await ok(session, "GET", f"{base}/api/v1/stats/daily", 200,
                         headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    return sum(int(day.get("polls", 0)) for day in daily["days"])


def measure(pid: int, url: str, headers: dict[str, str], args: argparse.Namespace,
            load_core: str | None, wait: float) -> tuple[float, Load]:  # fmt: skip
    before = tree_cpu(pid)
    load = run_wrk(url, headers, args.seconds, args.connections, load_core)
    settle(wait)
    return (tree_cpu(pid) - before) / max(load.requests, 1) * 1e6, load


def main(args: argparse.Namespace) -> None:
    server_core, load_core = cores()
    if args.unpinned:
        server_core = load_core = None
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; servers on core {server_core}, "
          f"wrk on core {load_core}; {args.workers} calserver process(es)")  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="calserver-bench-feed-") as data,
        scratch_database(args.database_url) as database_url,
    ):
        extra = {"workers": str(args.workers)} if args.workers != 1 else {}
        env = calserver_env(data, database_url, poll_flush_seconds=str(FLUSH_SECONDS), **extra)
        key = create_workspace(env)
        serve = pinned([*CALSERVER, "serve", "--port", "0"], server_core)
        with process(serve, env) as (real_pid, base):
            path, etag, body = asyncio.run(setup(base, key, args.events))
            body_file = Path(data) / "body.ics"
            body_file.write_bytes(body)
            bare = pinned([*_python(), BARE_APP, str(body_file), etag], server_core)
            with process(bare) as (bare_pid, bare_base):
                results = run_phases(args, real_pid, base + path, bare_pid, bare_base, etag,
                                     load_core)  # fmt: skip
            settle(FLUSH_SECONDS * 2)
            feed_polls = sum(
                load.requests for name, load in results["loads"] if name.startswith("feed")
            )
            recorded = asyncio.run(recorded_polls(base, key))
    report(results, len(body), args)
    print(f"\npolls recorded by the database: {recorded:,}; feed responses wrk completed "
          f"(warm-up included): {feed_polls:,}")  # fmt: skip


def _python() -> list[str]:
    return [CALSERVER[0]]


def run_phases(args: argparse.Namespace, real_pid: int, feed_url: str, bare_pid: int,
               bare_base: str, etag: str, load_core: str | None) -> dict[str, Any]:  # fmt: skip
    plan: dict[str, tuple[int, str, dict[str, str], float]] = {
        "feed-200": (real_pid, feed_url, {}, FLUSH_SECONDS + 0.5),
        "feed-304": (real_pid, feed_url, {"If-None-Match": etag}, FLUSH_SECONDS + 0.5),
        "feed-close": (real_pid, feed_url, {"Connection": "close"}, FLUSH_SECONDS + 0.5),
        "bare-200": (bare_pid, f"{bare_base}/200", {}, 0.2),
        "bare-304": (bare_pid, f"{bare_base}/304", {"If-None-Match": etag}, 0.2),
        "bare-close": (bare_pid, f"{bare_base}/200", {"Connection": "close"}, 0.2),
    }
    phases = [p for p in PHASES if args.close or not p.endswith("close")]
    cpu: dict[str, list[float]] = {p: [] for p in phases}
    loads: list[tuple[str, Load]] = []
    for name in phases:  # warm-up: caches, code paths, connections; discarded
        loads.append((name, measure(*plan[name][:3], args, load_core, plan[name][3])[1]))
    per: dict[str, list[Load]] = {p: [] for p in phases}
    for r in range(args.rounds):
        order = phases[r % len(phases) :] + phases[: r % len(phases)]
        for name in order:
            pid, url, headers, wait = plan[name]
            us, load = measure(pid, url, headers, args, load_core, wait)
            cpu[name].append(us)
            per[name].append(load)
            loads.append((name, load))
            if load.errors:
                print(f"  {name}: {load.errors}")
        print(
            f"round {r + 1}: µs CPU/request  " + "  ".join(f"{p} {cpu[p][-1]:6.1f}" for p in phases)
        )
    return {"cpu": cpu, "per": per, "loads": loads, "phases": phases}


def report(results: dict[str, Any], size: int, args: argparse.Namespace) -> None:
    cpu, per, med = results["cpu"], results["per"], statistics.median
    print(f"\n{args.events} events, feed {size:,} bytes; {args.rounds} rounds of {args.seconds} s "
          f"per phase, {args.connections} connections; medians")  # fmt: skip
    print(
        "| request | calserver CPU µs | bare CPU µs | ratio | calserver req/s | bare req/s "
        "| p50 ms (cs / bare) | p99 ms (cs / bare) | p99 ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind in ("200", "304", "close"):
        feed, bare = f"feed-{kind}", f"bare-{kind}"
        if feed not in cpu:
            continue
        ratio = med([a / b for a, b in zip(cpu[feed], cpu[bare], strict=True)])
        p99 = med([a.p99_ms / b.p99_ms for a, b in zip(per[feed], per[bare], strict=True)])
        print(
            f"| {kind} | {med(cpu[feed]):.1f} | {med(cpu[bare]):.1f} | {ratio:.2f}× "
            f"{'ok' if ratio <= 1.5 else 'over'} | {med(x.rps for x in per[feed]):,.0f} "
            f"| {med(x.rps for x in per[bare]):,.0f} "
            f"| {med(x.p50_ms for x in per[feed]):.2f} / {med(x.p50_ms for x in per[bare]):.2f} "
            f"| {med(x.p99_ms for x in per[feed]):.2f} / {med(x.p99_ms for x in per[bare]):.2f} "
            f"| {p99:.2f}× |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50, help="events in the segment")
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", default="", help="empty: SQLite in a temp directory")
    parser.add_argument("--workers", type=int, default=1, help="calserver serve --workers")
    parser.add_argument("--no-close", dest="close", action="store_false",
                        help="skip the Connection: close phases")  # fmt: skip
    parser.add_argument("--unpinned", action="store_true", help="no taskset (for --workers 2)")
    main(parser.parse_args())
