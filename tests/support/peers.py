"""Real protocol peers on 127.0.0.1 for the cascade: an SMS gateway, Telegram's Bot API, a
messaging platform taking webhooks, and an SMTP server. Each records what it got and can
answer slowly, with 5xx, or not at all."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.test_channels_email import free_port


@dataclass
class Behaviour:
    """How a stand-in answers: "ok", "5xx", "4xx", "slow" (``delay`` seconds, then ok)."""

    mode: str = "ok"
    delay: float = 0.0
    failures_left: int = 0  # answer 503 this many times, then behave


@dataclass
class SmsGateway:
    """An SMS gateway that de-duplicates by Idempotency-Key, as good gateways do: a repeat
    answers the first message's id and sends nothing. ``submissions`` counts every request
    per key, ``sent`` the messages that went out."""

    behaviour: Behaviour = field(default_factory=Behaviour)
    submissions: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    ids: dict[str, str] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    lookups: Counter[str] = field(default_factory=Counter)
    server: TestServer | None = None
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/send", self._send)
        app.router.add_get("/status/{key}", self._status)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    def settings(self, price: str = "2.40", **extra: Any) -> dict[str, Any]:
        return {
            "type": "sms_http", "price": price, "url": self.url("/send"),
            "body": {"to": "{phone}", "text": "{text}"}, "id_field": "id",
            "lookup_url": self.url("/status/") + "{idempotency_key}", "timeout": 2, **extra,
        }  # fmt: skip

    async def _send(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        body = await request.json()
        self.submissions[key] += 1
        b = self.behaviour
        if b.failures_left > 0:
            b.failures_left -= 1
            return web.json_response({"error": "busy"}, status=503)
        if b.mode == "5xx":
            return web.json_response({"error": "down"}, status=503)
        if b.mode == "4xx":
            return web.json_response({"error": "bad number"}, status=400)
        if key not in self.ids:  # accepted on arrival, as gateways do: the answer may be slow
            self.ids[key] = f"m-{next(self._numbers)}"
            self.sent[key] += 1
            self.bodies[key] = body
        if b.delay:
            await asyncio.sleep(b.delay)
        return web.json_response({"id": self.ids[key], "status": "accepted"})

    async def _status(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        self.lookups[key] += 1
        if key not in self.ids:
            return web.json_response({"error": "unknown"}, status=404)
        return web.json_response({"id": self.ids[key], "status": "accepted"})


@dataclass
class Telegram:
    behaviour: Behaviour = field(default_factory=Behaviour)
    messages: list[dict[str, Any]] = field(default_factory=list)
    server: TestServer | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/sendMessage", self._send)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    def settings(self, price: str = "0") -> dict[str, Any]:
        assert self.server is not None
        base = str(self.server.make_url("")).rstrip("/")
        return {
            "type": "telegram",
            "price": price,
            "token": "123:abc",
            "base_url": base,
            "timeout": 2,
        }

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.behaviour.mode == "5xx":
            return web.json_response({"ok": False}, status=502)
        if self.behaviour.mode == "4xx":
            return web.json_response({"ok": False, "description": "bot was blocked"}, status=403)
        self.messages.append(body)
        return web.json_response({"ok": True, "result": {"message_id": len(self.messages)}})


@dataclass
class Platform:
    """The business's own messaging platform, fed by the webhook channel."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    server: TestServer | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    def settings(self, price: str = "0.50") -> dict[str, Any]:
        assert self.server is not None
        return {"type": "webhook", "price": price, "url": str(self.server.make_url("/hook")),
                "secret": "whsec_platform", "allow_private": True, "timeout": 2}  # fmt: skip

    async def _hook(self, request: web.Request) -> web.Response:
        self.messages.append(json.loads(await request.read()))
        return web.json_response({"id": f"p-{len(self.messages)}", "status": "sent"})


class Mailbox:
    """An SMTP server (aiosmtpd) keeping every accepted message."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"

    def settings(self, price: str = "0.05") -> dict[str, Any]:
        return {"type": "email_smtp", "price": price, "host": "127.0.0.1", "port": self.port,
                "security": "plain", "sender": "Shop <noreply@shop.example>", "timeout": 2}  # fmt: skip


async def post_report(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A provider's delivery-report callback."""
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as answer:
        return answer.status, await answer.json(content_type=None)
