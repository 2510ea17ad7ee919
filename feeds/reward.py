"""The reward a subscription unlocked, as an all-day event of its own feed: it lands in the
subscriber's calendar on the day their calendar app first fetched the feed."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from feeds.alarms import to_wall
from feeds.i18n import N_, texts
from feeds.ics import CRLF, date_stamp, prop, text_prop, utc_stamp

YOUR_CODE = N_("Your code: %(code)s")
TITLE = N_("%(reward)s: %(code)s")
MANAGE = N_("Your reward and settings:")


@lru_cache(maxsize=4096)  # a reward never changes once unlocked
def reward_event(
    subscription_id: int, reward: tuple[str, str, datetime], zone: str, language: str,
    manage_url: str,
) -> bytes:  # fmt: skip
    text, code, unlocked = reward
    t = texts(language)
    day = to_wall(unlocked, zone).date()
    description = "\n".join([t.gettext(YOUR_CODE, code=code), "", t.gettext(MANAGE), manage_url])
    return "".join(
        [
            "BEGIN:VEVENT" + CRLF,
            prop("UID", f"reward-{subscription_id}@calserver"),
            prop("DTSTAMP", utc_stamp(unlocked)),
            prop("DTSTART;VALUE=DATE", date_stamp(day)),
            prop("DTEND;VALUE=DATE", date_stamp(day + timedelta(days=1))),
            text_prop("SUMMARY", t.gettext(TITLE, reward=text, code=code)),
            text_prop("DESCRIPTION", description),
            prop("TRANSP", "TRANSPARENT"),
            "END:VEVENT" + CRLF,
        ]
    ).encode()
