"""The cascade's part of the OpenAPI document: its schemas and paths."""

from __future__ import annotations

from typing import Any

from web.schemas import STR

JSON = "application/json"
PROBLEM = "application/problem+json"
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
MONEY = {"type": ["number", "null"], "description": "In the workspace's currency, 2 decimals."}
COUNT = {"type": "integer", "minimum": 0}
STEP_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["channel"],
    "properties": {
        "channel": {
            "type": "string",
            "description": '"calendar" or a channel named in the channels file.',
        },
        "price": {
            "type": ["number", "string"],
            "description": "Per message; default: the channel's price.",
        },
        "wait_seconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": 604800,
            "description": "How long to wait for a delivery report before the next step (0: sent is enough). Default 900.",
        },
    },
}
CAP = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "required": ["max", "period_seconds"],
    "properties": {
        "max": {"type": "integer", "minimum": 1, "maximum": 1000},
        "period_seconds": {"type": "integer", "minimum": 60, "maximum": 2678400},
        "action": {"type": "string", "enum": ["defer", "drop"]},
    },
}

CASCADE_SCHEMAS: dict[str, Any] = {
    "CascadePolicyInput": {
        "type": "object", "additionalProperties": False, "required": ["steps"],
        "properties": {
            "steps": {"type": "array", "minItems": 1, "maxItems": 8, "items": STEP_INPUT},
            "quiet_hours": {"type": "boolean", "description": "Defer sends inside the workspace's quiet hours in the contact's zone (default true)."},
            "frequency_cap": CAP,
        },
    },
    "CascadePolicy": {
        "type": "object", "additionalProperties": False, "required": ["steps", "quiet_hours", "frequency_cap"],
        "properties": {
            "steps": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["channel", "price", "wait_seconds"],
                "properties": {"channel": STR, "price": STR, "wait_seconds": COUNT}}},
            "quiet_hours": {"type": "boolean"}, "frequency_cap": CAP,
        },
    },
    "Cascade": {
        "type": "object", "additionalProperties": False, "required": ["policy", "channels"],
        "properties": {
            "policy": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/CascadePolicy"}]},
            "channels": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["name", "type", "price", "report_url"],
                "properties": {"name": STR, "type": STR, "price": {"type": "number"},
                               "report_url": {"type": "string", "description": "Give it to the provider for delivery reports (POST, JSON or form)."}}}},
        },
    },
    "CascadeStep": {
        "type": "object", "additionalProperties": False,
        "required": ["channel", "state", "reason", "price", "cost", "attempts", "due_at", "sent_at",
                     "finished_at", "late_report"],
        "properties": {
            "channel": STR,
            "state": {"type": "string", "enum": ["pending", "sending", "sent", "delivered", "failed", "skipped", "expired"]},
            "reason": STR, "price": {"type": "number"}, "cost": {"type": "number"},
            "attempts": COUNT, "due_at": NULLABLE_TIMESTAMP, "sent_at": NULLABLE_TIMESTAMP,
            "finished_at": NULLABLE_TIMESTAMP, "late_report": {"type": ["string", "null"]},
        },
    },
    "CascadeReport": {
        "type": "object", "additionalProperties": False,
        "required": ["from", "to", "currency", "sms_price", "triggers", "with_cascade", "delivered_by_calendar",
                     "reached_by_channel", "unreached", "channels", "cost_total", "all_sms_cost", "saving"],
        "properties": {
            "from": STR, "to": STR, "currency": STR, "sms_price": MONEY,
            "triggers": COUNT, "with_cascade": COUNT, "delivered_by_calendar": COUNT,
            "reached_by_channel": COUNT, "unreached": COUNT,
            "channels": {"type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["channel", "messages", "delivered", "failed", "late_reports", "cost"],
                "properties": {"channel": STR, "messages": COUNT, "delivered": COUNT, "failed": COUNT,
                               "late_reports": COUNT, "cost": MONEY}}},
            "cost_total": MONEY,
            "all_sms_cost": {**MONEY, "description": "Every trigger of the period sent as one SMS."},
            "saving": {**MONEY, "description": "all_sms_cost minus cost_total."},
        },
    },
}  # fmt: skip


def _ok(description: str, schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {JSON: {"schema": ref}}}


def _problem(description: str) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM: {"schema": ref}}}


AUTH = {"401": _problem("Missing or invalid API key.")}
DATES = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "First day of trigger creation (the workspace's zone); default 29 days before `to`."},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "Last day, included; default today."},
]  # fmt: skip

CASCADE_PATHS: dict[str, Any] = {
    "/api/v1/cascade": {
        "get": {
            "summary": "The workspace's cascade policy and the channels it may use (never their credentials).",
            "responses": {"200": _ok("Policy and channels.", "Cascade"), **AUTH},
        },
    },
    "/api/v1/cascade/policy": {
        "put": {
            "summary": "Set the ordered steps (calendar first is the free one), prices, waits, quiet hours and frequency cap.",
            "requestBody": {"required": True, "content": {JSON: {"schema": {"$ref": "#/components/schemas/CascadePolicyInput"}}}},
            "responses": {"200": _ok("Stored.", "CascadePolicy"), **AUTH,
                          "400": _problem("The body is not a JSON object."),
                          "422": _problem("Some fields are invalid; `errors` names each one.")},
        },
        "delete": {
            "summary": "No cascade for new triggers (running cascades finish).",
            "responses": {"204": {"description": "Removed."}, **AUTH},
        },
    },
    "/api/v1/reports/cascade": {
        "get": {
            "summary": "Messages and cost by channel, triggers the calendar delivered, and the saving against sending every trigger by SMS.",
            "parameters": DATES,
            "responses": {"200": _ok("The report.", "CascadeReport"), **AUTH,
                          "400": _problem("A malformed date, from after to, or more than 731 days.")},
        },
    },
}  # fmt: skip
