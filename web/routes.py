"""Every route of the server, one per line."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web import brand, feed, home, manage, metrics, pages, qr, subscribe
from web.admin import access as admin_access
from web.admin import auth as admin_auth
from web.admin import brand as admin_brand
from web.admin import cascade as admin_cascade
from web.admin import channels as admin_channels
from web.admin import events as admin_events
from web.admin import imports as admin_imports
from web.admin import rewards as admin_rewards
from web.admin import segments as admin_segments
from web.admin import settings as admin_settings
from web.admin import stats as admin_stats
from web.admin import subscribers as admin_subscribers
from web.admin import triggers as admin_triggers
from web.admin import webhooks as admin_webhooks
from web.api import (
    cascade,
    contacts,
    events,
    links,
    offers,
    segments,
    stats,
    subscribers,
    triggers,
    webhooks,
    workspace,
)
from web.dav import bridge as dav

STATIC = Path(__file__).parent / "static"


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", home.home, name="home")
    r.add_get("/healthz", pages.healthz, name="healthz")
    r.add_get("/api/v1/openapi.json", pages.openapi_json, name="openapi")
    r.add_get("/api/docs", pages.api_docs, name="api_docs")
    r.add_get("/robots.txt", qr.robots, name="robots")
    r.add_static("/static", STATIC, name="static")
    r.add_get("/brand/color/{color:[0-9a-fA-F]{6}}.css", brand.color_css, name="brand_css")
    r.add_get(
        "/brand/{workspace}/logo-{digest:[0-9a-f]{16}}.{ext:png|jpeg|svg}", brand.logo, name="logo"
    )
    feed_handler = app[feed.FEED_HANDLER] = feed.FeedHandler()
    app.on_startup.append(feed_handler.bind)
    r.add_get("/f/{token}.ics", feed_handler.handle, name="feed")
    dav_handler = dav.DavHandler()
    r.add_route("*", "/dav{tail:(/.*)?}", dav_handler.handle, name="dav")
    r.add_route("*", "/.well-known/caldav", dav.well_known, name="caldav_well_known")
    r.add_get("/s/{workspace}/{segment}", subscribe.landing, name="landing")
    r.add_post("/s/{workspace}/{segment}", subscribe.subscribe, name="subscribe")
    r.add_get("/s/{workspace}/{segment}/qr.{kind:svg|png}", qr.qr, name="qr")
    r.add_get("/p/{token}", subscribe.personal_landing, name="personal_landing")
    r.add_post("/p/{token}", subscribe.personal_subscribe, name="personal_subscribe")
    r.add_get("/p/{token}/qr.{kind:svg|png}", qr.personal_qr, name="personal_qr")
    r.add_get("/subscribed/{token}", subscribe.subscribed, name="subscribed")
    r.add_get("/u/{token}", subscribe.unsubscribe_page, name="unsubscribe_page")
    r.add_post("/u/{token}", subscribe.unsubscribe, name="unsubscribe")
    r.add_get("/m/{token}", manage.manage_page, name="manage_page")
    r.add_post("/m/{token}", manage.manage, name="manage")
    r.add_get("/metrics", metrics.metrics, name="metrics")
    r.add_put("/api/v1/contacts/{external_id}", contacts.put, name="contact_put")
    r.add_get("/api/v1/contacts/{external_id}", contacts.get, name="contact")
    r.add_delete("/api/v1/contacts/{external_id}", contacts.delete, name="contact_delete")
    r.add_post("/api/v1/links", links.create, name="link_create")
    r.add_post("/api/v1/triggers", triggers.create, name="trigger_create")
    r.add_get("/api/v1/triggers/{trigger_id}", triggers.get, name="trigger")
    r.add_patch("/api/v1/triggers/{trigger_id}", triggers.patch, name="trigger_patch")
    r.add_delete("/api/v1/triggers/{trigger_id}", triggers.cancel, name="trigger_cancel")
    r.add_get("/api/v1/cascade", cascade.get_cascade, name="cascade")
    r.add_put("/api/v1/cascade/policy", cascade.put_policy, name="cascade_policy_put")
    r.add_delete("/api/v1/cascade/policy", cascade.delete_policy, name="cascade_policy_delete")
    r.add_get("/api/v1/reports/cascade", cascade.report, name="cascade_report")
    r.add_post("/dlr/{channel}/{token}", cascade.delivery_report, name="delivery_report")
    r.add_get("/api/v1/webhooks", webhooks.list_webhooks, name="webhooks")
    r.add_post("/api/v1/webhooks", webhooks.create_webhook, name="webhook_create")
    r.add_delete("/api/v1/webhooks/{webhook_id}", webhooks.delete_webhook, name="webhook_delete")
    r.add_get(
        "/api/v1/webhooks/{webhook_id}/deliveries",
        webhooks.list_deliveries,
        name="webhook_deliveries",
    )
    r.add_get("/api/v1/stats/summary", stats.summary, name="stats_summary")
    r.add_get("/api/v1/stats/daily", stats.daily, name="stats_daily")
    r.add_get("/api/v1/subscribers", subscribers.list_all, name="subscribers")
    r.add_delete(
        "/api/v1/subscribers/{subscriber_id}", subscribers.revoke, name="subscriber_revoke"
    )
    r.add_get("/api/v1/workspace", workspace.get_workspace, name="workspace")
    r.add_patch("/api/v1/workspace", workspace.patch_workspace, name="workspace_patch")
    r.add_put("/api/v1/workspace/logo", workspace.put_logo, name="logo_put")
    r.add_delete("/api/v1/workspace/logo", workspace.delete_logo, name="logo_delete")
    r.add_post("/api/v1/segments/{slug}/reward-codes", offers.add_reward_codes, name="codes_add")
    r.add_put("/api/v1/segments/{slug}/variants", offers.put_variants, name="variants_put")
    r.add_post(
        "/api/v1/segments/{slug}/variants/{key}/keep", offers.keep_variant, name="variant_keep"
    )
    r.add_get("/api/v1/stats/variants", offers.variant_stats, name="stats_variants")
    r.add_get("/api/v1/stats/rewards", offers.reward_stats, name="stats_rewards")
    r.add_get("/api/v1/segments", segments.list_segments, name="segments")
    r.add_post("/api/v1/segments", segments.create_segment, name="segment_create")
    r.add_get("/api/v1/segments/{slug}", segments.get_segment, name="segment")
    r.add_patch("/api/v1/segments/{slug}", segments.patch_segment, name="segment_patch")
    r.add_delete("/api/v1/segments/{slug}", segments.delete_segment, name="segment_delete")
    r.add_get("/api/v1/segments/{slug}/events", events.list_events, name="events")
    r.add_post("/api/v1/segments/{slug}/events", events.create_event, name="event_create")
    r.add_get("/api/v1/segments/{slug}/events/{event_id}", events.get_event, name="event")
    r.add_patch("/api/v1/segments/{slug}/events/{event_id}", events.patch_event, name="event_patch")
    r.add_delete(
        "/api/v1/segments/{slug}/events/{event_id}", events.delete_event, name="event_delete"
    )
    _admin_routes(r)


def _admin_routes(r: web.UrlDispatcher) -> None:
    """The dashboard (web/admin/): pages answer GET, forms POST to the same path."""
    r.add_get("/admin", admin_auth.home, name="admin")
    r.add_get("/admin/sign-in", admin_auth.sign_in_page, name="admin_sign_in")
    r.add_post("/admin/sign-in", admin_auth.sign_in)
    r.add_post("/admin/sign-out", admin_auth.sign_out, name="admin_sign_out")
    r.add_get("/admin/segments", admin_segments.list_page, name="admin_segments")
    r.add_get("/admin/new-segment", admin_segments.new_page, name="admin_segment_new")
    r.add_post("/admin/new-segment", admin_segments.create)
    r.add_get("/admin/segments/{slug}", admin_segments.edit_page, name="admin_segment")
    r.add_post("/admin/segments/{slug}", admin_segments.update)
    r.add_get("/admin/segments/{slug}/preview", admin_segments.preview, name="admin_preview")
    r.add_get(
        "/admin/segments/{slug}/qr.{kind:svg|png}", admin_segments.qr_download, name="admin_qr"
    )
    r.add_get("/admin/segments/{slug}/reward", admin_rewards.reward_page, name="admin_reward")
    r.add_post("/admin/segments/{slug}/reward", admin_rewards.save_reward)
    r.add_post("/admin/segments/{slug}/reward/codes", admin_rewards.upload_codes)
    r.add_get("/admin/segments/{slug}/variants", admin_rewards.variants_page, name="admin_variants")
    r.add_post("/admin/segments/{slug}/variants", admin_rewards.save_variants)
    r.add_post("/admin/segments/{slug}/variants/keep", admin_rewards.keep_variant)
    r.add_get("/admin/segments/{slug}/events/new", admin_events.new_page, name="admin_event_new")
    r.add_post("/admin/segments/{slug}/events/new", admin_events.save)
    r.add_get(
        "/admin/segments/{slug}/events/{event_id}", admin_events.edit_page, name="admin_event"
    )
    r.add_post("/admin/segments/{slug}/events/{event_id}", admin_events.save)
    r.add_post("/admin/segments/{slug}/events/{event_id}/delete", admin_events.delete)
    r.add_get("/admin/stats", admin_stats.stats_page, name="admin_stats")
    r.add_get("/admin/subscribers", admin_subscribers.subscribers_page, name="admin_subscribers")
    r.add_get("/admin/import", admin_imports.import_page, name="admin_import")
    r.add_post("/admin/import", admin_imports.run_import)
    r.add_get("/admin/triggers", admin_triggers.triggers_page, name="admin_triggers")
    r.add_get("/admin/triggers/{trigger_id}", admin_triggers.trigger_page, name="admin_trigger")
    r.add_get("/admin/cascade", admin_cascade.cascade_page, name="admin_cascade")
    r.add_get("/admin/channels", admin_channels.channels_page, name="admin_channels")
    r.add_post("/admin/channels", admin_channels.save)
    r.add_post("/admin/channels/remove", admin_channels.remove)
    r.add_get("/admin/settings", admin_settings.settings_page, name="admin_settings")
    r.add_post("/admin/settings", admin_settings.save)
    r.add_get("/admin/brand", admin_brand.brand_page, name="admin_brand")
    r.add_post("/admin/brand", admin_brand.save)
    r.add_get("/admin/webhooks", admin_webhooks.webhooks_page, name="admin_webhooks")
    r.add_post("/admin/webhooks", admin_webhooks.create)
    r.add_post("/admin/webhooks/{webhook_id}/delete", admin_webhooks.delete)
    r.add_get("/admin/access", admin_access.access_page, name="admin_access")
    r.add_post("/admin/access/keys", admin_access.create_key)
    r.add_post("/admin/access/keys/revoke", admin_access.revoke)
    r.add_post("/admin/access/users", admin_access.add_user)
