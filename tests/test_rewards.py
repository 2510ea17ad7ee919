"""Rewards unlocked by a real subscription: the first poll by a calendar app, never the
click, a browser or a link previewer; one code per subscription; the pool running out."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from calserver.appkeys import CLOCK, SESSIONS
from calserver.clock import FrozenClock
from calserver.links import dav_username
from storage.funnels import Funnel, by_reward
from storage.models import OutboxMessage, RewardCode, Segment, Subscription, WebhookEndpoint
from storage.rewards import POOL_LOW, add_codes, set_reward
from tests.conftest import START, Tenant
from tests.support.dav import SYNC_REPORT, basic, calendar_path, dav
from tests.support.feeds import Polled, add_event, make_segment, poll, read
from tests.support.telemetry import settle

APPLE = "iOS/26.6 (23G71) dataaccessd/1.0"
ICSX5 = "ICSx5/2.3.1 (ical4j/3.2.19 okhttp/4.12.0 Android/15)"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"
)
PREVIEWERS = ["TelegramBot (like TwitterBot)", "WhatsApp/2.23.20.0", "facebookexternalhit/1.1",
              "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", SAFARI, "curl/8.5.0",
              ""]  # fmt: skip
TEXT = "10 % off your next visit"


async def _reward(
    client: TestClient, code: str | None = None, pool: list[str] | None = None
) -> None:  # type: ignore[type-arg]
    async with client.app[SESSIONS].begin() as session:
        segment = await session.scalar(select(Segment).where(Segment.slug == "news"))
        assert segment is not None
        set_reward(segment, TEXT, code, pool is not None)
        if pool:
            await add_codes(session, segment, pool)


async def _webhook(client: TestClient) -> None:  # type: ignore[type-arg]
    async with client.app[SESSIONS].begin() as session:
        session.add(WebhookEndpoint(
            workspace_id=1, url="https://hooks.example.test/in", secret="s" * 32,
            events=["reward.unlocked", "reward.pool_low"], active=True, created_at=START,
        ))  # fmt: skip


async def _messages(client: TestClient, kind: str) -> list[dict[str, Any]]:  # type: ignore[type-arg]
    async with client.app[SESSIONS]() as session:
        rows = await session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.event_type == kind)
            .order_by(OutboxMessage.id)
        )  # fmt: skip
        return [dict(row["data"]) for row in rows]


async def _subscribe(client: TestClient) -> str:  # type: ignore[type-arg]
    """A click on the landing page's button (a form POST); returns the feed token."""
    async with client.post(
        "/s/acme/news", data={"client": "apple", "tz": "Europe/Moscow"}, allow_redirects=False
    ) as answer:
        assert answer.status == 303
        return answer.headers["Location"].split("/")[2].split("?")[0]


async def _page(client: TestClient, path: str) -> str:  # type: ignore[type-arg]
    async with client.get(path, headers={"Accept": "text/html", "User-Agent": SAFARI}) as page:
        assert page.status == 200
        return await page.text()


def _reward_events(polled: Any) -> list[dict[str, Any]]:
    return [e for e in read(polled)["events"] if e["uid"].startswith("reward-")]


@pytest.fixture
async def news(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    await make_segment(tenant.api, timezone="Europe/Moscow")
    await add_event(tenant.api, "news", title="Sale", start="2026-03-10T10:00:00")


async def test_only_a_calendar_apps_poll_unlocks_the_reward(
    client: TestClient,  # type: ignore[type-arg]
    news: None,
) -> None:
    await _reward(client, code="WELCOME10")
    await _webhook(client)
    landing = await _page(client, "/s/acme/news")
    assert f"Subscribe and get: {TEXT}" in landing
    token = await _subscribe(client)
    feed = f"/f/{token}.ics"
    assert "WELCOME10" not in await _page(client, f"/subscribed/{token}")
    manage = await _page(client, f"/m/{token}")
    assert "WELCOME10" not in manage and "once your calendar app has fetched" in manage
    for agent in PREVIEWERS:  # previewers, a browser, scripts: the feed, but no reward
        polled = await poll(client, feed, {"User-Agent": agent})
        assert _reward_events(polled) == [] and b"WELCOME10" not in polled.body, agent
    assert "WELCOME10" not in await _page(client, f"/m/{token}")
    assert await _messages(client, "reward.unlocked") == []

    polled = await poll(client, feed, {"User-Agent": APPLE})
    [event] = _reward_events(polled)
    assert event["summary"] == f"{TEXT}: WELCOME10"
    assert "Your code: WELCOME10" in event["description"]
    assert event["is_date"] and event["start_date"] == "2026-03-02"
    assert "WELCOME10" in await _page(client, f"/m/{token}")
    again = await poll(client, feed, {"User-Agent": ICSX5, "If-None-Match": polled.headers["ETag"]})
    assert again.status == 304  # unchanged: the same reward, the same body
    [message] = await _messages(client, "reward.unlocked")
    assert message["code"] == "WELCOME10" and message["segment"] == "news"


async def test_a_pool_gives_one_code_each_and_stops_the_offer_when_empty(
    client: TestClient,  # type: ignore[type-arg]
    news: None,
) -> None:
    codes = [f"C{n:03d}" for n in range(POOL_LOW + 2)]
    await _reward(client, pool=codes)
    await _webhook(client)
    tokens = [await _subscribe(client) for _ in codes]
    # One more subscriber than codes, subscribed while the offer still showed.
    late = await _subscribe(client)
    given = []
    for token in tokens:
        [event] = _reward_events(await poll(client, f"/f/{token}.ics", {"User-Agent": APPLE}))
        given.append(event["summary"].rsplit(": ", 1)[1])
        # A second poll of the same subscription takes no second code.
        assert (
            len(_reward_events(await poll(client, f"/f/{token}.ics", {"User-Agent": APPLE}))) == 1
        )
    assert sorted(given) == codes
    assert _reward_events(await poll(client, f"/f/{late}.ics", {"User-Agent": APPLE})) == []
    assert "Your code" not in await _page(client, f"/m/{late}")
    assert "Subscribe and get" not in await _page(client, "/s/acme/news")  # announcement stops
    newcomer = await _subscribe(client)
    async with client.app[SESSIONS]() as session:
        offered = await session.scalar(
            select(Subscription.reward_segment_id).where(Subscription.id == len(tokens) + 2)
        )
        assigned = await session.scalar(
            select(func.count(func.distinct(RewardCode.subscription_id)))
        )
    assert offered is None and assigned == len(codes)
    assert _reward_events(await poll(client, f"/f/{newcomer}.ics", {"User-Agent": APPLE})) == []
    low = await _messages(client, "reward.pool_low")
    assert [m["available"] for m in low] == [POOL_LOW, 0]
    assert len(await _messages(client, "reward.unlocked")) == len(codes)


async def test_adding_codes_reports_duplicates(
    client: TestClient,  # type: ignore[type-arg]
    news: None,
) -> None:
    await _reward(client, pool=["A1", "A2"])
    async with client.app[SESSIONS].begin() as session:
        segment = await session.scalar(select(Segment).where(Segment.slug == "news"))
        assert segment is not None
        added, duplicates = await add_codes(session, segment, ["A2", "A3", "A3", "A4"])
        assert (added, sorted(duplicates), segment.reward_available) == (2, ["A2", "A3"], 4)


async def test_the_clock_dates_the_reward_in_the_subscribers_zone(
    client: TestClient,  # type: ignore[type-arg]
    news: None,
) -> None:
    await _reward(client, code="NIGHT")
    token = await _subscribe(client)
    clock = client.app[CLOCK]
    assert isinstance(clock, FrozenClock)
    clock.set(START.replace(hour=22))  # 01:00 the next day in Moscow
    [event] = _reward_events(await poll(client, f"/f/{token}.ics", {"User-Agent": APPLE}))
    assert event["start_date"] == "2026-03-03"


async def test_funnel_with_and_without_the_reward(
    client: TestClient,  # type: ignore[type-arg]
    news: None,
) -> None:
    for _ in range(4):  # four views without an offer, one subscribes and activates
        await _page(client, "/s/acme/news")
    plain = await _subscribe(client)
    await poll(client, f"/f/{plain}.ics", {"User-Agent": APPLE})
    await _reward(client, code="GIFT")
    for _ in range(5):  # five views with the offer, two subscribe, one activates
        await _page(client, "/s/acme/news")
    async with client.get("/s/acme/news", headers={"User-Agent": "TelegramBot"}) as page:
        assert page.status == 200  # a previewer's view is not counted
    rewarded = [await _subscribe(client), await _subscribe(client)]
    await poll(client, f"/f/{rewarded[0]}.ics", {"User-Agent": APPLE})
    await settle(client)
    async with client.app[SESSIONS]() as session:
        segment = await session.scalar(select(Segment.id).where(Segment.slug == "news"))
        assert segment is not None
        funnels = await by_reward(session, segment)
    assert funnels[True] == Funnel(views=5, subscribed=2, activated=1, active=1)
    assert funnels[False] == Funnel(views=4, subscribed=1, activated=1, active=1)


async def test_a_caldav_client_earns_the_reward_and_syncs_it(
    client: TestClient,  # type: ignore[type-arg]
    news: None,
) -> None:
    """DAVx⁵ or Thunderbird over CalDAV is a calendar app too: its first request unlocks the
    reward, which is then an item of the collection, as in the feed."""
    await _reward(client, code="WELCOME10")
    token = await _subscribe(client)
    links = {"caldav_username": dav_username(token), "caldav_password": token}
    auth = {"Depth": "1", **basic(links)}
    status, listing, _ = await dav(client, "REPORT", calendar_path(links),
                                   SYNC_REPORT.format(token=""), auth)  # fmt: skip
    assert status == 207
    hrefs = re.findall(r"<href>([^<]+)</href>", listing)
    [reward_href] = [href for href in hrefs if re.search(r"/r\d+\.ics$", href)]
    assert len(hrefs) == 2  # the segment's event and the reward
    status, item, _ = await dav(client, "GET", reward_href, b"", basic(links))
    assert status == 200
    [event] = [e for e in read(Polled(200, {}, item.encode()))["events"]]
    assert event["summary"] == f"{TEXT}: WELCOME10" and event["is_date"]
    assert event["start_date"] == "2026-03-02"  # the day it was earned, in Moscow
    assert "WELCOME10" in await _page(client, f"/m/{token}")
    sync_token = re.search(r"<sync-token>([^<]+)</sync-token>", listing)
    assert sync_token is not None
    status, again, _ = await dav(client, "REPORT", calendar_path(links),
                                 SYNC_REPORT.format(token=sync_token[1]), auth)  # fmt: skip
    assert status == 207 and "<href>" not in again  # nothing new since


async def test_a_caldav_client_of_a_segment_without_a_reward_sees_none(
    client: TestClient,  # type: ignore[type-arg]
    news: None,
) -> None:
    token = await _subscribe(client)
    links = {"caldav_username": dav_username(token), "caldav_password": token}
    status, listing, _ = await dav(client, "PROPFIND", calendar_path(links), b"",
                                   {"Depth": "1", **basic(links)})  # fmt: skip
    assert status == 207 and not re.search(r"/r\d+\.ics<", listing)
