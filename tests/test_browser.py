"""The subscriber's pages in a real headless Chromium (Playwright), as phones and desktops see them.

Every request that does not go to the test server is aborted, and each test asserts that
the pages asked for nothing from another host. Links the server builds point to its
public_url (https://cal.example.test); the tests fetch their paths from the test server.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright
from sqlalchemy import select

from calserver.appkeys import SESSIONS
from calserver.clock import FrozenClock
from calserver.config import Config
from storage.models import Subscription
from tests.conftest import Tenant, _tenant
from tests.support.feeds import add_event, make_segment, path_of, poll, read
from web.app import create_app

# One Chromium for all the tests of a module (starting Playwright's driver and Chromium took
# about a second a test): they run in the module's event loop, and so do the fixtures that
# hold that loop's objects — the browser, the test server (client) and the tenant's API
# client. Each test still gets its own server, database and browser contexts. The modules
# that import these fixtures do the same (pytestmark).
pytestmark = pytest.mark.asyncio(loop_scope="module")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ZBARIMG = "/usr/bin/zbarimg"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"
)
PIXEL_UA = (
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36"
)
DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36"
)
IPHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": IPHONE_UA,
    "timezone_id": "Asia/Vladivostok",
    "locale": "ru-RU",
}
PIXEL: dict[str, Any] = {
    "viewport": {"width": 412, "height": 915},
    "device_scale_factor": 2.625,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": PIXEL_UA,
    "timezone_id": "Europe/Berlin",
    "locale": "de-DE",
}
DESKTOP: dict[str, Any] = {
    "viewport": {"width": 1280, "height": 800},
    "user_agent": DESKTOP_UA,
    "timezone_id": "America/New_York",
    "locale": "en-US",
}

# 10:00 local on 2026-03-05, in the subscriber's zone for a local-time event.
TIP_IN_VLADIVOSTOK = "2026-03-05T00:00:00Z"
TIP_IN_MOSCOW = "2026-03-05T07:00:00Z"
# A fixed-zone event (Europe/Moscow) is the same instant for every subscriber.
OPEN_DAY = "2026-03-10T12:00:00Z"


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest_asyncio.fixture(loop_scope="module")
async def client(config: Config, clock: FrozenClock) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    """conftest's client, in the module's event loop."""
    async with TestClient(TestServer(create_app(config, clock=clock))) as test_client:
        yield test_client


@pytest_asyncio.fixture(loop_scope="module")
async def tenant(client: TestClient) -> Tenant:  # type: ignore[type-arg]
    """conftest's tenant, in the module's event loop."""
    return await _tenant(client, "acme")


@dataclass
class Visit:
    """A browser context that may only reach the test server, and what it asked for."""

    context: BrowserContext
    base: str
    requests: list[str] = field(default_factory=list)  # http(s) requests, all hosts
    blocked: list[str] = field(default_factory=list)  # aborted by the route: other hosts
    handed_off: list[str] = field(default_factory=list)  # webcal: and other app schemes

    def record(self, url: str) -> None:
        if url.startswith(("http://", "https://")):
            self.requests.append(url)
        else:
            self.handed_off.append(url)

    async def page(self) -> Page:
        return await self.context.new_page()

    def assert_first_party_only(self) -> None:
        assert self.requests, "the page made no requests at all"
        assert self.blocked == [], f"requests to other hosts: {self.blocked}"
        others = [url for url in self.requests if not url.startswith(self.base)]
        assert others == [], f"requests to other hosts: {others}"


OpenVisit = Callable[[dict[str, Any]], Awaitable[Visit]]


@pytest_asyncio.fixture(loop_scope="module")
async def visit(
    browser: Browser,
    client: TestClient,  # type: ignore[type-arg]
) -> AsyncIterator[OpenVisit]:
    async with visits(browser, client) as open_context:
        yield open_context


@asynccontextmanager
async def visits(
    browser: Browser,
    client: TestClient,  # type: ignore[type-arg]
) -> AsyncIterator[OpenVisit]:
    """Opens browser contexts that may only reach ``client``'s server; closes them after."""
    base = str(client.make_url("/"))
    opened: list[BrowserContext] = []

    async def open_context(options: dict[str, Any]) -> Visit:
        context = await browser.new_context(**options)
        opened.append(context)
        visit = Visit(context, base)

        async def gate(route: Route) -> None:
            url = route.request.url
            if url.startswith(base):
                await route.continue_()
            else:
                visit.blocked.append(url)
                await route.abort()

        context.on("request", lambda request: visit.record(request.url))
        await context.route("**/*", gate)
        return visit

    try:
        yield open_context
    finally:
        for context in opened:
            await context.close()


async def _segment(tenant: Tenant) -> dict[str, Any]:
    segment = await make_segment(tenant.api, timezone="Europe/Moscow")
    await add_event(
        tenant.api, "news", title="Weekly tip", start="2026-03-05T10:00:00", local_time=True,
        rrule="FREQ=WEEKLY;COUNT=6", alarms=[{"before": "PT15M"}],
    )  # fmt: skip
    await add_event(
        tenant.api, "news", title="Open day", start="2026-03-10T15:00:00", duration="PT2H",
        alarms=[{"before": "P1D"}],
    )  # fmt: skip
    return segment


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting for the browser")


async def _until_evaluated(page: Page, expression: str, seconds: float = 5.0) -> None:
    """Polls ``expression`` with ``page.evaluate``. ``wait_for_function`` compiles its
    predicate inside the page when the first check is false, and the pages' CSP (no
    'unsafe-eval') refuses that: the test failed whenever subscribe.js was a moment late."""
    for _ in range(int(seconds / 0.02)):
        if await page.evaluate(expression):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for the browser: {expression}")


async def _buttons(page: Page) -> list[dict[str, str]]:
    result: list[dict[str, str]] = await page.eval_on_selector_all(
        "form button[data-client]",
        "els => els.map(b => ({client: b.dataset.client, cls: b.className, label: b.textContent}))",
    )
    return result


async def _tz_values(page: Page) -> list[str]:
    result: list[str] = await page.eval_on_selector_all("input.tz", "els => els.map(i => i.value)")
    return result


async def _subscribe_with(page: Page, client_name: str) -> str:
    """Click a landing-page button; return the feed URL the subscribed page shows."""
    # For apple (and android) the page opens its webcal:// link at once. Headless Chromium
    # cannot open that scheme, and the page then never reports "domcontentloaded" or
    # "load" to Playwright: wait for the response to commit and for the field itself.
    button = page.locator(f'button[data-client="{client_name}"]')
    if not await button.is_visible():  # behind "Other calendar apps"
        await page.click("details.others > summary")
    async with page.expect_navigation(url="**/subscribed/**", wait_until="commit"):
        await button.click()
    await page.wait_for_selector("#feed-url", state="attached")
    assert urlsplit(page.url).path.startswith("/subscribed/")
    assert f"via={client_name}" in page.url
    feed_url: str = await page.input_value("#feed-url")
    return feed_url


async def _feed_events(
    client: TestClient,  # type: ignore[type-arg]
    feed_url: str,
) -> dict[str, dict[str, Any]]:
    assert feed_url.startswith("https://cal.example.test/f/"), feed_url
    assert len(feed_url) < 200, feed_url
    feed = read(await poll(client, path_of(feed_url)))
    return {event["summary"]: event for event in feed["events"]}


async def _subscriptions(
    client: TestClient,  # type: ignore[type-arg]
) -> list[tuple[str, str, str]]:
    """(time zone, src, client) of every subscription, as the server stored them."""
    async with client.app[SESSIONS]() as session:
        rows = await session.execute(
            select(Subscription.timezone, Subscription.src, Subscription.client).order_by(
                Subscription.id
            )
        )
        return [tuple(row) for row in rows]


def _assert_zone(events: dict[str, dict[str, Any]], tip_start: str) -> None:
    tip = events["Weekly tip"]["occurrences"]
    assert len(tip) == 6
    assert tip[0]["start_utc"] == tip_start
    # The 15-minute reminder moves with the event.
    start = datetime.fromisoformat(tip_start)
    alarm = (start - timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tip[0]["alarms_utc"] == [alarm]
    assert events["Open day"]["occurrences"][0]["start_utc"] == OPEN_DAY


async def test_iphone_landing_and_subscribe(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
) -> None:
    segment = await _segment(tenant)
    phone = await visit(IPHONE)
    page = await phone.page()
    response = await page.goto(phone.base + path_of(segment["subscribe_url"]).lstrip("/"))
    assert response is not None and response.status == 200
    await page.wait_for_load_state("load")

    buttons = await _buttons(page)
    assert buttons[0]["client"] == "apple"
    assert "primary" in buttons[0]["cls"].split()
    assert sorted(b["client"] for b in buttons) == sorted(
        ["apple", "google", "outlook", "office365", "android", "copy"]
    )
    assert all("primary" not in b["cls"].split() for b in buttons[1:])
    # Every form gets the zone: the buttons and the "Add as CalDAV account" form.
    assert await _tz_values(page) == ["Asia/Vladivostok"] * (len(buttons) + 1)
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, scroll_width
    # "Open day" is 15:00 in Moscow: the script shows it at 22:00, the visitor's own time.
    assert "22:00" in await page.inner_text("time[data-local]")
    phone.assert_first_party_only()

    feed_url = await _subscribe_with(page, "copy")
    assert await _subscriptions(client) == [("Asia/Vladivostok", "", "copy")]
    events = await _feed_events(client, feed_url)
    _assert_zone(events, TIP_IN_VLADIVOSTOK)
    phone.assert_first_party_only()


async def test_android_sees_icsx5_first(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
) -> None:
    segment = await _segment(tenant)
    android = await visit(PIXEL)
    page = await android.page()
    response = await page.goto(android.base + path_of(segment["subscribe_url"]).lstrip("/"))
    assert response is not None and response.status == 200
    buttons = await _buttons(page)
    assert buttons[0]["client"] == "android" and "primary" in buttons[0]["cls"].split()
    assert await _tz_values(page) == ["Europe/Berlin"] * (len(buttons) + 1)  # + CalDAV form
    assert await page.evaluate("document.documentElement.scrollWidth") <= 412
    android.assert_first_party_only()


async def test_desktop_without_javascript_falls_back_to_the_segment_zone(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
) -> None:
    segment = await _segment(tenant)
    desktop = await visit({**DESKTOP, "java_script_enabled": False})
    page = await desktop.page()
    response = await page.goto(desktop.base + path_of(segment["subscribe_url"]).lstrip("/"))
    assert response is not None and response.status == 200
    buttons = await _buttons(page)
    assert buttons[0]["client"] == "outlook"  # Windows
    assert await _tz_values(page) == [""] * (len(buttons) + 1)  # nothing filled them in
    feed_url = await _subscribe_with(page, "google")
    assert await _subscriptions(client) == [("Europe/Moscow", "", "google")]
    events = await _feed_events(client, feed_url)
    _assert_zone(events, TIP_IN_MOSCOW)
    desktop.assert_first_party_only()


async def test_qr_code_scanned_by_a_phone(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
    tmp_path: Path,
) -> None:
    segment = await _segment(tenant)
    assert segment["qr_png_url"].startswith("https://cal.example.test/")
    async with client.get(path_of(segment["qr_png_url"])) as r:
        assert r.status == 200 and r.content_type == "image/png"
        png = await r.read()
    image = tmp_path / "qr.png"
    image.write_bytes(png)
    decoded = await asyncio.to_thread(
        subprocess.run,
        [ZBARIMG, "--quiet", "--raw", str(image)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    scanned = decoded.stdout.strip()
    assert scanned == segment["subscribe_url"] + "?src=qr"

    phone = await visit(IPHONE)
    page = await phone.page()
    response = await page.goto(phone.base + path_of(scanned).lstrip("/"))
    assert response is not None and response.status == 200
    assert (
        await page.eval_on_selector_all("input[name=src]", "els => els.map(i => i.value)")
        == ["qr"] * 7  # six buttons and the CalDAV account form
    )
    assert await _tz_values(page) == ["Asia/Vladivostok"] * 7
    feed_url = await _subscribe_with(page, "apple")
    webcal = "webcal://" + feed_url.removeprefix("https://")
    assert await page.get_attribute("[data-autoopen]", "href") == webcal
    # subscribe.js opened the webcal:// link by itself, once (Calendar's subscribe sheet).
    await _until_evaluated(page, "sessionStorage.length > 0")
    await _until(lambda: bool(phone.handed_off))
    assert phone.handed_off == [webcal]
    assert urlsplit(page.url).path.startswith("/subscribed/")
    assert await _subscriptions(client) == [("Asia/Vladivostok", "qr", "apple")]
    events = await _feed_events(client, feed_url)
    _assert_zone(events, TIP_IN_VLADIVOSTOK)
    phone.assert_first_party_only()


async def test_screenshots_for_review(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
) -> None:
    """Saves tests/artifacts/{landing,subscribed}-iphone.png for a human to look at."""
    segment = await _segment(tenant)
    ARTIFACTS.mkdir(exist_ok=True)
    landing_png, subscribed_png = (
        ARTIFACTS / "landing-iphone.png",
        ARTIFACTS / "subscribed-iphone.png",
    )
    phone = await visit(IPHONE)
    page = await phone.page()
    await page.goto(phone.base + path_of(segment["subscribe_url"]).lstrip("/") + "?src=sms")
    await page.screenshot(path=landing_png, full_page=True)
    await _subscribe_with(page, "apple")
    await page.screenshot(path=subscribed_png, full_page=True)
    for png in (landing_png, subscribed_png):
        assert png.is_file() and png.stat().st_size > 0
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    phone.assert_first_party_only()
