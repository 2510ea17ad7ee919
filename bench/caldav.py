"""Server CPU time per CalDAV request against an ICS 304 of the same subscription.

The server (the project's create_app on SQLite) runs in its own process on 127.0.0.1; the
load comes from this process. As in bench/feed.py, CPU time is the server process's
getrusage(RUSAGE_SELF) (every thread: the event loop, Radicale's pool, aiosqlite), read
through a control endpoint before and after each phase; that endpoint also writes the polls
recorded so far. Phases (interleaved, rotated, repeated; medians reported):

- ics-304: GET /f/{token}.ics with If-None-Match (the baseline);
- dav-sync: REPORT sync-collection with the current token, nothing changed;
- dav-ctag: PROPFIND Depth 0 for getctag/sync-token (how iOS checks for changes);
- dav-week: REPORT calendar-query for one week, with calendar-data.

Goal (issue 7): a no-change sync costs at most 5x the server CPU of an ICS 304.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, TCPConnector
from harness import bench_config, bench_segment, ok, run_with_server, serve_app

PHASES = ("ics-304", "dav-sync", "dav-ctag", "dav-week")
SYNC = """<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>
<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"""
CTAG = """<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
<D:prop><CS:getctag/><D:sync-token/></D:prop></D:propfind>"""
WEEK = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""


async def _serve(tmp: str, conn: Connection) -> None:
    from web.app import create_app

    await serve_app(create_app(bench_config(tmp, caldav_rate_limit=0)), conn)


def _server_main(tmp: str, conn: Connection) -> None:
    asyncio.run(_serve(tmp, conn))


async def _setup(session: ClientSession, base: str, key: str, events: int) -> dict[str, str]:
    """A segment of ``events`` events over 90 days (every tenth weekly) and a subscription."""
    await bench_segment(session, base, key, events)
    accept, zone = {"Accept": "application/json"}, {"timezone": "Europe/London"}
    return dict(await ok(session, "POST", f"{base}/s/bench/news", 201, json=zone, headers=accept))


async def _load(session: ClientSession, request: tuple[str, str, dict[str, str], str, int],
                n: int, concurrency: int) -> None:  # fmt: skip
    method, url, headers, body, want = request
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with session.request(method, url, headers=headers, data=body) as r:
                await r.read()
                if r.status != want:
                    raise RuntimeError(f"{method} {url}: {r.status}, wanted {want}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _requests(session: ClientSession, base: str, sub: dict[str, str]) -> dict[str, Any]:
    feed = base + urlsplit(sub["feed_url"]).path
    async with session.get(feed, headers={"Accept-Encoding": "identity"}) as r:
        etag, size = r.headers["ETag"], len(await r.read())
    pair = f"{sub['caldav_username']}:{sub['caldav_password']}".encode()
    auth = {"Authorization": "Basic " + base64.b64encode(pair).decode(),
            "Content-Type": "application/xml; charset=utf-8"}  # fmt: skip
    calendar = f"{base}/dav/{sub['caldav_password']}/calendar/"
    first = await ok(session, "REPORT", calendar, 207, data=SYNC.format(token=""),
                      headers={**auth, "Depth": "1"})  # fmt: skip
    token = ET.fromstring(first).findtext("{DAV:}sync-token")
    start = datetime.combine(date.today() + timedelta(days=14), datetime.min.time())
    week = WEEK.format(start=f"{start:%Y%m%dT%H%M%SZ}",
                       end=f"{start + timedelta(days=7):%Y%m%dT%H%M%SZ}")  # fmt: skip
    found = await ok(session, "REPORT", calendar, 207, data=week, headers={**auth, "Depth": "1"})
    in_week = len(ET.fromstring(found).findall("{DAV:}response"))
    print(f"feed {size} bytes; one week holds {in_week} items")
    return {
        "ics-304": ("GET", feed, {"If-None-Match": etag, "Accept-Encoding": "identity"}, "", 304),
        "dav-sync": ("REPORT", calendar, {**auth, "Depth": "1"}, SYNC.format(token=token), 207),
        "dav-ctag": ("PROPFIND", calendar, {**auth, "Depth": "0"}, CTAG, 207),
        "dav-week": ("REPORT", calendar, {**auth, "Depth": "1"}, week, 207),
    }


async def _run(args: argparse.Namespace, port: int, key: str) -> None:
    base = f"http://127.0.0.1:{port}"
    connector, timeout = TCPConnector(limit=args.concurrency), ClientTimeout(total=120)
    async with ClientSession(connector=connector, timeout=timeout) as session:
        requests = await _requests(session, base, await _setup(session, base, key, args.events))

        async def phase(name: str, n: int) -> float:
            before = float(await ok(session, "GET", f"{base}/__bench/cpu", 200))
            await _load(session, requests[name], n, args.concurrency)
            after = float(await ok(session, "GET", f"{base}/__bench/cpu", 200))
            return (after - before) / n * 1e6

        counts = {name: args.requests // 10 if name == "dav-week" else args.requests
                  for name in PHASES}  # fmt: skip
        for name in PHASES:  # warm-up, discarded
            await phase(name, max(20, counts[name] // 10))
        results: dict[str, list[float]] = {name: [] for name in PHASES}
        for r in range(args.rounds):
            for name in PHASES[r % 4 :] + PHASES[: r % 4]:
                results[name].append(await phase(name, counts[name]))
            print(f"round {r + 1}: µs CPU/request  "
                  + "  ".join(f"{n} {results[n][-1]:8.1f}" for n in PHASES))  # fmt: skip
        _report(results, args)


def _report(results: dict[str, list[float]], args: argparse.Namespace) -> None:
    med = statistics.median
    print(f"\n{args.events} events; {args.requests} requests x {args.rounds} rounds "
          f"(dav-week: a tenth), concurrency {args.concurrency}; median server CPU µs/request")  # fmt: skip
    print("| request | server CPU µs | ratio to ICS 304 |")
    print("|---|---:|---:|")
    for name in PHASES:
        ratio = med([x / b for x, b in zip(results[name], results["ics-304"], strict=True)])
        goal = " (goal ≤ 5×: " + ("ok)" if ratio <= 5 else "over)") if name == "dav-sync" else ""
        print(f"| {name} | {med(results[name]):.1f} | {ratio:.2f}×{goal} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events in the segment")
    parser.add_argument("--requests", type=int, default=2000, help="requests per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    run_with_server(_server_main, _run, args)


if __name__ == "__main__":
    main()
