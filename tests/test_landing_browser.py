"""The platform-first landing page in a real Chromium, at each device's viewport and
User-Agent: one primary action and "What you will get" inside the first screen, two taps
to the calendar app, the "Other calendar apps" disclosure without JavaScript.

Screenshots of the first screen and of the page after the first tap are kept in
tests/artifacts/ (ignored by git) for a person to look at.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Page

from calserver.appkeys import SESSIONS
from calserver.brand import check_logo
from storage.brand import put_logo
from storage.workspaces import workspace_by_slug
from tests import test_browser
from tests.conftest import Tenant
from tests.support.feeds import add_event, make_segment
from tests.test_brand import png
from tests.test_browser import (
    ARTIFACTS,
    DESKTOP,
    IPHONE,
    PIXEL,
    OpenVisit,
    _feed_events,
    _subscriptions,
    _until,
)

# In the module's event loop, with test_browser's Chromium, server and tenant fixtures.
pytestmark = pytest.mark.asyncio(loop_scope="module")
browser, visit, client, tenant = (
    test_browser.browser,
    test_browser.visit,
    test_browser.client,
    test_browser.tenant,
)
DESCRIPTION = (
    "Weekly tips from the shop, open days and the dates of our seasonal sales, "
    "straight into your calendar."
)
PHONES = [
    pytest.param(IPHONE, "apple", "webcal", id="iphone-390x844"),
    pytest.param(PIXEL, "android", "webcal", id="android-412x915"),
]


async def _landing(tenant: Tenant, visit: OpenVisit, device: dict[str, Any]) -> tuple[Any, Page]:
    await make_segment(tenant.api, timezone="Europe/Moscow", description=DESCRIPTION)
    await add_event(
        tenant.api, "news", title="Weekly tip", start="2026-03-05T10:00:00", local_time=True,
        rrule="FREQ=WEEKLY;COUNT=6", alarms=[{"before": "PT15M"}],
    )  # fmt: skip
    opened = await visit(device)
    page = await opened.page()
    response = await page.goto(opened.base + "s/acme/news?src=sms")
    assert response is not None and response.status == 200
    await page.wait_for_load_state("load")
    return opened, page


async def _inside_first_screen(page: Page, selector: str) -> bool:
    """The element is visible and wholly inside the viewport, without any scrolling."""
    assert await page.evaluate("window.scrollY") == 0
    box = await page.locator(selector).bounding_box()
    size = page.viewport_size
    assert size is not None
    if box is None or not await page.locator(selector).is_visible():
        return False
    return box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


async def _assert_first_screen(page: Page, primary: str) -> None:
    primaries = page.locator("button.primary")
    assert await primaries.count() == 1
    assert await primaries.get_attribute("data-client") == primary
    assert await _inside_first_screen(page, "button.primary")
    assert await _inside_first_screen(page, "section.get h2")
    assert await page.inner_text("section.get h2") == "What you will get"
    # Next events, how often, reminders: the summary line under the heading.
    assert await _inside_first_screen(page, "section.get > p:first-of-type")
    summary = await page.inner_text("section.get > p:first-of-type")
    assert "in the next 30 days" in summary and "15 minutes before" in summary
    # The other ways are folded away: no second button is showing.
    assert await page.locator("details.others").get_attribute("open") is None
    assert not await page.locator("button[data-client]:not(.primary)").first.is_visible()


@pytest.mark.parametrize(("device", "primary", "scheme"), PHONES)
async def test_phone_first_screen_and_two_taps_to_the_calendar_app(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
    device: dict[str, Any],
    primary: str,
    scheme: str,
) -> None:
    opened, page = await _landing(tenant, visit, {**device, "locale": "en-US"})
    name = "iphone" if device is IPHONE else "android"
    await _assert_first_screen(page, primary)
    assert (
        await page.evaluate("document.documentElement.scrollWidth") <= device["viewport"]["width"]
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"landing-first-screen-{name}.png")

    # Tap 1: the primary button subscribes (a POST) and the next page hands the webcal://
    # link to the calendar app by itself. Tap 2 is the app's own "Subscribe".
    async with page.expect_navigation(url="**/subscribed/**", wait_until="commit"):
        await page.tap("button.primary")
    await page.wait_for_selector("#feed-url", state="attached")
    await _until(lambda: bool(opened.handed_off))
    feed_url = await page.input_value("#feed-url")
    assert opened.handed_off == [f"{scheme}://" + feed_url.removeprefix("https://")]
    assert urlsplit(page.url).query == f"via={primary}"
    await page.screenshot(path=ARTIFACTS / f"after-first-tap-{name}.png")
    [(zone, src, client_name)] = await _subscriptions(client)
    assert (zone, src, client_name) == (device["timezone_id"], "sms", primary)
    events = await _feed_events(client, feed_url)
    assert events["Weekly tip"]["occurrences"][0]["alarms_utc"]  # the reminders are there
    opened.assert_first_party_only()


@pytest.mark.parametrize(("device", "primary", "scheme"), PHONES)
async def test_without_javascript_two_taps_still_reach_the_calendar_app(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
    device: dict[str, Any],
    primary: str,
    scheme: str,
) -> None:
    opened, page = await _landing(
        tenant, visit, {**device, "locale": "en-US", "java_script_enabled": False}
    )
    await _assert_first_screen(page, primary)
    async with page.expect_navigation(url="**/subscribed/**"):
        await page.tap("button.primary")  # tap 1
    assert opened.handed_off == []  # nothing opens by itself without the script
    await page.tap("#open")  # tap 2
    await _until(lambda: bool(opened.handed_off))
    feed_url = await page.input_value("#feed-url")
    assert opened.handed_off == [f"{scheme}://" + feed_url.removeprefix("https://")]
    assert len(await _subscriptions(client)) == 1
    opened.assert_first_party_only()


@pytest.mark.parametrize(
    ("device", "name"), [(IPHONE, "iphone"), (PIXEL, "android"), (DESKTOP, "windows")]
)
async def test_the_disclosure_opens_without_javascript(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
    device: dict[str, Any],
    name: str,
) -> None:
    opened, page = await _landing(
        tenant, visit, {**device, "locale": "en-US", "java_script_enabled": False}
    )
    others = page.locator("details.others button[data-client], details.others button[data-account]")
    assert await others.count() == 6  # five more apps and the CalDAV account
    assert not await others.first.is_visible()
    summary = page.locator("details.others > summary")
    assert await summary.inner_text() == "Other calendar apps"
    await (summary.tap() if device.get("has_touch") else summary.click())
    assert await page.locator("details.others").get_attribute("open") == ""
    for index in range(6):
        assert await others.nth(index).is_visible()
    await page.screenshot(path=ARTIFACTS / f"landing-others-open-{name}.png", full_page=True)
    # A way from inside the disclosure subscribes too, still without the script.
    async with page.expect_navigation(url="**/subscribed/**"):
        await page.click('details.others button[data-client="copy"]')
    assert urlsplit(page.url).query == "via=copy"
    [(_, src, client_name)] = await _subscriptions(client)
    assert (src, client_name) == ("sms", "copy")
    opened.assert_first_party_only()


async def test_windows_gets_outlook_first(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
) -> None:
    opened, page = await _landing(tenant, visit, DESKTOP)
    await _assert_first_screen(page, "outlook")
    assert await page.inner_text("button.primary") == "Add to Outlook"
    opened.assert_first_party_only()


async def test_brand_logo_colour_and_footer_in_chromium(
    client: TestClient,  # type: ignore[type-arg]
    tenant: Tenant,
    visit: OpenVisit,
) -> None:
    logo = check_logo(png(), "image/png")
    async with client.app[SESSIONS].begin() as session:
        workspace = await workspace_by_slug(session, "acme")
        await put_logo(session, workspace, logo.content_type, logo.digest, logo.body)
        workspace.brand_color, workspace.footer = "#0d47a1", "Acme LLC, 1 Main St, Moscow"
    opened, page = await _landing(tenant, visit, {**IPHONE, "locale": "en-US"})
    await _assert_first_screen(page, "apple")  # the logo still leaves room for both
    width = await page.eval_on_selector("header.brand img", "img => img.naturalWidth")
    assert width > 0  # the logo loaded, from this server
    background = await page.eval_on_selector(
        "button.primary", "b => getComputedStyle(b).backgroundColor"
    )
    assert background == "rgb(13, 71, 161)"
    assert await page.inner_text("footer.brand-footer") == "Acme LLC, 1 Main St, Moscow"
    await page.screenshot(path=ARTIFACTS / "landing-brand-iphone.png", full_page=True)
    assert any("/brand/acme/logo-" in url for url in opened.requests)
    opened.assert_first_party_only()
