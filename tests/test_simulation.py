"""A simulated population through the real HTTP endpoints, against a controllable clock.

2,000 subscriptions across client families poll at realistic cadences for three weeks;
some never add the calendar, some delete it (their polls stop), some unsubscribe, some go
quiet for ten days and come back. The simulation keeps its own record of what happened;
the statistics API must report the same figures.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from calserver.config import Config
from storage.families import DEFAULT_THRESHOLDS
from tests.conftest import _tenant
from tests.support.agents import AGENTS, BOTS, BROWSERS
from tests.support.feeds import make_segment
from tests.support.telemetry import settle
from web.app import create_app

TICK = timedelta(hours=12)
DAYS = 21
POPULATION = 2000
# family: (share, poll every N ticks)
CADENCE = {
    "apple-ios": (0.30, 1), "apple-macos": (0.08, 14), "google": (0.25, 2), "microsoft": (0.10, 1),
    "icsx5": (0.15, 2), "thunderbird": (0.05, 1), "davx5": (0.04, 2), "other": (0.03, 2),
}  # fmt: skip


@dataclass
class Person:
    token: str
    family: str
    src: str
    every: int
    phase: int
    adds_calendar: bool
    deletes_at: int | None = None  # tick after which polls stop for good
    unsubscribes_at: int | None = None
    away: tuple[int, int] | None = None  # ticks without polls, then back
    polls: list[int] = field(default_factory=list)
    unsubscribed: bool = False

    def polls_at(self, tick: int) -> bool:
        if not self.adds_calendar or self.unsubscribed:
            return False
        if self.deletes_at is not None and tick > self.deletes_at:
            return False
        if self.away and self.away[0] <= tick < self.away[1]:
            return False
        return (tick + self.phase) % self.every == 0


def _people(rng: random.Random, tokens: list[tuple[str, str]], ticks: int) -> list[Person]:
    families = list(CADENCE)
    weights = [CADENCE[f][0] for f in families]
    people = []
    for token, src in tokens:
        family = rng.choices(families, weights)[0]
        every = CADENCE[family][1]
        person = Person(
            token, family, src, every, rng.randrange(every), adds_calendar=rng.random() > 0.1
        )
        roll = rng.random()
        if roll < 0.10:
            person.deletes_at = rng.randrange(2, ticks - 2)
        elif roll < 0.16:
            person.unsubscribes_at = rng.randrange(2, ticks - 2)
        elif roll < 0.20 and family in ("apple-ios", "microsoft", "google"):
            start = rng.randrange(4, ticks - 24)
            person.away = (start, start + 20)  # ten days
        people.append(person)
    return people


async def _poll(client: TestClient, person: Person, tick: int, etags: dict[str, str]) -> None:  # type: ignore[type-arg]
    headers = {"User-Agent": AGENTS[person.family][0], "Accept-Encoding": "identity"}
    if person.token in etags:
        headers["If-None-Match"] = etags[person.token]
    async with client.get(f"/f/{person.token}.ics", headers=headers) as answer:
        assert answer.status in (200, 304)
        etags[person.token] = answer.headers["ETag"]
        await answer.read()
    person.polls.append(tick)


async def _visit_and_subscribe(
    client: TestClient, rng: random.Random
) -> tuple[list[tuple[str, str]], dict[str, int]]:  # type: ignore[type-arg]
    views: dict[str, int] = {}
    tokens = []
    while len(tokens) < POPULATION:
        src = rng.choice(["qr", "site", "sms"])
        async with client.get(
            f"/s/acme/news?src={src}", headers={"User-Agent": rng.choice(BROWSERS)}
        ):
            views[src] = views.get(src, 0) + 1
        if rng.random() < 0.2:  # link previewers fetch too; they must not count
            async with client.get(
                f"/s/acme/news?src={src}", headers={"User-Agent": rng.choice(BOTS)}
            ):
                pass
        if rng.random() < 0.45:
            async with client.post(
                f"/s/acme/news?src={src}", data={"client": "apple"}, allow_redirects=False
            ) as answer:
                tokens.append((answer.headers["Location"].split("/")[2].split("?")[0], src))
    return tokens, views


def _expected(people: list[Person], ticks: int) -> dict[str, int]:
    """What the rules say about what the simulation did.

    The lifecycle sweep runs after each tick's polls are written, so a silence counts once
    a tick without a poll sees it over the threshold.
    """
    truth = {"lapsed": 0, "returned": 0, "resumed": 0, "active": 0}
    for p in people:
        if not p.polls:
            continue
        limits = DEFAULT_THRESHOLDS[p.family]
        for before, after in zip(p.polls, p.polls[1:], strict=False):
            seen = (after - 1 - before) * TICK  # the longest silence a sweep saw
            if seen > timedelta(seconds=limits.lapsed):
                truth["lapsed"] += 1
                truth["returned"] += 1
            elif seen > timedelta(seconds=limits.dormant):
                truth["resumed"] += 1
        if p.unsubscribed:
            continue
        if (ticks - p.polls[-1]) * TICK > timedelta(seconds=limits.lapsed):
            truth["lapsed"] += 1
        else:
            truth["active"] += 1
    return truth


@pytest.mark.slow  # ~100 s of volume: scripts/test --quick leaves it out
async def test_reported_figures_match_the_simulation(
    aiohttp_client: Any, config: Config, clock: Any
) -> None:
    # Everybody subscribes from one test address: no rate limit here.
    client = await aiohttp_client(create_app(config.replace(subscribe_rate_limit=0), clock=clock))
    tenant = await _tenant(client, "acme")
    rng = random.Random(20261126)
    start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    clock.set(start)
    await make_segment(tenant.api)
    tokens, views = await _visit_and_subscribe(client, rng)
    ticks = DAYS * 2
    people = _people(rng, tokens, ticks)
    etags: dict[str, str] = {}
    for tick in range(ticks):
        clock.set(start + tick * TICK)
        due = [p for p in people if p.polls_at(tick)]
        for chunk in range(0, len(due), 64):
            await asyncio.gather(*(_poll(client, p, tick, etags) for p in due[chunk : chunk + 64]))
        for p in people:
            if p.unsubscribes_at == tick and not p.unsubscribed:
                async with client.post(f"/u/{p.token}") as answer:
                    assert answer.status == 200
                p.unsubscribed = True
        await settle(client)
    clock.set(start + ticks * TICK)
    await settle(client)

    answer = await tenant.api.get("/api/v1/stats/summary?from=2026-03-01&to=2026-03-23")
    figures = answer.body
    truth = _expected(people, ticks)
    activated = sum(1 for p in people if p.polls)
    unsubscribed = sum(1 for p in people if p.unsubscribed)
    print("simulation:", {k: figures[k] for k in ("landing_views", "subscribe_clicks", "activated", "active",
          "unsubscribed", "lapsed", "returned", "resumed", "subscribe_conversion", "activation_rate", "unsubscribe_rate",
          "churn_rate")}, "truth:", truth)  # fmt: skip
    assert figures["landing_views"] == sum(views.values())
    assert figures["subscribe_clicks"] == POPULATION
    assert figures["activated"] == activated
    assert figures["unsubscribed"] == unsubscribed
    for name in ("lapsed", "returned", "resumed", "active"):
        assert figures[name] == truth[name], (name, figures[name], truth[name])
    by_src = {row["src"]: row for row in figures["by_src"]}
    for src, count in views.items():
        assert by_src[src]["landing_views"] == count
    assert sum(row["subscribe_clicks"] for row in figures["by_src"]) == POPULATION
    by_family = {row["family"]: row["activated"] for row in figures["by_family"]}
    for family in CADENCE:
        assert by_family.get(family, 0) == sum(1 for p in people if p.family == family and p.polls)
    daily = (await tenant.api.get("/api/v1/stats/daily?from=2026-03-01&to=2026-03-23")).body["days"]
    assert daily[-1]["active"] == figures["active"]
