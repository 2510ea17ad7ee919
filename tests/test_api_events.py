"""Events through the admin API, on both stores."""

from __future__ import annotations

import pytest

from tests.support.openapi import ApiClient

EVENTS = "/api/v1/segments/news/events"


@pytest.fixture
async def news(api: ApiClient) -> ApiClient:
    answer = await api.post(
        "/api/v1/segments", {"slug": "news", "name": "News", "timezone": "Europe/Moscow"}
    )
    assert answer.status == 201
    return api


async def test_timed_event_round_trip(news: ApiClient) -> None:
    created = await news.post(
        EVENTS,
        {
            "title": "Sale",
            "start": "2026-06-01T10:00:00",
            "timezone": "America/New_York",
            "end": "2026-06-01T12:30:00",
            "alarms": [{"before": "PT15M"}, {"before": "P1D"}],
            "location": "Main street 1",
        },
    )
    assert created.status == 201, created.text
    event = created.body
    assert event["start"] == "2026-06-01T10:00:00-04:00"
    assert event["end"] == "2026-06-01T12:30:00-04:00"
    assert event["duration"] == "PT2H30M"
    assert event["timezone"] == "America/New_York"
    assert event["alarms"] == [{"before": "P1D"}, {"before": "PT15M"}]
    assert event["sequence"] == 0 and not event["local_time"] and not event["all_day"]
    assert created.headers["Location"] == f"{EVENTS}/{event['id']}"
    assert (await news.get(f"{EVENTS}/{event['id']}")).body == event


async def test_offset_start_is_kept_as_the_same_instant_in_the_segment_zone(
    news: ApiClient,
) -> None:
    created = await news.post(EVENTS, {"title": "Call", "start": "2026-06-01T07:00:00Z"})
    assert created.body["start"] == "2026-06-01T10:00:00+03:00"
    assert created.body["timezone"] == "Europe/Moscow"
    assert created.body["duration"] == "PT1H"


async def test_duration_across_dst_is_real_elapsed_time(news: ApiClient) -> None:
    # 01:00 to 04:00 in New York on the spring-forward day is two hours of real time.
    created = await news.post(
        EVENTS,
        {"title": "Night", "start": "2026-03-08T01:00:00", "end": "2026-03-08T04:00:00",
         "timezone": "America/New_York"},
    )  # fmt: skip
    assert created.body["duration"] == "PT2H"
    assert created.body["end"] == "2026-03-08T04:00:00-04:00"


async def test_local_time_and_all_day_events(news: ApiClient) -> None:
    local = await news.post(
        EVENTS,
        {"title": "Tip", "start": "2026-06-01T10:00:00", "local_time": True, "duration": "PT30M"},
    )
    assert local.status == 201, local.text
    assert local.body["local_time"] is True and local.body["start"] == "2026-06-01T10:00:00"
    day = await news.post(EVENTS, {"title": "Holiday", "start": "2026-06-12", "all_day": True})
    assert day.status == 201, day.text
    assert day.body["start"] == "2026-06-12" and day.body["end"] == "2026-06-13"
    assert day.body["duration"] == "P1D"
    long = await news.post(
        EVENTS, {"title": "Fair", "start": "2026-06-12", "end": "2026-06-15", "all_day": True}
    )
    assert long.body["duration"] == "P3D"


async def test_rrule_is_normalised_and_kept(news: ApiClient) -> None:
    created = await news.post(
        EVENTS,
        {"title": "Weekly", "start": "2026-03-02T10:00:00", "rrule": "RRULE:freq=weekly;byday=MO"},
    )
    assert created.status == 201, created.text
    assert created.body["rrule"] == "FREQ=WEEKLY;BYDAY=MO"


async def test_patch_bumps_sequence_and_keeps_unpatched_fields(news: ApiClient) -> None:
    event = (
        await news.post(
            EVENTS,
            {"title": "Sale", "start": "2026-06-01T10:00:00", "duration": "PT2H",
             "alarms": [{"before": "PT1H"}], "rrule": "FREQ=DAILY;COUNT=3"},
        )
    ).body  # fmt: skip
    url = f"{EVENTS}/{event['id']}"
    first = await news.patch(url, {"title": "Big sale"})
    assert first.status == 200, first.text
    assert first.body["sequence"] == 1 and first.body["title"] == "Big sale"
    assert first.body["duration"] == "PT2H" and first.body["alarms"] == [{"before": "PT1H"}]
    assert first.body["rrule"] == "FREQ=DAILY;COUNT=3" and first.body["uid"] == event["uid"]

    moved = await news.patch(url, {"start": "2026-06-02T11:00:00"})
    assert moved.body["sequence"] == 2
    assert moved.body["end"] == "2026-06-02T13:00:00+03:00"  # duration kept

    rezoned = await news.patch(url, {"timezone": "Europe/London"})
    assert rezoned.body["start"] == "2026-06-02T11:00:00+01:00"  # wall time kept

    ended = await news.patch(url, {"end": "2026-06-02T11:45:00", "rrule": None})
    assert ended.body["duration"] == "PT45M" and ended.body["rrule"] is None


async def test_list_is_ordered_by_start_and_paged(news: ApiClient) -> None:
    for day in (3, 1, 2):
        await news.post(EVENTS, {"title": f"Day {day}", "start": f"2026-06-0{day}T10:00:00"})
    listed = await news.get(EVENTS)
    assert [e["title"] for e in listed.body["items"]] == ["Day 1", "Day 2", "Day 3"]
    page = await news.get(EVENTS + "?limit=1&offset=1")
    assert [e["title"] for e in page.body["items"]] == ["Day 2"]
    assert (await news.get(EVENTS + "?limit=0")).status == 400


async def test_custom_uid_and_delete(news: ApiClient) -> None:
    created = await news.post(
        EVENTS, {"uid": "order-42@crm", "title": "Pickup", "start": "2026-06-01T10:00:00"}
    )
    assert created.body["uid"] == "order-42@crm"
    duplicate = await news.post(
        EVENTS, {"uid": "order-42@crm", "title": "Again", "start": "2026-06-01T10:00:00"}
    )
    assert duplicate.status == 409
    assert (await news.delete(f"{EVENTS}/{created.body['id']}")).status == 204
    assert (await news.get(f"{EVENTS}/{created.body['id']}")).status == 404
    assert (await news.get(f"{EVENTS}/not-a-number")).status == 404


async def test_event_changes_bump_the_segment_version(news: ApiClient) -> None:
    before = (await news.get("/api/v1/segments/news")).body["version"]
    event = (await news.post(EVENTS, {"title": "A", "start": "2026-06-01T10:00:00"})).body
    await news.patch(f"{EVENTS}/{event['id']}", {"title": "B"})
    await news.delete(f"{EVENTS}/{event['id']}")
    assert (await news.get("/api/v1/segments/news")).body["version"] == before + 3
