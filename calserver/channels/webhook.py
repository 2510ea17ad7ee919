"""Webhook: the message as signed JSON to the business's own delivery platform.

Settings: ``url`` and ``secret`` (both required), ``timeout``. The body is compact JSON
``{"idempotency_key", "address", "subject", "text", "data"}``, signed like every calserver
webhook (``Calserver-Signature: t=<unix>,v1=<hex HMAC-SHA256>``, see calserver.webhooks.sign).
The platform answers 2xx, optionally with ``{"id": ..., "status": "delivered" | "sent"}``,
and may later post reports ``{"id": ..., "status": "delivered" | "failed"}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from calserver.channels import (
    BaseChannel,
    ChannelError,
    Message,
    Outcome,
    Report,
    SendResult,
)
from calserver.channels.http import (
    call,
    http_error,
    scalar_id,
    scrub,
    status_kind,
    timeout_setting,
    url_setting,
)
from calserver.targets import check_target
from calserver.webhooks import sign


class Channel(BaseChannel):
    name = "webhook"
    contact_field = None

    def configure(self, settings: Mapping[str, Any]) -> None:
        self.url = url_setting(settings)
        secret = settings.get("secret")
        if not isinstance(secret, str) or not secret:
            raise ChannelError("secret is required (it signs every request)")
        self.secret = secret
        self.timeout = timeout_setting(settings)
        # Like the webhooks of calserver/webhooks.py: no private targets unless allowed.
        self.allow_private = bool(settings.get("allow_private", False))

    async def send(self, message: Message) -> SendResult:
        try:
            body = json.dumps(
                {
                    "idempotency_key": message.idempotency_key,
                    "address": message.address,
                    "subject": message.subject,
                    "text": message.text,
                    "data": dict(message.data),
                },
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
        except (TypeError, ValueError) as exc:
            return SendResult("failed", error=f"data is not JSON: {type(exc).__name__}")
        refusal = await check_target(self.url, self.allow_private, unresolvable_ok=True)
        if refusal is not None:
            return SendResult("failed", error=f"target refused: {refusal}"[:200])
        headers = {
            "Content-Type": "application/json",
            "Calserver-Signature": sign(self.secret, int(time.time()), body),
            "Idempotency-Key": message.idempotency_key,
        }
        reply = await call(
            self.http, "POST", self.url, seconds=self.timeout, headers=headers, data=body
        )
        if isinstance(reply, SendResult):
            return reply
        kind = status_kind(reply.status)
        if kind != "ok":
            error = http_error(reply.status, reply.snippet())
            return SendResult(kind, error=scrub(error, [self.secret]))
        parsed = reply.json()
        answer: Mapping[str, Any] = parsed if isinstance(parsed, Mapping) else {}
        provider_id = scalar_id(answer.get("id"))
        outcome: Outcome = "delivered" if answer.get("status") == "delivered" else "sent"
        return SendResult(outcome, provider_id)

    def read_report(self, body: Mapping[str, Any]) -> Report | None:
        provider_id = scalar_id(body.get("id"))
        status = body.get("status")
        if provider_id is None or status not in ("delivered", "failed"):
            return None
        return Report(provider_id, "delivered" if status == "delivered" else "failed")
