"""/metrics in the Prometheus text format."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from calserver.clock import FrozenClock
from calserver.config import Config
from tests.conftest import Tenant
from tests.support.agents import AGENTS
from tests.support.feeds import make_segment, poll, subscribe
from tests.support.telemetry import settle
from web.app import create_app

LINE = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.]+$')


async def scrape(client: TestClient, headers: dict[str, str] | None = None) -> tuple[int, str]:  # type: ignore[type-arg]
    async with client.get("/metrics", headers=headers or {}) as answer:
        return answer.status, await answer.text()


async def test_counters_and_gauges(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    await make_segment(tenant.api)
    links = await subscribe(tenant.api, tenant.slug, "news")
    first = await poll(client, links["feed_url"], {"User-Agent": AGENTS["google"][0]})
    await poll(
        client,
        links["feed_url"],
        {"User-Agent": AGENTS["google"][0], "If-None-Match": first.headers["ETag"]},
    )
    status, text = await scrape(client)
    assert status == 200
    for line in text.splitlines():
        assert line.startswith("# ") or LINE.match(line), line
    assert 'calserver_feed_requests_total{status="200",family="google"} 1' in text
    assert 'calserver_feed_requests_total{status="304",family="google"} 1' in text
    assert "calserver_polls_pending 2" in text
    await settle(client)
    _, text = await scrape(client)
    assert "calserver_polls_flushed_total 2" in text and "calserver_polls_pending 0" in text


async def test_active_subscribers_gauge_and_token(
    aiohttp_client: Any, config: Config, clock: FrozenClock
) -> None:
    from tests.conftest import _tenant

    client = await aiohttp_client(
        create_app(config.replace(metrics_token="scrape-me-0123456789"), clock=clock)
    )
    tenant = await _tenant(client, "acme")
    await make_segment(tenant.api)
    links = await subscribe(tenant.api, tenant.slug, "news")
    await poll(client, links["feed_url"], {"User-Agent": AGENTS["apple-ios"][0]})
    await settle(client)
    assert (await scrape(client))[0] == 401
    assert (await scrape(client, {"Authorization": "Bearer wrong"}))[0] == 401
    status, text = await scrape(client, {"Authorization": "Bearer scrape-me-0123456789"})
    assert status == 200
    assert 'calserver_active_subscribers{workspace="acme",segment="news"} 1' in text


async def test_without_a_token_only_loopback_may_scrape(client: TestClient) -> None:  # type: ignore[type-arg]
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    from web.metrics import _authorized

    assert (await scrape(client))[0] == 200  # the test client connects from 127.0.0.1
    for peer, allowed in (
        ("127.0.0.1", True),
        ("::1", True),
        ("203.0.113.9", False),
        ("10.1.2.3", False),
    ):
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda name, default=None, peer=peer: (
            (peer, 5000) if name == "peername" else default
        )
        request = make_mocked_request("GET", "/metrics", app=client.app, transport=transport)
        assert _authorized(request) is allowed, peer
