"""The subscriber's settings page: follow other segments, change zone, all by POST."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from calserver.appkeys import SESSIONS
from storage.models import Segment
from tests.conftest import Tenant
from tests.support.feeds import add_event, make_segment, path_of, poll, read, subscribe


async def test_change_segments_and_zone(client: TestClient, tenant: Tenant) -> None:  # type: ignore[type-arg]
    await make_segment(tenant.api, name="News", timezone="Europe/Moscow")
    promo = await make_segment(tenant.api, slug="promo", name="Promo <b>deals</b>")
    await add_event(tenant.api, "news", title="Tip", start="2026-03-10T10:00:00", local_time=True)
    await add_event(tenant.api, "promo", title="Sale", start="2026-03-11T10:00:00", local_time=True)
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Moscow")
    manage = path_of(links["manage_url"])
    async with client.get(manage) as page:
        html = await page.text()
    assert 'method="post"' in html and "Promo &lt;b&gt;deals&lt;/b&gt;" in html
    assert '<option value="Europe/Moscow" selected>Moscow</option>' in html
    assert [e["summary"] for e in read(await poll(client, links["feed_url"]))["events"]] == ["Tip"]

    ids = await segment_ids(client)
    form = [("segment", str(ids["news"])), ("segment", str(ids["promo"])), ("tz", "Asia/Tokyo")]
    async with client.post(manage, data=form) as answer:
        assert answer.status == 200 and "Saved" in await answer.text()
    feed = read(await poll(client, links["feed_url"]))
    assert sorted(e["summary"] for e in feed["events"]) == ["Sale", "Tip"]
    assert {e["start_utc"] for e in feed["events"]} == {
        "2026-03-10T01:00:00Z",
        "2026-03-11T01:00:00Z",
    }
    assert feed["calendar"]["x-wr-calname"] == "acme shop"  # several segments: the workspace's name
    assert promo["slug"] == "promo"


async def segment_ids(client: TestClient) -> dict[str, int]:  # type: ignore[type-arg]
    async with client.app[SESSIONS]() as session:
        return {
            slug: id_
            for id_, slug in (await session.execute(select(Segment.id, Segment.slug))).all()
        }


async def test_bad_changes_are_refused_and_keep_the_subscription(
    client: TestClient, tenant: Tenant
) -> None:  # type: ignore[type-arg]
    await make_segment(tenant.api)
    await add_event(tenant.api, "news", title="Tip", start="2026-03-10T10:00:00")
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Moscow")
    manage = path_of(links["manage_url"])
    before = (await poll(client, links["feed_url"])).body
    news = str((await segment_ids(client))["news"])
    for data, status, message in (
        ([("segment", news), ("tz", "Mars/Olympus")], 422, "Unknown time zone"),
        ([("tz", "Europe/Paris")], 422, "at least one"),
        ([("segment", "999"), ("tz", "Europe/Paris")], 404, "do not exist"),
    ):
        async with client.post(manage, data=data) as answer:
            assert answer.status == status
            assert message in await answer.text()
    assert (await poll(client, links["feed_url"])).body == before
    async with client.post(path_of(links["unsubscribe_url"])):
        pass
    async with client.post(manage, data=[("segment", news), ("tz", "Europe/Paris")]) as answer:
        assert answer.status == 409
    async with client.get("/m/garbage") as answer:
        assert answer.status == 404 and answer.content_type == "text/html"
