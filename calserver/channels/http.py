"""What the HTTP channels share: one request with a deadline, reply reading, safe errors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp

from calserver.channels import ChannelError, SendResult

MAX_ERROR = 200
MAX_REPLY = 64 * 1024
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def snippet(self, limit: int = 120) -> str:
        text = " ".join(self.body.decode("utf-8", "replace").split())
        return text[:limit]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` cut to MAX_ERROR characters, with every secret in it masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text[:MAX_ERROR]


def timeout_setting(settings: Mapping[str, Any]) -> float:
    value = settings.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ChannelError("timeout must be a positive number of seconds")
    return float(value)


def url_setting(settings: Mapping[str, Any], key: str = "url") -> str:
    value = settings.get(key)
    if not isinstance(value, str) or not value:
        raise ChannelError(f"{key} is required")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError(f"{key} must be an http:// or https:// URL")
    return value


def status_kind(status: int) -> Literal["ok", "retry", "failed"]:
    if 200 <= status < 300:
        return "ok"
    if status >= 500 or status in (408, 429):
        return "retry"
    return "failed"


def http_error(status: int, detail: str = "") -> str:
    if 300 <= status < 400:
        return f"HTTP {status}: redirect not followed"
    return f"HTTP {status}: {detail}" if detail else f"HTTP {status}"


@lru_cache(maxsize=64)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)  # immutable: one per setting, not per call


async def call(
    http: aiohttp.ClientSession | None,
    method: str,
    url: str,
    *,
    seconds: float,
    headers: Mapping[str, str],
    params: Mapping[str, str] | None = None,
    data: bytes | Mapping[str, str] | None = None,
) -> Reply | SendResult:
    """One request, redirects not followed; a timeout or connection error is a "retry"."""
    session = http if http is not None else aiohttp.ClientSession()
    try:
        async with session.request(
            method,
            url,
            headers=dict(headers),
            params=dict(params) if params is not None else None,
            data=dict(data) if isinstance(data, Mapping) else data,
            allow_redirects=False,
            timeout=_timeout(seconds),
        ) as response:
            body = b""
            content = response.content
            while len(body) < MAX_REPLY:
                chunk = await content.read(MAX_REPLY - len(body))
                body += chunk
                if not chunk or content.at_eof():  # a short reply comes whole: no empty read
                    break
            return Reply(response.status, body)
    except TimeoutError:
        return SendResult("retry", error=f"timed out after {seconds:g} s")
    except aiohttp.ClientError as exc:
        # The class name only: the message may hold the URL, and URLs may hold secrets.
        return SendResult("retry", error=f"connection failed: {type(exc).__name__}")
    finally:
        if http is None:
            await session.close()


def dig(value: Any, path: str) -> Any:
    """The value at a dotted path ("result.id", "messages.0.id"), or None."""
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def scalar_id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None
