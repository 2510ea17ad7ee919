"""The Cascade and Channels pages in a real headless Chromium, with a real SMS gateway on
127.0.0.1: the shop owner sets the policy in the form, triggers arrive through the API, the
worker runs, and the cost chart changes. Screenshots go to tests/artifacts/admin-*.png."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page

from tests.conftest import Tenant
from tests.support.admin import add_user
from tests.support.agents import AGENTS
from tests.support.cascade import push, states, tick
from tests.support.feeds import poll
from tests.support.peers import SmsGateway
from tests.support.telemetry import settle
from tests.test_admin_browser import shot, sign_in_with_the_keyboard
from tests.test_admin_cascade import (  # noqa: F401 (client, gateway and tables are fixtures)
    PERIOD,
    client,
    contacts,
    gateway,
    tables,
)
from tests.test_browser import DESKTOP, OpenVisit, chromium, visits
from tests.test_triggers import bound_subscription


# Its own Chromium, in this test's event loop: the cascade tests' server and peers live there.
@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def visit(browser: Browser, client: TestClient) -> AsyncIterator[OpenVisit]:  # type: ignore[type-arg]  # noqa: F811
    async with visits(browser, client) as open_context:
        yield open_context


FIGURES = ("triggers", "delivered_by_calendar", "cost_total", "all_sms_cost", "saving")


async def cascade_figures(page: Page, base: str) -> dict[str, str]:
    """What the Cascade page shows: the SMS bars' values and labels, and the figures."""
    await page.goto(f"{base}admin/cascade?{PERIOD}")
    shown = {name: (await page.text_content(f"#c-{name}") or "").strip() for name in FIGURES}
    for chart in ("messages", "cost"):
        bar = f"#{chart} g[data-label='sms']"
        shown[f"{chart}_bar"] = await page.get_attribute(bar, "data-value") or ""
        shown[f"{chart}_text"] = await page.text_content(f"{bar} text:last-of-type") or ""
    shown["saving_text"] = (await page.text_content("#saving-text") or "").strip()
    return shown


async def set_policy_in_the_form(page: Page, base: str) -> None:
    await page.goto(base + "admin/channels")
    await page.select_option("#f-step-0-channel", "calendar")
    await page.select_option("#f-step-1-channel", "sms")
    await page.fill("#f-step-1-wait", "900")
    await page.click("button:has-text('Save the policy')")
    await page.wait_for_selector("text=Policy saved.")
    await shot(page, "channels")


async def test_policy_set_in_the_browser_moves_the_cost_chart(
    client: TestClient,  # type: ignore[type-arg]  # noqa: F811
    tenant: Tenant,
    gateway: SmsGateway,  # noqa: F811
    visit: OpenVisit,
) -> None:
    api = tenant.api
    await add_user(client, "acme")
    await contacts(api)  # c-1 will subscribe; c-2 has only a phone
    desktop = await visit(DESKTOP)
    page = await desktop.page()
    await sign_in_with_the_keyboard(page, desktop.base)
    before = await cascade_figures(page, desktop.base)
    assert before == {
        "triggers": "0", "delivered_by_calendar": "0", "cost_total": "0.00 RUB",
        "all_sms_cost": "0.00 RUB", "saving": "0.00 RUB", "messages_bar": "0",
        "messages_text": "0", "cost_bar": "0", "cost_text": "0.00 RUB",
        "saving_text": "The cascade cost 0.00 RUB; sending each of the 0 triggers by SMS at "
                       "2.40 RUB would have cost 0.00 RUB. Saving: 0.00 RUB.",
    }  # fmt: skip
    await set_policy_in_the_form(page, desktop.base)
    policy = (await api.get("/api/v1/cascade")).body["policy"]
    assert [(s["channel"], s["wait_seconds"]) for s in policy["steps"]] == [
        ("calendar", 0), ("sms", 900)]  # fmt: skip

    feed = await bound_subscription(client, api, "c-1")
    by_calendar, by_sms = await push(api, "o-1", "c-1"), await push(api, "o-2", "c-2")
    await tick(client)
    await poll(client, feed["feed_url"], headers={"User-Agent": AGENTS["apple-ios"][0]})
    await settle(client)
    await tick(client)
    assert (await states(api, by_calendar))["calendar"] == "delivered:receipt"
    assert (await states(api, by_sms))["sms"] == "sent:" and sum(gateway.sent.values()) == 1

    after = await cascade_figures(page, desktop.base)
    assert after == {
        "triggers": "2", "delivered_by_calendar": "1", "cost_total": "2.40 RUB",
        "all_sms_cost": "4.80 RUB", "saving": "2.40 RUB", "messages_bar": "1",
        "messages_text": "1", "cost_bar": "2.4", "cost_text": "2.40 RUB",
        "saving_text": "The cascade cost 2.40 RUB; sending each of the 2 triggers by SMS at "
                       "2.40 RUB would have cost 4.80 RUB. Saving: 2.40 RUB.",
    }  # fmt: skip
    assert (
        await page.get_attribute("#saving g[data-label='Every trigger by SMS']", "data-value")
        == "4.8"
    )
    await shot(page, "cascade")

    await page.goto(f"{desktop.base}admin/triggers/{by_sms}")
    steps = await page.eval_on_selector_all(
        "#cascade-steps tbody tr", "rows => rows.map(r => r.innerText.split('\\t').slice(0, 5))"
    )
    assert steps == [["calendar", "skipped", "no_subscription", "0.00", "0.00"],
                     ["sms", "sent", "—", "2.40", "2.40"]]  # fmt: skip
    await shot(page, "trigger-cascade")
    desktop.assert_first_party_only()
