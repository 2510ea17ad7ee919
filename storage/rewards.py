"""Rewards unlocked by a real subscription: a segment's offer, its pool of unique codes,
and the one-time unlock at a subscription's first poll by a calendar app.

A code is never given twice, also with several processes on PostgreSQL: the subscription
is unlocked by one conditional UPDATE (a second poll finds it done), the pool's counter on
the segment row is decremented under that row's lock (exactly one unlock sees each value,
so ``reward.pool_low`` is sent once), and the code row is taken with ``FOR UPDATE SKIP
LOCKED``, with a unique index on the subscription as the last word. SQLite has one writer
at a time, which gives the same guarantees without the locking clauses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import Table, and_, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OfferDaily, RewardCode, Segment, Subscription
from storage.outbox import enqueue
from storage.telemetry import increment

OFFER_DAILY = cast(Table, OfferDaily.__table__)
# reward.pool_low is sent when this many codes are left, and again when none are.
POOL_LOW = 10

_CLAIM_POSTGRESQL = text(
    "UPDATE reward_codes SET subscription_id = :subscription, assigned_at = :now "
    "WHERE id = (SELECT id FROM reward_codes WHERE segment_id = :segment "
    "AND subscription_id IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING code"
)
_CLAIM_SQLITE = text(
    "UPDATE reward_codes SET subscription_id = :subscription, assigned_at = :now "
    "WHERE id = (SELECT id FROM reward_codes WHERE segment_id = :segment "
    "AND subscription_id IS NULL ORDER BY id LIMIT 1) RETURNING code"
)


@dataclass(frozen=True)
class Unlocked:
    subscription_id: int
    segment_id: int
    text: str
    code: str | None  # None: the pool ran out before this subscription's first poll


def offer_open(segment: Segment) -> bool:
    """Whether the landing page announces the segment's reward now."""
    if not segment.reward_text:
        return False
    return bool(segment.reward_code) or (segment.reward_pool and segment.reward_available > 0)


def set_reward(segment: Segment, text_: str | None, code: str | None, pool: bool) -> None:
    """The segment's offer; ``text_`` None takes it away (unused pool codes are kept)."""
    segment.reward_text = text_
    segment.reward_code = code if text_ and not pool else None
    segment.reward_pool = bool(text_) and pool


async def add_codes(
    session: AsyncSession, segment: Segment, codes: Sequence[str]
) -> tuple[int, list[str]]:
    """Add the codes the pool does not have yet: (how many were added, the duplicates left
    out — already in the pool, or repeated in ``codes``)."""
    wanted = list(dict.fromkeys(codes))
    seen: set[str] = set()
    repeated = []
    for code in codes:
        if code in seen:
            repeated.append(code)
        seen.add(code)
    present: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        present.update(
            await session.scalars(
                select(RewardCode.code).where(
                    RewardCode.segment_id == segment.id, RewardCode.code.in_(chunk)
                )
            )
        )
    new = [code for code in wanted if code not in present]
    if new:
        await session.execute(
            insert(RewardCode), [{"segment_id": segment.id, "code": c} for c in new]
        )
        await session.execute(
            update(Segment)
            .where(Segment.id == segment.id)
            .values(reward_available=Segment.reward_available + len(new))
        )
        await session.refresh(segment, ["reward_available"])
    return len(new), [code for code in wanted if code in present] + repeated


async def codes_left(session: AsyncSession, segment_id: int) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(RewardCode)
        .where(RewardCode.segment_id == segment_id, RewardCode.subscription_id.is_(None))
    )
    return int(found or 0)


async def _take_code(
    session: AsyncSession, segment: Segment, subscription_id: int, now: datetime
) -> tuple[str | None, int | None]:
    """(a pool code, codes left after it) — (None, None) when the pool is empty."""
    left = await session.scalar(
        update(Segment)
        .where(Segment.id == segment.id, Segment.reward_available > 0)
        .values(reward_available=Segment.reward_available - 1)
        .returning(Segment.reward_available)
    )
    if left is None:
        return None, None
    dialect = (await session.connection()).dialect.name
    claim = _CLAIM_POSTGRESQL if dialect == "postgresql" else _CLAIM_SQLITE
    code = await session.scalar(
        claim, {"subscription": subscription_id, "now": now, "segment": segment.id}
    )
    return code, int(left)


async def unlock(session: AsyncSession, subscription_id: int, now: datetime) -> Unlocked | None:
    """Give the subscription its reward, once: None if it was offered none or has it."""
    row = (
        await session.execute(
            update(Subscription)
            .where(
                and_(
                    Subscription.id == subscription_id,
                    Subscription.reward_segment_id.is_not(None),
                    Subscription.reward_unlocked_at.is_(None),
                )
            )
            .values(reward_unlocked_at=now)
            .returning(Subscription.reward_segment_id, Subscription.workspace_id)
        )
    ).first()
    if row is None:
        return None
    segment = await session.get(Segment, row[0])
    if segment is None or not segment.reward_text:
        return None
    code, left = segment.reward_code, None
    if segment.reward_pool:
        code, left = await _take_code(session, segment, subscription_id, now)
    if code is None:  # the pool ran out after it subscribed: nothing to give, nothing sent
        return Unlocked(subscription_id, segment.id, segment.reward_text, None)
    await session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id)
        .values(reward_text=segment.reward_text, reward_code=code)
    )
    data = {"subscription_id": subscription_id, "segment": segment.slug,
            "text": segment.reward_text, "code": code}  # fmt: skip
    await enqueue(session, row[1], "reward.unlocked", data, now)
    if left is not None and left in (POOL_LOW, 0):
        await enqueue(session, row[1], "reward.pool_low",
                      {"segment": segment.slug, "available": left}, now)  # fmt: skip
    return Unlocked(subscription_id, segment.id, segment.reward_text, code)


async def low_pools(session: AsyncSession, workspace_id: int) -> list[tuple[str, str, int]]:
    """(slug, name, codes left) of the workspace's pools at or below POOL_LOW: the banner."""
    rows = await session.execute(
        select(Segment.slug, Segment.name, Segment.reward_available)
        .where(
            Segment.workspace_id == workspace_id,
            Segment.reward_pool.is_(True),
            Segment.reward_text.is_not(None),
            Segment.reward_available <= POOL_LOW,
        )
        .order_by(Segment.slug)
    )
    return [(slug, name, int(left)) for slug, name, left in rows.all()]


async def mark_offered(session: AsyncSession, subscription: Subscription, segment_id: int) -> bool:
    """At subscribe time: if the segment's reward is announced now, the subscription will
    unlock it at its first poll by a calendar app."""
    segment = await session.get(Segment, segment_id)
    if segment is None or not offer_open(segment):
        return False
    subscription.reward_segment_id = segment.id
    return True


async def write_offers(
    session: AsyncSession, offers: Mapping[tuple[int, date, str, bool], int]
) -> None:
    await increment(
        session, OFFER_DAILY, ("segment_id", "day", "variant", "offered"), "views",
        [{"segment_id": s, "day": d, "variant": v, "offered": o, "views": n}
         for (s, d, v, o), n in offers.items()],
    )  # fmt: skip
