"""The demo workspace created on a first start, so a new install shows something at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calserver.clock import Clock
from calserver.config import Config
from calserver.eventspec import apply_spec, parse_event
from feeds.i18n import Texts, texts
from storage.models import Event, Segment
from storage.segments import create_segment
from storage.workspaces import add_key, count_workspaces, create_workspace

DEMO_WORKSPACE = "demo"
DEMO_SEGMENT = "news"
# The first market speaks Russian: the demo does too (its pages still follow each browser).
DEMO_LANGUAGE = "ru"


def _demo_events(today: str, next_week: str, t: Texts) -> list[dict[str, Any]]:
    return [
        {
            "uid": "weekly-tips@demo.calserver",
            "title": t.gettext("Weekly tips"),
            "description": t.gettext("Our tip of the week, at 10:00 wherever you are."),
            "start": f"{today}T10:00:00",
            "local_time": True,
            "rrule": "FREQ=WEEKLY;COUNT=12",
            "alarms": [{"before": "PT15M"}],
        },
        {
            "uid": "open-day@demo.calserver",
            "title": t.gettext("Open day"),
            "location": t.gettext("Main store"),
            "start": f"{next_week}T12:00:00",
            "duration": "PT4H",
            "alarms": [{"before": "P1D"}, {"before": "PT1H"}],
        },
    ]


async def ensure_demo(session: AsyncSession, config: Config) -> list[str]:
    """Create the demo workspace on an empty database; lines to print either way."""
    link = f"{config.base_url}/s/{DEMO_WORKSPACE}/{DEMO_SEGMENT}"
    if await count_workspaces(session):
        demo = await session.scalar(select(Segment.id).where(Segment.slug == DEMO_SEGMENT))
        return [f"Demo segment subscribe link: {link}"] if demo else []
    now, t = Clock().now(), texts(DEMO_LANGUAGE)
    workspace = await create_workspace(
        session, DEMO_WORKSPACE, t.gettext("Demo shop"), now, DEMO_LANGUAGE
    )
    workspace.timezone = "Europe/Moscow"
    key = await add_key(session, workspace, "demo", now)
    segment = await create_segment(
        session,
        workspace.id,
        {"slug": DEMO_SEGMENT, "name": t.gettext("Demo shop news"), "timezone": "Europe/Moscow",
         "description": t.gettext("Sales, open days and weekly tips."), "color": "#1E88E5"},
        now,
    )  # fmt: skip
    tomorrow, next_week = now + timedelta(days=1), now + timedelta(days=7)
    for body in _demo_events(tomorrow.date().isoformat(), next_week.date().isoformat(), t):
        spec = parse_event(body, segment.timezone)
        event = Event(
            segment_id=segment.id, uid=spec.uid, sequence=0, created_at=now, updated_at=now
        )
        apply_spec(event, spec)
        session.add(event)
    return [
        "Created the demo workspace 'demo'.",
        f"Demo segment subscribe link: {link}",
        "Demo admin API key, shown once (sign in to the dashboard with it;",
        "`calserver key create --workspace demo` makes another):",
        f"    {key}",
        "",
    ]
