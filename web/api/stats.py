"""Funnel and lifecycle statistics: /api/v1/stats/summary and /api/v1/stats/daily."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK
from calserver.shapes.queries import MAX_RANGE_DAYS, DailyQuery, Period, StatsQuery
from calserver.shapes.stats import StatsDaily, StatsSummary
from feeds.alarms import to_wall
from storage import segments as segment_store
from storage.stats import Scope, Tally, count_by_status, polls_per_day, tallies, totals
from web.api.common import BadQuery, json_response, query_of, transaction, workspace_of
from web.api.csv import csv_response, refuse_csv, wants_csv

DEFAULT_DAYS = 30
GROUPS = ("src", "family", "segment")


async def scope_from_query(
    request: web.Request, model: type[Period] = StatsQuery, *, form: bool = False
) -> Scope:
    query = query_of(request, model, form=form)
    workspace = workspace_of(request)
    today = to_wall(request.app[CLOCK].now(), workspace.timezone).date()
    last = date.fromisoformat(query.to) if query.to else today
    first = (
        date.fromisoformat(query.from_) if query.from_ else last - timedelta(days=DEFAULT_DAYS - 1)
    )
    if first > last:
        raise BadQuery([("/from", "from must not be after to")])
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise BadQuery([("/to", f"a range covers at most {MAX_RANGE_DAYS} days")])
    segment_id = None
    if slug := getattr(query, "segment", None):
        async with transaction(request) as session:
            segment_id = (await segment_store.get_segment(session, workspace.id, slug)).id
    return Scope(workspace.id, workspace.timezone, first, last, segment_id)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(tally: Tally) -> dict[str, Any]:
    """The counts and rates of one group over the whole range."""
    events = tally.events
    base = tally.active_before + events["activated"] + events["returned"]
    return {
        "landing_views": tally.landing_views,
        "subscribe_clicks": events["created"],
        "activated": events["activated"],
        "returned": events["returned"],
        "resumed": events["resumed"],
        "unsubscribed": events["unsubscribed"],
        "revoked": events["revoked"],
        "lapsed": events["lapsed"],
        "active_at_start": tally.active_before,
        "active": tally.active,
        "subscribe_conversion": _ratio(events["created"], tally.landing_views),
        "activation_rate": _ratio(events["activated"], events["created"]),
        "unsubscribe_rate": _ratio(events["unsubscribed"], base),
        "churn_rate": _ratio(events["unsubscribed"] + events["lapsed"] + events["revoked"], base),
    }


def _period(scope: Scope) -> dict[str, Any]:
    return {"from": scope.first.isoformat(), "to": scope.last.isoformat()}


async def summary(request: web.Request) -> web.StreamResponse:
    refuse_csv(request)
    scope = await scope_from_query(request)
    async with transaction(request) as session:
        total = (await totals(session, scope)).get("", Tally())
        breakdowns = {group: await totals(session, scope, group) for group in GROUPS}
        statuses = await count_by_status(session, scope.workspace_id, scope.segment_id)
    answer = {**_period(scope), "segment": request.query.get("segment"), **figures(total)}
    answer["dormant_now"] = statuses["dormant"]
    answer["by_status_now"] = {status: statuses[status] for status in sorted(statuses)}
    for group, table in breakdowns.items():
        answer[f"by_{group}"] = [
            {group: key, **figures(tally)} for key, tally in sorted(table.items())
        ]
    return json_response(StatsSummary, answer)


def daily_rows(
    scope: Scope, days: dict[date | None, Tally], polls: dict[date, int] | None
) -> list[dict[str, Any]]:
    rows, active = [], days[None].active_before if None in days else 0
    for day in scope.days():
        tally = days.get(day, Tally())
        active += tally.delta
        row = {
            "day": day.isoformat(),
            "landing_views": tally.landing_views,
            "subscribe_clicks": tally.events["created"],
            "activated": tally.events["activated"],
            "returned": tally.events["returned"],
            "resumed": tally.events["resumed"],
            "unsubscribed": tally.events["unsubscribed"],
            "revoked": tally.events["revoked"],
            "lapsed": tally.events["lapsed"],
            "active": active,
        }
        if polls is not None:
            row["polls"] = polls.get(day, 0)
        rows.append(row)
    return rows


async def daily(request: web.Request) -> web.StreamResponse:
    scope = await scope_from_query(request, DailyQuery)
    group = query_of(request, DailyQuery).by
    async with transaction(request) as session:
        table = await tallies(session, scope, group)
        # Polls are counted per workspace; they are left out when one segment is asked for.
        polls = (
            await polls_per_day(session, scope)
            if scope.segment_id is None and group is None
            else None
        )
    if group is None:
        days = daily_rows(scope, table.get("", {None: Tally()}), polls)
        if wants_csv(request):
            return csv_response(days, "daily.csv")
        return json_response(
            StatsDaily, {**_period(scope), "segment": request.query.get("segment"), "days": days}
        )
    series = {key: daily_rows(scope, table[key], None) for key in sorted(table)}
    if wants_csv(request):
        return csv_response(
            [{group: key, **row} for key, rows in series.items() for row in rows], "daily.csv"
        )
    period = {**_period(scope), "segment": request.query.get("segment")}
    return json_response(StatsDaily, {**period, "by": group, "series": series})
