"""Two server processes on one database: a change made through one is served by the other."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.icaljs import parse_ics
from tests.support.processes import fetch, http, run, serving


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSERVER_")}
    return {**base, "CALSERVER_DATA_DIR": str(tmp_path / "data"), "CALSERVER_DATABASE_URL": database_url,
            "CALSERVER_DEMO": "false"}  # fmt: skip


def titles(base: str, feed_path: str) -> list[str]:
    status, body = fetch(base + feed_path)
    assert status == 200
    return sorted(event["summary"] for event in parse_ics(body)["events"])


def test_changes_through_one_process_are_served_by_the_other(env: dict[str, str]) -> None:
    key = run(["workspace", "create", "acme"], env).stdout.strip().splitlines()[-1]
    with serving([], env) as (a, _), serving([], env) as (b, _):
        assert http(f"{a}/api/v1/segments", key, {"slug": "news", "name": "News"})[0] == 201
        status, event = http(
            f"{a}/api/v1/segments/news/events",
            key,
            {"title": "First", "start": "2027-01-10T10:00:00"},
        )
        assert status == 201
        status, links = http(f"{b}/s/acme/news", None, {"timezone": "Europe/Berlin"})
        assert status == 201
        feed_path = urlsplit(links["feed_url"]).path
        assert titles(b, feed_path) == titles(a, feed_path) == ["First"]  # both caches filled

        http(
            f"{a}/api/v1/segments/news/events/{event['id']}",
            key,
            {"title": "Renamed"},
            method="PATCH",
        )
        assert titles(b, feed_path) == ["Renamed"]
        http(
            f"{b}/api/v1/segments/news/events",
            key,
            {"title": "Second", "start": "2027-01-11T10:00:00"},
        )
        assert titles(a, feed_path) == ["Renamed", "Second"]
        http(f"{a}/api/v1/segments/news/events/{event['id']}", key, method="DELETE")
        assert titles(b, feed_path) == ["Second"]
        status, _ = http(
            f"{a}/u/{feed_path.removeprefix('/f/').removesuffix('.ics')}", None, {}, method="POST"
        )
        assert fetch(b + feed_path)[0] == 200
        assert titles(b, feed_path) == []
