"""The API of issue 15: a segment's reward and its codes, A/B variants and their figures,
the workspace's logo, colour and footer — every call checked against the OpenAPI document."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.feeds import add_event, make_segment
from tests.test_brand import HOSTILE_SVG, SVG, png

SEGMENT = "/api/v1/segments/news"


@pytest.fixture
async def news(tenant: Tenant) -> Tenant:
    await make_segment(tenant.api)
    await add_event(tenant.api, "news", title="Sale", start="2026-03-10T10:00:00")
    return tenant


async def test_reward_through_the_api(news: Tenant) -> None:
    api = news.api
    answer = await api.patch(SEGMENT, {"reward": {"text": "A gift", "code": "WELCOME10"}})
    assert answer.status == 200
    assert answer.body["reward"] == {"text": "A gift", "code": "WELCOME10", "pool": False,
                                     "available": 0, "announced": True}  # fmt: skip
    answer = await api.patch(SEGMENT, {"reward": {"text": "A gift", "pool": True}})
    assert answer.body["reward"]["announced"] is False  # an empty pool announces nothing
    added = await api.post(SEGMENT + "/reward-codes", {"codes": ["A1", "A2"]})
    assert added.status == 201 and added.body == {"added": 2, "available": 2, "duplicates": []}
    again = await api.post(SEGMENT + "/reward-codes", {"codes": ["A2", "A3", "A3"]})
    assert again.body == {"added": 1, "available": 3, "duplicates": ["A2", "A3"]}
    shown = await api.get(SEGMENT)
    assert shown.body["reward"]["available"] == 3 and shown.body["reward"]["announced"]
    for bad in ({"text": "x", "code": "A", "pool": True}, {"text": "x"}, {"text": "", "code": "A"},
                {"text": "x", "code": "with space"}):  # fmt: skip
        refused = await api.patch(SEGMENT, {"reward": bad})
        assert refused.status == 422, bad
    assert (await api.post(SEGMENT + "/reward-codes", {"codes": []})).status == 422
    assert (await api.post(SEGMENT + "/reward-codes", {"codes": ["a b"]})).status == 422
    removed = await api.patch(SEGMENT, {"reward": None})
    assert removed.status == 200 and removed.body["reward"] is None
    figures = await api.get("/api/v1/stats/rewards?segment=news")
    assert figures.status == 200 and set(figures.body) == {"segment", "with_reward",
                                                           "without_reward"}  # fmt: skip


async def test_variants_through_the_api(news: Tenant) -> None:
    api = news.api
    two = [{"key": "a", "headline": "Sales first"},
           {"key": "b", "headline": "Never miss a sale", "description": "x", "reward_text": ""}]  # fmt: skip
    answer = await api.request("PUT", SEGMENT + "/variants", json_body=two)
    assert answer.status == 200 and [v["key"] for v in answer.body["items"]] == ["a", "b"]
    for bad in (two[:1], [two[0], two[0]], [*two, *two[:1], *two[:1], *two[:1]],
                [{"key": "A!", "headline": "x"}, two[1]], {"key": "a"}):  # fmt: skip
        refused = await api.request("PUT", SEGMENT + "/variants", json_body=bad)
        assert refused.status in (400, 422), bad
    stats = await api.get("/api/v1/stats/variants?segment=news")
    assert stats.status == 200 and stats.body["significant"] is False
    assert (await api.post(SEGMENT + "/variants/z/keep")).status == 404
    kept = await api.post(SEGMENT + "/variants/b/keep")
    assert kept.status == 200 and kept.body["kept"] == "b"
    ended = await api.request("PUT", SEGMENT + "/variants", json_body=[])
    assert ended.status == 200 and ended.body == {"items": [], "kept": None}
    assert (await api.get("/api/v1/stats/variants?segment=nope")).status == 404


async def test_logo_and_brand_through_the_api(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
) -> None:
    api = tenant.api
    before = await api.get("/api/v1/workspace")
    assert before.body["logo_url"] is None and before.body["brand_color"] is None
    put = await api.request("PUT", "/api/v1/workspace/logo", data=png(),
                            headers={"Content-Type": "image/png"})  # fmt: skip
    assert put.status == 204
    shown = await api.get("/api/v1/workspace")
    logo_url = shown.body["logo_url"]
    assert logo_url.startswith("https://cal.example.test/brand/acme/logo-")
    async with client.get(logo_url.removeprefix("https://cal.example.test")) as logo:
        assert logo.status == 200 and await logo.read() == png()
    for body, kind, status in ((b"\x89PNG\r\n\x1a\n" + b"\0" * 300_000, "image/png", 413),
                               (SVG, "image/gif", 415), (HOSTILE_SVG["script"], "image/svg+xml", 422),
                               (HOSTILE_SVG["entities"], "image/svg+xml", 422)):  # fmt: skip
        refused = await api.request("PUT", "/api/v1/workspace/logo", data=body,
                                    headers={"Content-Type": kind})  # fmt: skip
        assert refused.status == status and refused.body["detail"], (kind, refused.text)
    assert (await api.get("/api/v1/workspace")).body["logo_url"] == logo_url  # unchanged
    patched = await api.patch("/api/v1/workspace", {"brand_color": "#0D47A1", "footer": " Acme "})
    assert (patched.body["brand_color"], patched.body["footer"]) == ("#0d47a1", "Acme")
    assert (await api.patch("/api/v1/workspace", {"brand_color": "blue"})).status == 422
    assert (await api.delete("/api/v1/workspace/logo")).status == 204
    assert (await api.get("/api/v1/workspace")).body["logo_url"] is None
