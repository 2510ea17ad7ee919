"""The OpenAPI 3.1 document of the admin API.

Tests validate every API response they receive against this document and check
that each route of the application appears here, so it cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from calserver import __version__
from web.openapi_cascade import CASCADE_PATHS, CASCADE_SCHEMAS
from web.schemas import SCHEMAS, STR

JSON = "application/json"
PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(schema)}}}


AUTH_ERRORS = {"401": _problem("Missing or invalid API key.")}
BODY_ERRORS = {
    "400": _problem("The body is not a JSON object."),
    "413": _problem("The body is larger than max_body_bytes."),
    "422": _problem("Some fields are invalid; `errors` names each one."),
}
NOT_FOUND = {"404": _problem("No such segment or event in this workspace.")}
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
EVENT_ID = {"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}}
WEBHOOK_ID = {"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "integer"}}
STATS_PARAMS = [
    {
        "name": "from",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "First day (the workspace's zone); default 29 days before `to`.",
    },
    {
        "name": "to",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "Last day, included; default today.",
    },
    {"name": "segment", "in": "query", "schema": STR, "description": "One segment's slug."},
]

PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "Health check: 200 when the database answers.",
            "security": [],
            "responses": {"200": _ok("Healthy.", "Health"), "503": _problem("Database down.")},
        }
    },
    "/s/{workspace}/{segment}": {
        "parameters": [
            {"name": "workspace", "in": "path", "required": True, "schema": STR},
            {"name": "segment", "in": "path", "required": True, "schema": STR},
        ],
        "post": {
            "summary": "Subscribe (public, no key): with Accept: application/json, answers the links.",
            "security": [],
            "requestBody": {"required": False, "content": {JSON: {"schema": _ref("SubscribeInput")}}},
            "responses": {
                "201": _ok("Subscribed; the feed and the links to add it.", "SubscriptionLinks"),
                "400": _problem("The body is not a JSON object."),
                "404": _problem("No such segment."),
                "429": _problem("Too many subscriptions from this address; see Retry-After."),
            },
        },
    },
    "/api/v1/contacts/{external_id}": {
        "parameters": [{"name": "external_id", "in": "path", "required": True, "schema": STR}],
        "put": {
            "summary": "Create or replace a contact (the CRM's own id).",
            "requestBody": _body("ContactInput"),
            "responses": {"200": _ok("Replaced.", "Contact"), "201": _ok("Created.", "Contact"),
                          **AUTH_ERRORS, **BODY_ERRORS, "404": _problem("A malformed external id.")},
        },
        "get": {
            "summary": "One contact.",
            "responses": {"200": _ok("The contact.", "Contact"), **AUTH_ERRORS, "404": _problem("No such contact.")},
        },
        "delete": {
            "summary": "Erase a contact's personal data and triggers; its subscriptions become anonymous.",
            "responses": {"204": {"description": "Erased."}, **AUTH_ERRORS, "404": _problem("No such contact.")},
        },
    },
    "/api/v1/links": {
        "post": {
            "summary": "A personalized subscribe link (and its QR codes) bound to a contact.",
            "requestBody": _body("LinkInput"),
            "responses": {"201": _ok("The link.", "Link"), **AUTH_ERRORS, **BODY_ERRORS,
                          "404": _problem("No such contact (see create_contact) or segment.")},
        },
    },
    "/api/v1/triggers": {
        "post": {
            "summary": "Push a personal event into one contact's feeds (202 once committed; idempotent).",
            "requestBody": _body("TriggerInput"),
            "responses": {
                "202": _ok("Accepted: the trigger, new or the one this key made.", "Trigger"),
                **AUTH_ERRORS, **BODY_ERRORS,
                "404": _problem("No such contact (see create_contact)."),
                "409": _problem("The idempotency key was used with another body."),
            },
        },
    },
    "/api/v1/triggers/{trigger_id}": {
        "parameters": [{"name": "trigger_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "get": {
            "summary": "A trigger, its receipt and its timeline.",
            "responses": {"200": _ok("The trigger.", "Trigger"), **AUTH_ERRORS, "404": _problem("No such trigger.")},
        },
        "patch": {
            "summary": "Change the event (SEQUENCE goes up; a new receipt is needed), deliver_by or critical.",
            "requestBody": _body("TriggerPatch"),
            "responses": {"200": _ok("Changed.", "Trigger"), **AUTH_ERRORS, **BODY_ERRORS,
                          "404": _problem("No such trigger."), "409": _problem("The trigger was cancelled.")},
        },
        "delete": {
            "summary": "Cancel: feeds keep it as STATUS:CANCELLED for the retention period so calendars remove it.",
            "responses": {"200": _ok("Cancelled.", "Trigger"), **AUTH_ERRORS, "404": _problem("No such trigger.")},
        },
    },
    "/api/v1/webhooks": {
        "get": {
            "summary": "The workspace's webhook endpoints (secrets are never shown again).",
            "responses": {"200": _ok("Endpoints, oldest first.", "WebhookList"), **AUTH_ERRORS},
        },
        "post": {
            "summary": "Register a URL for some event types; the answer holds its signing secret, once.",
            "requestBody": _body("WebhookInput"),
            "responses": {"201": _ok("Registered.", "WebhookCreated"), **AUTH_ERRORS, **BODY_ERRORS},
        },
    },
    "/api/v1/webhooks/{webhook_id}": {
        "parameters": [WEBHOOK_ID],
        "delete": {
            "summary": "Remove an endpoint and its undelivered messages.",
            "responses": {"204": {"description": "Removed."}, **AUTH_ERRORS,
                          "404": _problem("No such webhook in this workspace.")},
        },
    },
    "/api/v1/webhooks/{webhook_id}/deliveries": {
        "parameters": [WEBHOOK_ID],
        "get": {
            "summary": "The latest 100 messages to an endpoint, newest first, with their delivery state.",
            "responses": {"200": _ok("Messages.", "WebhookDeliveryList"), **AUTH_ERRORS,
                          "404": _problem("No such webhook in this workspace.")},
        },
    },
    "/api/v1/stats/summary": {
        "get": {
            "summary": "Funnel and lifecycle figures for a period, with breakdowns by source, client family and segment.",
            "parameters": STATS_PARAMS,
            "responses": {
                "200": _ok("The figures.", "StatsSummary"), **AUTH_ERRORS,
                "400": _problem("A malformed date, from after to, or more than 731 days."),
                "404": _problem("No such segment."),
                "406": _problem("CSV asked for; this endpoint answers JSON only."),
            },
        },
    },
    "/api/v1/stats/daily": {
        "get": {
            "summary": "The same figures day by day, optionally split by=src|family|segment; CSV with Accept: text/csv.",
            "parameters": [*STATS_PARAMS, {"name": "by", "in": "query", "schema": {"type": "string", "enum": ["src", "family", "segment"]}}],
            "responses": {
                "200": {"description": "Days.", "content": {JSON: {"schema": _ref("StatsDaily")}, "text/csv": {"schema": STR}}},
                **AUTH_ERRORS,
                "400": _problem("A malformed date, from after to, more than 731 days, or an unknown `by`."),
                "404": _problem("No such segment."),
            },
        },
    },
    "/api/v1/subscribers": {
        "get": {
            "summary": "Anonymous subscriber rows; CSV with Accept: text/csv (up to 100,000 a page).",
            "parameters": [
                {"name": "segment", "in": "query", "schema": STR},
                {"name": "status", "in": "query", "schema": STR},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 1000}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "default": 0}},
            ],
            "responses": {
                "200": {"description": "Subscribers by id.", "content": {JSON: {"schema": _ref("SubscriberList")}, "text/csv": {"schema": STR}}},
                **AUTH_ERRORS,
                "400": _problem("Unknown status, or a bad limit or offset."),
                "404": _problem("No such segment."),
            },
        },
    },
    "/api/v1/subscribers/{subscriber_id}": {
        "parameters": [{"name": "subscriber_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "delete": {
            "summary": "Revoke a subscription: its feed empties and is renamed, like an unsubscribe.",
            "responses": {"204": {"description": "Revoked (or already ended)."}, **AUTH_ERRORS,
                          "404": _problem("No such subscriber in this workspace.")},
        },
    },
    "/api/v1/workspace": {
        "get": {
            "summary": "The workspace of the key.",
            "responses": {"200": _ok("The workspace.", "Workspace"), **AUTH_ERRORS},
        },
        "patch": {
            "summary": "Change name, default time zone, quiet hours or SMS price.",
            "requestBody": _body("WorkspacePatch"),
            "responses": {"200": _ok("Updated.", "Workspace"), **AUTH_ERRORS, **BODY_ERRORS},
        },
    },
    "/api/v1/segments": {
        "get": {
            "summary": "All segments of the workspace.",
            "responses": {"200": _ok("Segments, by slug.", "SegmentList"), **AUTH_ERRORS},
        },
        "post": {
            "summary": "Create a segment.",
            "requestBody": _body("SegmentInput"),
            "responses": {
                "201": _ok("Created.", "Segment"), **AUTH_ERRORS, **BODY_ERRORS,
                "409": _problem("The slug is taken."),
            },
        },
    },
    "/api/v1/segments/{slug}": {
        "parameters": [SLUG],
        "get": {
            "summary": "One segment.",
            "responses": {"200": _ok("The segment.", "Segment"), **AUTH_ERRORS, **NOT_FOUND},
        },
        "patch": {
            "summary": "Change a segment.",
            "requestBody": _body("SegmentPatch"),
            "responses": {
                "200": _ok("Updated.", "Segment"), **AUTH_ERRORS, **BODY_ERRORS, **NOT_FOUND,
                "409": _problem("The new slug is taken."),
            },
        },
        "delete": {
            "summary": "Delete a segment and its events.",
            "responses": {"204": {"description": "Deleted."}, **AUTH_ERRORS, **NOT_FOUND},
        },
    },
    "/api/v1/segments/{slug}/events": {
        "parameters": [SLUG],
        "get": {
            "summary": "Events of a segment, by start.",
            "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 100}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "default": 0}},
            ],
            "responses": {
                "200": _ok("Events.", "EventList"), **AUTH_ERRORS, **NOT_FOUND,
                "400": _problem("Bad limit or offset."),
            },
        },
        "post": {
            "summary": "Create an event.",
            "requestBody": _body("EventInput"),
            "responses": {
                "201": _ok("Created.", "Event"), **AUTH_ERRORS, **BODY_ERRORS, **NOT_FOUND,
                "409": _problem("The uid is taken in this segment."),
            },
        },
    },
    "/api/v1/segments/{slug}/events/{event_id}": {
        "parameters": [SLUG, EVENT_ID],
        "get": {
            "summary": "One event.",
            "responses": {"200": _ok("The event.", "Event"), **AUTH_ERRORS, **NOT_FOUND},
        },
        "patch": {
            "summary": "Change an event; its SEQUENCE goes up by one.",
            "requestBody": _body("EventPatch"),
            "responses": {
                "200": _ok("Updated.", "Event"), **AUTH_ERRORS, **BODY_ERRORS, **NOT_FOUND,
                "409": _problem("The new uid is taken in this segment."),
            },
        },
        "delete": {
            "summary": "Delete an event.",
            "responses": {"204": {"description": "Deleted."}, **AUTH_ERRORS, **NOT_FOUND},
        },
    },
}  # fmt: skip


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "calserver admin API",
            "version": __version__,
            "license": {"name": "GPL-3.0-or-later", "identifier": "GPL-3.0-or-later"},
            "description": (
                "Segments, events and settings of one workspace. Authenticate with "
                "`Authorization: Bearer KEY`; errors are RFC 9457 problem+json."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "schemas": {**SCHEMAS, **CASCADE_SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {**PATHS, **CASCADE_PATHS},
    }
