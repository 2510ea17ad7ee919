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

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Page

from tests import test_browser
from tests.conftest import Tenant
from tests.support.admin import PASSWORD, add_user
from tests.support.agents import AGENTS, BROWSERS
from tests.support.feeds import poll, read
from tests.support.telemetry import settle
from tests.test_browser import ARTIFACTS, DESKTOP, IPHONE, ZBARIMG, OpenVisit, _subscribe_with

# In the module's event loop, with test_browser's Chromium, server and tenant fixtures.
pytestmark = pytest.mark.asyncio(loop_scope="module")
browser, visit, client, tenant = (
    test_browser.browser,
    test_browser.visit,
    test_browser.client,
    test_browser.tenant,
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


async def subscribe_from_the_site_then_leave(client: TestClient) -> None:  # type: ignore[type-arg]
    """Two people open the link from the shop's site; one subscribes, polls, unsubscribes."""
    for agent in BROWSERS[:2]:
        async with client.get("/s/acme/webinars?src=site", headers={"User-Agent": agent}):
            pass
    async with client.post("/s/acme/webinars?src=site", data={"client": "google"},
                           allow_redirects=False) as answer:  # fmt: skip
        token = answer.headers["Location"].split("/")[2].split("?")[0]
    await poll(client, f"/f/{token}.ics", {"User-Agent": AGENTS["google"][0]})
    async with client.post(f"/u/{token}") as left:
        assert left.status == 200


async def test_shop_owner_creates_a_segment_and_sees_subscribers_arrive(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
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
    await subscribe_from_the_site_then_leave(client)
    feed_url = await subscribe_by_phone(visit, scanned)
    polled = await poll(client, feed_url, {"User-Agent": AGENTS["apple-ios"][0]})
    feed = read(polled)  # the phone's calendar app reads the event made in the form
    assert [e["summary"] for e in feed["events"]] == ["Monthly webinar"]
    assert len(feed["events"][0]["occurrences"]) == 3
    await settle(client)  # page views and polls are written
    after = await funnel(page, desktop.base)
    assert after == {"landing_views": "3", "subscribe_clicks": "2", "activated": "2", "active": "1"}
    assert (
        await page.get_attribute("#funnel g[data-label='Active at the end']", "data-value") == "1"
    )
    rates = {name: (await page.text_content(f"#r-{name}") or "").strip()
             for name in ("subscribe_conversion", "activation_rate", "unsubscribe_rate", "lapse_rate")}  # fmt: skip
    assert rates == {"subscribe_conversion": "66.7 %", "activation_rate": "100.0 %",
                     "unsubscribe_rate": "50.0 %", "lapse_rate": "0.0 %"}  # fmt: skip
    assert (
        await page.inner_text("#table-src tbody")
        == "qr\t1\t1\t1\t1\t0.0 %\t0.0 %\nsite\t2\t1\t1\t0\t100.0 %\t0.0 %"
    )
    await shot(page, "stats")
    await page.goto(desktop.base + "admin/subscribers?status=active")
    rows = await page.eval_on_selector_all(
        "#subscribers tbody tr", "rows => rows.map(r => r.innerText)"
    )
    assert len(rows) == 1 and re.search(
        r"active\s+apple-ios\s+qr\s+webinars\s+Asia/Vladivostok", rows[0]
    )
    await page.select_option("#f-status", "unsubscribed")
    async with page.expect_navigation():
        await page.click("button:has-text('Filter')")
    assert re.search(r"unsubscribed\s+google\s+site", await page.inner_text("#subscribers tbody"))
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
    visit: OpenVisit,
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
        """async () => (await fetch('/admin/new-segment', {method: 'POST',
             body: new URLSearchParams({slug: 'forged', name: 'Forged'})})).status"""
    )
    assert status == 403
    assert (await tenant.api.get("/api/v1/segments")).body["items"][0]["slug"] == "news"
    assert len((await tenant.api.get("/api/v1/segments")).body["items"]) == 1
    desktop.assert_first_party_only()


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name || e.id)"""
EVERY_PAGE = ("segments", "segments/news", "segments/news/events/new", "segments/news/preview",
              "import", "stats", "subscribers", "triggers", "triggers/{trigger}", "cascade",
              "channels", "webhooks", "access", "settings")  # fmt: skip


async def _seed_pages(tenant: Tenant) -> int:
    """A segment, an event, a trigger and a webhook, so that no page is empty."""
    api = tenant.api
    assert (await api.post("/api/v1/segments", {"slug": "news", "name": "News"})).status == 201
    await api.post(
        "/api/v1/segments/news/events", {"title": "Sale", "start": "2026-03-06T10:00:00"}
    )
    await api.post(
        "/api/v1/webhooks", {"url": "https://8.8.8.8/hook", "events": ["trigger.delivered"]}
    )
    trigger = await api.post("/api/v1/triggers", {
        "external_id": "client-7", "idempotency_key": "visit-1", "create_contact": True,
        "event": {"title": "Dentist visit", "start": "2026-03-05T10:00:00"}})  # fmt: skip
    return int(trigger.body["id"])


async def test_every_page_is_labelled_fits_a_phone_and_is_kept_as_screenshots(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
) -> None:
    await add_user(client, "acme")
    trigger = await _seed_pages(tenant)
    for device, profile, width in (("desktop", DESKTOP, 1280), ("phone", IPHONE, 390)):
        browser_context = await visit(profile)
        page = await browser_context.page()
        await sign_in_with_the_keyboard(page, browser_context.base)
        for name in EVERY_PAGE:
            path = name.format(trigger=trigger)
            response = await page.goto(browser_context.base + "admin/" + path)
            assert response is not None and response.status == 200, path
            assert await page.evaluate(UNLABELLED) == [], path
            assert await page.evaluate("document.documentElement.scrollWidth") <= width, path
            assert await page.get_attribute("meta[name=viewport]", "content"), path
            await shot(page, f"{device}-{path.replace('/', '-')}")
        # Keyboard: the first Tab reaches the skip link, drawn with a visible focus ring.
        await page.goto(browser_context.base + "admin/stats")
        await page.keyboard.press("Tab")
        ring = await page.evaluate(
            "(() => { const s = getComputedStyle(document.activeElement);"
            " return [document.activeElement.className, s.outlineStyle, s.outlineWidth]; })()"
        )
        assert ring == ["skip", "solid", "3px"], ring
        browser_context.assert_first_party_only()


async def test_import_a_file_through_the_page(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
    tmp_path: Path,
) -> None:
    await add_user(client, "acme")
    await tenant.api.post("/api/v1/segments", {"slug": "news", "name": "News"})
    csv_file = tmp_path / "events.csv"
    csv_file.write_text("title,start,alarms\nSale,2026-03-06T10:00:00,PT1H\nBroken,tomorrow,\n")
    desktop = await visit(DESKTOP)
    page = await desktop.page()
    await sign_in_with_the_keyboard(page, desktop.base)
    await page.goto(desktop.base + "admin/import?segment=news")
    await page.set_input_files("#f-file", str(csv_file))
    await page.check("#m-valid")
    await page.click("button:has-text('Check and import')")
    result = await page.inner_text("#import-result")
    assert "2 events read, 1 with errors." in result and "1 imported" in result
    assert "start: use an ISO 8601 date or date-time" in await page.inner_text(
        "#import-rows tr.bad"
    )
    await shot(page, "import-report")
    events = (await tenant.api.get("/api/v1/segments/news/events")).body["items"]
    assert [e["title"] for e in events] == ["Sale"]
    desktop.assert_first_party_only()
