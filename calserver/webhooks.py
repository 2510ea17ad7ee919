"""Webhooks: the signature, the guard against private targets, and the sender.

The sender drains the outbox (storage/outbox.py) at least once per message: each message
is claimed with a short lease (its ``next_attempt_at`` moved past the send's deadline), sent,
and its outcome written in its own short transaction. A crash mid-batch therefore re-sends
at most the one message in flight, with the same event id; the others were either recorded
or never sent. On PostgreSQL the claim takes the row with ``FOR UPDATE SKIP LOCKED``, so
several processes never send the same message at once; on SQLite one process is assumed
(the claim is still a compare-and-set, so an explicit ``deliver_due`` beside the background
loop cannot double-send either).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select, update

from calserver import __version__
from calserver.appkeys import CLOCK, CONFIG, ENGINE, SESSIONS
from calserver.backoff import retry_delay
from calserver.targets import GuardedResolver, TargetRefused, check_target
from storage.engine import is_postgresql
from storage.models import OutboxMessage, WebhookEndpoint, Workspace

log = logging.getLogger(__name__)

# Not set by create_app: tests (and embedders) set it to reach receivers on loopback; when
# absent the ``webhook_allow_private`` option decides.
ALLOW_PRIVATE = web.AppKey("webhook_allow_private", bool)

BATCH_SIZE = 100
GIVE_UP_AFTER = timedelta(hours=72)
# next_attempt_at of a message given up on: never due again.
NEVER = datetime(9999, 1, 1, tzinfo=UTC)
# A claimed message is due again this long after its send's deadline (a crash mid-send).
LEASE_MARGIN = timedelta(seconds=60)
USER_AGENT = f"calserver-webhooks/{__version__}"
TARGET_REFUSED = "target refused"
GAVE_UP = "gave up"
MAX_ERROR = 200


# The workspace whose message is being sent, for the resolver's check at connect time.
_SENDING_FOR: contextvars.ContextVar[str] = contextvars.ContextVar("webhook_workspace", default="")


def allow_private(app: web.Application, workspace_slug: str | None = None) -> bool:
    """Private targets: allowed for every workspace by ``webhook_allow_private``, or for the
    workspaces named in ``webhook_private_workspaces``."""
    config = app[CONFIG]
    slug = _SENDING_FOR.get() if workspace_slug is None else workspace_slug
    if slug and slug in config.webhook_private_workspaces:
        return True
    override = app.get(ALLOW_PRIVATE)
    if override is not None:
        return override
    return bool(app[CONFIG].webhook_allow_private)


def _timeout_seconds(app: web.Application) -> float:
    return float(app[CONFIG].webhook_timeout_seconds)


def _poll_seconds(app: web.Application) -> float:
    return float(app[CONFIG].webhook_poll_seconds)


# --- signature ----------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Calserver-Signature header: ``t=<unix seconds>,v1=<hex HMAC-SHA256>``.

    The MAC covers ``f"{t}."`` followed by the exact body bytes, so a replayed body with a
    fresh timestamp does not verify.
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


# --- the sender ---------------------------------------------------------------------------


@dataclass
class Sender:
    """One HTTP client per app, a lock so one batch at a time runs per process, and the
    signal to stop after the message in flight (on shutdown)."""

    client: aiohttp.ClientSession
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


SENDER = web.AppKey("webhook_sender", Sender)


@dataclass(frozen=True)
class _Due:
    id: int
    endpoint_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    workspace_slug: str


@contextlib.asynccontextmanager
async def _http_client(app: web.Application) -> AsyncIterator[aiohttp.ClientSession]:
    resolver = GuardedResolver(lambda: allow_private(app))
    connector = aiohttp.TCPConnector(resolver=resolver, limit=20)
    try:
        async with aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=_timeout_seconds(app)),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        ) as client:
            yield client
    finally:
        await resolver.close()


async def webhook_sender(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the HTTP client and the background loop.

    On shutdown the loop stops after the message in flight (so no database call is cut off
    half-way); it is cancelled only if that takes longer than a send's deadline.
    """
    async with _http_client(app) as client:
        sender = Sender(client)
        app[SENDER] = sender
        task = asyncio.create_task(_run_forever(app, sender), name="calserver-webhooks")
        try:
            yield
        finally:
            sender.stopping.set()
            done, _ = await asyncio.wait({task}, timeout=_timeout_seconds(app) + 5)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def _run_forever(app: web.Application, sender: Sender) -> None:
    interval = _poll_seconds(app)
    while not sender.stopping.is_set():
        try:
            picked, _ = await _deliver(app)
        except Exception:
            log.exception("webhook deliveries failed; trying again in %s s", interval)
            picked = 0
        if picked < BATCH_SIZE:  # a full batch means more may be waiting: go on at once
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await sender.stopping.wait()


async def deliver_due(app: web.Application) -> int:
    """Send the due messages (at most one batch); returns how many were delivered."""
    return (await _deliver(app))[1]


async def _deliver(app: web.Application) -> tuple[int, int]:
    sender = app.get(SENDER)
    if sender is None:  # webhook_sender is not running: a one-off client
        async with _http_client(app) as client:
            return await _deliver_batch(app, client)
    async with sender.lock:
        return await _deliver_batch(app, sender.client, sender.stopping)


def _due(message_id: int, now: datetime) -> tuple[Any, ...]:
    return (
        OutboxMessage.id == message_id,
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
    )


async def _select_due(app: web.Application, now: datetime) -> list[_Due]:
    query = (
        select(
            OutboxMessage.id, OutboxMessage.endpoint_id, WebhookEndpoint.url,
            WebhookEndpoint.secret, OutboxMessage.event_id, OutboxMessage.event_type,
            OutboxMessage.payload, OutboxMessage.created_at, Workspace.slug,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == OutboxMessage.endpoint_id)
        .join(Workspace, Workspace.id == OutboxMessage.workspace_id)
        .where(
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            WebhookEndpoint.active.is_(True),
        )
        .order_by(OutboxMessage.id)
        .limit(BATCH_SIZE)
    )  # fmt: skip
    async with app[SESSIONS].begin() as session:
        rows = (await session.execute(query)).all()
    return [_Due(*row) for row in rows]


async def _claim(app: web.Application, message_id: int, now: datetime) -> int | None:
    """Lease a due message to this sender; its attempts so far, or None if it is not ours."""
    lease_until = now + timedelta(seconds=_timeout_seconds(app)) + LEASE_MARGIN
    async with app[SESSIONS].begin() as session:
        if is_postgresql(app[ENGINE]):
            locked = await session.scalar(
                select(OutboxMessage.id)
                .where(*_due(message_id, now))
                .with_for_update(skip_locked=True)
            )
            if locked is None:
                return None
        attempts: int | None = await session.scalar(
            update(OutboxMessage)
            .where(*_due(message_id, now))
            .values(next_attempt_at=lease_until)
            .returning(OutboxMessage.attempts)
            .execution_options(synchronize_session=False)
        )
    return attempts


async def _update(
    app: web.Application, message_id: int, values: dict[str, Any], *, only_if_due: datetime | None
) -> None:
    where = (
        _due(message_id, only_if_due)
        if only_if_due is not None
        else (OutboxMessage.id == message_id,)
    )
    async with app[SESSIONS].begin() as session:
        await session.execute(
            update(OutboxMessage)
            .where(*where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


async def _deliver_batch(
    app: web.Application, client: aiohttp.ClientSession, stopping: asyncio.Event | None = None
) -> tuple[int, int]:
    clock = app[CLOCK]
    batch = await _select_due(app, clock.now())
    # An endpoint that failed in this batch is not tried again in it: its later messages wait
    # for its next attempt, so one slow or dead receiver cannot hold up the others.
    failing: dict[int, tuple[datetime, str]] = {}
    delivered = 0
    for message in batch:
        if stopping is not None and stopping.is_set():
            break
        now = clock.now()
        if now - message.created_at >= GIVE_UP_AFTER:
            log.warning("webhook %s to endpoint %d: gave up after %s", message.event_id,
                        message.endpoint_id, GIVE_UP_AFTER)  # fmt: skip
            values = {"last_error": GAVE_UP, "next_attempt_at": NEVER}
            await _update(app, message.id, values, only_if_due=now)
            continue
        if message.endpoint_id in failing:
            retry_at, why = failing[message.endpoint_id]
            values = {"next_attempt_at": retry_at, "last_error": f"waiting: {why}"[:MAX_ERROR]}
            await _update(app, message.id, values, only_if_due=now)
            continue
        attempts = await _claim(app, message.id, now)
        if attempts is None:
            continue  # another sender has it, or had it
        error = await _send(app, client, message)
        now = clock.now()
        if error is None:
            await _update(app, message.id, {"delivered_at": now}, only_if_due=None)
            delivered += 1
            continue
        attempts += 1
        retry_at = now + retry_delay(attempts)
        log.info("webhook %s to endpoint %d failed (%s); attempt %d, next at %s",
                 message.event_id, message.endpoint_id, error, attempts,
                 retry_at.isoformat())  # fmt: skip
        values = {"attempts": attempts, "last_error": error, "next_attempt_at": retry_at}
        await _update(app, message.id, values, only_if_due=None)
        failing[message.endpoint_id] = (retry_at, error)
    return len(batch), delivered


async def _send(app: web.Application, client: aiohttp.ClientSession, message: _Due) -> str | None:
    """POST one message; None when the receiver took it (2xx), else a short error."""
    timeout = _timeout_seconds(app)
    body = json.dumps(message.payload, separators=(",", ":")).encode()
    timestamp = int(app[CLOCK].now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "Calserver-Event-Id": message.event_id,
        "Calserver-Event-Type": message.event_type,
        "Calserver-Signature": sign(message.secret, timestamp, body),
    }
    _SENDING_FOR.set(message.workspace_slug)
    try:
        async with asyncio.timeout(timeout):
            refusal = await check_target(message.url, allow_private(app), unresolvable_ok=True)
            if refusal is not None:
                log.warning("webhook %s to endpoint %d refused: %s", message.event_id,
                            message.endpoint_id, refusal)  # fmt: skip
                return TARGET_REFUSED
            async with client.post(
                message.url, data=body, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:  # fmt: skip
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
    except TimeoutError:
        return f"timeout after {timeout:g} s"
    except aiohttp.ClientConnectorError as error:
        if isinstance(error.os_error, TargetRefused):
            log.warning("webhook %s to endpoint %d refused: %s", message.event_id,
                        message.endpoint_id, error.os_error)  # fmt: skip
            return TARGET_REFUSED
        return _short(f"connection error: {error.os_error}")
    except (aiohttp.ClientError, ValueError) as error:
        return _short(f"{type(error).__name__}: {error}")


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"
