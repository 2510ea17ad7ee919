"""What a CRM sends and gets: contacts, personal links, triggers, the cascade, webhooks."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from calserver.shapes.events import YEAR, EventFields, EventInput, EventPatch
from calserver.shapes.fields import (
    Answer,
    ChannelName,
    ExternalId,
    NotBlank,
    Shape,
    Src,
    Timestamp,
    Zone,
    bounds,
    fail,
    matches,
    not_blank,
    pattern,
    whole,
)
from calserver.shapes.languages import Language
from feeds.i18n import say
from feeds.limits import RANGE_TEXT, instant_in_range
from storage.outbox import EVENT_TYPES

E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMAIL_RE = re.compile(
    r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
TELEGRAM_CHAT_RE = re.compile(r"^-?[0-9]{1,20}$")
INSTANT_RE = re.compile(
    rf"^{YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
# The form only; calserver/targets.py decides where a webhook may go.
WEBHOOK_URL_RE = re.compile(r"^https?://[^\s@/?#\\]+([/?#][^\s]*)?$")
DECIMAL_RE = re.compile(r"^[0-9]{1,8}(\.[0-9]{1,4})?$")
MAX_ATTRIBUTES_BYTES = 16_384
MAX_OPT_OUT = 16
CONTACT_LOCALE = "Language of the cascade's messages; null: the workspace's."
MAX_LINK_SEGMENTS = 20
DEFAULT_EXPIRY = 30 * 86400
MAX_EXPIRY = 366 * 86400
MAX_STEPS = 8
MAX_WAIT = 7 * 86400
MAX_WEBHOOK_URL = 2000
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


def _attributes(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > MAX_ATTRIBUTES_BYTES:
        raise fail(say("must be at most %(limit)s bytes of JSON", limit=MAX_ATTRIBUTES_BYTES))
    return value


class ContactInput(Shape):
    phone: Annotated[
        str, pattern(E164_RE, 16, "E.164, e.g. +79161234567."),
        matches(E164_RE, say("use E.164: + then country code and number, digits only, e.g. +79161234567")),
    ] | None = None  # fmt: skip
    email: Annotated[str, pattern(EMAIL_RE, 254), matches(EMAIL_RE, say("is not an e-mail address"))] | None = None  # fmt: skip
    telegram_chat_id: Annotated[
        str, pattern(TELEGRAM_CHAT_RE, 21),
        matches(TELEGRAM_CHAT_RE, say("is a Telegram chat id: a whole number")),
    ] | Annotated[int, Field(ge=-(10**20) + 1, le=10**20 - 1)] | None = None  # fmt: skip
    timezone: Zone | None = Field(None, description="IANA zone of the contact.")
    locale: Language | None = Field(None, description=CONTACT_LOCALE)
    attributes: Annotated[
        dict[str, Any], Field(description="Free CRM data, at most 16 KB of JSON."),
        AfterValidator(_attributes),
    ] = Field(default_factory=dict)  # fmt: skip
    opt_out: Annotated[list[ChannelName], Field(max_length=MAX_OPT_OUT)] = Field(
        default_factory=list,
        description="Cascade channels (by name) the contact must not be reached on.",
    )


class Contact(Answer):
    external_id: str
    phone: str | None
    email: str | None
    telegram_chat_id: str | None
    timezone: str | None
    locale: str | None = Field(description=CONTACT_LOCALE)
    attributes: dict[str, Any]
    opt_out: list[str]
    created_at: Timestamp
    updated_at: Timestamp


class LinkInput(Shape):
    external_id: ExternalId
    segments: Annotated[list[str], Field(min_length=1, max_length=MAX_LINK_SEGMENTS)]
    src: Src | None = None
    expires_in: Annotated[int, Field(ge=60, le=MAX_EXPIRY)] = DEFAULT_EXPIRY
    create_contact: bool = False


class Link(Answer):
    url: str
    qr_svg_url: str
    qr_png_url: str
    expires_at: Timestamp


def step_price(value: float | str) -> Decimal:
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise fail(say("must be a number of at least 0")) from None
    if not price.is_finite() or not 0 <= price < 10**8:
        raise fail(say("must be a number of at least 0"))
    return price


def _price_ok(value: Any) -> Any:
    step_price(value)
    return value


WaitSeconds = Annotated[int, bounds(0, MAX_WAIT), whole(0, MAX_WAIT)]
CapMax = Annotated[int, bounds(1, 1000), whole(1, 1000)]
CapPeriod = Annotated[int, bounds(60, 31 * 86400), whole(60, 31 * 86400)]


class StepInput(Shape):
    channel: Annotated[str, Field(max_length=32)] = Field(
        description='"calendar" or a channel named in the channels file.'
    )
    price: (
        Annotated[
            float,
            Field(json_schema_extra={"minimum": 0, "exclusiveMaximum": 10**8}),
            AfterValidator(_price_ok),
        ]
        | Annotated[str, pattern(DECIMAL_RE, 13), AfterValidator(_price_ok)]
        | None
    ) = Field(None, description="Per message; default: the channel's price.")
    wait_seconds: WaitSeconds | None = Field(
        None,
        description="How long to wait for a delivery report before the next step "
        "(0: sent is enough). Default 900.",
    )


class CapInput(Shape):
    max: CapMax
    period_seconds: CapPeriod
    action: Literal["defer", "drop"] = "defer"


class CascadePolicyInput(Shape):
    steps: Annotated[list[StepInput], Field(min_length=1, max_length=MAX_STEPS)]
    quiet_hours: bool = Field(
        True,
        description="Defer sends inside the workspace's quiet hours in the contact's zone.",
    )
    frequency_cap: CapInput | None = None


class Step(Answer):
    channel: str
    price: str
    wait_seconds: int = Field(ge=0)


class Cap(Answer):
    max: int
    period_seconds: int
    action: Literal["defer", "drop"]


class CascadePolicy(Answer):
    steps: list[Step]
    quiet_hours: bool
    frequency_cap: Cap | None


class Channel(Answer):
    name: str
    type: str
    price: float
    report_url: str = Field(
        description="Give it to the provider for delivery reports (POST, JSON or form)."
    )


class Cascade(Answer):
    policy: CascadePolicy | None
    channels: list[Channel]


class CascadeStep(Answer):
    channel: str
    state: Literal["pending", "sending", "sent", "delivered", "failed", "skipped", "expired"]
    reason: str
    price: float
    cost: float
    attempts: int = Field(ge=0)
    due_at: Timestamp | None
    sent_at: Timestamp | None
    finished_at: Timestamp | None
    late_report: str | None


def _instant(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise fail(say("%(day)s is not a day of the calendar", day=value[:10])) from None
    if not instant_in_range(moment):
        raise fail(say("must be %(range)s", range=RANGE_TEXT))
    return value


Instant = Annotated[
    str,
    pattern(INSTANT_RE, 40, "ISO 8601 date-time with an offset."),
    matches(
        INSTANT_RE, say("use an ISO 8601 date-time with an offset, e.g. 2026-12-01T09:00:00+03:00")
    ),
    AfterValidator(_instant),
]


class TriggerInput(Shape):
    external_id: ExternalId
    idempotency_key: Annotated[str, not_blank(200), NotBlank]
    event: EventInput
    deliver_by: Instant | None = Field(
        None, description="Default: the first alarm of the first occurrence."
    )
    critical: bool = False
    create_contact: bool = False
    cascade: Literal[False] | CascadePolicyInput | None = Field(
        None,
        description="false: no cascade for this trigger; a policy: this trigger's own steps.",
    )

    @field_validator("cascade", mode="before")
    @classmethod
    def _no_true(cls, value: Any) -> Any:
        if value is True:
            raise fail(
                say("use false (no cascade) or an object with steps (this trigger's policy)")
            )
        return value


class TriggerPatch(Shape):
    event: EventPatch | None = None
    deliver_by: Instant | None = None
    critical: bool | None = None


class Receipt(Answer):
    delivered_at: str
    sequence: int | None
    family: str | None
    rings_alarms: bool


class TimelineEntry(Answer):
    at: Timestamp
    type: str
    detail: dict[str, Any]


class Trigger(Answer):
    id: int
    external_id: str
    idempotency_key: str
    status: Literal["pending", "delivered", "undelivered", "cancelled"]
    critical: bool
    deliver_by: str | None
    sequence: int
    event: EventFields
    receipt: Receipt | None
    stale_on_google: bool
    created_at: Timestamp
    updated_at: Timestamp
    cascade: list[CascadeStep] | None = Field(None, description="The cascade's steps (on GET).")
    timeline: list[TimelineEntry] | None = None


def _some_events(events: list[str]) -> list[str]:
    if not events:
        raise fail(say("must name at least one event type"))
    return events


class WebhookInput(Shape):
    url: Annotated[
        str,
        pattern(WEBHOOK_URL_RE, MAX_WEBHOOK_URL),
        matches(WEBHOOK_URL_RE, say("must be an absolute http:// or https:// URL")),
    ] = Field(
        description="http(s), no user info; private, loopback and link-local hosts are "
        "refused unless webhook_allow_private."
    )
    events: Annotated[
        list[EventType], Field(json_schema_extra={"minItems": 1}), AfterValidator(_some_events)
    ]


class Webhook(Answer):
    id: int
    url: str
    events: list[EventType]
    active: bool
    created_at: Timestamp


class WebhookCreated(Webhook):
    secret: str = Field(
        pattern="^whsec_",
        description="Signs every delivery (Calserver-Signature); shown only in this answer.",
    )


class WebhookList(Answer):
    items: list[Webhook]


class WebhookDelivery(Answer):
    event_id: str = Field(description="The payload's id, the same on every retry.")
    event_type: EventType
    attempts: int = Field(ge=0, description="Failed attempts so far.")
    delivered_at: Timestamp | None
    next_attempt_at: Timestamp | None = Field(description="Null once delivered or given up.")
    last_error: str
    created_at: Timestamp


class WebhookDeliveryList(Answer):
    items: Annotated[list[WebhookDelivery], Field(max_length=100)]
