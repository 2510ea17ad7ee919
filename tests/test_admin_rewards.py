"""Dashboard: a segment's reward (shared code, pool from a CSV, the low-pool banner) and its
A/B test (versions, figures, keeping one), on both stores."""

from __future__ import annotations

import re

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.admin import add_user, form_token, post_form, sign_in
from tests.support.feeds import add_event, make_segment
from tests.support.telemetry import settle

BROWSER = {"Accept": "text/html", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}


@pytest.fixture
async def signed_in(client: TestClient, tenant: Tenant) -> Tenant:  # type: ignore[type-arg]
    await make_segment(tenant.api)
    await add_event(tenant.api, "news", title="Sale", start="2026-03-10T10:00:00")
    await add_user(client, "acme")
    assert (await sign_in(client))[0] == 200
    return tenant


async def _landing(client: TestClient) -> str:  # type: ignore[type-arg]
    async with client.get("/s/acme/news", headers=BROWSER) as page:
        return await page.text()


async def _upload(client: TestClient, csv: bytes) -> tuple[int, str]:  # type: ignore[type-arg]
    form = FormData()
    form.add_field("csrf", await form_token(client, "/admin/segments/news/reward"))
    form.add_field("file", csv, filename="codes.csv", content_type="text/csv")
    async with client.post("/admin/segments/news/reward/codes", data=form) as answer:
        return answer.status, await answer.text()


async def test_reward_forms_codes_and_the_low_pool_banner(
    client: TestClient,  # type: ignore[type-arg]
    signed_in: Tenant,
) -> None:
    path = "/admin/segments/news/reward"
    status, _, html = await post_form(client, path, {"mode": "code", "text": "", "code": ""})
    assert status == 422 and "1 to 200 characters" in html and "without spaces" in html
    status, url, _ = await post_form(
        client, path, {"mode": "code", "text": "A gift", "code": "GIFT"}
    )
    assert status == 200 and url == path
    assert "Subscribe and get: A gift" in await _landing(client)

    status, _, _ = await post_form(client, path, {"mode": "pool", "text": "A gift", "code": ""})
    assert status == 200 and "Subscribe and get" not in await _landing(client)  # empty pool
    status, html = await _upload(client, b"code\nX1\nX2\nX2\n")
    assert status == 200 and "2 codes added." in html and "1 duplicate left out: X2" in html
    async with client.get("/admin/segments") as page:  # the banner, on every page
        assert "are running out: 2 codes left." in await page.text()
    assert "Subscribe and get: A gift" in await _landing(client)
    status, html = await _upload(client, b"has space\n")
    assert status == 422 and "without spaces" in html
    status, html = await _upload(client, "\n".join(f"Y{n}" for n in range(20)).encode())
    assert status == 200 and "running out" not in html  # 22 left: no banner
    async with client.get(path) as page:
        html = await page.text()
    assert "22 codes left." in html and "Reward announced" in html

    status, _, _ = await post_form(client, path, {"mode": "none", "text": "", "code": ""})
    assert status == 200 and "Subscribe and get" not in await _landing(client)


async def test_variants_forms_figures_and_keeping_one(
    client: TestClient,  # type: ignore[type-arg]
    signed_in: Tenant,
) -> None:
    path = "/admin/segments/news/variants"
    status, _, html = await post_form(client, path, {"a-headline": "Only one"})
    assert status == 422 and "2 to 4 variants" in html
    fields = {"a-headline": "Sales first", "b-headline": "Never miss a sale", "b-description": "x"}
    status, url, html = await post_form(client, path, fields)
    assert status == 200 and url == path
    seen = set()
    for n in range(40):
        async with client.get(
            "/s/acme/news", headers={**BROWSER, "Cookie": f"cs_visitor=v{n}"}
        ) as page:
            text = await page.text()
        seen.add(re.search(r"<h1>(.*?)</h1>", text).group(1))  # type: ignore[union-attr]
    assert seen == {"Sales first", "Never miss a sale"}
    await settle(client)
    async with client.get(path) as page:
        html = await page.text()
    assert 'id="variant-figures"' in html and "Not enough views" not in html
    status, _, html = await post_form(client, f"{path}/keep", {"key": "b"}, token_from=path)
    assert status == 200 and "every visitor sees version “b”" in html
    for n in range(10):
        async with client.get(
            "/s/acme/news", headers={**BROWSER, "Cookie": f"cs_visitor=v{n}"}
        ) as page:
            assert "<h1>Never miss a sale</h1>" in await page.text()
    status, _, _ = await post_form(client, path, {})  # every version empty: the test ends
    assert status == 200 and "<h1>Shop news</h1>" in await _landing(client)
