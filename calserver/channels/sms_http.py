"""A generic HTTP SMS gateway: one request per message, built from a template in the settings.

Settings::

    url            the gateway's endpoint (required)
    method         "POST" (default) or "GET"
    headers        extra request headers
    auth           {"type": "bearer", "token": ...} or {"type": "basic", "user": ..., "password": ...}
    body           a JSON object; its string values may hold {phone}, {text}, {idempotency_key}
    form           true: send the body form-encoded instead of as JSON (GET: in the query string)
    id_field       dotted path to the provider's message id in the JSON reply ("result.id")
    status_field   dotted path to a status in the reply; delivered_values / failed_values map it
    timeout        seconds (default 10)
    lookup_url     optional: a GET URL with {idempotency_key} answering what became of a
                   message (2xx: read like a send reply; 404: never received); used to
                   reconcile after a crash instead of sending again
    report_*       how to read delivery-report callbacks (see ``read_report``)

The helpers below (``call``, ``dig``, ``scrub``...) are shared by the other HTTP channels.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from calserver.channels import BaseChannel, ChannelError, Message, Report, SendResult
from calserver.channels.http import (
    Reply,
    call,
    dig,
    http_error,
    scalar_id,
    scrub,
    status_kind,
    timeout_setting,
    url_setting,
)

DEFAULT_BODY: Mapping[str, Any] = {"to": "{phone}", "text": "{text}"}
DEFAULT_DELIVERED = ("delivered", "DELIVRD")
DEFAULT_FAILED = ("failed", "undelivered", "UNDELIV", "REJECTD")
_PLACEHOLDER = re.compile(r"\{(phone|text|idempotency_key)\}")
_WHOLE = {f"{{{name}}}": name for name in ("phone", "text", "idempotency_key")}


def _values(settings: Mapping[str, Any], key: str, default: Iterable[str]) -> frozenset[str]:
    value = settings.get(key, list(default))
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ChannelError(f"{key} must be a list of strings")
    return frozenset(str(v).casefold() for v in value)


def _path(settings: Mapping[str, Any], key: str, default: str | None) -> str | None:
    value = settings.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ChannelError(f"{key} must be a dotted path such as 'result.id'")
    return value


# --- the channel --------------------------------------------------------------------------


def _fill(template: Any, values: Mapping[str, str]) -> Any:
    """The template with placeholders replaced in string values only, in one pass (a text
    holding "{phone}" stays as it is)."""
    if isinstance(template, str):
        if (whole := _WHOLE.get(template)) is not None:  # the usual "{text}": no regex
            return values[whole]
        if "{" not in template:
            return template
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, Mapping):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values) for value in template]
    return template


def _flat(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class Channel(BaseChannel):
    name = "sms_http"
    contact_field = "phone"

    def configure(self, settings: Mapping[str, Any]) -> None:
        self.url = url_setting(settings)
        method = str(settings.get("method", "POST")).upper()
        if method not in ("POST", "GET"):
            raise ChannelError("method must be POST or GET")
        self.method = method
        headers = settings.get("headers", {})
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ChannelError("headers must be an object of strings")
        self.headers: dict[str, str] = dict(headers)
        self.secrets: list[str] = list(self.headers.values())
        self.secrets += [v for _, v in parse_qsl(urlsplit(self.url).query)]
        if urlsplit(self.url).password:
            self.secrets.append(urlsplit(self.url).password or "")
        self._auth(settings.get("auth"))
        body = settings.get("body", DEFAULT_BODY)
        if not isinstance(body, Mapping):
            raise ChannelError("body must be a JSON object (a template with {phone}, {text})")
        self.form = bool(settings.get("form", False))
        if (self.form or method == "GET") and any(
            isinstance(v, Mapping | list) for v in body.values()
        ):
            raise ChannelError("body must be flat (no objects or lists) for form or GET")
        self.body: Mapping[str, Any] = body
        self.id_field = _path(settings, "id_field", None)
        self.status_field = _path(settings, "status_field", None)
        self.delivered_values = _values(settings, "delivered_values", DEFAULT_DELIVERED)
        self.failed_values = _values(settings, "failed_values", DEFAULT_FAILED)
        self.timeout = timeout_setting(settings)
        lookup = settings.get("lookup_url")
        self.lookup_url = url_setting(settings, "lookup_url") if lookup is not None else None
        if self.lookup_url is not None and "{idempotency_key}" not in self.lookup_url:
            raise ChannelError("lookup_url must hold {idempotency_key}")
        self.can_lookup = self.lookup_url is not None
        self.report_id_field = _path(settings, "report_id_field", "id") or "id"
        self.report_status_field = _path(settings, "report_status_field", "status") or "status"
        self.report_delivered = _values(settings, "report_delivered_values", DEFAULT_DELIVERED)
        self.report_failed = _values(settings, "report_failed_values", DEFAULT_FAILED)

    def _auth(self, auth: Any) -> None:
        if auth is None:
            return
        if not isinstance(auth, Mapping):
            raise ChannelError("auth must be an object with a type")
        kind = auth.get("type")
        if kind == "bearer":
            token = auth.get("token")
            if not isinstance(token, str) or not token:
                raise ChannelError("auth.token is required for bearer auth")
            self.headers["Authorization"] = f"Bearer {token}"
            self.secrets.append(token)
        elif kind == "basic":
            user, password = auth.get("user"), auth.get("password")
            if not isinstance(user, str) or not user or not isinstance(password, str):
                raise ChannelError("auth.user and auth.password are required for basic auth")
            pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {pair}"
            self.secrets.append(password)
        else:
            raise ChannelError("auth.type must be 'bearer' or 'basic'")
        self.secrets.append(self.headers["Authorization"])

    async def send(self, message: Message) -> SendResult:
        if not message.address:
            return SendResult("failed", error="no phone number")
        filled = _fill(
            self.body,
            {
                "phone": message.address,
                "text": message.text,
                "idempotency_key": message.idempotency_key,
            },
        )
        headers = {**self.headers, "Idempotency-Key": message.idempotency_key}
        params: dict[str, str] | None = None
        data: bytes | dict[str, str] | None = None
        if self.method == "GET":
            params = {key: _flat(value) for key, value in filled.items()}
        elif self.form:
            data = {key: _flat(value) for key, value in filled.items()}
        else:
            headers["Content-Type"] = "application/json"
            data = json.dumps(filled, ensure_ascii=False, separators=(",", ":")).encode()
        reply = await call(
            self.http,
            self.method,
            self.url,
            seconds=self.timeout,
            headers=headers,
            params=params,
            data=data,
        )
        if isinstance(reply, SendResult):
            return reply
        kind = status_kind(reply.status)
        if kind != "ok":
            error = http_error(reply.status, reply.snippet())
            return SendResult(kind, error=scrub(error, self.secrets))
        return self._accepted(reply)

    async def lookup(self, idempotency_key: str) -> SendResult | None:
        assert self.lookup_url is not None
        url = self.lookup_url.replace("{idempotency_key}", quote(idempotency_key, safe=""))
        reply = await call(self.http, "GET", url, seconds=self.timeout, headers=self.headers)
        if isinstance(reply, SendResult):
            return reply
        if reply.status == 404:
            return None
        kind = status_kind(reply.status)
        if kind != "ok":
            error = http_error(reply.status, reply.snippet())
            return SendResult("retry", error=scrub(f"lookup: {error}", self.secrets))
        return self._accepted(reply)

    def _accepted(self, reply: Reply) -> SendResult:
        parsed = reply.json() if (self.id_field or self.status_field) else None
        provider_id = scalar_id(dig(parsed, self.id_field)) if self.id_field else None
        error = "no message id in the reply" if self.id_field and provider_id is None else ""
        if self.status_field:
            status = dig(parsed, self.status_field)
            folded = _flat(status).casefold()
            if folded in self.failed_values:
                text = scrub(f"provider status {_flat(status)[:60]}", self.secrets)
                return SendResult("failed", provider_id, text)
            if folded in self.delivered_values:
                return SendResult("delivered", provider_id, error)
        return SendResult("sent", provider_id, error)

    def read_report(self, body: Mapping[str, Any]) -> Report | None:
        provider_id = scalar_id(dig(body, self.report_id_field))
        status = dig(body, self.report_status_field)
        if provider_id is None or status is None:
            return None
        folded = _flat(status).casefold()
        if folded in self.report_delivered:
            return Report(provider_id, "delivered")
        if folded in self.report_failed:
            return Report(provider_id, "failed")
        return None
