"""Which calendar client polls a feed, from its User-Agent, and what that tells us.

Table-driven: the first matching rule wins. Strings come from ../shared/reference/clients.md
and from the clients' own sources; tests hold one real string per family.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

FAMILIES = (
    "apple-ios", "apple-macos", "google", "microsoft", "icsx5", "davx5",
    "thunderbird", "evolution", "other",
)  # fmt: skip

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), family)
    for pattern, family in (
        (r"Google-Calendar-Importer|Google-Calendar|Googlebot-Calendar", "google"),
        (
            r"Microsoft Exchange|Microsoft Outlook|Outlook-iOS|Outlook-Android|MSOffice|Microsoft Office|OutlookCalendar",
            "microsoft",
        ),
        (r"ICSx5|ICSdroid", "icsx5"),
        (r"DAVx5|DAVdroid", "davx5"),
        # Desktop apps before Apple: Thunderbird on a Mac also says "Mac OS X".
        (r"Thunderbird|Lightning", "thunderbird"),
        (r"Evolution|GNOME", "evolution"),
        (r"\biOS/|iPhone|iPad|iPod", "apple-ios"),
        (r"\bmacOS/|Mac OS X|Macintosh|CalendarAgent|Mac_OS_X", "apple-macos"),
        (r"dataaccessd|CalendarStore", "apple-ios"),
    )
)


@lru_cache(maxsize=4096)  # few distinct agents poll: skip the regexes on the hot path
def family_of(user_agent: str) -> str:
    for pattern, family in _RULES:
        if pattern.search(user_agent):
            return family
    return "other"


# Google and Microsoft fetch from their servers, for every user at once, and drop feed alarms.
DROPS_ALARMS = frozenset({"google", "microsoft"})

_BOTS = re.compile(
    r"bot\b|bot/|crawler|spider|preview|facebookexternalhit|WhatsApp|TelegramBot|Slack|"
    r"Discord|SkypeUriPreview|Viber|vkShare|LinkedIn|Twitterbot|Embedly|Pinterest|"
    r"curl/|wget/|python-requests|python-urllib|Go-http-client|HeadlessChrome|"
    r"Google-Read-Aloud|Google-InspectionTool|Mediapartners|Yahoo! Slurp|YandexBot|bingbot|"
    r"Bytespider|Applebot|Proofpoint|Barracuda|Mimecast|scanner|urlscan|ZoominfoBot",
    re.IGNORECASE,
)


def is_person(user_agent: str) -> bool:
    """False for link previewers, crawlers, mail scanners and scripts (not counted as views)."""
    return bool(user_agent) and _BOTS.search(user_agent) is None


@dataclass(frozen=True)
class Thresholds:
    """Silence (seconds since the last poll) after which a subscription is dormant, then lapsed."""

    dormant: int
    lapsed: int


HOUR, DAY = 3600, 86400
# Defaults from the reference notes: Apple and ICSx⁵ poll within hours (iOS every 15 min-3 h,
# ICSx⁵ daily by default), macOS weekly by default, Google every 8-24 h or slower ("3-4 days
# before doubt"), Outlook.com every 3 h to a day, desktop apps only while running.
# "Probably unsubscribed" after 14+ days of silence; macOS gets three of its weekly polls.
DEFAULT_THRESHOLDS: dict[str, Thresholds] = {
    "apple-ios": Thresholds(36 * HOUR, 7 * DAY),
    "apple-macos": Thresholds(8 * DAY, 22 * DAY),
    "google": Thresholds(4 * DAY, 14 * DAY),
    "microsoft": Thresholds(3 * DAY, 14 * DAY),
    "icsx5": Thresholds(36 * HOUR, 7 * DAY),
    "davx5": Thresholds(36 * HOUR, 7 * DAY),
    "thunderbird": Thresholds(4 * DAY, 14 * DAY),
    "evolution": Thresholds(4 * DAY, 14 * DAY),
    "other": Thresholds(7 * DAY, 30 * DAY),
}

_SPEC_RE = re.compile(r"^\s*([a-z0-9-]+)\s*=\s*(\d+)([hd])\s*/\s*(\d+)([hd])\s*$")


def parse_thresholds(spec: str) -> dict[str, Thresholds]:
    """Overrides like "google=5d/21d, apple-ios=24h/5d" laid over the defaults."""
    result = dict(DEFAULT_THRESHOLDS)
    for item in filter(str.strip, spec.split(",")):
        match = _SPEC_RE.match(item)
        if match is None or match.group(1) not in FAMILIES:
            raise ValueError(
                f"{item.strip()!r}: use FAMILY=Nh/Nd with a family among {', '.join(FAMILIES)}"
            )
        unit = {"h": HOUR, "d": DAY}
        dormant = int(match.group(2)) * unit[match.group(3)]
        lapsed = int(match.group(4)) * unit[match.group(5)]
        if not 0 < dormant < lapsed:
            raise ValueError(f"{item.strip()!r}: dormant must be shorter than lapsed")
        result[match.group(1)] = Thresholds(dormant, lapsed)
    return result


def last_poll_resolution(thresholds: Mapping[str, Thresholds]) -> int:
    """Seconds within which a subscription's stored last poll counts as current: a poll that
    finds it that fresh, by the same client family, does not write it again (one write an
    hour for a phone that polls every 15 minutes). A tenth of the shortest silence the
    lifecycle waits for, at most an hour, so no subscription is ever marked silent for it."""
    return min(HOUR, min(t.dormant for t in thresholds.values()) // 10)


# A web browser's User-Agent (a person opening the feed URL), as opposed to a calendar app's.
_BROWSER = re.compile(r"Mozilla/.*\b(Safari|Chrome|Firefox|Edg|OPR)/", re.IGNORECASE)


@lru_cache(maxsize=4096)
def is_calendar_app(user_agent: str) -> bool:
    """A calendar app we recognise, fetching for its user: not a browser, previewer, script
    or unknown client. Rewards unlock only on such a poll (storage/rewards.py)."""
    if family_of(user_agent) == "other" or not is_person(user_agent):
        return False
    return _BROWSER.search(user_agent) is None
