"""/healthz: 200 when the database answers, 503 when it does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calserver.config import Config
from tests.conftest import TEST_SECRET
from tests.support.openapi import check_against_spec
from web.app import create_app


async def test_healthy(client: Any) -> None:
    async with client.get("/healthz") as answer:
        assert answer.status == 200
        body = await answer.json()
        check_against_spec("/healthz", "GET", 200, answer.content_type, body)


async def test_unhealthy_when_the_database_is_gone(
    aiohttp_client: Any, tmp_path: Path, unused_tcp_port: int
) -> None:
    for url in (
        f"postgresql+asyncpg://nobody@127.0.0.1:{unused_tcp_port}/none",
        # A file that is not a database.
        f"sqlite+aiosqlite:///{tmp_path / 'garbage.db'}",
    ):
        (tmp_path / "garbage.db").write_bytes(b"this is not an SQLite database" * 100)
        config = Config(
            {
                "data_dir": str(tmp_path),
                "database_url": url,
                "secrets": [TEST_SECRET],
                "migrate_on_start": False,
            }
        )
        client = await aiohttp_client(create_app(config))
        async with client.get("/healthz") as answer:
            assert answer.status == 503
            body = await answer.json()
            check_against_spec("/healthz", "GET", 503, answer.content_type, body)
        await client.close()
