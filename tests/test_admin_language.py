"""The dashboard in Russian: every page, with its own language switch."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from tests.conftest import Tenant
from tests.support.admin import add_user, form_token, post_form, sign_in
from tests.support.cascade import push
from tests.support.feeds import add_event, make_segment, poll, subscribe
from tests.test_language_pages import assert_russian, read_page
from tests.test_triggers import bound_subscription

# The business's own data and the technical names a Russian dashboard also shows as is.
DATA = ("Shop news", "Order 42 ready for pickup", "Sale", "acme shop", "owner@acme.test",
        "docs/channels.md", "docs/webhooks.md", "POST /api/v1/triggers", "subscription.created",
        "subscription.activated", "subscription.ended", "trigger.delivered", "trigger.undelivered",
        "title, start, end", "duration, timezone, local_time, all_day, rrule, alarms",
        "description, location, url, uid", "no_subscription", "https://8.8.8.8/hook",
        "news", "«code»")  # fmt: skip


@pytest.fixture
async def story(client: TestClient, tenant: Tenant) -> dict[str, Any]:  # type: ignore[type-arg]
    api = tenant.api
    await make_segment(api, name="Shop news", timezone="Europe/Moscow")
    event = await add_event(api, "news", title="Sale", start="2026-03-10T10:00:00",
                            alarms=[{"before": "PT12H"}])  # fmt: skip
    links = await subscribe(api, "acme", "news", "Asia/Vladivostok")
    await poll(client, links["feed_url"])
    contact = await api.request("PUT", "/api/v1/contacts/c-1", json_body={"locale": "ru"})
    assert contact.status == 201, contact.text
    await bound_subscription(client, api)
    trigger = await push(api, "o-1")
    hook = await api.post("/api/v1/webhooks", {"url": "https://8.8.8.8/hook",
                                               "events": ["subscription.created"]})  # fmt: skip
    assert hook.status in (200, 201), hook.text
    await add_user(client, "acme")
    assert (await sign_in(client))[0] == 200
    return {"event": event["id"], "trigger": trigger}


async def test_every_dashboard_page_speaks_russian(
    client: TestClient,
    story: dict[str, Any],  # type: ignore[type-arg]
) -> None:
    async with client.get("/admin/segments?lang=ru") as answer:  # the switch
        assert answer.cookies["admin_lang"].value == "ru"
        assert_russian(await answer.text(), *DATA)
    pages = ["/admin/segments", "/admin/new-segment", "/admin/segments/news",
             "/admin/segments/news/events/new", f"/admin/segments/news/events/{story['event']}",
             "/admin/stats", "/admin/subscribers", "/admin/triggers",
             f"/admin/triggers/{story['trigger']}", "/admin/cascade", "/admin/channels",
             "/admin/webhooks", "/admin/access", "/admin/settings", "/admin/import",
             "/admin/brand", "/admin/segments/news/reward", "/admin/segments/news/variants"]  # fmt: skip
    for path in pages:
        async with client.get(path, headers={"Accept-Language": "en"}) as answer:  # cookie wins
            assert answer.status == 200, path
            html = await answer.text()
        assert_russian(html, *DATA)
        assert 'aria-current="page"' in html or path.startswith("/admin/triggers/"), path
    # A form sent back with errors, and the quiet-hours warning, speak Russian too.
    status, _, page = await post_form(client, f"/admin/segments/news/events/{story['event']}",
                                      {"title": "Sale", "start": "2026-03-10 10:00",
                                       "timezone": "Europe/Moscow", "alarms": "PT12H"})  # fmt: skip
    assert status == 200 and "Напоминание за 12 часов до начала" in page
    assert_russian(page, *DATA)
    status, _, page = await post_form(client, "/admin/settings", {"name": ""})
    assert status == 422 and "Некоторые поля нужно исправить." in page


async def test_sign_in_follows_the_browser_and_settings_set_the_workspace_language(
    client: TestClient,
    story: dict[str, Any],  # type: ignore[type-arg]
) -> None:
    client.session.cookie_jar.clear()
    async with client.get("/admin/sign-in", headers={"Accept-Language": "ru-RU,ru;q=0.9"}) as page:
        assert_russian(await page.text(), "calserver user create --workspace SLUG EMAIL")
    await add_user(client, "acme", "second@acme.test")
    assert (await sign_in(client, email="second@acme.test"))[0] == 200
    async with client.get("/admin/settings", headers={"Accept-Language": "de"}) as page:
        assert '<html lang="en">' in await page.text()
    fields = {"name": "acme shop", "timezone": "UTC", "quiet_start": "22:00", "quiet_end": "08:00",
              "sms_price": "", "currency": "RUB", "language": "ru"}  # fmt: skip
    status, _, page = await post_form(client, "/admin/settings", fields)
    assert status == 200 and re.search(r'<option value="ru" lang="ru" selected>', page)
    async with client.get("/admin/segments", headers={"Accept-Language": "de"}) as page:
        assert '<html lang="ru">' in await page.text()  # the workspace's language now
    async with client.get("/s/acme/news", headers={"Accept-Language": "de"}) as landing:
        assert '<html lang="ru">' in await landing.text()


# (form, fields sent, a Russian sentence the page must show): one wrong input per rule family.
BAD_FORMS = [
    ("/admin/segments/news/events/new",
     {"title": "Sale", "start": "2026-03-10 10:00", "alarms": "PT15M, soon", "url": "ftp://x"},
     "№\u00a02: 'soon' — не длительность ISO 8601 (например, PT15M или P1D)"),
    ("/admin/segments/news/events/new", {"title": "Sale", "start": "2026-02-30 10:00"},
     "в календаре нет дня 2026-02-30"),
    ("/admin/segments/news/events/new",
     {"title": "Sale", "start": "2026-03-10 10:00", "alarms": "PT15M, P99D", "duration": "P40D"},
     "№\u00a02: напоминание может сработать не раньше чем за 28 дней до события"),
    ("/admin/segments/news/events/new",
     {"title": "Sale", "start": "2026-03-10 10:00", "rrule": "FREQ=MINUTELY"},
     "правила чаще раза в час не принимаются"),
    ("/admin/segments/news/events/new",
     {"title": "Sale", "start": "2026-03-10 10:00", "end": "2026-03-09 10:00"},
     "конец должен быть позже начала"),
    ("/admin/segments/news/events/new", {"title": " ", "start": "2026-03-10 10:00"},
     "поле не может быть пустым"),
    ("/admin/segments/news/events/new",
     {"title": "Sale", "start": "2026-03-10 10:00", "timezone": "Mars/Olympus"},
     "неизвестный часовой пояс 'Mars/Olympus'"),
    ("/admin/new-segment", {"slug": "Bad slug", "name": "News", "color": "red"},
     "от 1 до 64 строчных латинских букв и цифр"),
    ("/admin/new-segment", {"slug": "news", "name": "News"},
     "в рабочем пространстве уже есть сегмент 'news'"),
    ("/admin/settings", {"name": "acme shop", "timezone": "UTC", "quiet_start": "25:00",
                         "quiet_end": "08:00", "sms_price": "", "currency": "rub", "language": "ru"},
     "укажите время в 24-часовом формате"),
    ("/admin/webhooks", {"url": "ftp://8.8.8.8/hook"},
     "нужен полный адрес, начинающийся с http:// или https://"),
    ("/admin/access/users", {"email": "owner@acme.test", "password": "short"},
     "нужно не меньше 10 символов"),
    ("/admin/segments/news/reward", {"mode": "code", "text": "A gift", "code": "TWO WORDS"},
     "Промокод — от 1 до 100 символов, без пробелов."),
    ("/admin/segments/news/variants", {"a-headline": "Only one"},
     "В A/B-тесте от 2 до 4 версий; без версий тест заканчивается."),
    ("/admin/brand", {"brand_color": "blue", "footer": ""},
     "Фирменный цвет записывается как #RRGGBB, например #1565C0."),
    ("/admin/channels", {"step-0-channel": "pigeon", "step-1-channel": "calendar",
                         "step-1-wait": "-5"},
     "неизвестный канал 'pigeon'; настроены: calendar"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "fields", "sentence"), BAD_FORMS)
async def test_a_form_sent_back_says_what_is_wrong_in_russian(
    client: TestClient,
    story: dict[str, Any],  # type: ignore[type-arg]
    path: str,
    fields: dict[str, str],
    sentence: str,
) -> None:
    async with client.get("/admin/segments?lang=ru"):
        pass
    status, _, page = await post_form(client, path, fields, token_from=path.replace("/users", ""))
    assert status in (409, 422), page
    text = " ".join(read_page(page).parts)
    assert sentence in text, text
    assert_russian(page, *DATA, *fields.values(), "'Mars/Olympus'", "'soon'", "'pigeon'")
    # The same form in English says it in English (the API's language).
    async with client.get("/admin/segments?lang=en"):
        pass
    status, _, page = await post_form(client, path, fields, token_from=path.replace("/users", ""))
    assert sentence not in page and 'lang="en"' in page


@pytest.mark.parametrize("query", ["/admin/stats?from=2026-13-01", "/admin/cascade?to=someday"])
async def test_a_report_asked_for_wrong_dates_says_so_in_russian(
    client: TestClient,
    story: dict[str, Any],  # type: ignore[type-arg]
    query: str,
) -> None:
    async with client.get(query, headers={"Accept-Language": "ru"}) as answer:
        assert answer.status == 400
        page = await answer.text()
    assert "укажите дату, например 2026-03-31" in " ".join(read_page(page).parts)
    assert_russian(page, *DATA)


async def test_an_import_in_russian_names_each_bad_row_and_an_unreadable_file(
    client: TestClient,
    story: dict[str, Any],  # type: ignore[type-arg]
) -> None:
    async with client.get("/admin/segments?lang=ru"):
        pass
    rows = "title,start,alarms\nSale,2026-13-01T10:00:00,\nOpen day,2026-03-10T10:00:00,P1Y\n"
    status, page = await _upload(client, "events.csv", rows.encode())
    assert status == 200, page
    assert "укажите дату или дату и время по ISO 8601" in page
    assert "не длительность ISO 8601" in page
    assert_russian(page, *DATA, "Open day", "'P1Y'")
    status, page = await _upload(client, "events.csv", b"\xff\xfe broken")
    assert status == 422 and "events.csv: файл не в кодировке UTF-8" in page
    assert_russian(page, *DATA, "events.csv")


async def _upload(client: TestClient, name: str, body: bytes) -> tuple[int, str]:  # type: ignore[type-arg]
    token = await form_token(client, "/admin/import")
    form = FormData()
    for key, value in (("csrf", token), ("segment", "news"), ("mode", "all_or_nothing")):
        form.add_field(key, value)
    form.add_field("file", body, filename=name, content_type="text/csv")
    async with client.post("/admin/import", data=form) as response:
        return response.status, await response.text()
