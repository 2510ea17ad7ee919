"""Server CPU time per request: the real GET /f/{token}.ics against a bare aiohttp handler.

The server (the project's create_app on SQLite, plus /bare/200 and /bare/304 handlers that
answer with the same bytes) runs in its own process on 127.0.0.1; the load comes from this
process. CPU time is the server process's getrusage(RUSAGE_SELF) (all its threads, so the
aiosqlite worker thread counts), read through a control endpoint before and after each
phase; that endpoint also writes the polls recorded so far (the periodic flush is turned
off), so each phase pays for its own telemetry batch. Phases are interleaved and
repeated; the median over rounds is reported. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
from datetime import date, timedelta
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from harness import bench_config, bench_segment, ok, run_with_server, serve_app

PHASES = ("feed-200", "feed-304", "bare-200", "bare-304")
IDENTITY = {"Accept-Encoding": "identity"}


async def _serve(tmp: str, conn: Connection) -> None:
    from web.app import create_app

    app = create_app(bench_config(tmp))
    state: dict[str, Any] = {"body": b"", "etag": "", "profiler": None}

    async def bare_200(request: web.Request) -> web.Response:
        return web.Response(body=state["body"], content_type="text/calendar")

    async def bare_304(request: web.Request) -> web.Response:
        return web.Response(status=304, headers={"ETag": state["etag"]})

    async def set_bare(request: web.Request) -> web.Response:
        state["body"], state["etag"] = await request.read(), request.headers["X-Bench-ETag"]
        return web.Response(text="ok")

    async def profile(request: web.Request) -> web.Response:
        if request.match_info["action"] == "start":
            state["profiler"] = cProfile.Profile()
            state["profiler"].enable()
            return web.Response(text="ok")
        state["profiler"].disable()
        out = io.StringIO()
        stats = pstats.Stats(state["profiler"], stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        return web.Response(text=out.getvalue())

    app.router.add_get("/bare/200", bare_200)
    app.router.add_get("/bare/304", bare_304)
    app.router.add_post("/__bench/bare", set_bare)
    app.router.add_post("/__bench/profile/{action:start|stop}", profile)
    await serve_app(app, conn)


def _server_main(tmp: str, conn: Connection) -> None:
    asyncio.run(_serve(tmp, conn))


async def _personal_subscription(
    session: ClientSession, base: str, auth: dict[str, str], personal: int
) -> str:
    """A contact with ``personal`` triggers, subscribed through its personal link: the feed's
    path. Its polls also record delivery receipts."""
    await ok(session, "PUT", f"{base}/api/v1/contacts/bench-1", 201, json={}, headers=auth)
    link = await ok(session, "POST", f"{base}/api/v1/links", 201,
                     json={"external_id": "bench-1", "segments": ["news"]}, headers=auth)  # fmt: skip
    first = date.today() + timedelta(days=2)
    for i in range(personal):
        trigger = {
            "external_id": "bench-1",
            "idempotency_key": f"bench-{i}",
            "event": {"title": f"Order {i} is ready", "start": f"{first + timedelta(days=i)}T12:00:00",
                      "duration": "PT2H", "alarms": [{"before": "PT1H"}]},
        }  # fmt: skip
        await ok(session, "POST", f"{base}/api/v1/triggers", 202, json=trigger, headers=auth)
    accept, zone = {"Accept": "application/json"}, {"timezone": "Europe/London"}
    sub = await ok(
        session, "POST", base + urlsplit(link["url"]).path, 201, json=zone, headers=accept
    )
    return str(urlsplit(sub["feed_url"]).path)


async def _setup(
    session: ClientSession, base: str, key: str, events: int, personal: int = 0
) -> tuple[str, str, int]:
    """Segment, events and a subscription through the API; returns (feed path, ETag, size)."""
    await bench_segment(session, base, key, events)
    if personal:
        auth = {"Authorization": f"Bearer {key}"}
        path = await _personal_subscription(session, base, auth, personal)
    else:
        accept, zone = {"Accept": "application/json"}, {"timezone": "Europe/London"}
        sub = await ok(session, "POST", f"{base}/s/bench/news", 201, json=zone, headers=accept)
        path = urlsplit(sub["feed_url"]).path
    async with session.get(base + path, headers=IDENTITY, auto_decompress=False) as r:
        body, etag = await r.read(), r.headers["ETag"]
        assert r.status == 200 and "Content-Encoding" not in r.headers, r.headers
    await ok(
        session, "POST", f"{base}/__bench/bare", 200, data=body, headers={"X-Bench-ETag": etag}
    )
    return path, etag, len(body)


async def _load(
    session: ClientSession, url: str, headers: dict[str, str], n: int, concurrency: int, want: int
) -> None:
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with session.get(url, headers=headers, auto_decompress=False) as r:
                await r.read()
                if r.status != want:
                    raise RuntimeError(f"GET {url}: {r.status}, wanted {want}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _server_cpu(session: ClientSession, base: str) -> float:
    return float(await ok(session, "GET", f"{base}/__bench/cpu", 200))


async def _run(args: argparse.Namespace, port: int, key: str) -> None:
    base = f"http://127.0.0.1:{port}"
    connector, timeout = TCPConnector(limit=args.concurrency), ClientTimeout(total=30)
    async with ClientSession(connector=connector, timeout=timeout) as session:
        path, etag, size = await _setup(session, base, key, args.events, args.personal)
        requests: dict[str, tuple[str, dict[str, str], int]] = {
            "feed-200": (base + path, IDENTITY, 200),
            "feed-304": (base + path, {**IDENTITY, "If-None-Match": etag}, 304),
            "bare-200": (f"{base}/bare/200", IDENTITY, 200),
            "bare-304": (f"{base}/bare/304", {**IDENTITY, "If-None-Match": etag}, 304),
        }

        async def phase(name: str, n: int) -> float:
            url, headers, want = requests[name]
            before = await _server_cpu(session, base)
            await _load(session, url, headers, n, args.concurrency, want)
            return (await _server_cpu(session, base) - before) / n * 1e6

        print(f"feed size: {size} bytes, {args.events} events; ETag {etag}")
        for name in PHASES:  # warm-up, discarded: cache fill, connection pool, code paths
            await phase(name, max(100, args.requests // 10))
        results: dict[str, list[float]] = {name: [] for name in PHASES}
        for r in range(args.rounds):
            order = PHASES[r % 4 :] + PHASES[: r % 4]  # rotate so no phase always goes first
            for name in order:
                results[name].append(await phase(name, args.requests))
            row = "  ".join(f"{n} {results[n][-1]:7.1f}" for n in PHASES)
            print(f"round {r + 1}: µs CPU/request  {row}")
        _report(results, size, args)
        if args.profile:
            for name in ("feed-200", "feed-304"):
                await ok(session, "POST", f"{base}/__bench/profile/start", 200)
                await phase(name, args.requests)
                text = await ok(session, "POST", f"{base}/__bench/profile/stop", 200)
                print(f"\n=== cProfile of the server's event-loop thread, {name} ===")
                print(text.decode())


def _report(results: dict[str, list[float]], size: int, args: argparse.Namespace) -> None:
    med = statistics.median
    ratio = {
        "200": med([a / c for a, c in zip(results["feed-200"], results["bare-200"], strict=True)]),
        "304": med([b / d for b, d in zip(results["feed-304"], results["bare-304"], strict=True)]),
    }
    print(
        f"\nfeed {size} bytes; {args.requests} requests x {args.rounds} rounds, "
        f"concurrency {args.concurrency}; median server CPU µs per request"
    )
    print("| status | real feed | bare handler | ratio (goal ≤ 1.5×) |")
    print("|---|---:|---:|---:|")
    for status in ("200", "304"):
        real, bare = med(results[f"feed-{status}"]), med(results[f"bare-{status}"])
        verdict = "ok" if ratio[status] <= 1.5 else "over"
        print(f"| {status} | {real:.1f} | {bare:.1f} | {ratio[status]:.2f}× {verdict} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50, help="events in the segment")
    parser.add_argument(
        "--personal", type=int, default=0, help="personal events (CRM triggers) in the polled feed"
    )
    parser.add_argument("--requests", type=int, default=5000, help="requests per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="cProfile feed-200/304 after")
    args = parser.parse_args()
    run_with_server(_server_main, _run, args)


if __name__ == "__main__":
    main()
