"""Every page a person reads, and the calendar texts, in the language chosen for them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from calserver.appkeys import SESSIONS
from feeds.i18n import LOCALES
from storage.models import Subscription
from tests.conftest import Tenant
from tests.support.dav import basic, calendar_path, dav
from tests.support.feeds import add_event, make_segment, path_of, poll, read, subscribe

RU = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
# Names written the same in Russian interfaces.
NAMES = {"apple", "google", "outlook", "microsoft", "icsx", "davx", "thunderbird", "gnome",
         "nextcloud", "caldav", "iphone", "ipad", "mac", "android", "windows", "webcal", "url",
         "json", "com", "calserver", "api", "sms", "csv", "html", "svg", "png", "qr", "crm",
         "rrule", "uid", "ics", "iso", "http", "https", "ctrl", "rub", "post", "src", "iana", "jpeg", "rrggbb",
         "utf"}  # fmt: skip
PROPFIND = """<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>"""


def english_words() -> set[str]:
    text = (LOCALES / "en" / "LC_MESSAGES" / "messages.po").read_text()
    ids = " ".join(re.findall(r'^msgid(?:_plural)? "(.*)"$', text, re.M))
    ids = re.sub(r"%\(\w+\)[sd]|<[^>]*>|msgctxt.*", " ", ids)  # placeholders and markup
    ids = re.sub(r"\b[EMHdmy]+\b", " ", ids)  # date patterns
    return {w.lower() for w in re.findall(r"[A-Za-z]{2,}", ids)} - NAMES


class Text(HTMLParser):
    """The words a reader meets: text and the attributes read aloud or shown, less anything
    marked as another language (the language switch's own "English")."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip: list[str] = []
        self.html_lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.html_lang = values.get("lang") or ""
        # Scripts, code and snippets to paste are not read; nor is what says it is in
        # another language (the switch's own "English").
        if tag in ("script", "style", "code", "textarea") or (values.get("lang") and tag != "html"):
            self.skip.append(tag)
        for name in ("aria-label", "title", "placeholder", "data-copied", "data-your-time"):
            if values.get(name) and not self.skip:
                self.parts.append(str(values[name]))

    def handle_endtag(self, tag: str) -> None:
        if self.skip and self.skip[-1] == tag:
            self.skip.pop()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def read_page(html: str) -> Text:
    parser = Text()
    parser.feed(html)
    return parser


def assert_russian(html: str, *allowed: str) -> None:
    page = read_page(html)
    assert page.html_lang == "ru"
    text = re.sub(r"\{\w+\}", " ", " ".join(page.parts))  # the script's {when}
    text = re.sub(r"https?://\S+", " ", text)  # links are addresses, not words
    text = re.sub(r"\S*/\S+", " ", text)  # zone names, paths: identifiers
    text = re.sub(r"\b[a-z]+\.[a-z_]+\b", " ", text)  # event types such as trigger.delivered
    text = re.sub(r"\bP(?:T?\d+[DHMS])+\b|\b[A-Z]+=[\w,;=]+", " ", text)  # ISO 8601, RRULE
    for word in allowed:
        text = text.replace(word, "")
    # Keys, tokens and ids (csk_So3x…): a letter next to a digit or an underscore is no word,
    # and random letters between them must not read as English ("so", "if").
    text = re.sub(r"\S*(?:[A-Za-z][_\d]|[_\d][A-Za-z])\S*", " ", text)
    english = {w.lower() for w in re.findall(r"[A-Za-z]{2,}", text)} & english_words()
    assert english == set(), english
    assert re.search(r"[а-яё]{4,}", text)


@pytest.fixture
async def news(tenant: Tenant) -> dict[str, Any]:
    segment = await make_segment(tenant.api, name="Shop news", timezone="Europe/Moscow")
    await add_event(tenant.api, "news", title="Sale", start="2026-03-05T10:00:00",
                    local_time=True, alarms=[{"before": "P1D"}, {"before": "PT90M"}])  # fmt: skip
    await add_event(tenant.api, "news", title="Open day", start="2026-03-10T12:00:00",
                    timezone="Europe/Moscow")  # fmt: skip
    return segment


async def get(client: TestClient, path: str, headers: dict[str, str]) -> tuple[int, str]:  # type: ignore[type-arg]
    async with client.get(path, headers=headers) as answer:
        return answer.status, await answer.text()


async def test_every_subscriber_page_speaks_russian(
    client: TestClient, tenant: Tenant, news: dict[str, Any]
) -> None:  # type: ignore[type-arg]
    status, landing = await get(client, "/s/acme/news", RU)
    assert status == 200
    assert_russian(landing, "Shop news", "acme shop", "Sale", "Open day")
    assert "марта" in landing and "2 события в ближайшие 30 дней" in landing
    assert "за 1 день до начала" in landing and "за 1 час 30 минут до начала" in landing
    assert "вт, 10 марта, 12:00 (Москва)" in landing
    async with client.post("/s/acme/news", data={"client": "apple", "lang": "ru"}, headers=RU,
                           allow_redirects=False) as answer:  # fmt: skip
        token_path = answer.headers["Location"]
    token = token_path.split("/")[2].split("?")[0]
    for via in ("apple", "google", "android", "outlook", "office365", "caldav", "copy"):
        status, page = await get(client, f"/subscribed/{token}?via={via}", RU)
        assert status == 200
        assert_russian(page, "Shop news")
    for path in (f"/m/{token}", f"/u/{token}"):
        status, page = await get(client, path, RU)
        assert status == 200
        assert_russian(page, "Shop news")
    async with client.post(f"/m/{token}", data={"tz": "Mars/Olympus", "segment": "1"},
                           headers=RU) as answer:  # fmt: skip
        assert answer.status == 422
        assert_russian(await answer.text(), "Shop news", "Mars/Olympus")
    async with client.post(f"/u/{token}", headers=RU) as answer:
        assert_russian(await answer.text(), "Shop news")
    for path in (f"/m/{token}", f"/u/{token}", f"/subscribed/{token}"):  # ended pages
        assert_russian((await get(client, path, RU))[1], "Shop news")


@pytest.mark.parametrize(
    "path", ["/s/acme/nothing", "/p/not-a-token", "/u/not-a-token", "/m/bad", "/subscribed/bad"]
)
async def test_error_pages_for_people_speak_russian(
    client: TestClient, tenant: Tenant, path: str
) -> None:  # type: ignore[type-arg]
    status, page = await get(client, path, {**RU, "Accept": "text/html"})
    assert status == 404
    assert_russian(page)
    status, page = await get(client, path, {**EN, "Accept": "text/html"})
    assert "<html lang=en>" in page and "Page not found" in page


async def test_language_order_query_cookie_header_then_defaults(
    client: TestClient, tenant: Tenant, news: dict[str, Any]
) -> None:  # type: ignore[type-arg]
    assert '<html lang="ru">' in (await get(client, "/s/acme/news", RU))[1]
    assert '<html lang="en">' in (await get(client, "/s/acme/news", EN))[1]
    async with client.get("/s/acme/news?lang=en", headers=RU) as answer:  # ?lang= wins
        assert '<html lang="en">' in await answer.text()
        assert answer.cookies["lang"].value == "en" and "Accept-Language" in answer.headers["Vary"]
    # The switch's cookie is kept by the client: the next page follows it, not the header.
    assert '<html lang="en">' in (await get(client, "/s/acme/news", RU))[1]
    client.session.cookie_jar.clear()
    unknown = {"Accept-Language": "de-DE,fr;q=0.8"}
    assert '<html lang="en">' in (await get(client, "/s/acme/news", unknown))[1]
    # Unknown languages fall back to the segment's default, then the workspace's.
    answer = await tenant.api.request("PATCH", "/api/v1/workspace", json_body={"language": "ru"})
    assert answer.status == 200 and answer.body["language"] == "ru"
    assert '<html lang="ru">' in (await get(client, "/s/acme/news", unknown))[1]
    answer = await tenant.api.request(
        "PATCH", "/api/v1/segments/news", json_body={"language": "en"}
    )
    assert answer.status == 200 and answer.body["language"] == "en"
    assert '<html lang="en">' in (await get(client, "/s/acme/news", unknown))[1]
    assert "Add to my calendar" in answer.body["embed_html"]
    bad = await tenant.api.request("PATCH", "/api/v1/segments/news", json_body={"language": "xx"})
    assert bad.status == 422


async def test_feed_and_caldav_texts_follow_the_language_subscribed_in(
    client: TestClient, tenant: Tenant, news: dict[str, Any]
) -> None:  # type: ignore[type-arg]
    russian = await subscribe(tenant.api, "acme", "news", "Europe/Moscow", lang="ru")
    english = await subscribe(tenant.api, "acme", "news", "Europe/Moscow", lang="en")
    assert russian["lang"] == "ru" and english["lang"] == "en"
    ru_feed = read(await poll(client, russian["feed_url"]))
    en_feed = read(await poll(client, english["feed_url"]))
    assert "Отписаться или изменить настройки:" in ru_feed["calendar"]["x-wr-caldesc"]
    assert "Unsubscribe or change settings:" in en_feed["calendar"]["x-wr-caldesc"]
    for event in ru_feed["events"]:
        assert "Отписаться или изменить настройки:" in event["description"]
        assert "Unsubscribe" not in event["description"]
    for links in (russian, english):
        async with client.post(path_of(links["unsubscribe_url"])) as answer:
            assert answer.status == 200
    ru_ended = read(await poll(client, russian["feed_url"]))["calendar"]
    en_ended = read(await poll(client, english["feed_url"]))["calendar"]
    assert ru_ended["x-wr-calname"] == "Shop news (подписка отменена)"
    assert "Вы отписались" in ru_ended["x-wr-caldesc"]
    assert en_ended["x-wr-calname"] == "Shop news (unsubscribed)"
    for links, name in (
        (russian, "Shop news (подписка отменена)"),
        (english, "Shop news (unsubscribed)"),
    ):
        auth = {"Depth": "0", **basic(links)}
        status, body, _ = await dav(client, "PROPFIND", calendar_path(links), PROPFIND, auth)
        assert status == 207 and f"<displayname>{name}</displayname>" in body


async def test_the_landing_page_records_its_language(
    client: TestClient, tenant: Tenant, news: dict[str, Any]
) -> None:  # type: ignore[type-arg]
    await get(client, "/s/acme/news", RU)
    async with client.post("/s/acme/news", data={"client": "copy"}, headers=RU) as answer:
        assert answer.status == 200
    async with client.post("/s/acme/news", data={"client": "copy", "lang": "en"}, headers=RU):
        pass
    async with client.app[SESSIONS]() as session:
        assert list(
            await session.scalars(select(Subscription.language).order_by(Subscription.id))
        ) == ["ru", "en"]


def english_left(html: str, *allowed: str) -> str:
    """Debugging aid: the text with the English words marked."""
    page = read_page(html)
    text = " ".join(page.parts)
    words = english_words()
    return re.sub(r"[A-Za-z]{2,}", lambda m: f"[[{m[0]}]]" if m[0].lower() in words else m[0], text)
