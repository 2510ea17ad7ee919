"""Query strings and path parameters: their bounds, declared once for the handlers and the
document. Query values arrive as text, so these models convert ("10" is 10)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from calserver.shapes.fields import (
    ABSENT,
    EXTERNAL_ID_RE,
    Answer,
    Slug,
    Timestamp,
    fail,
    matches,
    pattern,
)
from feeds.i18n import say
from feeds.limits import EARLIEST_DATE, LATEST_DATE
from storage.lifecycle import STATUSES

MAX_ID = 2**63 - 1  # a 64-bit signed column
ID_RE = re.compile(r"^[0-9]{1,19}$")
DAY_RE = re.compile(
    r"^(190[1-9]|19[1-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
)
MAX_RANGE_DAYS = 731
MAX_EVENT_PAGE = 1000
MAX_SUBSCRIBER_PAGE = 100_000


class Query(BaseModel):
    """A query string: unknown parameters are ignored, as browsers and proxies add some."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)


def _day(value: str) -> str:
    from datetime import date

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise fail(say("use a date such as 2026-03-31")) from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise fail(
            say("use a date between %(earliest)s and %(latest)s",
                earliest=str(EARLIEST_DATE), latest=str(LATEST_DATE))
        )  # fmt: skip
    return value


Day = Annotated[
    str,
    pattern(DAY_RE, 10),
    matches(DAY_RE, say("use a date such as 2026-03-31 (years 1901-2199)")),
    AfterValidator(_day),
]
Offset = Annotated[int, Field(ge=0, le=MAX_ID, description="Rows to skip.")]


class EventPage(Query):
    limit: Annotated[int, Field(ge=1, le=MAX_EVENT_PAGE)] = 100
    offset: Offset = 0


class SubscriberQuery(Query):
    segment: Slug = Field(ABSENT, description="One segment's slug.")
    status: Literal[STATUSES] = Field(ABSENT)  # type: ignore[valid-type]
    limit: Annotated[int, Field(ge=1, le=MAX_SUBSCRIBER_PAGE)] = 1000
    offset: Offset = 0


class Period(Query):
    from_: Day = Field(
        ABSENT,
        alias="from",
        description="First day (the workspace's zone); default 29 days before `to`. "
        f"At most {MAX_RANGE_DAYS} days from `from` to `to`.",
    )
    to: Day = Field(ABSENT, description="Last day, included; default today.")


class StatsQuery(Period):
    segment: Slug = Field(ABSENT, description="One segment's slug.")


class DailyQuery(StatsQuery):
    by: Literal["src", "family", "segment"] = Field(
        ABSENT, description="Split the days by source, client family or segment."
    )


# Path parameters: ids are ASCII digits within 64 bits; anything else is simply not found.
PATH_PARAMETERS: dict[str, Any] = {
    "slug": Slug,
    "event_id": Annotated[int, Field(ge=1, le=MAX_ID)],
    "trigger_id": Annotated[int, Field(ge=1, le=MAX_ID)],
    "webhook_id": Annotated[int, Field(ge=1, le=MAX_ID)],
    "subscriber_id": Annotated[int, Field(ge=1, le=MAX_ID)],
    "external_id": Annotated[str, pattern(EXTERNAL_ID_RE, 200)],
    "key": Annotated[str, Field(pattern="^[a-z0-9]{1,8}$")],
    "workspace": Slug,
    "segment": Slug,
}


def id_in_path(raw: str) -> int | None:
    """A path's id as a number, or None when it is not ASCII digits within 64 bits."""
    if not ID_RE.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


class Health(Answer):
    status: Literal["ok"]


class ProblemError(Answer):
    pointer: str = Field(description="JSON pointer to the field, e.g. #/alarms/1/before.")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = Field(
        None, description="Every invalid field of the request at once."
    )


class Subscriber(Answer):
    id: int
    segments: list[str]
    status: Literal[STATUSES]  # type: ignore[valid-type]
    family: str | None
    src: str | None
    client: str | None
    timezone: str
    created_at: Timestamp
    activated_at: Timestamp | None
    last_poll_at: Timestamp | None
    ended_at: Timestamp | None


class SubscriberList(Answer):
    items: list[Subscriber]
    limit: int
    offset: int


class SubscriptionLinks(Answer):
    feed_url: str = Field(max_length=200)
    webcal_url: str
    google_url: str
    outlook_url: str
    office365_url: str
    unsubscribe_url: str
    manage_url: str
    caldav_url: str = Field(
        description="CalDAV server for an account (with the user name and password below)."
    )
    caldav_username: str
    caldav_password: str = Field(description="The subscription's token: keep it private.")
    lang: str = Field(description="The language of the calendar's own texts.")
