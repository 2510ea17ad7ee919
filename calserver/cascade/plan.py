"""What a trigger's cascade does next: pure decisions, no I/O (the worker applies them).

The steps are walked in order. A finished step (failed, skipped, expired, or sent and past
its wait) hands over to the next; a delivered step — or a sent one that needs no report —
ends the cascade; the first step still to act decides what happens now and when to look
again. Reasons are short words an API reader can count on (docs/cascade.md lists them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from calserver.cascade.registry import CALENDAR
from feeds.alarms import QuietHours, to_utc, to_wall
from storage.families import DROPS_ALARMS
from storage.policy import Cap, Policy

FINAL = frozenset({"delivered", "failed", "skipped", "expired"})


class StepState(Protocol):
    """A step as the planner sees it (storage.models.CascadeStep and the worker's
    storage.cascade_steps.Step have these attributes)."""

    position: int
    channel: str
    wait_seconds: int
    state: str
    reason: str
    attempts: int
    due_at: datetime | None
    sending_at: datetime | None
    sent_at: datetime | None
    finished_at: datetime | None


@dataclass(slots=True)  # not frozen: a frozen init sets each of its 14 fields through
class Situation:  # object.__setattr__, per trigger; the planner only reads it
    """What the planner knows of one trigger, its contact and the world, now."""

    now: datetime
    status: str  # the trigger's: pending, delivered, undelivered, cancelled
    critical: bool
    deliver_by: datetime | None
    delivered_at: datetime | None
    event_over_at: datetime
    contact_zone: str
    quiet: QuietHours
    policy: Policy
    families: Sequence[str]  # of the contact's live subscriptions ("" before a first poll)
    addresses: dict[str, bool]  # step channel -> the contact has an address for it
    configured: frozenset[str]  # step channels this workspace may use
    opt_out: frozenset[str]
    recent_sends: Sequence[datetime]  # the contact's messages on any channel, newest last


@dataclass
class Decision:
    changes: list[tuple[StepState, str, str]] = field(default_factory=list)  # (step, state, why)
    deferrals: list[tuple[StepState, datetime, str]] = field(default_factory=list)
    send: StepState | None = None
    reconcile: bool = False  # the step to send was left "sending" by a worker that died
    wake_at: datetime | None = None  # None: nothing more to do

    def change(self, step: StepState, state: str, reason: str) -> None:
        self.changes.append((step, state, reason))
        step.state, step.reason = state, reason


def next_allowed(now: datetime, zone: str, quiet: QuietHours) -> datetime | None:
    """The end of the quiet hours ``now`` falls in, in ``zone``; None outside them."""
    local = to_wall(now, zone)
    if not quiet.contains(local):
        return None
    end = datetime.combine(local.date(), quiet.end)
    if end <= local:
        end += timedelta(days=1)
    return to_utc(end, zone)


def cap_release(now: datetime, sends: Sequence[datetime], cap: Cap) -> datetime | None:
    """When the frequency cap lets one more message out; None when it already does."""
    window = [at for at in sends if at > now - timedelta(seconds=cap.period_seconds)]
    if len(window) < cap.max:
        return None
    return sorted(window)[-cap.max] + timedelta(seconds=cap.period_seconds)


def ending(step: StepState) -> str | None:
    """Why the cascade ends at this step, if it does: delivered, or sent where no report is
    awaited. The rest of the steps are then skipped with this reason."""
    if step.state == "delivered":
        return "delivered_earlier"
    if step.state == "sent" and step.wait_seconds == 0:
        return "sent_earlier"
    return None


def _finish(decision: Decision, steps: Sequence[StepState], reason: str) -> Decision:
    for step in steps:
        if step.state == "pending":
            decision.change(step, "skipped", reason)
    decision.wake_at = None
    return decision


def _calendar(step: StepState, s: Situation, d: Decision) -> bool:
    """True when the calendar step is still waiting (the cascade stops here for now)."""
    if not s.families:
        d.change(step, "skipped", "no_subscription")
        return False
    if s.critical and all(f in DROPS_ALARMS for f in s.families):
        d.change(step, "skipped", "alarms_dropped")
        return False
    if s.deliver_by is not None and s.now < s.deliver_by:
        d.wake_at = s.deliver_by
        return True
    d.change(step, "expired", "not_polled_in_time")
    return False


def _channel(step: StepState, s: Situation, d: Decision) -> bool:
    """True when this step sends now or waits (the cascade stops here for now)."""
    if step.channel not in s.configured:
        d.change(step, "skipped", "channel_not_configured")
        return False
    if step.channel in s.opt_out:
        d.change(step, "skipped", "opted_out")
        return False
    if not s.addresses.get(step.channel, False):
        d.change(step, "skipped", "no_address")
        return False
    if s.now >= s.event_over_at:
        d.change(step, "expired", "event_over")
        return False
    if step.due_at is not None and s.now < step.due_at:
        d.wake_at = step.due_at
        return True
    quiet_end = next_allowed(s.now, s.contact_zone, s.quiet) if s.policy.quiet_hours else None
    if quiet_end is not None:
        d.deferrals.append((step, quiet_end, "quiet_hours"))
        d.wake_at = quiet_end
        return True
    cap = s.policy.cap
    release = cap_release(s.now, s.recent_sends, cap) if cap else None
    if cap is not None and release is not None:
        if cap.action == "drop":
            d.change(step, "skipped", "frequency_cap")
            return False
        d.deferrals.append((step, release, "frequency_cap"))
        d.wake_at = release
        return True
    d.send = step
    return True


def decide(steps: Sequence[StepState], s: Situation) -> Decision:
    d = Decision()
    ordered = sorted(steps, key=lambda step: step.position)
    stale = next((step for step in ordered if step.state == "sending"), None)
    if stale is not None:
        # Only a worker that died mid-send leaves a step "sending" on a trigger it no longer
        # holds: find out what became of it first (the worker reconciles, it does not resend
        # blindly).
        d.send, d.reconcile = stale, True
        return d
    if s.status == "cancelled":
        return _finish(d, ordered, "trigger_cancelled")
    calendar = next((step for step in ordered if step.channel == CALENDAR), None)
    if s.delivered_at is not None and calendar is not None:
        # The calendar got it (perhaps late): it counts, and nothing unsent goes out.
        if calendar.state != "delivered":
            late = s.deliver_by is not None and s.delivered_at > s.deliver_by
            d.change(calendar, "delivered", "late_receipt" if late else "receipt")
        return _finish(d, ordered, "delivered_by_calendar")
    for step in ordered:
        if (reason := ending(step)) is not None:
            return _finish(d, ordered, reason)
        if step.state in FINAL:
            continue
        if step.state == "sent":
            assert step.sent_at is not None
            until = step.sent_at + timedelta(seconds=step.wait_seconds)
            if s.now < until:
                d.wake_at = until
                return d
            continue  # no report in time: the next step takes over; this one stays "sent"
        waiting = _calendar(step, s, d) if step.channel == CALENDAR else _channel(step, s, d)
        if waiting:
            return d
    d.wake_at = None
    return d
