"""web/dispatch.py: the feed's common poll answered before the router and middlewares, with
the same answer, headers and record as the regular path; everything else goes the regular way."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from calserver.appkeys import SESSIONS, SIGNER
from calserver.cascade.registry import load_registry
from calserver.config import Config
from storage.models import Poll
from tests.conftest import Tenant
from tests.support.feeds import Polled, add_event, make_segment, path_of, poll, subscribe
from tests.support.served import ServedTestServer
from tests.support.telemetry import settle
from web.app import create_app
from web.cli import WORKER_GC_THRESHOLD, _work_until_stopped
from web.dispatch import FastPaths, Runner
from web.headers import EVERY_ANSWER

APPLE = "iOS/26.6 (23G71) dataaccessd/1.0"


class _NeverFast:
    """In place of the feed handler: every poll goes the regular way (router, middlewares)."""

    async def fast(self, request: web.BaseRequest, token: str) -> None:
        return None


def _paths(client: TestClient) -> FastPaths:  # type: ignore[type-arg]
    server = client.server
    assert isinstance(server, ServedTestServer)
    return server.fast_paths


async def _feed(tenant: Tenant) -> str:
    await make_segment(tenant.api)
    for day in range(10, 16):  # over 1 KB: gzip is offered
        start = f"2026-03-{day}T15:00:00"
        await add_event(tenant.api, "news", title="Sale", start=start, duration="PT2H")
    return (await subscribe(tenant.api, tenant.slug, "news", "Europe/London"))["feed_url"]


def _comparable(polled: Polled) -> tuple[int, dict[str, str], bytes]:
    headers = {name: value for name, value in polled.headers.items() if name != "Date"}
    assert len(headers) == len(polled.headers) - 1, "one Date header, no repeated names"
    return polled.status, headers, polled.body


async def _both_ways(
    client: TestClient,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    headers: dict[str, str],
) -> tuple[Polled, Polled]:
    paths = _paths(client)
    before = paths.answered
    fast = await poll(client, url, headers)
    assert paths.answered == before + 1, "the fast path answered"
    with monkeypatch.context() as patched:
        patched.setattr(paths, "feed", _NeverFast())
        regular = await poll(client, url, headers)
    assert paths.answered == before + 1, "the regular path answered"
    return fast, regular


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"User-Agent": APPLE},
        {"Accept-Encoding": "gzip, deflate"},
        {"Connection": "close"},
        {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    ],
    ids=["plain", "apple", "gzip", "close", "if-modified-since"],
)
async def test_the_fast_path_answers_as_the_regular_path_does(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
) -> None:
    url = await _feed(tenant)
    await poll(client, url)  # renders the body (a cache miss goes the regular way)
    fast, regular = await _both_ways(client, monkeypatch, url, headers)
    assert _comparable(fast) == _comparable(regular)
    for name, value in EVERY_ANSWER.items():
        assert fast.headers[name] == value
    assert fast.headers["Cache-Control"] == "private, no-cache"
    if "If-Modified-Since" in headers:
        assert fast.status == 304
    else:
        assert fast.status == 200 and fast.body.startswith(
            b"BEGIN:VCALENDAR" if "Accept-Encoding" not in headers else b"\x1f\x8b"
        )
        assert fast.headers["Last-Modified"] and fast.headers["ETag"]
    if headers.get("Connection") == "close":
        assert fast.headers["Connection"] == "close"
    # And the 304 to the ETag each was given.
    etag = {"If-None-Match": fast.headers["ETag"], **headers}
    fast, regular = await _both_ways(client, monkeypatch, url, etag)
    assert fast.status == 304 and _comparable(fast) == _comparable(regular)
    assert fast.body == b"" and "Last-Modified" not in fast.headers


async def test_every_poll_the_fast_path_answers_is_recorded(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    url = await _feed(tenant)
    first = await poll(client, url)
    paths = _paths(client)
    before = paths.answered
    for _ in range(5):
        assert (await poll(client, url, {"User-Agent": APPLE})).status == 200
    for _ in range(3):
        answer = await poll(client, url, {"If-None-Match": first.headers["ETag"]})
        assert answer.status == 304
    assert paths.answered == before + 8
    await settle(client)
    async with client.app[SESSIONS]() as session:
        statuses = dict(
            (await session.execute(select(Poll.status, func.count()).group_by(Poll.status))).all()
        )
        families = set((await session.scalars(select(Poll.family))).all())
    assert statuses == {200: 6, 304: 3}
    assert "apple-ios" in families


async def _regular(client: TestClient, method: str, path: str, **kwargs: Any) -> Polled:  # type: ignore[type-arg]
    paths = _paths(client)
    before = paths.answered
    async with client.request(method, path, **kwargs) as answer:
        polled = Polled(answer.status, answer.headers, await answer.read())
    assert paths.answered == before, f"{method} {path} went the regular way"
    return polled


async def test_anything_uncommon_goes_the_regular_way(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    url = await _feed(tenant)
    path = path_of(url)
    rendered = await _regular(client, "GET", path)  # the first poll renders the body
    assert rendered.status == 200
    unknown = client.app[SIGNER].sign("feed", 999_999)
    for bad in (path[:-7] + "AAA.ics", "/f/garbage.ics", f"/f/{unknown}.ics", "/f/a/b.ics"):
        answer = await _regular(client, "GET", bad, headers={"Accept": "application/json"})
        assert answer.status == 404
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    page = await _regular(client, "GET", "/f/garbage.ics", headers={"Accept": "text/html"})
    assert page.status == 404 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert (await _regular(client, "HEAD", path)).status == 200
    assert (await _regular(client, "GET", path + "?x=1")).status == 200
    assert (await _regular(client, "POST", path)).status == 405
    big = await _regular(client, "GET", path, data=b"x" * 64, headers={"Expect": "100-continue"})
    assert big.status == 200
    await settle(client)
    async with client.app[SESSIONS]() as session:
        recorded = await session.scalar(select(func.count()).select_from(Poll))
    assert recorded == 4  # the first, HEAD, the query string and the one with a body


async def test_the_server_runs_the_fast_path_in_front_of_the_app(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    paths = _paths(client)
    runner = client.server.runner
    assert runner is not None and runner.server is not None
    assert runner.server.request_handler is paths
    async with client.get("/healthz") as answer:
        assert answer.status == 200
    assert paths.answered == 0


@pytest.mark.parametrize("freeze", [True, False])
async def test_a_serving_runner_moves_what_it_built_out_of_the_collectors_sight(
    config: Config, freeze: bool
) -> None:
    """`serve` freezes what the server built (gc.freeze: full collections under load took
    ~100 ms, a p99 spike); the tests' runners, many per process, leave it alone."""
    frozen = gc.get_freeze_count()
    runner = Runner(create_app(config), freeze=freeze)
    await runner.setup()
    try:
        assert (gc.get_freeze_count() > frozen + 10_000) is freeze
    finally:
        await runner.cleanup()
        gc.unfreeze()  # back in the collector's sight: this process goes on to other tests


async def test_the_cascade_worker_moves_what_it_built_out_of_the_collectors_sight(
    config: Config,
) -> None:
    """`calserver worker` freezes what it built before its first tick (full collections of
    its modules' objects took ~70 ms each under load) and collects less often."""
    frozen, threshold = gc.get_freeze_count(), gc.get_threshold()
    stop = asyncio.Event()
    stop.set()  # starts, then stops at once: the freeze comes before the worker runs
    try:
        await _work_until_stopped(config, load_registry(config), stop)
        assert gc.get_freeze_count() > frozen + 10_000
        # and its young objects are collected less often (a batch's die with it)
        assert gc.get_threshold() == (WORKER_GC_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)  # this process goes on to other tests
