"""The component schemas of the OpenAPI document (web/openapi.py holds the paths)."""

from __future__ import annotations

from typing import Any

from storage.outbox import EVENT_TYPES
from web.api.languages import schema as language_schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


STR = {"type": "string"}
NULLABLE_STR = {"type": ["string", "null"]}
# Languages with a catalog (docs/languages.md).
LANGUAGE = language_schema(
    "Language of its pages for browsers that ask for none of ours.", nullable=False
)
SEGMENT_LANGUAGE = language_schema(
    "Its landing page's default language; null: the workspace's.", nullable=True
)
CONTACT_LOCALE = language_schema(
    "Language of the cascade's messages; null: the workspace's.", nullable=True
)
TIMESTAMP = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": STR, "title": STR, "status": {"type": "integer"}, "detail": STR,
            "errors": {
                "type": "array",
                "items": {
                    "type": "object", "required": ["pointer", "detail"],
                    "properties": {"pointer": STR, "detail": STR},
                },
            },
        },
    },
    "QuietHours": {
        "type": "object", "required": ["start", "end"], "additionalProperties": False,
        "properties": {
            "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
            "end": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
        },
    },
    "Workspace": {
        "type": "object", "additionalProperties": False,
        "required": ["slug", "name", "timezone", "quiet_hours", "sms_price", "currency",
                     "language", "created_at", "updated_at"],
        "properties": {
            "slug": STR, "name": STR, "timezone": STR, "quiet_hours": _ref("QuietHours"),
            "sms_price": {"type": ["number", "null"], "minimum": 0}, "currency": STR,
            "language": LANGUAGE, "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
        },
    },
    "WorkspacePatch": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "name": STR, "timezone": {"type": "string", "description": "IANA zone name."},
            "quiet_hours": _ref("QuietHours"),
            "sms_price": {"type": ["number", "null"], "minimum": 0,
                          "description": "Price of one SMS, for the savings report."},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "language": LANGUAGE,
        },
    },
    "Segment": {
        "type": "object", "additionalProperties": False,
        "required": ["slug", "name", "description", "color", "timezone", "language", "version",
                     "subscribe_url", "qr_svg_url", "qr_png_url", "embed_html", "events_url",
                     "created_at", "updated_at"],
        "properties": {
            "slug": STR, "name": STR, "description": STR, "color": NULLABLE_STR,
            "timezone": STR, "language": SEGMENT_LANGUAGE, "version": {"type": "integer"},
            "subscribe_url": {"type": "string", "format": "uri",
                              "description": "The universal link clients subscribe through."},
            "qr_svg_url": {"type": "string", "format": "uri",
                           "description": "QR code of subscribe_url?src=qr; ?scale=1-40."},
            "qr_png_url": {"type": "string", "format": "uri"},
            "embed_html": {"type": "string",
                           "description": "A styled link to paste into a web page (no script)."},
            "events_url": {"type": "string", "format": "uri"},
            "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
        },
    },
    "SubscribeInput": {
        "type": "object",
        "properties": {
            "timezone": {"type": "string",
                         "description": "IANA zone; an unknown one falls back to the segment's."},
            "src": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$",
                    "description": "Where the link was shared: qr, button, sms, site…"},
            "lang": {"type": "string", "description": "The calendar's own texts' language "
                     "(en, ru); default: as the landing page would choose."},
        },
    },
    "SubscriptionLinks": {
        "type": "object", "additionalProperties": False,
        "required": ["feed_url", "webcal_url", "google_url", "outlook_url", "office365_url",
                     "unsubscribe_url", "manage_url", "caldav_url", "caldav_username",
                     "caldav_password", "lang"],
        "properties": {
            "feed_url": {"type": "string", "format": "uri", "maxLength": 200},
            "webcal_url": STR, "google_url": STR, "outlook_url": STR, "office365_url": STR,
            "unsubscribe_url": STR, "manage_url": STR,
            "caldav_url": {"type": "string", "format": "uri",
                           "description": "CalDAV server for an account (with the user name and password below)."},
            "caldav_username": STR, "lang": LANGUAGE,
            "caldav_password": {"type": "string",
                                "description": "The subscription's token: keep it private."},
        },
    },
    "SegmentInput": {
        "type": "object", "additionalProperties": False, "required": ["slug", "name"],
        "properties": {
            "slug": {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"},
            "name": {"type": "string", "maxLength": 200},
            "description": {"type": "string", "maxLength": 5000},
            "color": {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$"},
            "timezone": {"type": "string", "description": "IANA zone; default: the workspace's."},
            "language": SEGMENT_LANGUAGE,
        },
    },
    "SegmentPatch": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "slug": STR, "name": STR, "description": STR, "color": STR, "timezone": STR,
            "language": SEGMENT_LANGUAGE,
        },
    },
    "Alarm": {
        "type": "object", "required": ["before"], "additionalProperties": False,
        "properties": {"before": {"type": "string", "description": "ISO 8601 duration: PT15M, P1D."}},
    },
    "EventInput": {
        "type": "object", "additionalProperties": False, "required": ["title", "start"],
        "properties": {
            "uid": {"type": "string", "maxLength": 255},
            "title": {"type": "string", "maxLength": 500},
            "description": {"type": "string", "maxLength": 20000},
            "location": {"type": "string", "maxLength": 500},
            "url": {"type": "string", "format": "uri"},
            "start": {"type": "string", "description": "ISO 8601 date-time (date if all_day)."},
            "end": {"type": "string", "description": "Exclusive end; for all-day, the day after."},
            "duration": {"type": "string", "description": "ISO 8601 duration, instead of end."},
            "timezone": {"type": "string", "description": "IANA zone for times without an offset."},
            "local_time": {"type": "boolean",
                           "description": "Same wall-clock time in every subscriber's zone."},
            "all_day": {"type": "boolean"},
            "rrule": {"type": ["string", "null"], "description": "RFC 5545 RRULE."},
            "alarms": {"type": "array", "maxItems": 10, "items": _ref("Alarm")},
        },
    },
    "Event": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "uid", "title", "description", "location", "url", "start", "end",
                     "duration", "timezone", "local_time", "all_day", "rrule", "alarms",
                     "sequence", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "integer"}, "uid": STR, "title": STR, "description": STR,
            "location": STR, "url": STR, "start": STR, "end": STR, "duration": STR,
            "timezone": STR, "local_time": {"type": "boolean"}, "all_day": {"type": "boolean"},
            "rrule": NULLABLE_STR, "alarms": {"type": "array", "items": _ref("Alarm")},
            "sequence": {"type": "integer", "minimum": 0},
            "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
        },
    },
    "SegmentList": {
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": _ref("Segment")}},
    },
    "EventList": {
        "type": "object", "required": ["items", "limit", "offset"], "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": _ref("Event")},
            "limit": {"type": "integer"}, "offset": {"type": "integer"},
        },
    },
    "Health": {
        "type": "object", "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
    },
}  # fmt: skip
COUNT = {"type": "integer", "minimum": 0}
RATE = {
    "type": ["number", "null"],
    "minimum": 0,
    "description": "A share (0.14 is 14 %); null when the base is zero.",
}
FIGURES = {
    "landing_views": COUNT,
    "subscribe_clicks": COUNT,
    "activated": COUNT,
    "returned": COUNT,
    "resumed": COUNT,
    "unsubscribed": COUNT,
    "revoked": COUNT,
    "lapsed": COUNT,
    "active_at_start": {"type": "integer"},
    "active": {"type": "integer"},
    "subscribe_conversion": RATE,
    "activation_rate": RATE,
    "unsubscribe_rate": RATE,
    "churn_rate": RATE,
}
DAY_ROW = {
    "type": "object",
    "required": ["day", "active"],
    "properties": {
        "day": {"type": "string", "format": "date"},
        "landing_views": COUNT,
        "subscribe_clicks": COUNT,
        "activated": COUNT,
        "returned": COUNT,
        "resumed": COUNT,
        "unsubscribed": COUNT,
        "revoked": COUNT,
        "lapsed": COUNT,
        "active": {"type": "integer"},
        "polls": COUNT,
    },
}
SCHEMAS.update({
    "StatsSummary": {
        "type": "object",
        "required": ["from", "to", "segment", *FIGURES, "dormant_now", "by_status_now",
                     "by_src", "by_family", "by_segment"],
        "properties": {
            "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
            "segment": NULLABLE_STR, **FIGURES, "dormant_now": COUNT,
            "by_status_now": {"type": "object", "additionalProperties": COUNT},
            **{f"by_{group}": {"type": "array", "items": {
                "type": "object", "required": [group, *FIGURES],
                "properties": {group: STR, **FIGURES}}} for group in ("src", "family", "segment")},
        },
    },
    "StatsDaily": {
        "type": "object", "required": ["from", "to", "segment"],
        "properties": {
            "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
            "segment": NULLABLE_STR, "by": {"type": "string", "enum": ["src", "family", "segment"]},
            "days": {"type": "array", "items": DAY_ROW},
            "series": {"type": "object", "additionalProperties": {"type": "array", "items": DAY_ROW}},
        },
    },
    "Subscriber": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "segments", "status", "family", "src", "client", "timezone",
                     "created_at", "activated_at", "last_poll_at", "ended_at"],
        "properties": {
            "id": {"type": "integer"}, "segments": {"type": "array", "items": STR},
            "status": {"type": "string", "enum": ["created", "active", "dormant", "lapsed",
                                                  "unsubscribed", "revoked"]},
            "family": NULLABLE_STR, "src": NULLABLE_STR, "client": NULLABLE_STR, "timezone": STR,
            "created_at": TIMESTAMP, "activated_at": {"type": ["string", "null"]},
            "last_poll_at": {"type": ["string", "null"]}, "ended_at": {"type": ["string", "null"]},
        },
    },
    "SubscriberList": {
        "type": "object", "required": ["items", "limit", "offset"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": _ref("Subscriber")},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    },
})  # fmt: skip
SCHEMAS["EventPatch"] = {
    **SCHEMAS["EventInput"],
    "required": [],
    "description": "Any event fields; they are laid over the stored event and checked whole.",
}

SCHEMAS.update(
    {
        "ContactInput": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "phone": {"type": ["string", "null"], "description": "E.164, e.g. +79161234567."},
                "email": {"type": ["string", "null"]},
                "telegram_chat_id": {"type": ["string", "integer", "null"]},
                "timezone": {"type": ["string", "null"], "description": "IANA zone of the contact."},
                "locale": CONTACT_LOCALE,
                "attributes": {"type": "object", "description": "Free CRM data, at most 16 KB of JSON."},
                "opt_out": {"type": "array", "maxItems": 16, "items": STR,
                            "description": "Cascade channels (by name) the contact must not be reached on."},
            },
        },
        "Contact": {
            "type": "object",
            "additionalProperties": False,
            "required": ["external_id", "phone", "email", "telegram_chat_id", "timezone", "locale", "attributes",
                         "opt_out", "created_at", "updated_at"],
            "properties": {
                "external_id": STR, "phone": NULLABLE_STR, "email": NULLABLE_STR,
                "telegram_chat_id": NULLABLE_STR, "timezone": NULLABLE_STR, "locale": CONTACT_LOCALE,
                "attributes": {"type": "object"}, "opt_out": {"type": "array", "items": STR},
                "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
            },
        },
        "LinkInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["external_id", "segments"],
            "properties": {
                "external_id": STR,
                "segments": {"type": "array", "items": STR, "minItems": 1, "maxItems": 20},
                "src": STR,
                "expires_in": {"type": "integer", "minimum": 60, "maximum": 31622400, "default": 2592000},
                "create_contact": {"type": "boolean"},
            },
        },
        "Link": {
            "type": "object",
            "additionalProperties": False,
            "required": ["url", "qr_svg_url", "qr_png_url", "expires_at"],
            "properties": {"url": STR, "qr_svg_url": STR, "qr_png_url": STR, "expires_at": TIMESTAMP},
        },
        "TriggerInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["external_id", "idempotency_key", "event"],
            "properties": {
                "external_id": STR,
                "idempotency_key": {"type": "string", "maxLength": 200},
                "event": _ref("EventInput"),
                "deliver_by": {"type": "string", "format": "date-time",
                               "description": "Default: the first alarm of the first occurrence."},
                "critical": {"type": "boolean"},
                "create_contact": {"type": "boolean"},
                "cascade": {"oneOf": [{"const": False}, _ref("CascadePolicyInput")],
                            "description": "false: no cascade for this trigger; a policy: this trigger's own steps."},
            },
        },
        "TriggerPatch": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"event": _ref("EventPatch"), "deliver_by": STR, "critical": {"type": "boolean"}},
        },
        "Trigger": {
            "type": "object",
            "required": ["id", "external_id", "idempotency_key", "status", "critical", "deliver_by",
                         "sequence", "event", "receipt", "stale_on_google", "created_at", "updated_at"],
            "properties": {
                "id": {"type": "integer"}, "external_id": STR, "idempotency_key": STR,
                "status": {"type": "string", "enum": ["pending", "delivered", "undelivered", "cancelled"]},
                "critical": {"type": "boolean"}, "deliver_by": {"type": ["string", "null"]},
                "sequence": {"type": "integer"}, "event": {"type": "object"},
                "receipt": {
                    "type": ["object", "null"],
                    "properties": {"delivered_at": STR, "sequence": {"type": "integer"},
                                   "family": STR, "rings_alarms": {"type": "boolean"}},
                },
                "stale_on_google": {"type": "boolean"},
                "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
                "cascade": {"type": "array", "description": "The cascade's steps (on GET).",
                            "items": _ref("CascadeStep")},
                "timeline": {"type": "array", "items": {
                    "type": "object", "required": ["at", "type", "detail"],
                    "properties": {"at": STR, "type": STR, "detail": {"type": "object"}}}},
            },
        },
    }
)  # fmt: skip

EVENT_TYPE = {"type": "string", "enum": list(EVENT_TYPES)}
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
WEBHOOK_FIELDS = {
    "id": {"type": "integer"},
    "url": STR,
    "events": {"type": "array", "items": EVENT_TYPE},
    "active": {"type": "boolean"},
    "created_at": TIMESTAMP,
}
SCHEMAS.update({
    "WebhookInput": {
        "type": "object", "additionalProperties": False, "required": ["url", "events"],
        "properties": {
            "url": {"type": "string", "format": "uri", "maxLength": 2000,
                    "description": "http(s), no user info; private, loopback and link-local hosts are refused unless webhook_allow_private."},
            "events": {"type": "array", "minItems": 1, "items": EVENT_TYPE},
        },
    },
    "Webhook": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "url", "events", "active", "created_at"], "properties": WEBHOOK_FIELDS,
    },
    "WebhookCreated": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "url", "events", "active", "created_at", "secret"],
        "properties": {**WEBHOOK_FIELDS,
                       "secret": {"type": "string", "pattern": "^whsec_",
                                  "description": "Signs every delivery (Calserver-Signature); shown only in this answer."}},
    },
    "WebhookList": {
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": _ref("Webhook")}},
    },
    "WebhookDelivery": {
        "type": "object", "additionalProperties": False,
        "required": ["event_id", "event_type", "attempts", "delivered_at", "next_attempt_at", "last_error", "created_at"],
        "properties": {
            "event_id": {"type": "string", "description": "The payload's id, the same on every retry."},
            "event_type": EVENT_TYPE,
            "attempts": {"type": "integer", "minimum": 0, "description": "Failed attempts so far."},
            "delivered_at": NULLABLE_TIMESTAMP,
            "next_attempt_at": {**NULLABLE_TIMESTAMP, "description": "Null once delivered or given up."},
            "last_error": STR, "created_at": TIMESTAMP,
        },
    },
    "WebhookDeliveryList": {
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "maxItems": 100, "items": _ref("WebhookDelivery")}},
    },
})  # fmt: skip
