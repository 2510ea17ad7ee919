"""The HTTP channels (sms_http, telegram, webhook) against real stand-in servers on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from calserver.channels import (
    ChannelError,
    Message,
    Report,
    SendResult,
    load,
    sms_http,
    telegram,
    webhook,
)

NASTY = 'He said "hi",\nthen </script><script>alert(1)</script> \\ {phone} 🎉📅'
TOKEN = "123456:SECRET-bot-token-abcdef"
SECRET = "whsec-very-secret-value"
PASSWORD = "gateway-password-xyz"
BEARER = "bearer-token-qwerty"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class StandIn:
    """A stand-in provider: records each request, answers with ``status`` and ``reply``."""

    server: TestServer
    status: int = 200
    reply: Any = field(default_factory=dict)
    delay: float = 0.0
    seen: list[Seen] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return str(self.server.make_url(path))

    @property
    def last(self) -> Seen:
        return self.seen[-1]


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    app = web.Application()
    server = TestServer(app, host="127.0.0.1")
    box = StandIn(server)

    async def handle(request: web.Request) -> web.StreamResponse:
        box.seen.append(
            Seen(
                request.method,
                request.path,
                parse_qs(request.query_string),
                dict(request.headers),
                await request.read(),
            )
        )
        if box.delay:
            await asyncio.sleep(box.delay)
        if isinstance(box.reply, (bytes, str)):
            return web.Response(status=box.status, body=box.reply)
        return web.json_response(box.reply, status=box.status)

    app.router.add_route("*", "/{tail:.*}", handle)
    await server.start_server()
    try:
        yield box
    finally:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def closed_url() -> Iterator[str]:
    """A loopback URL nothing listens on (connection refused). The port stays bound, not
    listening, for the whole test: released at once, it could become the ephemeral port of
    the test's own connection to it, which then connects to itself and times out instead
    (seen once in CI: "timed out after 0.2 s" where "connection failed" was expected)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/send"


def message(address: str = "+15551234567", text: str = NASTY) -> Message:
    return Message(
        idempotency_key="trig-42:sms",
        address=address,
        subject="Reminder",
        text=text,
        data={"event": {"uid": "e1", "title": NASTY}},
    )


def assert_no_secrets(result: SendResult) -> None:
    assert len(result.error) <= 200
    for secret in (TOKEN, SECRET, PASSWORD, BEARER, "SECRET-bot-token"):
        assert secret not in result.error


# --- sms_http -----------------------------------------------------------------------------


def sms_settings(standin: StandIn, **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "url": standin.url("/api/send?key=apikey-in-url"),
        "headers": {"X-Client": "calserver"},
        "auth": {"type": "bearer", "token": BEARER},
        "body": {
            "to": "{phone}",
            "message": {"text": "{text}", "parts": ["{text}", 3]},
            "ref": "key={idempotency_key}",
            "flag": True,
            "count": 1,
        },
        "id_field": "result.id",
        "timeout": 0.2,
    }
    settings.update(extra)
    return settings


async def test_sms_posts_json_with_placeholders_filled(
    standin: StandIn, http: aiohttp.ClientSession
) -> None:
    standin.reply = {"result": {"id": 9876}}
    channel = load("sms_http", sms_settings(standin), http)
    assert isinstance(channel, sms_http.Channel)
    assert channel.contact_field == "phone"
    result = await channel.send(message())
    assert result == SendResult("sent", "9876")
    seen = standin.last
    assert seen.method == "POST"
    assert seen.path == "/api/send"
    assert seen.query == {"key": ["apikey-in-url"]}
    assert seen.headers["Idempotency-Key"] == "trig-42:sms"
    assert seen.headers["Authorization"] == f"Bearer {BEARER}"
    assert seen.headers["X-Client"] == "calserver"
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {
        "to": "+15551234567",
        "message": {"text": NASTY, "parts": [NASTY, 3]},
        "ref": "key=trig-42:sms",
        "flag": True,
        "count": 1,
    }


async def test_sms_basic_auth_and_form(standin: StandIn, http: aiohttp.ClientSession) -> None:
    settings = sms_settings(
        standin,
        auth={"type": "basic", "user": "acme", "password": PASSWORD},
        body={"to": "{phone}", "text": "{text}", "flash": False},
        form=True,
        id_field="messages.0.id",
    )
    standin.reply = {"messages": [{"id": "abc-1"}]}
    result = await sms_http.Channel(settings, http).send(message())
    assert result == SendResult("sent", "abc-1")
    seen = standin.last
    pair = base64.b64encode(f"acme:{PASSWORD}".encode()).decode()
    assert seen.headers["Authorization"] == f"Basic {pair}"
    assert seen.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(seen.body.decode()) == {
        "to": ["+15551234567"],
        "text": [NASTY],
        "flash": ["false"],
    }


async def test_sms_get_puts_body_in_query(standin: StandIn, http: aiohttp.ClientSession) -> None:
    settings = sms_settings(
        standin, method="GET", body={"to": "{phone}", "msg": "{text}"}, auth=None
    )
    del settings["auth"]
    standin.reply = {"result": {"id": "g-1"}}
    result = await sms_http.Channel(settings, http).send(message())
    assert result == SendResult("sent", "g-1")
    seen = standin.last
    assert seen.method == "GET"
    assert seen.body == b""
    assert seen.query == {"key": ["apikey-in-url"], "to": ["+15551234567"], "msg": [NASTY]}
    assert seen.headers["Idempotency-Key"] == "trig-42:sms"
    assert "Authorization" not in seen.headers


@pytest.mark.parametrize(
    ("reply", "outcome", "provider_id"),
    [
        ({"data": {"id": "s1", "state": "DELIVRD"}}, "delivered", "s1"),
        ({"data": {"id": "s2", "state": "rejected"}}, "failed", "s2"),
        ({"data": {"id": "s3", "state": "queued"}}, "sent", "s3"),
        ({"data": {"id": "s4"}}, "sent", "s4"),
    ],
)
async def test_sms_status_field(
    standin: StandIn,
    http: aiohttp.ClientSession,
    reply: Any,
    outcome: str,
    provider_id: str,
) -> None:
    settings = sms_settings(
        standin,
        id_field="data.id",
        status_field="data.state",
        failed_values=["rejected", "failed"],
    )
    standin.reply = reply
    result = await sms_http.Channel(settings, http).send(message())
    assert (result.outcome, result.provider_id) == (outcome, provider_id)
    assert_no_secrets(result)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (302, "failed"),
    ],
)
async def test_sms_http_errors(
    standin: StandIn, http: aiohttp.ClientSession, status: int, outcome: str
) -> None:
    standin.status = status
    # A provider echoing the credentials back must not leak them into the error text.
    standin.reply = {"error": f"bad request {BEARER} apikey-in-url " + "x" * 500}
    result = await sms_http.Channel(sms_settings(standin), http).send(message())
    assert result.outcome == outcome
    assert result.provider_id is None
    assert result.error.startswith(f"HTTP {status}")
    assert "apikey-in-url" not in result.error
    assert_no_secrets(result)
    assert len(standin.seen) == 1  # a redirect is not followed


async def test_sms_2xx_without_id(standin: StandIn, http: aiohttp.ClientSession) -> None:
    standin.reply = "OK"
    result = await sms_http.Channel(sms_settings(standin), http).send(message())
    assert result.outcome == "sent"
    assert result.provider_id is None
    assert "no message id" in result.error


async def test_sms_timeout_is_retry(standin: StandIn, http: aiohttp.ClientSession) -> None:
    standin.delay = 0.6
    result = await sms_http.Channel(sms_settings(standin), http).send(message())
    assert result.outcome == "retry"
    assert "timed out" in result.error
    assert_no_secrets(result)


async def test_sms_connection_refused_is_retry(closed_url: str) -> None:
    # No session given: the channel makes its own and closes it.
    channel = sms_http.Channel({"url": closed_url + "?key=" + PASSWORD, "timeout": 0.2})
    result = await channel.send(message())
    assert result.outcome == "retry"
    assert result.error.startswith("connection failed")
    assert_no_secrets(result)


async def test_sms_private_session_works(standin: StandIn) -> None:
    standin.reply = {"result": {"id": 1}}
    result = await sms_http.Channel(sms_settings(standin)).send(message())
    assert result == SendResult("sent", "1")


async def test_sms_empty_address_fails_without_request(
    standin: StandIn, http: aiohttp.ClientSession
) -> None:
    result = await sms_http.Channel(sms_settings(standin), http).send(message(address=""))
    assert result.outcome == "failed"
    assert standin.seen == []


def test_sms_read_report() -> None:
    channel = sms_http.Channel({"url": "https://sms.example/send"})
    assert channel.read_report({"id": "m1", "status": "DELIVRD"}) == Report("m1", "delivered")
    assert channel.read_report({"id": 7, "status": "delivered"}) == Report("7", "delivered")
    assert channel.read_report({"id": "m2", "status": "UNDELIV"}) == Report("m2", "failed")
    assert channel.read_report({"id": "m3", "status": "REJECTD"}) == Report("m3", "failed")
    assert channel.read_report({"id": "m4", "status": "enroute"}) is None
    assert channel.read_report({"status": "delivered"}) is None
    assert channel.read_report({}) is None
    custom = sms_http.Channel(
        {
            "url": "https://sms.example/send",
            "report_id_field": "msg.ref",
            "report_status_field": "msg.state",
            "report_delivered_values": ["OK"],
            "report_failed_values": ["NOK"],
        }
    )
    assert custom.read_report({"msg": {"ref": "r1", "state": "OK"}}) == Report("r1", "delivered")
    assert custom.read_report({"msg": {"ref": "r2", "state": "NOK"}}) == Report("r2", "failed")
    assert custom.read_report({"msg": {"ref": "r3", "state": "delivered"}}) is None


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({}, "url is required"),
        ({"url": ""}, "url is required"),
        ({"url": "ftp://x/"}, "http"),
        ({"url": "https://x/", "body": ["{text}"]}, "body must be a JSON object"),
        ({"url": "https://x/", "body": '{"to": "{phone}"}'}, "body must be a JSON object"),
        ({"url": "https://x/", "method": "PUT"}, "method"),
        ({"url": "https://x/", "auth": {"type": "digest"}}, "auth.type"),
        ({"url": "https://x/", "auth": {"type": "bearer"}}, "auth.token"),
        ({"url": "https://x/", "headers": {"X": 1}}, "headers"),
        ({"url": "https://x/", "timeout": 0}, "timeout"),
        ({"url": "https://x/", "form": True, "body": {"a": {"b": "c"}}}, "flat"),
    ],
)
def test_sms_settings_errors(settings: dict[str, Any], words: str) -> None:
    with pytest.raises(ChannelError, match=words) as caught:
        load("sms_http", settings)
    assert str(caught.value).startswith("sms_http: ")


# --- telegram -----------------------------------------------------------------------------


def tg_settings(standin: StandIn) -> dict[str, Any]:
    return {"token": TOKEN, "base_url": standin.url("/"), "timeout": 0.2}


async def test_telegram_send_message(standin: StandIn, http: aiohttp.ClientSession) -> None:
    standin.reply = {"ok": True, "result": {"message_id": 314, "chat": {"id": 1}}}
    channel = load("telegram", tg_settings(standin), http)
    assert isinstance(channel, telegram.Channel)
    assert channel.contact_field == "telegram_chat_id"
    result = await channel.send(message(address="-100200300"))
    assert result == SendResult("delivered", "314")
    seen = standin.last
    assert (seen.method, seen.path) == ("POST", f"/bot{TOKEN}/sendMessage")
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {"chat_id": "-100200300", "text": NASTY}


@pytest.mark.parametrize(
    ("status", "reply", "outcome", "words"),
    [
        (
            400,
            {"ok": False, "error_code": 400, "description": "chat not found"},
            "failed",
            "chat not found",
        ),
        (
            403,
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            },
            "failed",
            "blocked",
        ),
        (
            401,
            {"ok": False, "error_code": 401, "description": f"Unauthorized {TOKEN}"},
            "failed",
            "token rejected",
        ),
        (
            429,
            {"ok": False, "error_code": 429, "parameters": {"retry_after": 7}},
            "retry",
            "retry after 7",
        ),
        (500, {"ok": False, "error_code": 500, "description": "Internal"}, "retry", "HTTP 500"),
        (502, "<html>Bad Gateway</html>", "retry", "HTTP 502"),
        (
            200,
            {"ok": False, "error_code": 400, "description": f"odd {TOKEN}"},
            "failed",
            "HTTP 400",
        ),
    ],
)
async def test_telegram_errors(
    standin: StandIn,
    http: aiohttp.ClientSession,
    status: int,
    reply: Any,
    outcome: str,
    words: str,
) -> None:
    standin.status = status
    standin.reply = reply
    result = await telegram.Channel(tg_settings(standin), http).send(message(address="42"))
    assert result.outcome == outcome
    assert words in result.error
    assert_no_secrets(result)


async def test_telegram_timeout_and_refused(standin: StandIn, closed_url: str) -> None:
    standin.delay = 0.6
    result = await telegram.Channel(tg_settings(standin)).send(message(address="42"))
    assert result.outcome == "retry"
    assert_no_secrets(result)
    refused = {"token": TOKEN, "base_url": closed_url, "timeout": 0.2}
    result = await telegram.Channel(refused).send(message(address="42"))
    assert result.outcome == "retry"
    assert result.error.startswith("connection failed")
    assert_no_secrets(result)


@pytest.mark.parametrize(
    "settings",
    [{}, {"token": ""}, {"token": "a/b"}, {"token": "t", "base_url": "nope"}],
)
def test_telegram_settings_errors(settings: dict[str, Any]) -> None:
    with pytest.raises(ChannelError) as caught:
        load("telegram", settings)
    assert "a/b" not in str(caught.value)


# --- webhook ------------------------------------------------------------------------------


def wh_settings(standin: StandIn) -> dict[str, Any]:
    return {
        "url": standin.url("/hooks/calserver"),
        "secret": SECRET,
        "timeout": 0.2,
        "allow_private": True,
    }


def verify(header: str, body: bytes, secret: str) -> None:
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)


async def test_webhook_signed_json(standin: StandIn, http: aiohttp.ClientSession) -> None:
    standin.reply = {"id": "plat-1", "status": "delivered"}
    channel = load("webhook", wh_settings(standin), http)
    assert isinstance(channel, webhook.Channel)
    assert channel.contact_field is None
    result = await channel.send(message())
    assert result == SendResult("delivered", "plat-1")
    seen = standin.last
    assert (seen.method, seen.path) == ("POST", "/hooks/calserver")
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Idempotency-Key"] == "trig-42:sms"
    verify(seen.headers["Calserver-Signature"], seen.body, SECRET)
    stamp = int(seen.headers["Calserver-Signature"].split(",")[0].removeprefix("t="))
    assert abs(stamp - time.time()) < 60
    with pytest.raises(AssertionError):
        verify(seen.headers["Calserver-Signature"], seen.body + b" ", SECRET)
    assert b", " not in seen.body and b": " not in seen.body.replace(NASTY.encode(), b"")
    assert json.loads(seen.body) == {
        "idempotency_key": "trig-42:sms",
        "address": "+15551234567",
        "subject": "Reminder",
        "text": NASTY,
        "data": {"event": {"uid": "e1", "title": NASTY}},
    }


@pytest.mark.parametrize(
    ("status", "reply", "outcome", "provider_id"),
    [
        (200, {"id": 5, "status": "sent"}, "sent", "5"),
        (202, {}, "sent", None),
        (204, b"", "sent", None),
        (200, "not json", "sent", None),
        (400, {"error": f"bad {SECRET}"}, "failed", None),
        (410, {}, "failed", None),
        (429, {}, "retry", None),
        (500, {}, "retry", None),
        (503, "down", "retry", None),
    ],
)
async def test_webhook_answers(
    standin: StandIn,
    http: aiohttp.ClientSession,
    status: int,
    reply: Any,
    outcome: str,
    provider_id: str | None,
) -> None:
    standin.status = status
    standin.reply = reply
    result = await webhook.Channel(wh_settings(standin), http).send(message(address=""))
    assert (result.outcome, result.provider_id) == (outcome, provider_id)
    assert json.loads(standin.last.body)["address"] == ""
    assert_no_secrets(result)


async def test_webhook_timeout_and_refused(standin: StandIn, closed_url: str) -> None:
    standin.delay = 0.6
    result = await webhook.Channel(wh_settings(standin)).send(message())
    assert result.outcome == "retry"
    assert "timed out" in result.error
    result = await webhook.Channel(
        {"url": closed_url, "secret": SECRET, "allow_private": True}
    ).send(message())
    assert result.outcome == "retry"
    assert_no_secrets(result)


def test_webhook_read_report_and_settings() -> None:
    channel = webhook.Channel({"url": "https://platform.example/in", "secret": SECRET})
    assert channel.read_report({"id": "p1", "status": "delivered"}) == Report("p1", "delivered")
    assert channel.read_report({"id": "p2", "status": "failed"}) == Report("p2", "failed")
    assert channel.read_report({"id": "p3", "status": "sent"}) is None
    assert channel.read_report({"status": "failed"}) is None
    with pytest.raises(ChannelError, match="url is required"):
        load("webhook", {"secret": SECRET})
    with pytest.raises(ChannelError, match="secret is required"):
        load("webhook", {"url": "https://platform.example/in"})


async def test_webhook_channel_refuses_private_targets_unless_allowed() -> None:
    from calserver.channels import load

    channel = load("webhook", {"url": "http://127.0.0.1:9/hook", "secret": SECRET, "timeout": 0.2})
    result = await channel.send(Message("k-1", "", "s", "t"))
    assert result.outcome == "failed" and result.error.startswith("target refused")
    assert_no_secrets(result)
