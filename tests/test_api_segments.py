"""Segments through the admin API, on both stores."""

from __future__ import annotations

from tests.conftest import Tenant
from tests.support.openapi import ApiClient

NEWS = {
    "slug": "news",
    "name": "Shop news",
    "description": "Sales & open days",
    "color": "#1e88e5",
    "timezone": "Europe/Moscow",
}


async def test_create_get_list_patch_delete(api: ApiClient) -> None:
    created = await api.post("/api/v1/segments", NEWS)
    assert created.status == 201
    assert created.headers["Location"] == "/api/v1/segments/news"
    assert created.body["subscribe_url"] == "https://cal.example.test/s/acme/news"
    assert created.body["color"] == "#1E88E5"
    assert created.body["version"] == 1

    one = await api.get("/api/v1/segments/news")
    assert one.status == 200 and one.body["name"] == "Shop news"

    await api.post("/api/v1/segments", {"slug": "alpha", "name": "Alpha"})
    listed = await api.get("/api/v1/segments")
    assert [s["slug"] for s in listed.body["items"]] == ["alpha", "news"]

    patched = await api.patch("/api/v1/segments/news", {"name": "Shop news!", "slug": "shop-news"})
    assert patched.status == 200
    assert patched.body["slug"] == "shop-news" and patched.body["version"] == 2
    assert (await api.get("/api/v1/segments/news")).status == 404

    assert (await api.delete("/api/v1/segments/shop-news")).status == 204
    assert (await api.get("/api/v1/segments/shop-news")).status == 404


async def test_segment_takes_workspace_zone_by_default(api: ApiClient) -> None:
    await api.patch("/api/v1/workspace", {"timezone": "Asia/Vladivostok"})
    created = await api.post("/api/v1/segments", {"slug": "vl", "name": "VL"})
    assert created.body["timezone"] == "Asia/Vladivostok"
    # Changing the workspace default later does not move existing segments.
    await api.patch("/api/v1/workspace", {"timezone": "Europe/London"})
    assert (await api.get("/api/v1/segments/vl")).body["timezone"] == "Asia/Vladivostok"


async def test_a_key_sees_only_its_own_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    await tenant.api.post("/api/v1/segments", NEWS)
    theirs = other_tenant.api
    assert (await theirs.get("/api/v1/segments")).body["items"] == []
    for answer in (
        await theirs.get("/api/v1/segments/news"),
        await theirs.patch("/api/v1/segments/news", {"name": "hijacked"}),
        await theirs.delete("/api/v1/segments/news"),
        await theirs.get("/api/v1/segments/news/events"),
        await theirs.post(
            "/api/v1/segments/news/events", {"title": "x", "start": "2026-05-01T10:00:00"}
        ),
    ):
        assert answer.status == 404, answer.text
    # The same slug is free in the other workspace, and the original is untouched.
    assert (await theirs.post("/api/v1/segments", NEWS)).status == 201
    assert (await tenant.api.get("/api/v1/segments/news")).body["name"] == "Shop news"
