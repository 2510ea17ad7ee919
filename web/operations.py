"""Every documented operation: its path, body, query, answers and problems.

The shapes are pydantic models (calserver/shapes/); web/openapi.py turns this table and
those models into the OpenAPI document, and tests check that every route is in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from calserver.shapes import crm, events, offers, queries, stats, workspace

Model = type[BaseModel]


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    answers: dict[int, tuple[str, Model | None]]
    problems: dict[int, str] = field(default_factory=dict)
    body: Model | None = None
    query: Model | None = None
    csv: bool = False  # the 200 answer is CSV too, with Accept: text/csv
    public: bool = False  # no API key
    page: bool = False  # a person's page too: problems in HTML unless JSON is asked for
    raw_body: tuple[str, ...] = ()  # media types of a body that is not JSON (an image)


BODY_PROBLEMS = {
    400: "The body is not a JSON object (or nests deeper than 32, or holds a lone surrogate).",
    413: "The body is larger than max_body_bytes.",
    422: "Some fields are invalid; `errors` names each one.",
}
QUERY_PROBLEMS = {400: "A query parameter is invalid; `errors` names each one."}
NO_SEGMENT = {404: "No such segment in this workspace."}
NO_EVENT = {404: "No such segment or event in this workspace."}
NO_TRIGGER = {404: "No such trigger."}
NO_WEBHOOK = {404: "No such webhook in this workspace."}
RANGE = "A malformed date, from after to, or more than 731 days"
SEGMENT = "/api/v1/segments/{slug}"
EVENT = "/api/v1/segments/{slug}/events/{event_id}"
TRIGGER = "/api/v1/triggers/{trigger_id}"
CONTACT = "/api/v1/contacts/{external_id}"

OPERATIONS: list[Op] = [
    Op("get", "/healthz", "Health check: 200 when the database answers.",
       {200: ("Healthy.", queries.Health)}, {503: "Database down."}, public=True),
    Op("get", "/s/{workspace}/{segment}",
       "The landing page people subscribe from (?src= says where the link was shared).",
       {200: ("The page.", None)}, {404: "No such segment."}, public=True, page=True),
    Op("post", "/s/{workspace}/{segment}",
       "Subscribe (public, no key): with Accept: application/json, answers the links.",
       {201: ("Subscribed; the feed and the links to add it.", queries.SubscriptionLinks)},
       {400: "The body is not a JSON object.", 404: "No such segment.",
        429: "Too many subscriptions from this address; see Retry-After."},
       body=workspace.SubscribeInput, public=True, page=True),
    Op("put", CONTACT, "Create or replace a contact (the CRM's own id).",
       {200: ("Replaced.", crm.Contact), 201: ("Created.", crm.Contact)},
       {**BODY_PROBLEMS, 404: "A malformed external id."}, body=crm.ContactInput),
    Op("get", CONTACT, "One contact.", {200: ("The contact.", crm.Contact)},
       {404: "No such contact."}),
    Op("delete", CONTACT,
       "Erase a contact's personal data and triggers; its subscriptions become anonymous.",
       {204: ("Erased.", None)}, {404: "No such contact."}),
    Op("post", "/api/v1/links",
       "A personalized subscribe link (and its QR codes) bound to a contact.",
       {201: ("The link.", crm.Link)},
       {**BODY_PROBLEMS, 404: "No such contact (see create_contact) or segment."},
       body=crm.LinkInput),
    Op("post", "/api/v1/triggers",
       "Push a personal event into one contact's feeds (202 once committed; idempotent).",
       {202: ("Accepted: the trigger, new or the one this key made.", crm.Trigger)},
       {**BODY_PROBLEMS, 404: "No such contact (see create_contact).",
        409: "The idempotency key was used with another body."}, body=crm.TriggerInput),
    Op("get", TRIGGER, "A trigger, its receipt, its timeline and its cascade's steps.",
       {200: ("The trigger.", crm.Trigger)}, NO_TRIGGER),
    Op("patch", TRIGGER,
       "Change the event (SEQUENCE goes up; a new receipt is needed), deliver_by or critical.",
       {200: ("Changed.", crm.Trigger)},
       {**BODY_PROBLEMS, **NO_TRIGGER, 409: "The trigger was cancelled."}, body=crm.TriggerPatch),
    Op("delete", TRIGGER,
       "Cancel: feeds keep it as STATUS:CANCELLED for the retention period so calendars remove it.",
       {200: ("Cancelled.", crm.Trigger)}, NO_TRIGGER),
    Op("get", "/api/v1/cascade",
       "The workspace's cascade policy and the channels it may use (never their credentials).",
       {200: ("Policy and channels.", crm.Cascade)}),
    Op("put", "/api/v1/cascade/policy",
       "Set the ordered steps (calendar first is the free one), prices, waits, quiet hours "
       "and frequency cap.",
       {200: ("Stored.", crm.CascadePolicy)}, BODY_PROBLEMS, body=crm.CascadePolicyInput),
    Op("delete", "/api/v1/cascade/policy",
       "No cascade for new triggers (running cascades finish).", {204: ("Removed.", None)}),
    Op("get", "/api/v1/reports/cascade",
       "Messages and cost by channel, triggers the calendar delivered, and the saving against "
       "sending every trigger by SMS.",
       {200: ("The report.", stats.CascadeReport)}, {400: RANGE + "."}, query=queries.Period),
    Op("get", "/api/v1/webhooks", "The workspace's webhook endpoints (secrets are never shown again).",
       {200: ("Endpoints, oldest first.", crm.WebhookList)}),
    Op("post", "/api/v1/webhooks",
       "Register a URL for some event types; the answer holds its signing secret, once.",
       {201: ("Registered.", crm.WebhookCreated)}, BODY_PROBLEMS, body=crm.WebhookInput),
    Op("delete", "/api/v1/webhooks/{webhook_id}",
       "Remove an endpoint and its undelivered messages.", {204: ("Removed.", None)}, NO_WEBHOOK),
    Op("get", "/api/v1/webhooks/{webhook_id}/deliveries",
       "The latest 100 messages to an endpoint, newest first, with their delivery state.",
       {200: ("Messages.", crm.WebhookDeliveryList)}, NO_WEBHOOK),
    Op("get", "/api/v1/stats/summary",
       "Funnel and lifecycle figures for a period, with breakdowns by source, client family "
       "and segment.",
       {200: ("The figures.", stats.StatsSummary)},
       {400: RANGE + ".", **NO_SEGMENT, 406: "CSV asked for; this endpoint answers JSON only."},
       query=queries.StatsQuery),
    Op("get", "/api/v1/stats/daily",
       "The same figures day by day, optionally split by=src|family|segment; CSV with "
       "Accept: text/csv.",
       {200: ("Days.", stats.StatsDaily)}, {400: RANGE + ", or an unknown `by`.", **NO_SEGMENT},
       query=queries.DailyQuery, csv=True),
    Op("get", "/api/v1/subscribers",
       "Anonymous subscriber rows; CSV with Accept: text/csv (up to 100,000 a page).",
       {200: ("Subscribers by id.", queries.SubscriberList)},
       {**QUERY_PROBLEMS, **NO_SEGMENT}, query=queries.SubscriberQuery, csv=True),
    Op("delete", "/api/v1/subscribers/{subscriber_id}",
       "Revoke a subscription: its feed empties and is renamed, like an unsubscribe.",
       {204: ("Revoked (or already ended).", None)},
       {404: "No such subscriber in this workspace."}),
    Op("get", "/api/v1/workspace", "The workspace of the key.",
       {200: ("The workspace.", workspace.Workspace)}),
    Op("patch", "/api/v1/workspace",
       "Change name, default time zone, quiet hours, SMS price or currency.",
       {200: ("Updated.", workspace.Workspace)}, BODY_PROBLEMS, body=workspace.WorkspacePatch),
    Op("put", "/api/v1/workspace/logo",
       "Upload the logo of the subscriber pages: the image is the body (PNG, JPEG or SVG, "
       "at most 256 KiB; an SVG with scripts, handlers or outside references is refused).",
       {204: ("Stored; logo_url of the workspace points at it.", None)},
       {413: "Larger than 256 KiB (or than max_body_bytes).",
        415: "Not image/png, image/jpeg or image/svg+xml.",
        422: "The bytes are not that image, or the SVG is refused; the detail says why."},
       raw_body=("image/png", "image/jpeg", "image/svg+xml")),
    Op("delete", "/api/v1/workspace/logo", "Remove the logo.", {204: ("Removed.", None)}),
    Op("post", SEGMENT + "/reward-codes",
       "Add unique codes to the segment's reward pool (duplicates are left out and listed).",
       {201: ("Added.", offers.RewardCodesAdded)}, {**BODY_PROBLEMS, **NO_SEGMENT},
       body=offers.RewardCodesInput),
    Op("put", SEGMENT + "/variants",
       "Start (2-4 variants) or end ([]) an A/B test of the landing page's copy.",
       {200: ("The variants.", offers.Variants)}, {**BODY_PROBLEMS, **NO_SEGMENT},
       body=offers.VariantsInput),
    Op("post", SEGMENT + "/variants/{key}/keep",
       "End the A/B test by keeping one variant for every visitor.",
       {200: ("The variants; kept names the one shown.", offers.Variants)},
       {404: "No such segment, or no such variant in its test."}),
    Op("get", "/api/v1/stats/variants",
       "Each copy variant's funnel, conversion with a 95 % interval, the leader and whether "
       "it leads significantly (two-proportion test).",
       {200: ("Figures.", offers.VariantStats)}, {**QUERY_PROBLEMS, **NO_SEGMENT},
       query=offers.VariantsQuery),
    Op("get", "/api/v1/stats/rewards",
       "Subscribe conversion and activation rate with the reward announced and without.",
       {200: ("Figures.", offers.RewardStats)}, {**QUERY_PROBLEMS, **NO_SEGMENT},
       query=offers.VariantsQuery),
    Op("get", "/api/v1/segments", "All segments of the workspace.",
       {200: ("Segments, by slug.", workspace.SegmentList)}),
    Op("post", "/api/v1/segments", "Create a segment.", {201: ("Created.", workspace.Segment)},
       {**BODY_PROBLEMS, 409: "The slug is taken."}, body=workspace.SegmentInput),
    Op("get", SEGMENT, "One segment.", {200: ("The segment.", workspace.Segment)}, NO_SEGMENT),
    Op("patch", SEGMENT, "Change a segment.", {200: ("Updated.", workspace.Segment)},
       {**BODY_PROBLEMS, **NO_SEGMENT, 409: "The new slug is taken."}, body=workspace.SegmentPatch),
    Op("delete", SEGMENT, "Delete a segment and its events.", {204: ("Deleted.", None)},
       NO_SEGMENT),
    Op("get", SEGMENT + "/events", "Events of a segment, by start.",
       {200: ("Events.", events.EventList)}, {**QUERY_PROBLEMS, **NO_SEGMENT},
       query=queries.EventPage),
    Op("post", SEGMENT + "/events", "Create an event.", {201: ("Created.", events.Event)},
       {**BODY_PROBLEMS, **NO_SEGMENT, 409: "The uid is taken in this segment."},
       body=events.EventInput),
    Op("get", EVENT, "One event.", {200: ("The event.", events.Event)}, NO_EVENT),
    Op("patch", EVENT, "Change an event; its SEQUENCE goes up by one.",
       {200: ("Updated.", events.Event)},
       {**BODY_PROBLEMS, **NO_EVENT, 409: "The new uid is taken in this segment."},
       body=events.EventPatch),
    Op("delete", EVENT, "Delete an event.", {204: ("Deleted.", None)}, NO_EVENT),
]  # fmt: skip
