"""The statistics and subscribers endpoints: figures on a small known story, CSV, bad input."""

from __future__ import annotations

import csv
import io

import pytest
from aiohttp.test_utils import TestClient

from calserver.clock import FrozenClock
from tests.conftest import Tenant
from tests.support.agents import AGENTS, BOTS, BROWSERS
from tests.support.feeds import make_segment, poll, read, subscribe
from tests.support.openapi import ApiClient
from tests.support.telemetry import settle


@pytest.fixture
async def story(
    client: TestClient, tenant: Tenant, clock: FrozenClock
) -> dict[str, dict[str, str]]:  # type: ignore[type-arg]
    """5 people view the page (plus bots and a HEAD), 3 subscribe, 2 add it, 1 leaves."""
    await make_segment(tenant.api)
    await make_segment(tenant.api, slug="promo", name="Promo")
    for n in range(5):
        async with client.get(
            f"/s/acme/news?src={'qr' if n < 3 else 'site'}", headers={"User-Agent": BROWSERS[n % 3]}
        ):
            pass
    for bot in BOTS:
        async with client.get("/s/acme/news?src=qr", headers={"User-Agent": bot}):
            pass
    async with client.head("/s/acme/news", headers={"User-Agent": BROWSERS[0]}):
        pass
    links = {}
    for name, src in (("a", "qr"), ("b", "qr"), ("c", "site")):
        async with client.post(
            f"/s/acme/news?src={src}", data={"client": "apple"}, allow_redirects=False
        ) as answer:
            token = answer.headers["Location"].split("/")[2].split("?")[0]
        links[name] = {"feed": f"https://cal.example.test/f/{token}.ics", "u": f"/u/{token}"}
    await poll(client, links["a"]["feed"], {"User-Agent": AGENTS["apple-ios"][0]})
    await poll(client, links["b"]["feed"], {"User-Agent": AGENTS["google"][0]})
    async with client.post(links["b"]["u"]):
        pass
    await settle(client)
    return links


async def test_summary_tells_the_story(api: ApiClient, story: dict[str, dict[str, str]]) -> None:
    answer = await api.get("/api/v1/stats/summary?from=2026-03-01&to=2026-03-02")
    assert answer.status == 200, answer.text
    s = answer.body
    assert (s["landing_views"], s["subscribe_clicks"], s["activated"], s["unsubscribed"]) == (
        5,
        3,
        2,
        1,
    )
    assert (s["active_at_start"], s["active"], s["lapsed"], s["returned"]) == (0, 1, 0, 0)
    assert (s["subscribe_conversion"], s["activation_rate"], s["unsubscribe_rate"]) == (
        0.6,
        0.6667,
        0.5,
    )
    assert s["by_status_now"] == {"active": 1, "created": 1, "unsubscribed": 1}
    by_src = {row["src"]: row for row in s["by_src"]}
    assert (
        by_src["qr"]["landing_views"],
        by_src["qr"]["subscribe_clicks"],
        by_src["qr"]["active"],
    ) == (3, 2, 1)
    assert (
        by_src["site"]["landing_views"],
        by_src["site"]["subscribe_clicks"],
        by_src["site"]["activated"],
    ) == (2, 1, 0)
    by_family = {row["family"]: row for row in s["by_family"]}
    assert by_family["apple-ios"]["activated"] == 1 and by_family["google"]["unsubscribed"] == 1
    by_segment = {row["segment"]: row for row in s["by_segment"]}
    assert by_segment["news"]["subscribe_clicks"] == 3 and "promo" not in by_segment
    promo = (await api.get("/api/v1/stats/summary?segment=promo")).body
    assert (promo["landing_views"], promo["subscribe_clicks"], promo["active"]) == (0, 0, 0)
    later = (await api.get("/api/v1/stats/summary?from=2026-03-03&to=2026-03-31")).body
    assert (later["active_at_start"], later["active"], later["subscribe_clicks"]) == (1, 1, 0)


async def test_daily_series_and_csv(api: ApiClient, story: dict[str, dict[str, str]]) -> None:
    daily = await api.get("/api/v1/stats/daily?from=2026-03-01&to=2026-03-03")
    assert [d["day"] for d in daily.body["days"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [d["active"] for d in daily.body["days"]] == [0, 1, 1]
    assert daily.body["days"][1]["polls"] == 2 and daily.body["days"][1]["landing_views"] == 5
    by_src = await api.get("/api/v1/stats/daily?from=2026-03-02&to=2026-03-02&by=src")
    assert by_src.body["series"]["qr"][0]["subscribe_clicks"] == 2
    text = (
        await api.get(
            "/api/v1/stats/daily?from=2026-03-02&to=2026-03-02", headers={"Accept": "text/csv"}
        )
    ).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["day"] == "2026-03-02" and rows[0]["subscribe_clicks"] == "3"


async def test_subscribers_list_csv_and_revoke(
    client: TestClient, api: ApiClient, story: dict[str, dict[str, str]], other_tenant: Tenant
) -> None:  # type: ignore[type-arg]
    listed = await api.get("/api/v1/subscribers")
    assert [row["status"] for row in listed.body["items"]] == ["active", "unsubscribed", "created"]
    first = listed.body["items"][0]
    assert first["segments"] == ["news"] and first["family"] == "apple-ios" and first["src"] == "qr"
    only_active = await api.get("/api/v1/subscribers?status=active&segment=news")
    assert [row["id"] for row in only_active.body["items"]] == [first["id"]]
    text = (await api.get("/api/v1/subscribers", headers={"Accept": "text/csv"})).text
    assert text.splitlines()[0].startswith("id,segments,status,family")
    assert len(text.splitlines()) == 4
    assert (await other_tenant.api.delete(f"/api/v1/subscribers/{first['id']}")).status == 404
    assert (await api.delete(f"/api/v1/subscribers/{first['id']}")).status == 204
    feed = read(await poll(client, story["a"]["feed"]))
    assert feed["events"] == [] and feed["calendar"]["x-wr-calname"].endswith("(unsubscribed)")
    assert (await api.get("/api/v1/stats/summary")).body["revoked"] == 1


@pytest.mark.parametrize(
    ("query", "status", "pointer"),
    [
        ("from=2026-13-01", 400, "#/from"),
        ("to=yesterday", 400, "#/to"),
        ("from=2026-03-10&to=2026-03-01", 400, "#/from"),
        ("from=2024-01-01&to=2026-03-01", 400, "#/to"),
        ("segment=nope", 404, None),
    ],
)
async def test_bad_stats_queries(
    api: ApiClient, query: str, status: int, pointer: str | None
) -> None:
    for path in ("/api/v1/stats/summary", "/api/v1/stats/daily"):
        answer = await api.get(f"{path}?{query}")
        assert answer.status == status, answer.text
        if pointer:
            assert answer.body["errors"][0]["pointer"] == pointer


async def test_csv_where_there_is_none_and_other_bad_filters(api: ApiClient) -> None:
    answer = await api.get("/api/v1/stats/summary", headers={"Accept": "text/csv"})
    assert answer.status == 406 and answer.body["status"] == 406
    assert (await api.get("/api/v1/stats/daily?by=planet")).status == 400
    assert (await api.get("/api/v1/subscribers?status=happy")).status == 400
    assert (await api.get("/api/v1/subscribers?limit=0")).status == 400
    assert (await api.delete("/api/v1/subscribers/abc")).status == 404


async def test_days_are_the_workspace_days_even_at_quarter_hour_offsets(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    from datetime import UTC, datetime

    await tenant.api.patch("/api/v1/workspace", {"timezone": "Asia/Kathmandu"})  # +05:45
    await make_segment(tenant.api)
    for moment in (
        datetime(2026, 3, 2, 18, 14, tzinfo=UTC),
        datetime(2026, 3, 2, 18, 16, tzinfo=UTC),
    ):
        clock.set(moment)  # 23:59 and 00:01 in Kathmandu, in the same UTC quarter hour
        await subscribe(tenant.api, tenant.slug, "news")
    days = (await tenant.api.get("/api/v1/stats/daily?from=2026-03-02&to=2026-03-03")).body["days"]
    assert [d["subscribe_clicks"] for d in days] == [1, 1]


async def test_no_figure_changes_when_raw_polls_are_purged(
    client: TestClient, api: ApiClient, story: dict[str, dict[str, str]], clock: FrozenClock
) -> None:  # type: ignore[type-arg]
    """Raw polls are diagnostics: every statistic is the same after they are all gone."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from calserver.appkeys import SESSIONS
    from storage.models import Poll
    from storage.telemetry import purge_polls

    for step in range(6):  # four days of polls from two clients; the hourly purge runs too
        clock.advance(timedelta(hours=17))
        await poll(client, story["a"]["feed"], {"User-Agent": AGENTS["apple-ios"][0]})
        if step % 2:
            await poll(client, story["c"]["feed"], {"User-Agent": AGENTS["thunderbird"][0]})
        await settle(client)

    async def raw_polls() -> int:
        async with client.app[SESSIONS]() as session:
            return int(await session.scalar(select(func.count(Poll.id))) or 0)

    async def figures() -> list[object]:
        queries = ["/api/v1/stats/summary", "/api/v1/stats/summary?from=2026-03-01&to=2026-03-06",
                   "/api/v1/stats/summary?segment=news", "/api/v1/stats/daily?from=2026-03-01&to=2026-03-06",
                   "/api/v1/stats/daily?from=2026-03-01&to=2026-03-06&by=family",
                   "/api/v1/stats/daily?from=2026-03-01&to=2026-03-06&by=src", "/api/v1/subscribers"]  # fmt: skip
        answers: list[object] = [(await api.get(query)).body for query in queries]
        csv_header = {"Accept": "text/csv"}
        answers.append((await api.get("/api/v1/subscribers", headers=csv_header)).text)
        answers.append((await api.get(queries[3], headers=csv_header)).text)
        return answers

    # 48 h retention: the hourly purge already dropped the first days' rows...
    assert 0 < await raw_polls() < 2 + 6 + 3
    before = await figures()
    days = before[3]["days"]  # type: ignore[index]
    assert sum(day["polls"] for day in days) == 2 + 6 + 3  # ...and every poll is still counted
    assert {row["family"] for row in before[6]["items"]} >= {"apple-ios", "thunderbird"}  # type: ignore[index]
    await purge_polls(client.app[SESSIONS], clock.now() + timedelta(hours=1))
    await settle(client)
    assert await raw_polls() == 0
    assert await figures() == before
