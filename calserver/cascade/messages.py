"""The message a cascade step sends about one trigger: text, HTML, the event as .ics, JSON."""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta
from typing import Any

from calserver.cascade.registry import ChannelEntry
from calserver.channels import Message
from feeds.alarms import QuietHours, to_wall
from feeds.feed import PRODID
from feeds.i18n import N_, Texts, texts
from feeds.ics import CRLF, LINK_PLACEHOLDER, prop, vtimezone
from feeds.render import Window, render_event
from storage.cascade import CascadeContact, CascadeTrigger

ADDRESS_FIELDS = {"sms_http": "phone", "email_smtp": "email", "telegram": "telegram_chat_id"}
SUBJECT = N_("Reminder: %(title)s")
ATTACHED = N_("The event is attached: open it to add it to your calendar.")


def address_for(entry: ChannelEntry, contact: CascadeContact) -> str | None:
    """The contact's address on this channel; the webhook bridge needs none of its own."""
    field = ADDRESS_FIELDS.get(entry.type)
    if field is None:
        return contact.external_id
    value: str | None = getattr(contact, field)
    return value or None


def idempotency_key(workspace_slug: str, trigger: CascadeTrigger, channel: str) -> str:
    """The trigger's own key, scoped to its workspace and the channel: stable across retries
    and crashes, so the provider can drop a repeat."""
    return f"{workspace_slug}:{trigger.idempotency_key}:{channel}"


def _when(trigger: CascadeTrigger, zone: str) -> str:
    """The start for machines (the webhook's JSON): wall-clock time in the contact's zone."""
    if trigger.kind == "all_day":
        return trigger.start_local
    wall = to_wall(trigger.starts_at, zone)
    return f"{wall:%Y-%m-%d %H:%M}"


def readable_when(trigger: CascadeTrigger, zone: str, t: Texts) -> str:
    """The start for people, in the contact's language and zone (the pages' one format)."""
    if trigger.kind == "all_day":
        return t.date(date.fromisoformat(trigger.start_local))
    return t.datetime(trigger.starts_at, zone)


def language_of(contact: CascadeContact, workspace_language: str) -> str:
    """A contact's messages speak its locale, else its workspace's language."""
    return contact.locale or workspace_language


def ics_for(
    trigger: CascadeTrigger, zone: str, quiet: QuietHours, now: datetime, language: str = "en"
) -> bytes:
    """The event as a one-event calendar, rendered as the feed renders it."""
    window = Window(now - timedelta(days=1), now + timedelta(days=400))
    rendered = render_event(trigger, zone, quiet, window, language)
    zones = "".join(vtimezone(name, rendered.first_wall_year) for name in sorted(rendered.zones))
    text = (
        "BEGIN:VCALENDAR" + CRLF + "VERSION:2.0" + CRLF + prop("PRODID", PRODID)
        + "METHOD:PUBLISH" + CRLF + zones + rendered.text + "END:VCALENDAR" + CRLF
    )  # fmt: skip
    # No subscriber link in a mailed event: drop the placeholder's continuation line.
    return text.replace(CRLF + " " + LINK_PLACEHOLDER, "").encode()


def build_message(
    entry: ChannelEntry, slug: str, trigger: CascadeTrigger, contact: CascadeContact, zone: str,
    quiet: QuietHours, now: datetime, language: str = "en",
) -> Message:  # fmt: skip
    """The message in ``language`` (language_of: the contact's locale or the workspace's)."""
    t = texts(language)
    readable = readable_when(trigger, zone, t)
    parts = [f"{trigger.title}: {readable}"]
    if trigger.location:
        parts.append(trigger.location)
    if trigger.url:
        parts.append(trigger.url)
    text = "\n".join(parts)
    email = entry.type == "email_smtp"
    return Message(
        idempotency_key=idempotency_key(slug, trigger, entry.name),
        address=address_for(entry, contact) or "",
        subject=t.gettext(SUBJECT, title=trigger.title),
        text=text + (f"\n\n{trigger.description}" if email and trigger.description else ""),
        html=_html(trigger, readable, t) if email else None,
        ics=ics_for(trigger, zone, quiet, now, t.language) if email else None,
        # Only the webhook bridge sends the trigger as JSON: the others would build it for nothing.
        data=_data(entry, trigger, contact, zone, t) if entry.type == "webhook" else {},
    )


def _data(
    entry: ChannelEntry, trigger: CascadeTrigger, contact: CascadeContact, zone: str, t: Texts
) -> dict[str, Any]:
    return {
        "trigger_id": trigger.id,
        "idempotency_key": trigger.idempotency_key,
        "external_id": contact.external_id,
        "channel": entry.name,
        "locale": t.language,
        "event": {
            "uid": trigger.uid, "title": trigger.title, "starts_at": trigger.starts_at.isoformat(),
            "local_time": _when(trigger, zone), "timezone": zone, "location": trigger.location,
            "url": trigger.url, "description": trigger.description,
        },
    }  # fmt: skip


def _html(trigger: CascadeTrigger, when: str, t: Texts) -> str:
    rows = [f"<h1>{html.escape(trigger.title)}</h1>", f"<p>{html.escape(when)}</p>"]
    if trigger.location:
        rows.append(f"<p>{html.escape(trigger.location)}</p>")
    if trigger.description:
        rows.append(f"<p>{html.escape(trigger.description)}</p>")
    if trigger.url:
        link = html.escape(trigger.url, quote=True)
        rows.append(f'<p><a href="{link}">{link}</a></p>')
    rows.append(f"<p>{html.escape(t.gettext(ATTACHED))}</p>")
    return "\n".join(rows)
