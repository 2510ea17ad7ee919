"""A/B landing copy: a stable split by an anonymous visitor cookie, the funnel per variant,
Wilson intervals and the two-proportion test on a simulated population."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from calserver.abtest import pick, two_proportion_p, verdict, wilson
from calserver.appkeys import SESSIONS
from calserver.clock import FrozenClock
from calserver.config import Config
from storage.funnels import by_variant
from storage.models import Segment
from tests.conftest import Tenant, _tenant
from tests.support.feeds import add_event, make_segment
from tests.support.telemetry import settle
from web.app import create_app

VARIANTS = [
    {"key": "a", "headline": "News from the shop", "description": "Sales and open days.",
     "reward_text": ""},
    {"key": "b", "headline": "Never miss a sale", "description": "Your calendar reminds you.",
     "reward_text": ""},
]  # fmt: skip
SHOWN = re.compile(r'name="variant" value="([a-d])"')


def test_wilson_interval_and_two_proportion_test() -> None:
    low, high = wilson(10, 100)
    assert (round(low, 4), round(high, 4)) == (0.0552, 0.1744)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 50)[0] == pytest.approx(0.0) and wilson(50, 50)[1] == pytest.approx(1.0)
    # 20/100 against 10/100: z = 1.98, p = 0.048; 15/100 against 10/100: z = 1.07, p = 0.285.
    assert two_proportion_p(20, 100, 10, 100) == pytest.approx(0.0477, abs=1e-3)
    assert two_proportion_p(15, 100, 10, 100) == pytest.approx(0.2850, abs=1e-3)
    assert two_proportion_p(0, 0, 1, 10) == 1.0
    judged = verdict({"a": (10, 100), "b": (20, 100), "c": (12, 100)})
    assert (judged.leader, judged.runner_up, judged.significant) == ("b", "c", False)
    assert verdict({"a": (10, 1000), "b": (40, 1000)}).significant


def test_a_visitor_keeps_their_variant_and_the_split_is_even() -> None:
    keys = ["a", "b", "c"]
    assert all(pick(f"v{n}", 7, keys) == pick(f"v{n}", 7, keys) for n in range(100))
    counts = {k: sum(pick(f"v{n}", 7, keys) == k for n in range(3000)) for k in keys}
    assert all(900 <= c <= 1100 for c in counts.values()), counts


@pytest.fixture
async def open_client(aiohttp_client: Any, config: Config, clock: FrozenClock) -> TestClient:  # type: ignore[type-arg]
    """A server that lets one address subscribe many times (the simulated visitors share it)."""
    return await aiohttp_client(create_app(config.replace(subscribe_rate_limit=0), clock=clock))


async def _start_test(client: TestClient, variants: list[dict[str, Any]]) -> Tenant:  # type: ignore[type-arg]
    tenant = await _tenant(client, "acme")
    await make_segment(tenant.api)
    await add_event(tenant.api, "news", title="Sale", start="2026-03-10T10:00:00")
    answer = await tenant.api.request("PUT", "/api/v1/segments/news/variants", json_body=variants)
    assert answer.status == 200
    return tenant


async def _simulate(
    client: TestClient,  # type: ignore[type-arg]
    rates: dict[str, float],
    visitors: int,
    seed: int,
) -> dict[str, int]:
    """Visitors with their own cookie open the page and subscribe with their variant's rate."""
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    for n in range(visitors):
        cookie = {"Cookie": f"cs_visitor=visitor-{seed}-{n}", "Accept": "text/html"}
        async with client.get("/s/acme/news", headers=cookie) as page:
            html = await page.text()
        [shown] = set(SHOWN.findall(html))
        headline = next(v["headline"] for v in VARIANTS if v["key"] == shown)
        assert f"<h1>{headline}</h1>" in html
        seen[shown] = seen.get(shown, 0) + 1
        if rng.random() < rates[shown]:
            form = {"client": "apple", "variant": shown}
            async with client.post("/s/acme/news", data=form, headers=cookie,
                                   allow_redirects=False) as answer:  # fmt: skip
                assert answer.status == 303
    await settle(client)
    return seen


async def _funnels(client: TestClient) -> dict[str, tuple[int, int]]:  # type: ignore[type-arg]
    async with client.app[SESSIONS]() as session:
        segment = await session.scalar(select(Segment.id).where(Segment.slug == "news"))
        assert segment is not None
        funnels = await by_variant(session, segment)
    return {key: (f.subscribed, f.views) for key, f in funnels.items()}


async def test_a_better_variant_is_reported_significantly_ahead(
    open_client: TestClient,  # type: ignore[type-arg]
) -> None:
    tenant = await _start_test(open_client, VARIANTS)
    seen = await _simulate(open_client, {"a": 0.08, "b": 0.22}, visitors=400, seed=1)
    counts = await _funnels(open_client)
    assert {key: views for key, (_, views) in counts.items()} == seen
    judged = verdict(counts)
    assert (judged.leader, judged.significant) == ("b", True), counts
    stats = (await tenant.api.get("/api/v1/stats/variants?segment=news")).body
    assert (stats["leader"], stats["runner_up"], stats["significant"]) == ("b", "a", True)
    assert stats["p_value"] < 0.05
    for row in stats["variants"]:
        assert row["views"] == seen[row["key"]] and row["clicks"] == counts[row["key"]][0]
        assert row["interval"]["low"] <= row["conversion"] <= row["interval"]["high"]


async def test_equal_variants_are_not_significantly_different(
    open_client: TestClient,  # type: ignore[type-arg]
) -> None:
    tenant = await _start_test(open_client, VARIANTS)
    await _simulate(open_client, {"a": 0.14, "b": 0.14}, visitors=400, seed=2)
    counts = await _funnels(open_client)
    assert sum(views for _, views in counts.values()) == 400
    assert not verdict(counts).significant, counts
    stats = (await tenant.api.get("/api/v1/stats/variants?segment=news")).body
    assert stats["significant"] is False and stats["p_value"] >= 0.05
