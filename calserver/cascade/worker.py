"""The cascade worker: claims due triggers, decides, sends, records — in batches.

One tick: (1) lease a batch of due triggers; (2) in one transaction plan their steps,
apply the planner's decisions and mark the steps to send ``sending``; (3) send those
messages concurrently, outside any transaction; (4) record every outcome and give the
triggers back with their next time. A worker killed during (3) leaves steps ``sending`` on
triggers whose lease runs out; the next worker reconciles them (asks the provider when the
channel can; resends under the same idempotency key when the provider de-duplicates;
otherwise records the outcome as unknown and does not resend).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import chain
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from calserver.backoff import retry_delay
from calserver.cascade.messages import address_for, build_message, language_of
from calserver.cascade.plan import Situation, decide, ending
from calserver.cascade.registry import Registry
from calserver.channels import BaseChannel, Message, SendResult
from calserver.clock import Clock
from feeds.alarms import QuietHours
from storage.cascade import (
    Batch,
    CascadeTrigger,
    claim_due,
    load_batch,
    load_recent_sends,
    release,
    timeline_row,
    write_timeline,
)
from storage.cascade_steps import Step, new_step, save_steps
from storage.engine import is_postgresql
from storage.policy import Policy

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
LONGEST_CAP = timedelta(days=31)


@dataclass(frozen=True)
class WorkerSettings:
    batch_size: int = 200
    concurrency: int = 64
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0


@dataclass
class Job:
    """One message to send (or reconcile) in this tick."""

    trigger_id: int
    step: Step
    # All the trigger's steps as this tick decided them: the outcome is written to these,
    # not to steps read again (no one else changes a step while its message is in flight;
    # a delivery report for an earlier step nudges the trigger, which is looked at anew).
    steps: list[Step]
    message: Message
    reconcile: bool
    # Cancelled while its message was in flight: reconcile what was sent, send nothing new.
    cancelled: bool = False
    result: SendResult | None = None
    note: str = ""

    @property
    def channel(self) -> str:
        return self.step.channel


@dataclass
class Tick:
    jobs: list[Job] = field(default_factory=list)
    handled: int = 0


def planned_steps(trigger: CascadeTrigger, policy: Policy) -> list[Step]:
    """The policy's steps for this trigger, not stored yet: the tick that plans them stores
    them with its first decision already applied."""
    return [
        new_step(trigger.workspace_id, trigger.id, trigger.contact_id, position, step.channel,
                 step.price, step.wait_seconds)
        for position, step in enumerate(policy.steps)
    ]  # fmt: skip


def policies_of(batch: Batch) -> dict[int, Policy | None]:
    """Each trigger's policy, by trigger id: its own, else its workspace's (read once for
    the batch, not once per trigger)."""

    def parsed(data: dict[str, Any] | None) -> Policy | None:
        return Policy.from_json(data) if data else None

    of_workspace = {key: parsed(w.cascade_policy) for key, w in batch.workspaces.items()}
    return {
        t.id: of_workspace[t.workspace_id] if t.cascade_policy is None else parsed(t.cascade_policy)
        for t in batch.triggers
    }


@lru_cache(maxsize=256)
def _quiet_hours(start: str, end: str) -> QuietHours:
    return QuietHours.parse(start, end)  # the same few settings for every trigger


class Worker:
    def __init__(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], clock: Clock,
        registry: Registry, http: aiohttp.ClientSession, settings: WorkerSettings,
    ) -> None:  # fmt: skip
        self.engine, self.sessions, self.clock = engine, sessions, clock
        self.registry, self.http, self.settings = registry, http, settings
        self._channels: dict[str, BaseChannel] = {}
        self.stopping = asyncio.Event()
        self.lock = asyncio.Lock()

    async def run_once(self) -> int:
        """One tick; how many triggers it handled."""
        async with self.lock:
            now = self.clock.now()
            lease = timedelta(seconds=self.settings.lease_seconds)
            async with self.sessions.begin() as session:
                claimed = await claim_due(session, now, self.settings.batch_size, lease,
                                          postgresql=is_postgresql(self.engine))  # fmt: skip
            if not claimed:
                return 0
            tick = await self._decide(claimed, now)
            await self._send_all(tick.jobs)
            await self._record(tick.jobs, claimed)
            return tick.handled

    async def run_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("cascade tick failed; trying again shortly")
                handled = 0
            if handled < self.settings.batch_size:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.poll_seconds):
                        await self.stopping.wait()

    # --- (2) decide -----------------------------------------------------------------------

    async def _decide(self, claimed: dict[int, int], now: datetime) -> Tick:
        tick = Tick()
        events: list[dict[str, Any]] = []
        releases: list[tuple[int, int, datetime | None]] = []
        async with self.sessions.begin() as session:
            batch = await load_batch(session, list(claimed))
            policies = policies_of(batch)
            for trigger in batch.triggers:
                policy = policies[trigger.id]
                if policy is not None and not batch.steps.get(trigger.id):
                    batch.steps[trigger.id] = planned_steps(trigger, policy)
            if any(policy is not None and policy.cap for policy in policies.values()):
                # Only a frequency cap reads the contacts' past messages.
                await load_recent_sends(session, batch, now - LONGEST_CAP)
            for trigger in batch.triggers:
                tick.handled += 1
                policy = policies[trigger.id]
                job, wake = (None, None) if policy is None else (
                    self._decide_one(batch, trigger, policy, now, events))  # fmt: skip
                if job is None:
                    releases.append((trigger.id, claimed[trigger.id], wake))
                else:
                    tick.jobs.append(job)
            await save_steps(session, chain.from_iterable(batch.steps.values()), now)
            await write_timeline(session, events)
            await release(session, releases)
        return tick

    def _decide_one(
        self, batch: Batch, trigger: CascadeTrigger, policy: Policy, now: datetime,
        events: list[dict[str, Any]],
    ) -> tuple[Job | None, datetime | None]:  # fmt: skip
        """Apply the planner's decision: the job to send, if any, and when to look again
        (None: the cascade is over)."""
        workspace = batch.workspaces[trigger.workspace_id]
        contact = batch.contacts[trigger.contact_id]
        steps = batch.steps[trigger.id]
        configured = {
            step.channel: entry
            for step in steps
            if (entry := self.registry.get(step.channel, workspace.slug)) is not None
        }
        zone = contact.timezone or workspace.timezone
        quiet = _quiet_hours(workspace.quiet_start, workspace.quiet_end)
        sends = batch.recent_sends.setdefault(contact.id, [])
        situation = Situation(
            now=now, status=trigger.status, critical=trigger.critical, deliver_by=trigger.deliver_by,
            delivered_at=trigger.delivered_at if trigger.status == "delivered" else None,
            event_over_at=trigger.ends_at or trigger.starts_at, contact_zone=zone, quiet=quiet,
            policy=policy, families=batch.families.get(contact.id, []),
            addresses={n: address_for(e, contact) is not None for n, e in configured.items()},
            configured=frozenset(configured), opt_out=frozenset(contact.opt_out or ()),
            recent_sends=sends,
        )  # fmt: skip
        decision = decide(steps, situation)
        for step, state, reason in decision.changes:
            step.finished_at = now
            events.append(timeline_row(trigger.id, now, channel=step.channel, state=state,
                                       reason=reason))  # fmt: skip
        for step, until, reason in decision.deferrals:
            if step.due_at != until:
                step.due_at, step.reason = until, reason
                events.append(timeline_row(trigger.id, now, channel=step.channel, state="deferred",
                                           reason=reason, until=until.isoformat()))  # fmt: skip
        if decision.send is None:
            return None, decision.wake_at
        step = decision.send
        assert isinstance(step, Step)  # one of ``steps``, as the planner was given them
        message = build_message(configured[step.channel], workspace.slug, trigger, contact, zone,
                                quiet, now, language_of(contact, workspace.language))  # fmt: skip
        if step.state != "sending":
            step.state, step.reason, step.sending_at = "sending", "", step.sending_at or now
            step.attempts += 1
            sends.append(now)
        cancelled = trigger.status == "cancelled"
        job = Job(trigger.id, step, steps, message, decision.reconcile, cancelled)
        return job, None

    # --- (3) send -------------------------------------------------------------------------

    async def _send_all(self, jobs: list[Job]) -> None:
        # Every send ends well inside the lease, so no other worker takes the trigger while
        # its message may still be on the way: one deadline for the batch (a timer per
        # message cost more than the deadline is worth); a job it cuts short is retried.
        deadline = max(self.settings.lease_seconds * 0.8, 0.1)
        waiting = iter(jobs)

        async def sender() -> None:
            # A few long-lived senders, not a task per job: a task and a semaphore per
            # message cost a fifth of a message's CPU.
            for job in waiting:
                try:
                    job.result, job.note = await self._send(job)
                except Exception as exc:  # a channel bug must not lose the batch's results
                    log.exception("cascade send on %s failed", job.channel)
                    job.result = SendResult("retry", error=type(exc).__name__)

        senders = min(self.settings.concurrency, len(jobs))
        try:
            async with asyncio.timeout(deadline):
                await asyncio.gather(*(sender() for _ in range(senders)))
        except TimeoutError:
            for job in jobs:
                if job.result is None:
                    job.result = SendResult("retry", error=f"no answer in {deadline:g} s")

    async def _send(self, job: Job) -> tuple[SendResult, str]:
        channel = self._channels.get(job.channel)
        if channel is None:
            channel = self._channels[job.channel] = self.registry.build(job.channel, self.http)
        if job.reconcile:
            if channel.can_lookup:
                found = await channel.lookup(job.message.idempotency_key)
                if found is not None:
                    return found, "reconciled: the provider had it"
                if job.cancelled:
                    return SendResult("failed", error="trigger_cancelled"), "reconciled: not sent"
                return await channel.send(job.message), "reconciled: the provider never got it"
            if not channel.resend_safe or job.cancelled:
                return SendResult("sent", error="outcome_unknown"), "reconciled: not resent"
            return await channel.send(job.message), "reconciled: resent under the same key"
        return await channel.send(job.message), ""

    # --- (4) record -----------------------------------------------------------------------

    async def _record(self, jobs: list[Job], claimed: dict[int, int]) -> None:
        if not jobs:
            return
        now = self.clock.now()
        events: list[dict[str, Any]] = []
        releases: list[tuple[int, int, datetime | None]] = []
        async with self.sessions.begin() as session:
            for job in jobs:
                step, steps = job.step, job.steps
                wake: datetime | None = self._apply(step, job, now, events)
                if (reason := ending(step)) is not None:  # done here: no second round needed
                    for other in steps:
                        if other.state == "pending":
                            other.state, other.reason, other.finished_at = "skipped", reason, now
                            events.append(timeline_row(job.trigger_id, now, channel=other.channel,
                                                       state="skipped", reason=reason))  # fmt: skip
                    wake = None
                releases.append((job.trigger_id, claimed[job.trigger_id], wake))
            await save_steps(session, chain.from_iterable(job.steps for job in jobs), now)
            await write_timeline(session, events)
            await release(session, releases)

    def _apply(self, step: Step, job: Job, now: datetime, events: list[dict[str, Any]]) -> datetime:
        """Write one send's outcome to its step; when to look at the trigger again."""
        result = job.result or SendResult("retry", error="not sent")
        if result.provider_id:
            step.provider_id = result.provider_id[:200]
        wake = now
        if result.outcome in ("sent", "delivered"):
            step.state, step.sent_at, step.cost = result.outcome, now, step.price
            step.reason = result.error[:200]
            if result.outcome == "delivered":
                step.finished_at = now
            elif step.wait_seconds:
                wake = now + timedelta(seconds=step.wait_seconds)
        elif result.outcome == "failed" or step.attempts >= MAX_ATTEMPTS:
            step.state, step.finished_at, step.reason = "failed", now, result.error[:200]
        else:
            step.state, step.reason = "pending", result.error[:200]
            step.due_at = wake = now + retry_delay(step.attempts)
        detail = {"channel": step.channel, "state": step.state, "reason": step.reason,
                  "attempt": step.attempts}  # fmt: skip
        if job.note:
            detail["note"] = job.note
        events.append(timeline_row(step.trigger_id, now, **detail))
        return wake
