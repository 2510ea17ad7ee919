"""Segments and the workspace's settings: their bodies and answers."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator, Field

from calserver.brand import FOOTER_MAX
from calserver.shapes.fields import (
    ABSENT,
    Answer,
    Clock,
    Color,
    NoNul,
    NotBlank,
    Shape,
    Slug,
    Timestamp,
    Zone,
    fail,
    not_blank,
    pattern,
    text,
)
from calserver.shapes.languages import Language
from calserver.shapes.offers import Reward, RewardInput
from calserver.validation import CURRENCY_RE
from feeds.i18n import say

MAX_PRICE = 10**8
Name = Annotated[str, not_blank(200), NotBlank]
Description = Annotated[str, text(5000), NoNul]
SEGMENT_LANGUAGE = "Its landing page's default language; null: the workspace's."
WORKSPACE_LANGUAGE = (
    "Its pages' language for browsers asking for none calserver speaks, and its contacts' "
    "messages by default."
)


class SegmentInput(Shape):
    slug: Slug
    name: Name
    description: Description | None = None
    color: Color | None = None
    timezone: Zone = Field(ABSENT, description="IANA zone; default: the workspace's.")
    language: Language | None = Field(None, description=SEGMENT_LANGUAGE)


class SegmentPatch(Shape):
    """The fields to change; ``color: null`` clears the colour."""

    slug: Slug = Field(ABSENT)
    name: Name = Field(ABSENT)
    description: Description | None = None
    color: Color | None = None
    timezone: Zone = Field(ABSENT)
    language: Language | None = Field(None, description=SEGMENT_LANGUAGE)
    reward: RewardInput | None = Field(
        None, description="A reward for a real subscription; null removes it."
    )


class Segment(Answer):
    slug: str
    name: str
    description: str
    color: str | None
    timezone: str
    language: str | None = Field(description=SEGMENT_LANGUAGE)
    version: int
    subscribe_url: str = Field(description="The universal link clients subscribe through.")
    qr_svg_url: str = Field(description="QR code of subscribe_url?src=qr; ?scale=1-40.")
    qr_png_url: str
    embed_html: str = Field(description="A styled link to paste into a web page (no script).")
    events_url: str
    reward: Reward | None = Field(description="Its reward and the pool codes left, or null.")
    created_at: Timestamp
    updated_at: Timestamp


class SegmentList(Answer):
    items: list[Segment]


class QuietHours(Shape):
    start: Clock
    end: Clock


def _price(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 <= value < MAX_PRICE):
        raise fail(say("must be between 0 and 99,999,999"))
    return value


Price = Annotated[
    float,
    Field(
        description="Price of one SMS, for the savings report.",
        json_schema_extra={"minimum": 0, "exclusiveMaximum": MAX_PRICE},
    ),
    AfterValidator(_price),
]
Currency = Annotated[
    str,
    pattern(CURRENCY_RE, 3, "ISO 4217 code such as RUB."),
    AfterValidator(lambda value: _currency(value)),
]


def _currency(value: str) -> str:
    if not CURRENCY_RE.fullmatch(value):
        raise fail(say("use an ISO 4217 code such as RUB"))
    return value


class WorkspacePatch(Shape):
    name: Name = Field(ABSENT)
    timezone: Zone = Field(ABSENT)
    quiet_hours: QuietHours = Field(ABSENT)
    sms_price: Price | None = None
    currency: Currency = Field(ABSENT)
    language: Language = Field(ABSENT, description=WORKSPACE_LANGUAGE)
    brand_color: Color | None = Field(None, description="Subscriber pages' colour; null: none.")
    footer: Annotated[str, text(FOOTER_MAX), NoNul] | None = Field(
        None, description="A line under every subscriber page (a legal line); null: none."
    )


class QuietHoursAnswer(Answer):
    start: str
    end: str


class Workspace(Answer):
    slug: str
    name: str
    timezone: str
    quiet_hours: QuietHoursAnswer
    sms_price: float | None = Field(ge=0)
    currency: str
    language: str = Field(description=WORKSPACE_LANGUAGE)
    logo_url: str | None = Field(description="The logo (PUT /api/v1/workspace/logo), or null.")
    brand_color: str | None
    footer: str | None
    created_at: Timestamp
    updated_at: Timestamp


class SubscribeInput(Shape):
    """The public subscribe POST (with Accept: application/json)."""

    model_config = Shape.model_config | {"extra": "ignore"}

    timezone: str | None = Field(
        None, description="IANA zone; an unknown one falls back to the segment's."
    )
    src: str | None = Field(None, description="Where the link was shared: qr, button, sms, site…")
    lang: str | None = Field(
        None,
        description="The calendar's own texts' language (en, ru); default: the landing "
        "page's choice.",
    )
