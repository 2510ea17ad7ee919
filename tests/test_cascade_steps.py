"""Cascade steps as plain objects (storage/cascade_steps): inserted as they are when first
saved, loaded as stored, and written back only where they changed — checked with SQL of the
test's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import text

from calserver.appkeys import SESSIONS
from storage.cascade_steps import load_steps, new_step, save_steps
from tests.conftest import Tenant
from tests.support.cascade import push

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _trigger(client: TestClient, tenant: Tenant) -> tuple[int, int, int]:  # type: ignore[type-arg]
    """A trigger with no cascade of its own: (workspace, trigger, contact) ids."""
    answer = await tenant.api.request(
        "PUT", "/api/v1/contacts/c-1", json_body={"phone": "+79161234567"}
    )
    assert answer.status == 201, answer.text
    trigger_id = await push(tenant.api, "o-1", cascade=False)
    async with client.app[SESSIONS]() as session:
        row = (await session.execute(
            text("SELECT workspace_id, contact_id FROM triggers WHERE id = :id"), {"id": trigger_id}
        )).one()  # fmt: skip
    return row[0], trigger_id, row[1]


async def _stored(client: TestClient, trigger_id: int) -> dict[str, dict[str, Any]]:  # type: ignore[type-arg]
    query = text("SELECT id, channel, state, reason, attempts, provider_id, cost, sent_at "
                 "FROM cascade_steps WHERE trigger_id = :id")  # fmt: skip
    async with client.app[SESSIONS]() as session:
        rows = (await session.execute(query, {"id": trigger_id})).mappings().all()
    return {row["channel"]: dict(row) for row in rows}


async def test_new_steps_are_inserted_as_they_are_and_only_changes_are_written(
    client: TestClient,
    tenant: Tenant,  # type: ignore[type-arg]
) -> None:
    workspace_id, trigger_id, contact_id = await _trigger(client, tenant)
    new = [new_step(workspace_id, trigger_id, contact_id, position, channel, price, 0)
           for position, (channel, price) in enumerate([("sms", Decimal("2.4")),
                                                        ("email", Decimal(0))])]  # fmt: skip
    new[0].state, new[0].attempts, new[0].sending_at = "sending", 1, NOW  # decided before stored
    async with client.app[SESSIONS].begin() as session:
        assert await save_steps(session, new, NOW) == 2
        assert await save_steps(session, new, NOW) == 0  # stored as they are
    stored = await _stored(client, trigger_id)
    assert (stored["sms"]["state"], stored["sms"]["attempts"]) == ("sending", 1)
    assert (stored["email"]["state"], stored["email"]["attempts"]) == ("pending", 0)

    async with client.app[SESSIONS]() as session:
        added = (await load_steps(session, [trigger_id]))[trigger_id]
    assert {step.channel: step.position for step in added} == {"sms": 0, "email": 1}
    assert all(
        step.workspace_id == workspace_id and step.contact_id == contact_id for step in added
    )

    sms = next(step for step in added if step.channel == "sms")
    sent_at = NOW + timedelta(minutes=1)
    sms.state, sms.attempts, sms.provider_id, sms.sent_at, sms.cost = (
        "sent",
        1,
        "p-1",
        sent_at,
        sms.price,
    )
    async with client.app[SESSIONS].begin() as session:
        assert await save_steps(session, added, NOW) == 1  # the e-mail step did not change
        assert await save_steps(session, added, NOW) == 0  # written: nothing changed since
    stored = await _stored(client, trigger_id)
    assert (stored["sms"]["state"], stored["sms"]["attempts"], stored["sms"]["provider_id"]) == (
        "sent", 1, "p-1")  # fmt: skip
    assert Decimal(str(stored["sms"]["cost"])) == Decimal("2.4")
    assert stored["email"]["state"] == "pending" and stored["email"]["sent_at"] is None

    async with client.app[SESSIONS]() as session:
        loaded = await load_steps(session, [trigger_id, trigger_id + 1000])
    assert list(loaded) == [trigger_id]  # a trigger without steps is absent
    again = {step.channel: step for step in loaded[trigger_id]}
    assert again["sms"].sent_at == sent_at and again["sms"].sent_at.tzinfo is not None
    assert again["sms"].cost == Decimal("2.4") and again["email"].state == "pending"
    async with client.app[SESSIONS].begin() as session:
        assert await save_steps(session, loaded[trigger_id], NOW) == 0  # loaded as stored
