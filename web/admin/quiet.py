"""The event editor's warning: alarms that would ring in quiet hours for some subscribers.

It asks the feed's own rule (feeds/alarms.py) where each alarm of the first occurrence
rings in each zone the segment's subscribers live in; where the rule moves an alarm, the
business is told, with the zone and the time it would have rung.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from feeds.alarms import QuietHours, alarm_offset, to_utc, to_wall
from feeds.i18n import Texts, texts
from storage.lifecycle import ENDED
from storage.lookup import WorkspaceRow
from storage.models import Event, Subscription, SubscriptionSegment
from web.upcoming import span

MAX_ZONES_NAMED = 5
ENGLISH = texts("en")


async def subscriber_zones(session: AsyncSession, segment_id: int) -> list[str]:
    query = (
        select(Subscription.timezone)
        .distinct()
        .join(SubscriptionSegment, SubscriptionSegment.subscription_id == Subscription.id)
        .where(SubscriptionSegment.segment_id == segment_id, Subscription.status.not_in(ENDED))
    )
    return sorted((await session.scalars(query)).all())


def _start_wall(event: Event) -> datetime:
    if event.kind == "all_day":
        return datetime.combine(date.fromisoformat(event.start_local), datetime.min.time())
    return datetime.fromisoformat(event.start_local)


def quiet_warnings(
    event: Event, workspace: WorkspaceRow, zones: list[str], t: Texts = ENGLISH
) -> list[str]:
    """One sentence per alarm that quiet hours move, naming the zones it happens in."""
    quiet = QuietHours.parse(workspace.quiet_start, workspace.quiet_end)
    start = _start_wall(event)
    warnings = []
    for before in event.alarms:
        moved: list[str] = []
        for zone in zones or [event.timezone]:
            # A fixed-time event is one instant everywhere; the others follow each zone.
            event_zone = event.timezone if event.kind == "timed" else zone
            days, exact = divmod(before, 86400)
            rings = to_utc(start - timedelta(days=days), event_zone) - timedelta(seconds=exact)
            unmoved = int((to_utc(start, event_zone) - rings).total_seconds())
            if alarm_offset(start, event_zone, before, zone, quiet) != unmoved:
                time = to_wall(rings, zone).strftime("%H:%M")
                moved.append(t.gettext("%(time)s in %(zone)s", time=time, zone=zone))
        if moved:
            named = ", ".join(moved[:MAX_ZONES_NAMED])
            if len(moved) > MAX_ZONES_NAMED:
                extra = len(moved) - MAX_ZONES_NAMED
                named = t.ngettext("%(zones)s and %(num)d more zone",
                                   "%(zones)s and %(num)d more zones", extra, zones=named)  # fmt: skip
            warnings.append(t.gettext(
                "The alarm %(span)s before the start would ring at %(moments)s: inside quiet "
                "hours (%(start)s–%(end)s). Feeds ring it at %(start)s instead.",
                span=span(before, t) if before else "0", moments=named,
                start=workspace.quiet_start, end=workspace.quiet_end,
            ))  # fmt: skip
    return warnings
