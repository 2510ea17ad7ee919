"""Rewards, A/B copy variants and their figures: bodies and answers (issue 15)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, RootModel, model_validator

from calserver.abtest import KEY_RE, MAX_VARIANTS
from calserver.rewards import CODE_RE, CODES_MAX, TEXT_MAX
from calserver.shapes.fields import (
    ABSENT,
    Answer,
    NoNul,
    NotBlank,
    Shape,
    Slug,
    fail,
    matches,
    not_blank,
    pattern,
    text,
)
from calserver.shapes.queries import Query
from feeds.i18n import say

RewardText = Annotated[str, not_blank(TEXT_MAX), NotBlank]
Code = Annotated[
    str, pattern(CODE_RE, 100), matches(CODE_RE, say("use 1-100 printable characters, no spaces"))
]
VariantKey = Annotated[
    str, pattern(KEY_RE, 8), matches(KEY_RE, say("use 1-8 lowercase letters or digits"))
]


class RewardInput(Shape):
    """A reward: its text, and one shared ``code`` or ``pool: true`` (unique codes)."""

    text: RewardText
    code: Code = Field(ABSENT, description="One code every subscriber gets.")
    pool: bool = Field(False, description="Give each subscriber a unique code from the pool.")

    @model_validator(mode="after")
    def _one_kind(self) -> RewardInput:
        if (self.code is None) == (not self.pool):
            raise fail(say("give either a shared `code` or `pool: true`"))
        return self


class Reward(Answer):
    text: str
    code: str | None
    pool: bool
    available: int = Field(description="Pool codes not given yet (0 for a shared code).")
    announced: bool = Field(description="Whether the landing page announces it now.")


class RewardCodesInput(Shape):
    codes: list[Code] = Field(min_length=1, max_length=CODES_MAX)


class RewardCodesAdded(Answer):
    added: int
    available: int
    duplicates: list[str] = Field(description="Codes left out: already in the pool, or repeated.")


class VariantInput(Shape):
    key: VariantKey
    headline: Annotated[str, not_blank(200), NotBlank]
    description: Annotated[str, text(1000), NoNul] = ""
    reward_text: Annotated[str, text(TEXT_MAX), NoNul] = ""


class VariantsInput(RootModel[list[VariantInput]]):
    """2-4 variants with distinct keys; [] ends the test."""

    root: list[VariantInput] = Field(max_length=MAX_VARIANTS)

    @model_validator(mode="after")
    def _two_to_four(self) -> VariantsInput:
        keys = [item.key for item in self.root]
        if len(keys) == 1:
            raise fail(say("an A/B test takes 2 to 4 variants, or [] to end it"))
        if len(set(keys)) != len(keys):
            raise fail(say("each variant needs its own key"))
        return self


class VariantsQuery(Query):
    segment: Slug = Field(description="The segment's slug.")


class Variant(Answer):
    key: str
    headline: str
    description: str
    reward_text: str


class Variants(Answer):
    items: list[Variant]
    kept: str | None = Field(description="The variant every visitor sees since the test ended.")


class Interval(Answer):
    low: float
    high: float


class VariantFigures(Answer):
    key: str = Field(description='The variant ("" for views outside a test).')
    views: int
    clicks: int = Field(description="Subscribe button presses (subscriptions made).")
    activated: int
    active: int
    unsubscribed: int
    conversion: float = Field(description="clicks / views")
    interval: Interval = Field(description="95 % Wilson score interval of the conversion.")
    activation_rate: float = Field(description="activated / clicks")


class VariantStats(Answer):
    segment: str
    kept: str | None
    variants: list[VariantFigures]
    leader: str | None = Field(description="The variant with the best conversion.")
    runner_up: str | None
    p_value: float = Field(
        description="Two-sided, pooled two-proportion z-test, leader vs runner-up."
    )
    significant: bool = Field(description="p < 0.05")


class RewardFunnel(Answer):
    views: int
    clicks: int
    activated: int
    conversion: float
    activation_rate: float


class RewardStats(Answer):
    segment: str
    with_reward: RewardFunnel
    without_reward: RewardFunnel
