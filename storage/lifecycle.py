"""The subscription lifecycle: states, transitions, and the log that counts them.

    created --first poll--> active --silence--> dormant --longer silence--> lapsed
       any live state --button--> unsubscribed;  --business--> revoked
    dormant --a poll--> active again ("resumed");  lapsed --a poll--> active again ("returned")

Dormant subscriptions still count as active; lapsed, unsubscribed and revoked do not. Every
transition writes a SubscriptionEvent whose delta_active (+1, 0, -1) keeps the daily active
count a running sum. Transitions are conditional UPDATEs, so several processes applying the
same transition write one event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.families import Thresholds
from storage.models import Subscription, SubscriptionEvent
from storage.notify import notify_subscriptions

LIVE = ("created", "active", "dormant", "lapsed")
ENDED = ("unsubscribed", "revoked")
# What a poll wakes: each of these statuses becomes active again (see wake()).
WAKES = (("created", "activated"), ("dormant", "resumed"), ("lapsed", "returned"))
COUNTED = ("active", "dormant")
STATUSES = (*LIVE, *ENDED)


def delta(from_status: str, to_status: str) -> int:
    return int(to_status in COUNTED) - int(from_status in COUNTED)


def event_row(
    sub: Any, kind: str, from_status: str, to_status: str, at: datetime
) -> dict[str, Any]:
    return {
        "subscription_id": sub.id,
        "workspace_id": sub.workspace_id,
        "type": kind,
        "from_status": from_status,
        "at": at,
        "family": sub.family,
        "src": sub.src,
        "delta_active": delta(from_status, to_status),
    }


async def log_events(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        await session.execute(insert(SubscriptionEvent), rows)


async def log_created(session: AsyncSession, subscription: Subscription) -> None:
    await log_events(
        session, [event_row(subscription, "created", "", "created", subscription.created_at)]
    )
    await notify_subscriptions(
        session,
        "subscription.created",
        [subscription],
        "created",
        "created_at",
        subscription.created_at,
    )


async def end(
    session: AsyncSession, subscription: Subscription, status: str, now: datetime
) -> bool:
    """Unsubscribe or revoke a live subscription; False when it had already ended."""
    previous = subscription.status
    result = await session.execute(
        update(Subscription)
        .where(Subscription.id == subscription.id, Subscription.status.in_(LIVE))
        .values(status=status, updated_at=now, ended_at=now)
        .returning(Subscription.id)
    )
    if result.first() is None:
        return False
    await log_events(session, [event_row(subscription, status, previous, status, now)])
    subscription.status, subscription.updated_at, subscription.ended_at = status, now, now
    if status == "unsubscribed":
        await notify_subscriptions(
            session, "subscription.unsubscribed", [subscription], status, "ended_at", now
        )
    return True


_SUB_COLUMNS = (Subscription.id, Subscription.workspace_id, Subscription.family, Subscription.src,
                Subscription.last_poll_at, Subscription.activated_at)  # fmt: skip


async def wake(
    session: AsyncSession, ids: list[int], first_polled: set[int], now: datetime
) -> None:
    """After polls were recorded: created -> active, dormant or lapsed -> active again.

    ``first_polled`` are the subscriptions whose very first poll is in this batch: one that
    was unsubscribed before the batch was written still counts as activated (with no
    effect on the active count).
    """
    activated: set[int] = set()
    for from_status, kind in WAKES:
        rows = (
            await session.execute(
                update(Subscription)
                .where(Subscription.id.in_(ids), Subscription.status == from_status)
                .values(status="active", updated_at=now)
                .returning(*_SUB_COLUMNS)
            )
        ).all()
        if kind == "activated":
            activated = {row.id for row in rows}
            await notify_subscriptions(
                session, "subscription.activated", rows, "active", "activated_at", now
            )
        # Activation is dated by the first poll, a return by the latest.
        at = "activated_at" if kind == "activated" else "last_poll_at"
        await log_events(
            session, (event_row(r, kind, from_status, "active", getattr(r, at)) for r in rows)
        )
    ended_first = sorted(first_polled - activated)
    if ended_first:
        ended = (
            await session.execute(
                select(*_SUB_COLUMNS, Subscription.status).where(
                    Subscription.id.in_(ended_first), Subscription.status.in_(ENDED)
                )
            )
        ).all()
        await log_events(
            session, (event_row(r, "activated", r.status, r.status, r.activated_at) for r in ended)
        )


async def sweep(session: AsyncSession, thresholds: Mapping[str, Thresholds], now: datetime) -> int:
    """Mark silent subscriptions dormant, then lapsed; the event is dated when the silence
    crossed the threshold, not when the sweep noticed. Returns how many changed."""
    changed = 0
    for family, limits in thresholds.items():
        for from_status, to_status, silence in (
            ("dormant", "lapsed", limits.lapsed),
            ("active", "lapsed", limits.lapsed),
            ("active", "dormant", limits.dormant),
        ):
            rows = (
                await session.execute(
                    update(Subscription)
                    .where(
                        and_(
                            Subscription.family == family,
                            Subscription.status == from_status,
                            Subscription.last_poll_at < now - timedelta(seconds=silence),
                        )
                    )
                    .values(status=to_status, updated_at=now)
                    .returning(*_SUB_COLUMNS)
                )
            ).all()
            await log_events(
                session,
                (
                    event_row(
                        row,
                        to_status,
                        from_status,
                        to_status,
                        row.last_poll_at + timedelta(seconds=silence),
                    )
                    for row in rows
                ),
            )
            if to_status == "lapsed":
                await notify_subscriptions(
                    session, "subscription.lapsed", rows, "lapsed", "last_poll_at", now
                )
            changed += len(rows)
    return changed
