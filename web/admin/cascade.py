"""The Cascade page: the API's cost report (web/api/cascade.py report_json) as SVG charts."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calserver.shapes.queries import Period
from feeds.i18n import N_, Texts
from web.admin.charts import Bar, bar_chart
from web.admin.render import page, texts_of
from web.api.cascade import channels_json, report_json, stored_policy
from web.api.common import BadQuery
from web.api.stats import scope_from_query

FIGURES = {
    "triggers": N_("Triggers"),
    "with_cascade": N_("With a cascade"),
    "delivered_by_calendar": N_("Delivered by the calendar"),
    "reached_by_channel": N_("Reached by another channel"),
    "unreached": N_("Not reached"),
}


def channel_lines(reported: list[dict[str, Any]], configured: list[str]) -> list[dict[str, Any]]:
    """Every configured channel (a zero line when it sent nothing yet), then any other
    channel the period's messages went through (one removed from the file since)."""
    by_name = {line["channel"]: line for line in reported}
    zero = {"messages": 0, "delivered": 0, "failed": 0, "late_reports": 0, "cost": 0.0}
    lines = [by_name.pop(name, {"channel": name, **zero}) for name in configured]
    return lines + list(by_name.values())


def saving_text(data: dict[str, Any], t: Texts) -> str:
    currency = data["currency"]
    if data["all_sms_cost"] is None:
        return t.gettext(
            "No SMS price is known (no SMS channel and no workspace SMS price), so there is "
            "nothing to compare the cascade's cost with."
        )
    spent, all_sms, saving = data["cost_total"], data["all_sms_cost"], data["saving"]
    base = t.ngettext(
        "The cascade cost %(spent)s; sending the %(num)d trigger by SMS at %(price)s would "
        "have cost %(all_sms)s.",
        "The cascade cost %(spent)s; sending each of the %(num)d triggers by SMS at %(price)s "
        "would have cost %(all_sms)s.",
        data["triggers"], spent=t.money(spent, currency),
        price=t.money(data["sms_price"], currency), all_sms=t.money(all_sms, currency),
    )  # fmt: skip
    if saving < 0:
        more = t.gettext("It cost %(amount)s more than SMS alone.",
                         amount=t.money(-saving, currency))  # fmt: skip
        return f"{base} {more}"
    return f"{base} " + t.gettext("Saving: %(amount)s.", amount=t.money(saving, currency))


def charts(data: dict[str, Any], lines: list[dict[str, Any]], t: Texts) -> dict[str, Any]:
    currency = data["currency"]
    comparison = [Bar(t.gettext("With the cascade"), data["cost_total"],
                      t.money(data["cost_total"], currency))]  # fmt: skip
    if data["all_sms_cost"] is not None:
        comparison.insert(0, Bar(t.gettext("Every trigger by SMS"), data["all_sms_cost"],
                                 t.money(data["all_sms_cost"], currency)))  # fmt: skip
    return {
        "messages": bar_chart("messages", t.gettext("Messages by channel"), [
            Bar(line["channel"], line["messages"], str(line["messages"])) for line in lines]),
        "cost": bar_chart("cost", t.gettext("Cost by channel"), [
            Bar(line["channel"], line["cost"], t.money(line["cost"], currency))
            for line in lines]),
        "saving": bar_chart(
            "saving", t.gettext("Cost of sending every trigger by SMS and of the cascade"),
            comparison, value_width=120),
    }  # fmt: skip


async def cascade_page(request: web.Request) -> web.Response:
    try:
        scope = await scope_from_query(request, Period, form=True)
    except BadQuery as error:
        return page(request, "cascade.html", section="cascade", status=400, query=request.query,
                    scope=None, errors={error.pointer: [error.message]}, data=None)  # fmt: skip
    data = await report_json(request, scope)
    configured = [channel["name"] for channel in channels_json(request)]
    lines = channel_lines(data["channels"], configured)
    empty = not configured and not data["channels"] and await stored_policy(request) is None
    t = texts_of(request)
    return page(request, "cascade.html", section="cascade", query=request.query, scope=scope,
                errors={}, data=data, lines=lines, empty=empty, figures=FIGURES,
                charts=charts(data, lines, t), saving=saving_text(data, t), money=t.money)  # fmt: skip
