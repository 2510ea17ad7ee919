"""The links a subscription hands out, and which subscribe button a device sees first."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import quote, urlencode

FEED_PURPOSE = "feed"
LINK_PURPOSE = "link"  # personalized subscribe links

# Buttons on the landing page, keyed by what the subscribe form posts as `client`.
CLIENTS = ("apple", "google", "outlook", "office365", "android", "copy", "caldav")
# By platform: the first is the landing page's one primary action, the path that keeps
# the feed's reminders where one exists (docs/clients.md says why); the rest sit behind
# "Other calendar apps" in this order (see ../shared/reference/clients.md).
BUTTON_ORDER = {
    "ios": ("apple", "google", "outlook", "copy", "office365", "android"),
    "ios-chrome": ("copy", "apple", "google", "outlook", "office365", "android"),
    "macos": ("apple", "google", "outlook", "office365", "copy", "android"),
    # ICSx5 keeps VALARMs; Google, the other Android path, drops them.
    "android": ("android", "google", "outlook", "copy", "office365", "apple"),
    "windows": ("outlook", "google", "office365", "apple", "copy", "android"),
    "desktop": ("google", "outlook", "office365", "apple", "copy", "android"),
}


def platform(user_agent: str) -> str:
    """The landing page's guess at the visitor's device, from the browser's User-Agent."""
    if any(mark in user_agent for mark in ("iPhone", "iPad", "iPod")):
        return "ios-chrome" if "CriOS" in user_agent else "ios"
    if "Android" in user_agent:
        return "android"
    if "Macintosh" in user_agent:
        # iPadOS Safari says Macintosh too; both handle webcal:// the Apple way.
        return "macos"
    if "Windows" in user_agent:
        return "windows"
    return "desktop"  # Linux, ChromeOS and anything unknown


@dataclass(frozen=True)
class SubscriptionLinks:
    feed_url: str
    webcal_url: str
    google_url: str
    outlook_url: str
    office365_url: str
    unsubscribe_url: str
    manage_url: str
    caldav_url: str
    caldav_username: str
    caldav_password: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def feed_path(token: str) -> str:
    return f"/f/{token}.ics"


def unsubscribe_path(token: str) -> str:
    return f"/u/{token}"


def manage_path(token: str) -> str:
    return f"/m/{token}"


def dav_username(token: str) -> str:
    """The CalDAV user name shown for account set-up: distinct per subscription (clients
    keep one account per server and user) and revealing nothing; the token is the password."""
    return "sub-" + hashlib.blake2b(token.encode(), digest_size=5).hexdigest()


def dav_calendar_path(token: str) -> str:
    """The calendar's own URL, for clients that take a URL and no password."""
    return f"/dav/{token}/calendar/"


def subscription_links(base_url: str, token: str, name: str) -> SubscriptionLinks:
    feed = base_url + feed_path(token)
    webcal = "webcal://" + feed.split("://", 1)[1]
    add_from_web = urlencode({"url": feed, "name": name}, quote_via=quote)
    return SubscriptionLinks(
        feed_url=feed,
        webcal_url=webcal,
        # Google wants the webcal form in `cid`; it fails for some, so the page also shows
        # the "From URL" route with the https address.
        google_url="https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
        outlook_url="https://outlook.live.com/calendar/0/addfromweb?" + add_from_web,
        office365_url="https://outlook.office.com/calendar/0/addfromweb?" + add_from_web,
        unsubscribe_url=base_url + unsubscribe_path(token),
        manage_url=base_url + manage_path(token),
        caldav_url=base_url + "/dav/",
        caldav_username=dav_username(token),
        caldav_password=token,
    )
