"""A real Chromium speaking Russian (locale ru-RU) meets the Russian landing page, subscribes,
and gets a calendar named and described in Russian; the script's dates keep the server's
format in the visitor's own zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from calserver.appkeys import SESSIONS
from feeds.i18n import texts
from storage.models import Subscription
from tests import test_browser
from tests.conftest import Tenant
from tests.support.feeds import add_event, make_segment, path_of, poll, read
from tests.test_browser import DESKTOP, IPHONE, OpenVisit, _subscribe_with

# The real browser and its first-party-only contexts, as in the subscriber page tests.
pytestmark = pytest.mark.asyncio(loop_scope="module")
browser, visit, client, tenant = (
    test_browser.browser,
    test_browser.visit,
    test_browser.client,
    test_browser.tenant,
)
OPEN_DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 15:00 in Moscow


async def _russian_segment(tenant: Tenant) -> dict[str, Any]:
    segment = await make_segment(
        tenant.api, name="Новости магазина", description="Скидки и дни открытых дверей.",
        timezone="Europe/Moscow",
    )  # fmt: skip
    await add_event(tenant.api, "news", title="День открытых дверей", start="2026-03-10T15:00:00",
                    duration="PT2H", alarms=[{"before": "P1D"}])  # fmt: skip
    return segment


async def test_russian_browser_subscribes_and_gets_a_russian_calendar(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
) -> None:
    segment = await _russian_segment(tenant)
    phone = await visit(IPHONE)  # locale ru-RU, Asia/Vladivostok
    page = await phone.page()
    await page.goto(phone.base + path_of(segment["subscribe_url"]).lstrip("/"))
    assert await page.get_attribute("html", "lang") == "ru"
    assert await page.inner_text("h2") == "Что вы будете получать"
    assert await page.inner_text('button[data-client="apple"]') == "Добавить в Apple Календарь"
    assert await page.inner_text("details.others > summary") == "Другие приложения календаря"
    # The script rewrote the time in the visitor's zone, in the server's own Russian format.
    shown = await page.inner_text("time[data-local]")
    assert shown == texts("ru").datetime(OPEN_DAY, "Asia/Vladivostok") + ", по вашему времени"
    assert shown == "вт, 10 марта, 22:00, по вашему времени"
    phone.assert_first_party_only()

    feed_url = await _subscribe_with(page, "copy")
    assert await page.get_attribute("html", "lang") == "ru"
    assert await page.inner_text("h1") == "Остался один шаг"
    await page.click('button[data-copy="feed-url"]')
    # The label changes once the clipboard has answered (a promise): wait for it.
    await page.wait_for_selector('button[data-copy="feed-url"]:text-is("Скопировано")')
    feed = read(await poll(client, path_of(feed_url)))
    calendar = feed["calendar"]
    assert calendar["x-wr-calname"] == calendar["name"] == "Новости магазина"
    assert calendar["x-wr-caldesc"].startswith("Скидки и дни открытых дверей.")
    assert "Отписаться или изменить настройки:" in calendar["x-wr-caldesc"]
    [event] = feed["events"]
    assert "Отписаться или изменить настройки:" in event["description"]
    async with client.app[SESSIONS]() as session:
        assert list(await session.scalars(select(Subscription.language))) == ["ru"]
    phone.assert_first_party_only()


async def test_the_language_switch_and_an_english_desktop(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
) -> None:
    segment = await _russian_segment(tenant)
    desktop = await visit(DESKTOP)  # locale en-US, America/New_York
    page = await desktop.page()
    await page.goto(desktop.base + path_of(segment["subscribe_url"]).lstrip("/"))
    assert await page.get_attribute("html", "lang") == "en"
    shown = await page.inner_text("time[data-local]")
    assert shown == texts("en").datetime(OPEN_DAY, "America/New_York") + ", your time"
    async with page.expect_navigation():
        await page.click('nav.languages a[hreflang="ru"]')
    assert await page.get_attribute("html", "lang") == "ru"
    await page.goto(desktop.base + path_of(segment["subscribe_url"]).lstrip("/"))
    assert await page.get_attribute("html", "lang") == "ru"  # the switch's cookie stays
    feed_url = await _subscribe_with(page, "copy")
    calendar = read(await poll(client, path_of(feed_url)))["calendar"]
    assert "Отписаться или изменить настройки:" in calendar["x-wr-caldesc"]
    desktop.assert_first_party_only()
