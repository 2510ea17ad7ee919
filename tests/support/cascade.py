"""Helpers for cascade tests: a channels file for the stand-in peers, an app that uses it,
and shortcuts to run the worker and read a trigger's steps."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from calserver.appkeys import CASCADE
from tests.support.openapi import ApiClient

ORDER = {"title": "Order 42 ready for pickup", "start": "2026-03-06T15:00:00", "duration": "PT2H",
         "alarms": [{"before": "PT1H"}]}  # fmt: skip


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def write_channels(path: Path, tables: Mapping[str, Mapping[str, Any]]) -> Path:
    lines = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def tick(client: TestClient, rounds: int = 1) -> int:  # type: ignore[type-arg]
    """Run the app's cascade worker ``rounds`` times; triggers handled in all."""
    handled = 0
    for _ in range(rounds):
        handled += await client.app[CASCADE].run_once()
    return handled


async def steps(api: ApiClient, trigger_id: int) -> dict[str, dict[str, Any]]:
    answer = await api.get(f"/api/v1/triggers/{trigger_id}")
    assert answer.status == 200, answer.text
    return {step["channel"]: step for step in answer.body["cascade"]}


async def states(api: ApiClient, trigger_id: int) -> dict[str, str]:
    return {
        name: f"{s['state']}:{s['reason']}" for name, s in (await steps(api, trigger_id)).items()
    }


async def push(api: ApiClient, key: str, external_id: str = "c-1", **extra: Any) -> int:
    body = {"external_id": external_id, "idempotency_key": key, "event": ORDER, **extra}
    answer = await api.post("/api/v1/triggers", body)
    assert answer.status == 202, answer.text
    return int(answer.body["id"])


async def report_url(client: TestClient, api: ApiClient, channel: str) -> str:  # type: ignore[type-arg]
    """The channel's delivery-report URL, pointed at the test server instead of public_url."""
    channels = (await api.get("/api/v1/cascade")).body["channels"]
    public = next(c["report_url"] for c in channels if c["name"] == channel)
    path = "/" + public.split("/", 3)[3]
    return str(client.make_url(path))
