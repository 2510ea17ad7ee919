"""feeds/cache.py: a cached body filled in with each subscriber's link."""

from __future__ import annotations

from datetime import UTC, datetime

from feeds.cache import cached_feed
from feeds.ics import LINK_PLACEHOLDER


def test_behind_puts_each_link_in_and_leaves_the_entry_as_it_was() -> None:
    text = "BEGIN:VCALENDAR\r\n" + "".join(
        f"BEGIN:VEVENT\r\nSUMMARY:{n}\r\nURL:{LINK_PLACEHOLDER}\r\nEND:VEVENT\r\n" for n in range(500)
    ) + "END:VCALENDAR\r\n"  # fmt: skip
    entry = cached_feed(text, datetime(2026, 3, 1, tzinfo=UTC))
    for head, link in [
        (b"HTTP/1.1 200 OK\r\n\r\n", b"https://a/m/1"),
        (b"H\r\n\r\n", b"https://b/m/2"),
    ]:
        data = entry.behind(head, link)
        assert data == head + text.replace(LINK_PLACEHOLDER, link.decode()).encode()
        assert len(data) - len(head) == entry.length_with(link)
    # the next subscriber's body has none of the last one's head or link
    assert entry.behind(b"", b"x") == text.replace(LINK_PLACEHOLDER, "x").encode()
    assert entry.parts[0].startswith(b"BEGIN:VCALENDAR")
