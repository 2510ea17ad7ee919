"""CalDAV with a real client (python `caldav`): discovery, calendars, time-range search
across DST, and incremental sync-collection after a change and a deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient
from icalendar import Calendar

from calserver.clock import FrozenClock
from tests.conftest import Tenant
from tests.support.dav import dav_client, in_thread
from tests.support.feeds import add_event, make_segment, subscribe


async def _shop(tenant: Tenant) -> dict[str, dict[str, str]]:
    await make_segment(tenant.api, timezone="Europe/Berlin", color="#336699")
    # Thursdays 10:00 in Berlin from 19 March: the EU clocks change on Sunday 29 March.
    weekly = await add_event(tenant.api, "news", title="Tasting", start="2026-03-19T10:00:00",
                             rrule="FREQ=WEEKLY;COUNT=4", alarms=[{"before": "PT30M"}])  # fmt: skip
    june = await add_event(tenant.api, "news", title="Summer sale", start="2026-06-10T09:00:00")
    gone = await add_event(tenant.api, "news", title="Cancelled talk", start="2026-04-20T18:00:00")
    return {"weekly": weekly, "june": june, "gone": gone}


def _href(obj: object) -> str:
    return str(obj.url).rstrip("/").rsplit("/", 1)[-1]  # type: ignore[attr-defined]


def _uid(obj: object) -> str:
    return str(obj.icalendar_component["UID"])  # type: ignore[attr-defined]


async def test_discovery_with_basic_auth_finds_one_read_only_calendar(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    events = await _shop(tenant)
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")

    def discover() -> tuple[str, list[str], set[str]]:
        with dav_client(client, links) as dav:
            principal = dav.principal()
            home = str(principal.calendar_home_set.url)
            calendars = principal.calendars()
            return (
                home,
                [c.get_display_name() for c in calendars],
                {_uid(e) for e in calendars[0].events()},
            )

    home, names, uids = await in_thread(discover)
    assert home.endswith(f"/dav/{links['caldav_password']}/")
    assert names == ["Shop news"]
    assert uids == {e["uid"] for e in events.values()}


async def test_a_calendar_url_with_the_token_needs_no_password(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    events = await _shop(tenant)
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    url = str(client.make_url(f"/dav/{links['caldav_password']}/calendar/"))

    def read() -> set[str]:
        import caldav

        with caldav.DAVClient(url=url, enable_rfc6764=False) as dav:
            return {_uid(e) for e in dav.calendar(url=url).events()}

    assert await in_thread(read) == {e["uid"] for e in events.values()}


async def test_time_range_search_expands_a_weekly_event_across_dst(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    await _shop(tenant)
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")

    def search(start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        with dav_client(client, links) as dav:
            calendar = dav.principal().calendars()[0]
            found = calendar.search(start=start, end=end, event=True, expand=True)
            return sorted(
                (str(o.icalendar_component["SUMMARY"]),
                 o.icalendar_component["DTSTART"].dt.astimezone(UTC))
                for o in found
            )  # fmt: skip

    # The week before the change: 10:00 CET is 09:00 UTC; the week after: 10:00 CEST, 08:00 UTC.
    before = await in_thread(lambda: search(datetime(2026, 3, 23, tzinfo=UTC),
                                            datetime(2026, 3, 29, tzinfo=UTC)))  # fmt: skip
    after = await in_thread(lambda: search(datetime(2026, 3, 30, tzinfo=UTC),
                                           datetime(2026, 4, 5, tzinfo=UTC)))  # fmt: skip
    assert before == [("Tasting", datetime(2026, 3, 26, 9, 0, tzinfo=UTC))]
    assert after == [("Tasting", datetime(2026, 4, 2, 8, 0, tzinfo=UTC))]
    june = await in_thread(lambda: search(datetime(2026, 6, 1, tzinfo=UTC),
                                          datetime(2026, 6, 30, tzinfo=UTC)))  # fmt: skip
    assert june == [("Summer sale", datetime(2026, 6, 10, 7, 0, tzinfo=UTC))]


async def test_sync_collection_reports_a_change_and_a_deletion(
    client: TestClient,
    tenant: Tenant,
    clock: FrozenClock,  # type: ignore[type-arg]
) -> None:
    events = await _shop(tenant)
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    dav = dav_client(client, links)
    calendar = (await in_thread(lambda: dav.principal().calendars()))[0]
    snapshot = await in_thread(
        lambda: calendar.get_objects_by_sync_token(load_objects=True, disable_fallback=True)
    )
    assert {_uid(o) for o in snapshot} == {e["uid"] for e in events.values()}
    first_token = snapshot.sync_token

    clock.advance(timedelta(hours=1))
    quiet = await in_thread(lambda: snapshot.sync())
    assert quiet == ([], [])  # nothing changed: nothing sent

    clock.advance(timedelta(hours=1))
    patched = await tenant.api.patch(
        f"/api/v1/segments/news/events/{events['june']['id']}", {"title": "Summer sale: -30%"}
    )
    assert patched.status == 200, patched.text
    deleted = await tenant.api.delete(f"/api/v1/segments/news/events/{events['gone']['id']}")
    assert deleted.status == 204
    clock.advance(timedelta(minutes=5))

    updated, removed = await in_thread(lambda: snapshot.sync())
    assert [_href(o) for o in updated] == [f"e{events['june']['id']}.ics"]
    assert str(Calendar.from_ical(updated[0].data).walk("VEVENT")[0]["SUMMARY"]) == (
        "Summer sale: -30%"
    )
    assert [_href(o) for o in removed] == [f"e{events['gone']['id']}.ics"]
    assert snapshot.sync_token != first_token
    # The delta is incremental: the unchanged weekly event was not sent again, and what is
    # kept now is the weekly event and the changed one.
    assert {_href(o) for o in snapshot} == {
        f"e{events['weekly']['id']}.ics",
        f"e{events['june']['id']}.ics",
    }
    dav.close()


async def test_server_side_expansion_answers_each_instance(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    # python caldav asks for <C:expand> with <D:getetag/>: Radicale's expansion of a shared
    # copy of the item answered 400 (500 before the bridge) where Radicale alone gives 207.
    await _shop(tenant)
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")

    def search() -> list[tuple[str, datetime]]:
        with dav_client(client, links) as dav:
            calendar = dav.principal().calendars()[0]
            found = calendar.search(
                start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 5, 1, tzinfo=UTC),
                event=True, expand=True, server_expand=True,
            )  # fmt: skip
            return sorted(
                (str(c["SUMMARY"]), c["DTSTART"].dt.astimezone(UTC))
                for o in found for c in o.icalendar_instance.walk("VEVENT")
            )  # fmt: skip

    instances = await in_thread(search)
    tasting = [start for title, start in instances if title == "Tasting"]
    assert tasting == [
        datetime(2026, 3, 19, 9, 0, tzinfo=UTC), datetime(2026, 3, 26, 9, 0, tzinfo=UTC),
        datetime(2026, 4, 2, 8, 0, tzinfo=UTC), datetime(2026, 4, 9, 8, 0, tzinfo=UTC),
    ]  # fmt: skip
    assert ("Cancelled talk", datetime(2026, 4, 20, 16, 0, tzinfo=UTC)) in instances


async def test_a_missing_collection_under_ones_own_principal_is_404(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    from tests.support.dav import basic, dav

    await _shop(tenant)
    links = await subscribe(tenant.api, tenant.slug, "news", "Europe/Berlin")
    mine = f"/dav/{links['caldav_password']}"
    headers = {**basic(links), "Depth": "0"}
    for path in (f"{mine}/other/", f"{mine}/other/x.ics", f"{mine}/calendar/nothing.ics"):
        status, _, _ = await dav(client, "PROPFIND", path, headers=headers)
        assert status == 404, path
    status, _, _ = await dav(client, "GET", f"{mine}/other/x.ics", headers=basic(links))
    assert status == 404
    status, _, _ = await dav(client, "PUT", f"{mine}/other/x.ics", "x", headers=basic(links))
    assert status == 403
