"""The statistics page: the API's figures (web/api/stats.py) drawn as SVG charts."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calserver.appkeys import SESSIONS
from feeds.i18n import N_, Texts
from storage import segments as segment_store
from storage.stats import Scope, Tally, tallies, totals
from web.admin.charts import Bar, bar_chart, line_chart
from web.admin.render import page, texts_of
from web.api.common import BadQuery, workspace_of
from web.api.stats import daily_rows, figures, scope_from_query


def rates(row: dict[str, Any]) -> dict[str, float | None]:
    """The API's rates plus the lapse rate, on the same base as the unsubscribe rate."""
    base = row["active_at_start"] + row["activated"] + row["returned"]
    return {
        "subscribe_conversion": row["subscribe_conversion"],
        "activation_rate": row["activation_rate"],
        "unsubscribe_rate": row["unsubscribe_rate"],
        "lapse_rate": round(row["lapsed"] / base, 4) if base else None,
        "churn_rate": row["churn_rate"],
    }


RATE_LABELS = {
    "subscribe_conversion": N_("Page view → subscribe"),
    "activation_rate": N_("Subscribe → first poll"),
    "unsubscribe_rate": N_("Unsubscribed"),
    "lapse_rate": N_("Lapsed (silent)"),
    "churn_rate": N_("All endings"),
}


def funnel_chart(total: dict[str, Any], t: Texts) -> Any:
    steps = [
        (t.gettext("Landing views"), total["landing_views"]),
        (t.gettext("Subscribe clicks"), total["subscribe_clicks"]),
        (t.gettext("Activated (first poll)"), total["activated"]),
        (t.gettext("Active at the end"), total["active"]),
    ]
    bars = [Bar(label, value, str(value)) for label, value in steps]
    return bar_chart("funnel", t.gettext("Funnel"), bars)


def rates_chart(total: dict[str, Any], t: Texts) -> Any:
    bars = [
        Bar(t.gettext(RATE_LABELS[name]), value or 0, t.percent(value))
        for name, value in rates(total).items()
    ]
    return bar_chart("rates", t.gettext("Conversion, unsubscribe and lapse rates"), bars)


def split_chart(chart_id: str, title: str, rows: list[dict[str, Any]], key: str, t: Texts) -> Any:
    bars = [
        Bar(row[key] or t.gettext("(none)"),
            row["subscribe_clicks"] + row["activated"] + row["active"],
            t.gettext("%(subscribed)s subscribed, %(active)s active",
                      subscribed=row["subscribe_clicks"], active=row["active"]))
        for row in rows
    ]  # fmt: skip
    return bar_chart(chart_id, title, bars, value_width=180)


async def _figures(request: web.Request, scope: Scope) -> dict[str, Any]:
    async with request.app[SESSIONS]() as session:
        total = figures((await totals(session, scope)).get("", Tally()))
        split = {
            group: [
                {group: key, **figures(tally), **rates(figures(tally))}
                for key, tally in sorted((await totals(session, scope, group)).items())
            ]
            for group in ("src", "family")
        }
        days = daily_rows(scope, (await tallies(session, scope)).get("", {None: Tally()}), None)
        segments = await segment_store.list_segments(session, scope.workspace_id)
    return {"total": total, "split": split, "days": days, "segments": segments}


async def stats_page(request: web.Request) -> web.Response:
    try:
        scope = await scope_from_query(request, form=True)
    except BadQuery as error:
        async with request.app[SESSIONS]() as session:
            segments = await segment_store.list_segments(session, workspace_of(request).id)
        return page(request, "stats.html", section="stats", status=400, segments=segments,
                    query=request.query, errors={error.pointer: [error.message]}, data=None)  # fmt: skip
    data = await _figures(request, scope)
    total, split, days = data["total"], data["split"], data["days"]
    t = texts_of(request)
    charts = {
        "funnel": funnel_chart(total, t),
        "active": line_chart(
            "active",
            t.gettext("Active subscribers, day by day"),
            [(row["day"], row["active"]) for row in days],
        ),
        "rates": rates_chart(total, t),
        "by_src": split_chart("by-src", t.gettext("By source (src)"), split["src"], "src", t),
        "by_family": split_chart(
            "by-family", t.gettext("By calendar app"), split["family"], "family", t
        ),
    }
    return page(request, "stats.html", section="stats", segments=data["segments"], scope=scope,
                query=request.query, errors={}, data=data, charts=charts, rates=rates(total),
                rate_labels=RATE_LABELS, percent=t.percent)  # fmt: skip
