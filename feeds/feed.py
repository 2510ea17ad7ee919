"""Assembling a whole calendar body from rendered events (the cached part of a feed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version

from feeds.alarms import QuietHours
from feeds.colors import css3_name
from feeds.i18n import N_, texts
from feeds.ics import CRLF, linked_text_prop, prop, text_prop, vtimezone
from feeds.poison import each_rendered, leave_out
from feeds.render import AnyEvent, Rendered, Window, link_label, render_event
from storage.subscriptions import FeedView

PRODID = f"-//calserver//calserver {version('calserver')}//EN"
UNSUBSCRIBED_NOTE = N_(
    "You unsubscribed from this calendar; it no longer receives events. "
    "You can delete it from your calendar app."
)
UNSUBSCRIBED_NAME = N_("%(name)s (unsubscribed)")
DETAILS = N_("Details:")


@dataclass(frozen=True)
class FeedSettings:
    refresh_minutes: int
    retention_days: int
    horizon_days: int = 400


def calendar_name(view: FeedView) -> str:
    if len(view.segments) == 1:
        return view.segments[0].name
    return view.workspace_name


def _header(view: FeedView, settings: FeedSettings, name: str, description: str) -> str:
    refresh = (
        f"PT{settings.refresh_minutes}M"
        if settings.refresh_minutes % 60
        else f"PT{settings.refresh_minutes // 60}H"
    )
    lines = [
        "BEGIN:VCALENDAR\r\n",
        "VERSION:2.0\r\n",
        prop("PRODID", PRODID),
        "CALSCALE:GREGORIAN\r\n",
        "METHOD:PUBLISH\r\n",
        text_prop("X-WR-CALNAME", name),
        text_prop("NAME", name),
        linked_text_prop("X-WR-CALDESC", description),
        linked_text_prop("DESCRIPTION", description),
        prop("REFRESH-INTERVAL;VALUE=DURATION", refresh),
        prop("X-PUBLISHED-TTL", refresh),
    ]
    color = view.segments[0].color if len(view.segments) == 1 else None
    if color:
        lines.append(prop("COLOR", css3_name(color)))
        lines.append(prop("X-APPLE-CALENDAR-COLOR", color))
    return "".join(lines)


def ended_name(view: FeedView) -> str:
    """The name an ended subscription's calendar shows, in the subscription's language."""
    return texts(view.language).gettext(UNSUBSCRIBED_NAME, name=calendar_name(view))


def unsubscribed_body(view: FeedView, settings: FeedSettings) -> str:
    """A valid, empty calendar: clients stop showing the events instead of retrying an error."""
    t = texts(view.language)
    note = t.gettext(UNSUBSCRIBED_NOTE) + "\n\n" + t.gettext(DETAILS) + "\n"
    return _header(view, settings, ended_name(view), note) + "END:VCALENDAR" + CRLF


@dataclass(frozen=True)
class RenderedCalendar:
    """A calendar's parts before they are joined: the feed joins them all, CalDAV serves
    one item per event with the same VEVENT and VTIMEZONE text."""

    header: str
    timezones: dict[str, str]  # zone -> VTIMEZONE text
    events: list[tuple[AnyEvent, Rendered]]


def render_calendar(
    view: FeedView,
    events: Sequence[AnyEvent],
    settings: FeedSettings,
    now: datetime,
    surface: str = "feed",
) -> RenderedCalendar:
    """Header, one VTIMEZONE per zone used, every event that renders (feeds/poison.py);
    LINK_PLACEHOLDER marks the links."""
    quiet = QuietHours.parse(view.quiet_start, view.quiet_end)
    window = Window(
        now - timedelta(days=settings.retention_days), now + timedelta(days=settings.horizon_days)
    )
    rendered = each_rendered(
        surface,
        events,
        lambda event: render_event(event, view.timezone, quiet, window, view.language),
    )
    first_year: dict[str, int] = {}
    for _, item in rendered:
        for zone in item.zones:
            first_year[zone] = min(first_year.get(zone, item.first_wall_year), item.first_wall_year)
    timezones: dict[str, str] = {}
    for zone, year in sorted(first_year.items()):
        try:
            timezones[zone] = vtimezone(zone, min(year, now.year - 1))
        except Exception as error:  # the events written in that zone are left out
            for event, item in rendered:
                if zone in item.zones:
                    leave_out(surface, event, error)
    rendered = [pair for pair in rendered if pair[1].zones <= timezones.keys()]
    description = " ".join(s.description for s in view.segments if s.description)
    description = (description + "\n\n" if description else "") + link_label(view.language)
    return RenderedCalendar(
        _header(view, settings, calendar_name(view), description), timezones, rendered
    )


def active_body(
    view: FeedView, events: Sequence[AnyEvent], settings: FeedSettings, now: datetime
) -> str:
    """The whole feed: header, one VTIMEZONE per zone used, every event."""
    calendar = render_calendar(view, events, settings, now)
    return "".join(
        [
            calendar.header,
            *calendar.timezones.values(),
            *(item.text for _, item in calendar.events),
            "END:VCALENDAR" + CRLF,
        ]
    )
