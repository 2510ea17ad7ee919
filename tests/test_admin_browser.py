"""The dashboard in a real headless Chromium (Playwright), as a shop owner uses it.

Launch flags, the first-party gate and device profiles come from tests/test_browser.py.
Screenshots of every page go to tests/artifacts/admin-*.png for a person to look at.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient
from playwright.async_api import Page

from tests.conftest import Tenant
from tests.support.admin import PASSWORD, add_user
from tests.support.agents import AGENTS
from tests.support.feeds import poll, read
from tests.support.telemetry import settle
from tests.test_browser import (  # noqa: F401 (browser and visit are fixtures)
    ARTIFACTS,
    DESKTOP,
    IPHONE,
    ZBARIMG,
    OpenVisit,
    _subscribe_with,
    browser,
    visit,
)

PUBLIC = "https://cal.example.test"
PAGES = ("segments", "stats", "subscribers")


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"admin-{name}.png"
    await page.screenshot(path=path, full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


async def sign_in_with_the_keyboard(page: Page, base: str) -> None:
    await page.goto(base + "admin")
    assert urlsplit(page.url).path == "/admin/sign-in"
    await shot(page, "sign-in")
    await page.focus("#f-workspace")
    await page.keyboard.type("acme")
    await page.keyboard.press("Tab")
    await page.keyboard.type("owner@acme.test")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert urlsplit(page.url).path == "/admin/segments"


async def funnel(page: Page, base: str) -> dict[str, str]:
    await page.goto(base + "admin/stats")
    return {
        name: (await page.text_content(f"#n-{name}") or "").strip()
        for name in ("landing_views", "subscribe_clicks", "activated", "active")
    }


async def decode_qr(png: Path) -> str:
    decoded = await asyncio.to_thread(
        subprocess.run, [ZBARIMG, "--quiet", "--raw", str(png)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return decoded.stdout.strip()


async def create_segment_and_event(page: Page, tmp_path: Path) -> str:
    """Through the forms; returns the QR code's link as zbarimg reads it."""
    await page.click("text=New segment")
    await page.fill("#f-name", "Webinars")
    await page.fill("#f-slug", "webinars")
    await page.select_option("#f-timezone", "Europe/Moscow")
    await page.click("button:has-text('Create the segment')")
    await page.wait_for_selector("text=Saved.")
    assert urlsplit(page.url).path == "/admin/segments/webinars"
    await shot(page, "segment")
    async with page.expect_download() as download_info:
        await page.click("#qr-png")
    download = await download_info.value
    assert download.suggested_filename == "webinars-qr.png"
    png = tmp_path / "qr.png"
    await download.save_as(png)

    await page.click("text=New event")
    await page.fill("#f-title", "Monthly webinar")
    await page.fill("#f-start", "2026-03-10 19:00")
    await page.fill("#f-alarms", "P1D, PT15M")
    await page.select_option("#f-repeat", "MONTHLY")
    await page.fill("#f-count", "3")
    await page.click("button:has-text('Save the event')")
    await page.wait_for_selector("text=Saved.")
    await shot(page, "event")
    return await decode_qr(png)


async def test_shop_owner_creates_a_segment_and_sees_a_subscriber_arrive(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    await add_user(client, "acme")
    desktop = await visit({**DESKTOP, "permissions": ["clipboard-read", "clipboard-write"]})
    page = await desktop.page()
    await sign_in_with_the_keyboard(page, desktop.base)
    await shot(page, "segments-empty")
    scanned = await create_segment_and_event(page, tmp_path)
    assert scanned == f"{PUBLIC}/s/acme/webinars?src=qr"
    before = await funnel(page, desktop.base)
    assert before == {
        "landing_views": "0",
        "subscribe_clicks": "0",
        "activated": "0",
        "active": "0",
    }
    feed_url = await subscribe_by_phone(visit, scanned)
    polled = await poll(client, feed_url, {"User-Agent": AGENTS["apple-ios"][0]})
    feed = read(polled)  # the phone's calendar app reads the event made in the form
    assert [e["summary"] for e in feed["events"]] == ["Monthly webinar"]
    assert len(feed["events"][0]["occurrences"]) == 3
    await settle(client)  # the phone's page view and the calendar's poll are written
    after = await funnel(page, desktop.base)
    assert after == {"landing_views": "1", "subscribe_clicks": "1", "activated": "1", "active": "1"}
    assert (
        await page.get_attribute("#funnel g[data-label='Active at the end']", "data-value") == "1"
    )
    await shot(page, "stats")
    await page.goto(desktop.base + "admin/subscribers?status=active")
    row = await page.inner_text("#subscribers tbody tr")
    assert re.search(r"active\s+apple-ios\s+qr\s+webinars\s+Asia/Vladivostok", row), row
    await shot(page, "subscribers")
    desktop.assert_first_party_only()


async def subscribe_by_phone(open_visit: OpenVisit, scanned: str) -> str:
    """A second browser (a phone) opens the scanned link and subscribes; its calendar polls."""
    phone = await open_visit(IPHONE)
    page = await phone.page()
    await page.goto(phone.base + scanned.removeprefix(PUBLIC + "/"))
    feed_url = await _subscribe_with(page, "apple")
    phone.assert_first_party_only()
    return feed_url


async def test_embed_snippet_copies_and_a_forged_post_is_refused(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,  # noqa: F811 (the fixture imported above)
) -> None:
    await add_user(client, "acme")
    await tenant.api.post("/api/v1/segments", {"slug": "news", "name": "News"})
    desktop = await visit({**DESKTOP, "permissions": ["clipboard-read", "clipboard-write"]})
    page = await desktop.page()
    await sign_in_with_the_keyboard(page, desktop.base)
    await page.goto(desktop.base + "admin/segments/news")
    await page.click("button[data-copy=embed]")
    await page.wait_for_selector("#embed-status:has-text('Copied.')")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert copied == await page.input_value("#embed")
    assert copied.startswith(f'<a href="{PUBLIC}/s/acme/news?src=button"')
    # The page's own script posts a form without the token: the session cookie goes with it.
    status = await page.evaluate(
        """async () => (await fetch('/admin/segments/new', {method: 'POST',
             body: new URLSearchParams({slug: 'forged', name: 'Forged'})})).status"""
    )
    assert status == 403
    assert (await tenant.api.get("/api/v1/segments")).body["items"][0]["slug"] == "news"
    assert len((await tenant.api.get("/api/v1/segments")).body["items"]) == 1
    desktop.assert_first_party_only()


async def test_pages_fit_a_phone_and_screenshots_are_kept(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,  # noqa: F811 (the fixture imported above)
) -> None:
    await add_user(client, "acme")
    await tenant.api.post("/api/v1/segments", {"slug": "news", "name": "News"})
    phone = await visit({**IPHONE, "timezone_id": "Europe/Moscow"})
    page = await phone.page()
    await sign_in_with_the_keyboard(page, phone.base)
    for name in (*PAGES, "segments/news", "segments/news/events/new", "segments/news/preview"):
        response = await page.goto(phone.base + "admin/" + name)
        assert response is not None and response.status == 200, name
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (name, width)
        await shot(page, "phone-" + name.replace("/", "-"))
    phone.assert_first_party_only()
