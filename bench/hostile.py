"""Latency of other subscribers' feed polls and CalDAV syncs while hostile requests run.

The server (the project's create_app on SQLite) runs in its own process on 127.0.0.1; the
load comes from this process. Victims follow segment "news": each round polls its feed (a
cache miss the first time, then 304s), asks CalDAV for changes (sync-collection with its
token) and for the CTag (PROPFIND). The attackers follow segment "trap" (endless and
9,000-occurrence weekly events) and, four at a time, send calendar-queries for the year 9999
with a text filter (so Radicale evaluates every item), while four more POST events with rules
whose occurrences are rare (each check walks dateutil up to its cap). Latencies are wall
clock per request, measured first alone and then under attack.

Goal (issue 13): every victim request under 200 ms while the eight hostile requests run.

Then a 1 MB ICS file (1,900 events) is imported through the dashboard while /healthz is asked
every 20 ms; goal: every /healthz under 100 ms during the import.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import statistics
import time
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, timedelta
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, CookieJar, FormData, TCPConnector
from harness import bench_config, bench_segment, ok, run_with_server, serve_app

SYNC = """<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>
<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"""
CTAG = """<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
<D:prop><CS:getctag/><D:sync-token/></D:prop></D:propfind>"""
HOSTILE_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="99980101T000000Z" end="99991231T000000Z"/>
<C:prop-filter name="SUMMARY"><C:text-match>zzz</C:text-match></C:prop-filter>
</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"""
HOSTILE_RULE = "FREQ=HOURLY;BYYEARDAY=366;BYDAY=SU;BYHOUR=1;COUNT=5000"
VICTIM_OPS = ("feed", "dav-sync", "dav-ctag")


async def _serve(tmp: str, conn: Connection) -> None:
    from web.app import create_app

    config = bench_config(tmp, caldav_rate_limit=0, subscribe_rate_limit=0)
    await serve_app(create_app(config), conn)


def _server_main(tmp: str, conn: Connection) -> None:
    asyncio.run(_serve(tmp, conn))


async def _subscribe(session: ClientSession, base: str, slug: str) -> dict[str, str]:
    accept, zone = {"Accept": "application/json"}, {"timezone": "Europe/London"}
    return dict(await ok(session, "POST", f"{base}/s/bench/{slug}", 201, json=zone, headers=accept))


def _dav(base: str, sub: dict[str, str]) -> tuple[str, dict[str, str]]:
    pair = f"{sub['caldav_username']}:{sub['caldav_password']}".encode()
    auth = {"Authorization": "Basic " + base64.b64encode(pair).decode(),
            "Content-Type": "application/xml; charset=utf-8"}  # fmt: skip
    return f"{base}/dav/{sub['caldav_password']}/calendar/", auth


async def _trap(session: ClientSession, base: str, key: str, events: int) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    seg = {"slug": "trap", "name": "Trap", "timezone": "Europe/London"}
    await ok(session, "POST", f"{base}/api/v1/segments", 201, json=seg, headers=auth)
    first = date.today() + timedelta(days=1)
    for i in range(events):
        rule = "FREQ=WEEKLY" if i % 2 else "FREQ=WEEKLY;COUNT=9000"
        event = {
            "title": f"Trap {i}",
            "start": f"{first + timedelta(days=i)}T10:00:00",
            "rrule": rule,
        }
        await ok(session, "POST", f"{base}/api/v1/segments/trap/events", 201, json=event,
                 headers=auth)  # fmt: skip


class Victim:
    def __init__(self, session: ClientSession, base: str, sub: dict[str, str]) -> None:
        self.session, self.feed = session, base + urlsplit(sub["feed_url"]).path
        self.calendar, self.auth = _dav(base, sub)
        self.etag, self.token = "", ""

    async def _timed(self, method: str, url: str, want: int, **kw: Any) -> tuple[float, bytes]:
        started = time.perf_counter()
        async with self.session.request(method, url, **kw) as r:
            body = await r.read()
            if r.status != want:
                raise RuntimeError(f"victim {method} {url}: {r.status}, wanted {want}")
            if "ETag" in r.headers and method == "GET":
                self.etag = r.headers["ETag"]
        return time.perf_counter() - started, body

    async def round(self) -> dict[str, float]:
        headers = {"Accept-Encoding": "identity"}
        if self.etag:
            headers["If-None-Match"] = self.etag
        feed, _ = await self._timed("GET", self.feed, 304 if self.etag else 200, headers=headers)
        sync, body = await self._timed("REPORT", self.calendar, 207, data=SYNC.format(token=self.token),
                                       headers={**self.auth, "Depth": "1"})  # fmt: skip
        self.token = ET.fromstring(body).findtext("{DAV:}sync-token") or ""
        ctag, _ = await self._timed("PROPFIND", self.calendar, 207, data=CTAG,
                                    headers={**self.auth, "Depth": "0"})  # fmt: skip
        return {"feed": feed, "dav-sync": sync, "dav-ctag": ctag}


async def _attack(session: ClientSession, base: str, key: str, attackers: list[dict[str, str]],
                  stop: asyncio.Event, seen: Counter[str]) -> None:  # fmt: skip
    async def query(sub: dict[str, str]) -> None:
        calendar, auth = _dav(base, sub)
        while not stop.is_set():
            async with session.request("REPORT", calendar, data=HOSTILE_QUERY,
                                       headers={**auth, "Depth": "1"}) as r:  # fmt: skip
                await r.read()
                seen[f"query {r.status}"] += 1

    async def rule(n: int) -> None:
        body = {"title": "Hostile", "start": f"{date.today() + timedelta(days=3)}T10:00:00",
                "rrule": HOSTILE_RULE}  # fmt: skip
        while not stop.is_set():
            async with session.post(f"{base}/api/v1/segments/trap/events", json=body,
                                    headers={"Authorization": f"Bearer {key}"}) as r:  # fmt: skip
                await r.read()
                seen[f"rrule {r.status}"] += 1

    await asyncio.gather(*(query(sub) for sub in attackers), *(rule(n) for n in range(4)))


async def _rounds(victims: list[Victim], rounds: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {op: [] for op in VICTIM_OPS}
    for _ in range(rounds):
        for result in await asyncio.gather(*(v.round() for v in victims)):
            for op, seconds in result.items():
                found[op].append(seconds * 1000)
    return found


async def _run(args: argparse.Namespace, port: int, key: str) -> None:
    base = f"http://127.0.0.1:{port}"
    connector, timeout = TCPConnector(limit=64), ClientTimeout(total=300)
    async with ClientSession(connector=connector, timeout=timeout) as session:
        await bench_segment(session, base, key, args.events)
        await _trap(session, base, key, args.trap_events)
        victims = [Victim(session, base, await _subscribe(session, base, "news"))
                   for _ in range(args.victims)]  # fmt: skip
        attackers = [await _subscribe(session, base, "trap") for _ in range(4)]
        await _rounds(victims, 1)  # first polls and full syncs
        alone = await _rounds(victims, args.rounds)
        stop, seen = asyncio.Event(), Counter[str]()
        attack = asyncio.create_task(_attack(session, base, key, attackers, stop, seen))
        await asyncio.sleep(1.0)  # the hostile requests are running
        attacked = await _rounds(victims, args.rounds)
        stop.set()
        await attack
    _report(alone, attacked, seen, args)
    await _import_with_health(base, key)


async def _import_with_health(base: str, key: str) -> None:
    """Sign in with the admin key, import a 1 MB file, ask /healthz meanwhile."""
    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:b{n}@bench\r\nSUMMARY:Event {n}\r\n"
        f"DTSTART:{date.today() + timedelta(days=2):%Y%m%d}T100000Z\r\n"
        f"DESCRIPTION:{'x' * 430}\r\nEND:VEVENT\r\n"
        for n in range(1900)
    )
    ics = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//b//EN\r\n{events}END:VCALENDAR\r\n"
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        page = (await ok(session, "GET", f"{base}/admin/sign-in", 200)).decode()
        await ok(session, "POST", f"{base}/admin/sign-in", 200,
                 data={"csrf": csrf.findall(page)[0], "key": key})  # fmt: skip
        page = (await ok(session, "GET", f"{base}/admin/import", 200)).decode()
        form = FormData()
        for name, value in (("csrf", csrf.findall(page)[0]), ("segment", "news"),
                            ("mode", "valid_only")):  # fmt: skip
            form.add_field(name, value)
        form.add_field("file", ics.encode(), filename="big.ics", content_type="text/calendar")
        started = time.perf_counter()
        upload = asyncio.create_task(ok(session, "POST", f"{base}/admin/import", 200, data=form))
        health: list[float] = []
        while not upload.done():
            t = time.perf_counter()
            await ok(session, "GET", f"{base}/healthz", 200)
            health.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(0.02)
        answer = (await upload).decode()
    took = time.perf_counter() - started
    imported = re.search(r"(\d+) imported", answer)
    print(f"\nimport of {len(ics.encode()) / 1e6:.2f} MB: {imported.group(0) if imported else '?'}"
          f" in {took:.1f} s; /healthz x{len(health)} meanwhile: median "
          f"{statistics.median(health):.1f} ms, max {max(health):.1f} ms "
          f"({'ok' if max(health) < 100 else 'over'}: goal under 100 ms)")  # fmt: skip


def _report(alone: dict[str, list[float]], attacked: dict[str, list[float]],
            seen: Counter[str], args: argparse.Namespace) -> None:  # fmt: skip
    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]

    print(f"\n{args.victims} victims x {args.rounds} rounds; hostile answers: {dict(seen)}")
    print("| victim request | alone median / max ms | under attack median / p95 / max ms |")
    print("|---|---:|---:|")
    worst = 0.0
    for op in VICTIM_OPS:
        a, b = alone[op], attacked[op]
        worst = max(worst, max(b))
        print(f"| {op} | {statistics.median(a):.1f} / {max(a):.1f} | "
              f"{statistics.median(b):.1f} / {p95(b):.1f} / {max(b):.1f} |")  # fmt: skip
    print(f"goal: every victim request under 200 ms under attack: "
          f"{'ok' if worst < 200 else 'over'} (worst {worst:.1f} ms)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="events in the victims' segment")
    parser.add_argument("--trap-events", type=int, default=20, help="events in the trap segment")
    parser.add_argument("--victims", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    run_with_server(_server_main, _run, args)


if __name__ == "__main__":
    main()
