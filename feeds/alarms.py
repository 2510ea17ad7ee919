"""When an alarm rings: nominal days, exact hours, and quiet hours in the subscriber's zone.

Rules (documented in docs/feeds.md):
- ``before`` is split into whole days and the rest. Days are nominal (the same wall-clock
  time N days earlier, so "P1D" stays "the day before at the same time" across a DST change);
  the rest is exact time.
- An alarm that would ring strictly inside the workspace's quiet hours, in the subscriber's
  zone, rings at the start of those quiet hours instead: the last allowed moment before it.
  It therefore never moves later, so it never rings after the event starts.
- Feeds carry exact TRIGGER durations (-PT#H#M#S) computed per occurrence; occurrences whose
  alarms differ from the series get their own RECURRENCE-ID override.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = 86400


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        return cls(time.fromisoformat(start), time.fromisoformat(end))

    def contains(self, wall: datetime) -> bool:
        """Strictly inside: an alarm at exactly the start or the end may ring."""
        moment = wall.time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start < moment < self.end
        return moment > self.start or moment < self.end

    def last_start_before(self, wall: datetime) -> datetime:
        candidate = datetime.combine(wall.date(), self.start)
        return candidate if candidate <= wall else candidate - timedelta(days=1)


def to_utc(wall: datetime, zone: str) -> datetime:
    """A wall time in ``zone`` as UTC; a time skipped by DST reads with the offset before the gap
    (RFC 5545 §3.3.5), so 02:30 on a spring-forward night means 03:30."""
    return wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def to_wall(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def alarm_offset(
    start_wall: datetime, zone: str, before: int, subscriber_zone: str, quiet: QuietHours
) -> int:
    """Seconds from the alarm to the start of one occurrence (never negative)."""
    days, exact = divmod(before, DAY)
    start = to_utc(start_wall, zone)
    alarm = to_utc(start_wall - timedelta(days=days), zone) - timedelta(seconds=exact)
    local = to_wall(alarm, subscriber_zone)
    if quiet.contains(local):
        moved = to_utc(quiet.last_start_before(local), subscriber_zone)
        alarm = min(moved, alarm)
    return max(0, int((start - alarm).total_seconds()))
