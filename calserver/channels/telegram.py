"""Telegram: the Bot API's ``sendMessage`` to the contact's chat.

Settings: ``token`` (required), ``base_url`` (default https://api.telegram.org; tests point
it at a stand-in), ``timeout``. A message Telegram accepted is in the chat, so it counts as
"delivered". The token is part of the request path: it never goes into an error text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from calserver.channels import BaseChannel, ChannelError, Message, SendResult
from calserver.channels.http import (
    Reply,
    call,
    http_error,
    scalar_id,
    scrub,
    status_kind,
    timeout_setting,
    url_setting,
)

DEFAULT_BASE_URL = "https://api.telegram.org"


class Channel(BaseChannel):
    name = "telegram"
    contact_field = "telegram_chat_id"
    # The Bot API has no idempotency key: a message whose outcome a crash hid is not resent.
    resend_safe = False

    def configure(self, settings: Mapping[str, Any]) -> None:
        token = settings.get("token")
        if not isinstance(token, str) or not token.strip():
            raise ChannelError("token is required (the bot's token from @BotFather)")
        if any(c in token for c in "/?#% \t\r\n"):
            raise ChannelError("token has characters a bot token never has")
        self.token = token
        base = url_setting({"base_url": settings.get("base_url", DEFAULT_BASE_URL)}, "base_url")
        self.base_url = base.rstrip("/")
        self.timeout = timeout_setting(settings)

    async def send(self, message: Message) -> SendResult:
        if not message.address:
            return SendResult("failed", error="no Telegram chat id")
        body = json.dumps(
            {"chat_id": message.address, "text": message.text},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        reply = await call(
            self.http,
            "POST",
            f"{self.base_url}/bot{self.token}/sendMessage",
            seconds=self.timeout,
            headers={"Content-Type": "application/json"},
            data=body,
        )
        if isinstance(reply, SendResult):
            return reply
        return self._read(reply)

    def _read(self, reply: Reply) -> SendResult:
        parsed = reply.json()
        answer: Mapping[str, Any] = parsed if isinstance(parsed, Mapping) else {}
        if status_kind(reply.status) == "ok" and answer.get("ok") is True:
            result = answer.get("result")
            provider_id = (
                scalar_id(result.get("message_id")) if isinstance(result, Mapping) else None
            )
            if provider_id is None:
                return SendResult("sent", error="no message_id in Telegram's reply")
            return SendResult("delivered", provider_id)
        code = answer.get("error_code")
        status = code if isinstance(code, int) and not isinstance(code, bool) else reply.status
        description = answer.get("description")
        detail = str(description) if description is not None else reply.snippet()
        if status == 403:
            detail = f"blocked or not allowed: {detail}"
        elif status in (401, 404):
            detail = "bot token rejected"
        elif status == 429:
            parameters = answer.get("parameters")
            retry_after = parameters.get("retry_after") if isinstance(parameters, Mapping) else None
            if retry_after is not None:
                detail = f"too many requests, retry after {retry_after} s"
        kind = status_kind(status)
        error = scrub(http_error(status, detail), [self.token])
        if kind == "ok":  # a 2xx reply with "ok": false: Telegram refused it
            return SendResult("failed", error=error)
        return SendResult(kind, error=error)
