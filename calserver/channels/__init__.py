"""Delivery channels for the cascade: one interface, one module per channel.

Like Radicale's plugins: ``BaseChannel`` says what a channel does, ``load(name, settings)``
builds one from its settings (a mapping from the configuration; credentials come from
there or the environment, never from API answers). The cascade (a later step) decides
which channel sends what, when; a channel only sends one message and reads its reports.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal

import aiohttp

CHANNELS = ("webhook", "sms_http", "email_smtp", "telegram")

Outcome = Literal["sent", "delivered", "failed", "retry"]


@dataclass(frozen=True)
class Message:
    """One message about one trigger, to one address on one channel."""

    idempotency_key: str  # the trigger's key and the channel: providers de-duplicate by it
    address: str  # E.164 phone, e-mail address, Telegram chat id, or the webhook URL
    subject: str
    text: str
    html: str | None = None
    ics: bytes | None = None  # the event as an .ics file, for channels that can attach it
    data: Mapping[str, Any] = field(default_factory=dict)  # the trigger as JSON, for webhooks


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome  # "retry": a passing failure (5xx, timeout); "failed": give up on it
    provider_id: str | None = None  # to match later delivery reports
    error: str = ""


@dataclass(frozen=True)
class Report:
    """A delivery report from a provider, matched to a message by ``provider_id``."""

    provider_id: str
    outcome: Literal["delivered", "failed"]


class ChannelError(ValueError):
    """The channel's settings are missing or wrong."""


class BaseChannel:
    name: ClassVar[str]
    # Which contact field holds this channel's address ("phone", "email", "telegram_chat_id"),
    # or None when the address is in the settings (webhook).
    contact_field: ClassVar[str | None]
    # Whether sending the same message again with the same idempotency key is safe (the
    # provider de-duplicates by it). Where it is not, a send whose outcome a crash hid is
    # not repeated.
    resend_safe: ClassVar[bool] = True
    # Whether ``lookup`` can ask the provider what became of a message by its key.
    can_lookup: bool = False

    def __init__(self, settings: Mapping[str, Any], http: aiohttp.ClientSession | None = None):
        self.settings = settings
        self.http = http
        self.price = Decimal(str(settings.get("price", "0")))
        try:
            self.configure(settings)
        except ChannelError as exc:
            raise ChannelError(f"{self.name}: {exc}") from None

    def configure(self, settings: Mapping[str, Any]) -> None:
        """Read and check this channel's settings; raise ChannelError naming what is wrong."""

    async def send(self, message: Message) -> SendResult:
        raise NotImplementedError

    async def lookup(self, idempotency_key: str) -> SendResult | None:
        """What the provider did with the message sent under this key: its result, None when
        the provider never got it, or a "retry" result when it could not tell now."""
        raise NotImplementedError

    def read_report(self, body: Mapping[str, Any]) -> Report | None:
        """A provider's delivery-report callback body, if this channel understands it."""
        return None


def load(
    name: str, settings: Mapping[str, Any], http: aiohttp.ClientSession | None = None
) -> BaseChannel:
    if name not in CHANNELS:
        raise ChannelError(f"unknown channel {name!r}; choose one of {', '.join(CHANNELS)}")
    module = importlib.import_module(f"calserver.channels.{name}")
    channel: BaseChannel = module.Channel(settings, http)
    return channel
