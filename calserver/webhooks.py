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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calserver import __version__
from calserver.appkeys import CLOCK, CONFIG, SESSIONS
from calserver.backoff import retry_delay
from calserver.clock import Clock
from calserver.targets import GuardedResolver, TargetRefused, check_target
from storage.outbox import Due, claim, select_due, set_outcome

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


# --- signature ----------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Calserver-Signature header: ``t=<unix seconds>,v1=<hex HMAC-SHA256>``.

    The MAC covers ``f"{t}."`` followed by the exact body bytes, so a replayed body with a
    fresh timestamp does not verify.
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


# --- the sender ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderSettings:
    timeout_seconds: float
    poll_seconds: float
    # Private targets: allowed for every workspace, or for the workspaces named.
    allow_private: bool
    private_workspaces: frozenset[str] = frozenset()

    def allows_private(self, workspace_slug: str) -> bool:
        return self.allow_private or workspace_slug in self.private_workspaces


class WebhookSender:
    """Drains the outbox with its own HTTP client; a lock so one batch at a time runs per
    process, and the signal to stop after the message in flight (on shutdown)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
        settings: SenderSettings, client: aiohttp.ClientSession,
    ) -> None:  # fmt: skip
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self.client = client
        self.lock = asyncio.Lock()
        self.stopping = asyncio.Event()

    async def run_forever(self) -> None:
        interval = self.settings.poll_seconds
        while not self.stopping.is_set():
            try:
                picked, _ = await self._deliver()
            except Exception:
                log.exception("webhook deliveries failed; trying again in %s s", interval)
                picked = 0
            if picked < BATCH_SIZE:  # a full batch means more may be waiting: go on at once
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(interval):
                        await self.stopping.wait()

    async def deliver_due(self) -> int:
        """Send the due messages (at most one batch); returns how many were delivered."""
        return (await self._deliver())[1]

    async def _deliver(self) -> tuple[int, int]:
        async with self.lock:
            return await self._deliver_batch()

    async def _set(
        self, message_id: int, values: dict[str, object], only_if_due: datetime | None
    ) -> None:
        async with self.sessions.begin() as session:
            await set_outcome(session, message_id, values, only_if_due=only_if_due)

    async def _claim(self, message_id: int, now: datetime) -> int | None:
        lease_until = now + timedelta(seconds=self.settings.timeout_seconds) + LEASE_MARGIN
        async with self.sessions.begin() as session:
            return await claim(session, message_id, now, lease_until)

    async def _deliver_batch(self) -> tuple[int, int]:
        async with self.sessions.begin() as session:
            batch = await select_due(session, self.clock.now(), BATCH_SIZE)
        # An endpoint that failed in this batch is not tried again in it: its later messages
        # wait for its next attempt, so one slow or dead receiver cannot hold up the others.
        failing: dict[int, tuple[datetime, str]] = {}
        delivered = 0
        for message in batch:
            if self.stopping.is_set():
                break
            now = self.clock.now()
            if now - message.created_at >= GIVE_UP_AFTER:
                log.warning("webhook %s to endpoint %d: gave up after %s", message.event_id,
                            message.endpoint_id, GIVE_UP_AFTER)  # fmt: skip
                await self._set(message.id, {"last_error": GAVE_UP, "next_attempt_at": NEVER}, now)
                continue
            if message.endpoint_id in failing:
                retry_at, why = failing[message.endpoint_id]
                waiting = {"next_attempt_at": retry_at, "last_error": f"waiting: {why}"[:MAX_ERROR]}
                await self._set(message.id, waiting, now)
                continue
            attempts = await self._claim(message.id, now)
            if attempts is None:
                continue  # another sender has it, or had it
            error = await self._send(message)
            now = self.clock.now()
            if error is None:
                await self._set(message.id, {"delivered_at": now}, None)
                delivered += 1
                continue
            attempts += 1
            retry_at = now + retry_delay(attempts)
            log.info("webhook %s to endpoint %d failed (%s); attempt %d, next at %s",
                     message.event_id, message.endpoint_id, error, attempts,
                     retry_at.isoformat())  # fmt: skip
            values = {"attempts": attempts, "last_error": error, "next_attempt_at": retry_at}
            await self._set(message.id, values, None)
            failing[message.endpoint_id] = (retry_at, error)
        return len(batch), delivered

    async def _send(self, message: Due) -> str | None:
        """POST one message; None when the receiver took it (2xx), else a short error."""
        timeout = self.settings.timeout_seconds
        body = json.dumps(message.payload, separators=(",", ":")).encode()
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "Calserver-Event-Id": message.event_id,
            "Calserver-Event-Type": message.event_type,
            "Calserver-Signature": sign(message.secret, timestamp, body),
        }
        _SENDING_FOR.set(message.workspace_slug)
        private_ok = self.settings.allows_private(message.workspace_slug)
        try:
            async with asyncio.timeout(timeout):
                refusal = await check_target(message.url, private_ok, unresolvable_ok=True)
                if refusal is not None:
                    log.warning("webhook %s to endpoint %d refused: %s", message.event_id,
                                message.endpoint_id, refusal)  # fmt: skip
                    return TARGET_REFUSED
                async with self.client.post(
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


@contextlib.asynccontextmanager
async def running_sender(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: SenderSettings,
    *, background: bool,
) -> AsyncIterator[WebhookSender]:  # fmt: skip
    """A sender with its own guarded HTTP client (webhook URLs come from API users, so a
    private address is refused at connect time too); its loop runs when ``background``.

    On exit the loop stops after the message in flight (so no database call is cut off
    half-way); it is cancelled only if that takes longer than a send's deadline.
    """
    resolver = GuardedResolver(lambda: settings.allows_private(_SENDING_FOR.get()))
    connector = aiohttp.TCPConnector(resolver=resolver, limit=20)
    try:
        async with aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=settings.timeout_seconds),
            cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
        ) as client:  # fmt: skip
            sender = WebhookSender(sessions, clock, settings, client)
            task = None
            if background:
                task = asyncio.create_task(sender.run_forever(), name="calserver-webhooks")
            try:
                yield sender
            finally:
                sender.stopping.set()
                if task is not None:
                    await _stop(task, settings.timeout_seconds + 5)
    finally:
        await resolver.close()


async def _stop(task: asyncio.Task[None], patience: float) -> None:
    done, _ = await asyncio.wait({task}, timeout=patience)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- the app's sender (cleanup_ctx) -----------------------------------------------------------

SENDER = web.AppKey("webhook_sender", WebhookSender)


def app_settings(app: web.Application) -> SenderSettings:
    config = app[CONFIG]
    override = app.get(ALLOW_PRIVATE)
    return SenderSettings(
        timeout_seconds=float(config.webhook_timeout_seconds),
        poll_seconds=float(config.webhook_poll_seconds),
        allow_private=bool(config.webhook_allow_private) if override is None else override,
        private_workspaces=frozenset(config.webhook_private_workspaces),
    )


def allow_private(app: web.Application, workspace_slug: str) -> bool:
    """Whether a webhook of this workspace may target a private address."""
    return app_settings(app).allows_private(workspace_slug)


async def webhook_sender(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the app's sender and its background loop."""
    async with running_sender(
        app[SESSIONS], app[CLOCK], app_settings(app), background=True
    ) as sender:
        app[SENDER] = sender
        yield


async def deliver_due(app: web.Application) -> int:
    """Send the app's due messages now (at most one batch); how many were delivered. Without
    the app's sender running (webhook_sender not wired in), a one-off sender does it."""
    sender = app.get(SENDER)
    if sender is not None:
        return await sender.deliver_due()
    async with running_sender(
        app[SESSIONS], app[CLOCK], app_settings(app), background=False
    ) as one_off:
        return await one_off.deliver_due()
