"""`calserver worker` killed with SIGKILL at random moments, 50 times, while 500 triggers
cascade to a loopback SMS gateway that counts requests per idempotency key: no message is
lost and none is sent twice. A message a killed worker left "sending" is looked up at the
gateway by its key before anything is sent again; a request is repeated (same key) only
after its answer did not come in time, and the gateway drops the repeat."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from calserver.appkeys import SESSIONS
from calserver.clock import FrozenClock
from calserver.config import Config
from storage.models import CascadeStep, TriggerEvent
from tests.conftest import TEST_SECRET, Tenant
from tests.support.cascade import write_channels
from tests.support.peers import SmsGateway
from tests.support.processes import LISTENING
from web.app import create_app

TRIGGERS = 500
CYCLES = 50
EVENT = {"title": "Delivery slot", "start": "2030-06-01T15:00:00", "alarms": [{"before": "PT1H"}]}


@pytest.fixture
async def gateway() -> AsyncIterator[SmsGateway]:
    gateway = SmsGateway()
    gateway.behaviour.delay = 0.08  # messages take a while: kills land mid-send
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture
def channels(tmp_path: Path, gateway: SmsGateway) -> Path:
    return write_channels(tmp_path / "channels.toml", {"sms": gateway.settings()})


@pytest.fixture
async def client(
    aiohttp_client: Any, config: Config, clock: FrozenClock, channels: Path
) -> TestClient:  # type: ignore[type-arg]
    app = create_app(config.replace(channels_file=str(channels), cascade_worker=False), clock=clock)
    return await aiohttp_client(app)


async def _push_triggers(tenant: Tenant) -> None:
    api = tenant.api
    policy = {"steps": [{"channel": "sms", "wait_seconds": 0}], "quiet_hours": False}
    assert (await api.request("PUT", "/api/v1/cascade/policy", json_body=policy)).status == 200
    for n in range(TRIGGERS // 5):
        phone = f"+49151{n:07d}"
        assert (
            await api.request("PUT", f"/api/v1/contacts/c{n}", json_body={"phone": phone})
        ).status == 201

    async def push(n: int) -> None:
        body = {
            "external_id": f"c{n % (TRIGGERS // 5)}",
            "idempotency_key": f"k{n}",
            "event": EVENT,
        }
        assert (await api.post("/api/v1/triggers", body)).status == 202

    await asyncio.gather(*(push(n) for n in range(TRIGGERS)))


async def _running_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    """A `calserver worker` that said it runs (its loop has started, its SIGTERM handler is set)."""
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web", "worker", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert worker.stdout is not None
    started = await asyncio.wait_for(worker.stdout.readline(), 60)
    assert b"cascade worker running" in started
    return worker


async def _listening_url(stdout: asyncio.StreamReader) -> str:
    """The server's address, from the line that says it listens (after the start-up box)."""
    while line := (await asyncio.wait_for(stdout.readline(), 30)).decode():
        if match := LISTENING.search(line):
            return match.group(1)
    raise AssertionError("the server stopped before it listened")


def _worker_env(config: Config, channels: Path, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CALSERVER_DATABASE_URL": config.database_url, "CALSERVER_SECRETS": TEST_SECRET,
        "CALSERVER_DATA_DIR": str(tmp_path / "worker-data"), "CALSERVER_CHANNELS_FILE": str(channels),
        "CALSERVER_CASCADE_LEASE_SECONDS": "1", "CALSERVER_CASCADE_BATCH_SIZE": "8",
        "CALSERVER_CASCADE_CONCURRENCY": "2", "CALSERVER_CASCADE_POLL_SECONDS": "0.1",
        "CALSERVER_MIGRATE_ON_START": "false", "CALSERVER_LOG_LEVEL": "warning",
    }  # fmt: skip


async def _sms_states(client: TestClient) -> dict[str, int]:  # type: ignore[type-arg]
    async with client.app[SESSIONS].begin() as session:
        rows = await session.execute(
            select(CascadeStep.state, func.count()).group_by(CascadeStep.state)
        )
        return {state: count for state, count in rows.all()}


async def _reconciled(client: TestClient) -> tuple[int, int]:  # type: ignore[type-arg]
    """Steps reconciled after a kill, and send attempts recorded as retries."""
    async with client.app[SESSIONS].begin() as session:
        details = list(
            await session.scalars(select(TriggerEvent.detail).where(TriggerEvent.type == "cascade"))
        )
    reconciled = sum(1 for d in details if str(d.get("note", "")).startswith("reconciled"))
    retries = sum(1 for d in details if d.get("state") == "pending" and d.get("attempt"))
    return reconciled, retries


@pytest.mark.slow  # 50 kill cycles at random moments (~80 s): not in scripts/test --quick
async def test_sigkilled_workers_lose_nothing_and_send_nothing_twice(
    client: TestClient,
    tenant: Tenant,
    gateway: SmsGateway,
    config: Config,
    channels: Path,
    tmp_path: Path,
) -> None:  # type: ignore[type-arg]
    await _push_triggers(tenant)
    env = _worker_env(config, channels, tmp_path)
    rng = random.Random(20261126)
    kills_mid_send = 0
    for _ in range(CYCLES):
        worker = await _running_worker(env)
        # Killed at a random moment of its work (counted from its start, not from the spawn,
        # so a busy machine's slow imports do not leave every kill before the first send).
        await asyncio.sleep(rng.uniform(0.1, 1.1))
        kills_mid_send += (await _sms_states(client)).get("sending", 0) > 0
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
    # A last worker, left alone, finishes what is left (leases run out after a second).
    worker = await _running_worker(env)
    for _ in range(600):
        if (await _sms_states(client)).get("sent", 0) == TRIGGERS:
            break
        await asyncio.sleep(0.1)
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(worker.wait(), 30) == 0
    states = await _sms_states(client)
    assert states == {"sent": TRIGGERS}, states
    keys = {f"{tenant.slug}:k{n}:sms" for n in range(TRIGGERS)}
    assert set(gateway.sent) == keys and set(gateway.sent.values()) == {1}  # none lost, none twice
    # A request is repeated (under the same key, which the gateway de-duplicates) only after
    # an answer that did not come in time was recorded as a retry; a message left "sending"
    # by a killed worker is looked up, not re-requested.
    reconciled, retries = await _reconciled(client)
    repeats = sum(gateway.submissions.values()) - TRIGGERS
    assert repeats <= retries, (repeats, retries)
    print(f"\ncrash test: {CYCLES} SIGKILLs, {kills_mid_send} with messages in flight, "
          f"{reconciled} steps reconciled after a kill, {sum(gateway.lookups.values())} lookups, "
          f"{retries} timed-out answers retried, {repeats} repeated requests, "
          f"{len(gateway.sent)} messages sent once each")  # fmt: skip
    assert kills_mid_send >= CYCLES // 3 and reconciled > 0  # the kills did hit sends


async def test_serve_runs_the_worker_in_process(
    client: TestClient,
    tenant: Tenant,
    gateway: SmsGateway,
    config: Config,
    channels: Path,
    tmp_path: Path,
) -> None:  # type: ignore[type-arg]
    """`calserver serve` with its default cascade_worker = true: a trigger pushed through its
    API reaches the gateway without any other process."""
    gateway.behaviour.delay = 0
    policy = {
        "steps": [{"channel": "calendar"}, {"channel": "sms", "wait_seconds": 0}],
        "quiet_hours": False,
    }
    assert (
        await tenant.api.request("PUT", "/api/v1/cascade/policy", json_body=policy)
    ).status == 200
    assert (
        await tenant.api.request(
            "PUT", "/api/v1/contacts/c1", json_body={"phone": "+4915100000001"}
        )
    ).status == 201
    env = {**_worker_env(config, channels, tmp_path), "CALSERVER_DEMO": "false"}
    del env["CALSERVER_CASCADE_LEASE_SECONDS"]
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web", "serve", "--port", "0", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        base = await _listening_url(server.stdout)
        headers = {"Authorization": f"Bearer {tenant.key}"}
        body = {"external_id": "c1", "idempotency_key": "live-1", "event": EVENT}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{base}/api/v1/triggers", json=body, headers=headers) as answer,
        ):
            assert answer.status == 202
        for _ in range(100):
            if gateway.sent:
                break
            await asyncio.sleep(0.1)
        assert gateway.sent == {f"{tenant.slug}:live-1:sms": 1}
    finally:
        server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 30) == 0
