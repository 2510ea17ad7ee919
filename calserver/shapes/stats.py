"""The figures of the statistics and the cascade's cost report."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from calserver.shapes.fields import Answer

Count = Annotated[int, Field(ge=0)]
Rate = Annotated[
    float | None, Field(ge=0, description="A share (0.14 is 14 %); null when the base is zero.")
]
Money = Annotated[float | None, Field(description="In the workspace's currency, 2 decimals.")]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]


class Counts(Answer):
    """The funnel and lifecycle counts of a period, as the summary and each day give them."""

    landing_views: Count
    subscribe_clicks: Count
    activated: Count
    returned: Count
    resumed: Count
    unsubscribed: Count
    revoked: Count
    lapsed: Count


class Figures(Counts):
    active_at_start: int
    active: int
    subscribe_conversion: Rate
    activation_rate: Rate
    unsubscribe_rate: Rate
    churn_rate: Rate


class BySrc(Figures):
    src: str


class ByFamily(Figures):
    family: str


class BySegment(Figures):
    segment: str


class StatsSummary(Figures):
    model_config = ConfigDict(populate_by_name=True)

    from_: Day = Field(alias="from")
    to: Day
    segment: str | None
    dormant_now: Count
    by_status_now: dict[str, Count]
    by_src: list[BySrc]
    by_family: list[ByFamily]
    by_segment: list[BySegment]


class DayRow(Counts):
    day: Day
    active: int
    polls: Count | None = Field(None, description="Feed polls (whole workspace only).")


class StatsDaily(Answer):
    model_config = ConfigDict(populate_by_name=True)

    from_: Day = Field(alias="from")
    to: Day
    segment: str | None
    by: Literal["src", "family", "segment"] | None = None
    days: list[DayRow] | None = None
    series: dict[str, list[DayRow]] | None = None


class ChannelCost(Answer):
    channel: str
    messages: Count
    delivered: Count
    failed: Count
    late_reports: Count
    cost: Money


class CascadeReport(Answer):
    model_config = ConfigDict(populate_by_name=True)

    from_: Day = Field(alias="from")
    to: Day
    currency: str
    sms_price: Money
    triggers: Count
    with_cascade: Count
    delivered_by_calendar: Count
    reached_by_channel: Count
    unreached: Count
    channels: list[ChannelCost]
    cost_total: Money
    all_sms_cost: Money = Field(description="Every trigger of the period sent as one SMS.")
    saving: Money = Field(description="all_sms_cost minus cost_total.")
