"""Dashboard Cascade and Channels pages against a real SMS gateway on 127.0.0.1 (both
stores): the API's figures drawn, the policy form refusing what the API refuses."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from calserver.clock import FrozenClock
from calserver.config import Config
from tests.conftest import START, Tenant
from tests.support.admin import add_user, post_form, sign_in
from tests.support.agents import AGENTS
from tests.support.cascade import push, states, tick, write_channels
from tests.support.feeds import add_event, make_segment, poll
from tests.support.openapi import ApiClient
from tests.support.peers import SmsGateway
from tests.support.telemetry import settle
from tests.test_admin_pages import field_errors, typed_value
from tests.test_triggers import bound_subscription
from web.app import create_app

PERIOD = "from=2026-03-01&to=2026-03-31"
CALENDAR_THEN_SMS = {"step-0-channel": "calendar", "step-1-channel": "sms", "quiet_hours": "on"}


@pytest.fixture
async def gateway() -> AsyncIterator[SmsGateway]:
    sms = SmsGateway()
    await sms.start()
    yield sms
    await sms.stop()


@pytest.fixture
def tables(gateway: SmsGateway) -> dict[str, Any]:
    """The channels file's tables; a test parametrizes it to {} for a server without any."""
    return {"sms": gateway.settings()}


@pytest.fixture
async def client(
    aiohttp_client: Any, config: Config, clock: FrozenClock, tables: dict[str, Any], tmp_path: Path
) -> TestClient:  # type: ignore[type-arg]
    path = write_channels(tmp_path / "channels.toml", tables)
    settings = config.replace(channels_file=str(path), cascade_worker=False)
    return await aiohttp_client(create_app(settings, clock=clock))


@pytest.fixture
async def admin(client: TestClient, tenant: Tenant) -> TestClient:  # type: ignore[type-arg]
    await add_user(client, "acme")
    assert (await sign_in(client))[0] == 200
    return client


def figures(page: str) -> dict[str, str]:
    """The Cascade page's figures table, by id (c-triggers, c-saving…)."""
    return {
        k: html.unescape(v)
        for k, v in re.findall(r'<td class="num" id="c-(\w+)">([^<]*)</td>', page)
    }


def bars(page: str, chart_id: str) -> dict[str, str]:
    """One SVG bar chart's bars: label → value."""
    svg = re.search(rf'<svg id="{chart_id}".*?</svg>', page, re.S)
    assert svg, chart_id
    return dict(re.findall(r'data-label="([^"]*)" data-value="([^"]*)"', svg.group(0)))


async def contacts(api: ApiClient) -> None:
    """c-1 subscribes through the CRM's link; c-2 has a phone and no subscription."""
    await make_segment(api, timezone="Europe/Berlin")
    await add_event(api, "news", title="Newsletter", start="2026-03-10T10:00:00")
    for external_id, phone in (("c-1", "+4915100000001"), ("c-2", "+4915100000002")):
        body = {"phone": phone, "timezone": "Europe/Berlin"}
        answer = await api.request("PUT", f"/api/v1/contacts/{external_id}", json_body=body)
        assert answer.status == 201, answer.text


async def get(client: TestClient, path: str) -> str:  # type: ignore[type-arg]
    async with client.get(path) as response:
        assert response.status == 200, path
        return await response.text()


async def test_cascade_page_draws_the_reports_figures(
    admin: TestClient,
    api: ApiClient,
    gateway: SmsGateway,  # type: ignore[type-arg]
) -> None:
    await contacts(api)
    before = await get(admin, f"/admin/cascade?{PERIOD}")
    assert bars(before, "messages") == {"sms": "0"} and bars(before, "cost") == {"sms": "0"}
    assert figures(before)["triggers"] == "0" and figures(before)["cost_total"] == "0.00 RUB"
    assert (await post_form(admin, "/admin/channels", CALENDAR_THEN_SMS))[0] == 200
    feed = await bound_subscription(admin, api, "c-1")
    by_calendar, by_sms = await push(api, "o-1", "c-1"), await push(api, "o-2", "c-2")
    await tick(admin)
    await poll(admin, feed["feed_url"], headers={"User-Agent": AGENTS["apple-ios"][0]})
    await settle(admin)  # the receipt nudges the cascade
    await tick(admin)
    assert await states(api, by_calendar) == {
        "calendar": "delivered:receipt", "sms": "skipped:delivered_by_calendar"}  # fmt: skip
    assert (await states(api, by_sms))["sms"] == "sent:" and sum(gateway.sent.values()) == 1

    page = await get(admin, f"/admin/cascade?{PERIOD}")
    report = (await api.get(f"/api/v1/reports/cascade?{PERIOD}")).body
    shown = figures(page)
    assert shown == {
        "triggers": "2", "with_cascade": "2", "delivered_by_calendar": "1",
        "reached_by_channel": "0", "unreached": "1",
        "cost_total": "2.40 RUB", "all_sms_cost": "4.80 RUB", "saving": "2.40 RUB"}  # fmt: skip
    for name in ("triggers", "with_cascade", "delivered_by_calendar", "unreached"):
        assert shown[name] == str(report[name])  # the API's computation, not another one
    assert (report["cost_total"], report["all_sms_cost"], report["saving"]) == (2.4, 4.8, 2.4)
    assert bars(page, "messages") == {"sms": "1"} and bars(page, "cost") == {"sms": "2.4"}
    assert bars(page, "saving") == {"Every trigger by SMS": "4.8", "With the cascade": "2.4"}
    assert "Saving: 2.40 RUB." in html.unescape(page)
    assert "2 triggers by SMS at 2.40 RUB would have cost 4.80 RUB" in html.unescape(page)
    # A period without these triggers shows none of them.
    later = figures(await get(admin, "/admin/cascade?from=2026-04-01&to=2026-04-30"))
    assert later["triggers"] == "0" and later["cost_total"] == "0.00 RUB"


async def test_cascade_page_refuses_a_bad_period(admin: TestClient) -> None:  # type: ignore[type-arg]
    async with admin.get("/admin/cascade?from=2026-03-31&to=2026-03-01") as response:
        assert response.status == 400
        assert field_errors(await response.text(), "from") == ["from must not be after to"]


@pytest.mark.parametrize("tables", [{}])
async def test_without_channels_or_policy_the_pages_say_so(admin: TestClient) -> None:  # type: ignore[type-arg]
    page = await get(admin, "/admin/cascade")
    assert 'id="cascade-empty"' in page and "<svg" not in page
    channels = await get(admin, "/admin/channels")
    assert 'id="no-channels"' in channels
    options = re.findall(r"<option value=\"(\w+)\"(?: selected)?>[^<]*</option>", channels)
    assert set(options) - {"defer", "drop"} == {"calendar"}  # only the calendar can be chosen


async def test_channels_are_listed_with_their_report_url_and_no_credentials(
    admin: TestClient,
    api: ApiClient,
    gateway: SmsGateway,  # type: ignore[type-arg]
) -> None:
    page = await get(admin, "/admin/channels")
    listed = (await api.get("/api/v1/cascade")).body["channels"]
    assert [c["name"] for c in listed] == ["sms"]
    row = re.search(r'<tr><th scope="row">sms</th>(.*?)</tr>', page, re.S)
    assert row and "sms_http" in row.group(1) and "2.40 RUB" in row.group(1)
    assert f'value="{listed[0]["report_url"]}"' in row.group(1)
    assert gateway.url("/send") not in page and "/status/" not in page  # the settings stay hidden


async def test_policy_form_saves_what_the_api_reads(admin: TestClient, api: ApiClient) -> None:  # type: ignore[type-arg]
    fields = {"step-0-channel": "calendar", "step-2-channel": "sms", "step-2-price": "1.90",
              "step-2-wait": "600", "cap_max": "3", "cap_period": "86400", "cap_action": "drop"}  # fmt: skip
    status, path, page = await post_form(admin, "/admin/channels", fields)
    assert (status, path) == (200, "/admin/channels") and "Policy saved." in page
    policy = (await api.get("/api/v1/cascade")).body["policy"]
    assert policy == {
        "steps": [{"channel": "calendar", "price": "0.0000", "wait_seconds": 0},
                  {"channel": "sms", "price": "1.9000", "wait_seconds": 600}],
        "quiet_hours": False,
        "frequency_cap": {"max": 3, "period_seconds": 86400, "action": "drop"}}  # fmt: skip
    # The saved policy comes back in the form, blank row closed up.
    assert (typed_value(page, "step-1-price"), typed_value(page, "step-1-wait")) == ("1.90", "600")
    assert (
        '<option value="sms" selected>sms</option>' in page and typed_value(page, "cap_max") == "3"
    )
    status, _, page = await post_form(
        admin, "/admin/channels/remove", {}, token_from="/admin/channels"
    )
    assert status == 200 and "Policy removed" in page
    assert (await api.get("/api/v1/cascade")).body["policy"] is None


BAD = [
    ({"step-1-channel": "fax"}, "step-1-channel", "unknown channel 'fax'; configured: calendar, sms"),
    ({"step-1-price": "cheap"}, "step-1-price", "must be a number of at least 0"),
    ({"step-1-wait": "forever"}, "step-1-wait", "must be a whole number from 0 to 604800"),
    ({"step-1-wait": "-5"}, "step-1-wait", "must be a whole number from 0 to 604800"),
    ({"step-1-channel": "calendar"}, "step-1-channel", "each channel may appear once"),
    ({"step-0-channel": "", "step-1-channel": ""}, "steps", "must have at least 1 item"),
    ({"step-1-channel": "", "step-2-channel": "sms", "step-2-price": "x"}, "step-2-price",
     "must be a number of at least 0"),
    ({"step-1-channel": "", "step-1-price": "2"}, "step-1-channel", "unknown channel ''"),
    ({"cap_max": "0", "cap_period": "3600"}, "cap_max", "must be a whole number from 1 to 1000"),
    ({"cap_max": "3", "cap_period": "10"}, "cap_period", "must be a whole number from 60 to 2678400"),
    ({"cap_max": "3"}, "cap_period", "is required"),
    ({"cap_max": "3", "cap_period": "3600", "cap_action": "ignore"}, "cap_action",
     'must be "defer" or "drop"'),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "message"), BAD)
async def test_policy_form_shows_the_error_next_to_the_field(
    admin: TestClient,
    api: ApiClient,
    change: dict[str, str],
    field: str,
    message: str,  # type: ignore[type-arg]
) -> None:
    assert (await post_form(admin, "/admin/channels", CALENDAR_THEN_SMS))[0] == 200
    saved = (await api.get("/api/v1/cascade")).body["policy"]
    form = {**CALENDAR_THEN_SMS, **change}
    status, _, page = await post_form(admin, "/admin/channels", form)
    assert status == 422
    errors = field_errors(page, field)
    assert errors and message in " ".join(errors), (field, errors, page[-3000:])
    for name, value in form.items():
        if not name.endswith("-channel") and name not in ("quiet_hours", "cap_action"):
            assert typed_value(page, name) == value, name  # what was typed is kept
    assert (await api.get("/api/v1/cascade")).body["policy"] == saved  # nothing half-written


async def test_policy_form_without_the_csrf_token_is_refused(
    admin: TestClient,
    api: ApiClient,  # type: ignore[type-arg]
) -> None:
    async with admin.post("/admin/channels", data=CALENDAR_THEN_SMS) as response:
        assert response.status == 403
    assert (await api.get("/api/v1/cascade")).body["policy"] is None


async def test_trigger_page_shows_its_cascade_steps(
    admin: TestClient,
    api: ApiClient,  # type: ignore[type-arg]
) -> None:
    await contacts(api)
    assert (await post_form(admin, "/admin/channels", CALENDAR_THEN_SMS))[0] == 200
    trigger = await push(api, "o-2", "c-2")
    page = await get(admin, f"/admin/triggers/{trigger}")
    assert 'id="no-cascade"' in page  # the worker plans the steps when it picks the trigger up
    await tick(admin)
    table = re.search(
        r'id="cascade-steps".*?</table>', await get(admin, f"/admin/triggers/{trigger}"), re.S
    )
    assert table
    rows = [
        re.sub(r"<[^>]+>", " ", row).split()
        for row in re.findall(r"<tr><th scope=\"row\">.*?</tr>", table.group(0), re.S)
    ]
    assert rows[0][:3] == ["calendar", "skipped", "no_subscription"]
    assert rows[1][:5] == ["sms", "sent", "—", "2.40", "2.40"] and rows[1][5:] == [
        "—",
        START.isoformat(),
        "—",
    ]  # due = sent


HOOK_ONLY = {"hook": {"type": "webhook", "price": "0.50", "url": "https://8.8.8.8/hook",
                      "secret": "whsec_test"}}  # fmt: skip


@pytest.mark.parametrize("tables", [HOOK_ONLY])
async def test_without_an_sms_price_there_is_no_saving_to_claim(admin: TestClient) -> None:  # type: ignore[type-arg]
    page = await get(admin, f"/admin/cascade?{PERIOD}")
    assert "No SMS price is known" in html.unescape(page)
    assert figures(page)["all_sms_cost"] == "—" and figures(page)["saving"] == "—"
    assert bars(page, "messages") == {"hook": "0"}
    assert bars(page, "saving") == {"With the cascade": "0"}
