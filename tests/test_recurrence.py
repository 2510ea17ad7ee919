"""Recurrence rules: what is accepted, what is refused, and how far a rule reaches."""

from __future__ import annotations

from datetime import datetime

import pytest

from feeds.recurrence import EXPANSION_LAST_YEAR, RecurrenceError, check_rrule, rule_for

START = datetime(2026, 3, 2, 10, 0)


@pytest.mark.parametrize(
    ("rule", "last"),
    [
        ("FREQ=WEEKLY", None),  # 261 in five years: endless is fine
        ("FREQ=WEEKLY;COUNT=3", datetime(2026, 3, 16, 10, 0)),
        ("FREQ=DAILY;UNTIL=20260305T235959", datetime(2026, 3, 5, 10, 0)),
        ("FREQ=HOURLY;COUNT=48", datetime(2026, 3, 4, 9, 0)),
        ("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=2", datetime(2026, 5, 31, 10, 0)),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=1", datetime(2028, 2, 29, 10, 0)),
    ],
)
def test_accepted(rule: str, last: datetime | None) -> None:
    assert check_rrule(rule, START).last_start == last


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=MINUTELY;COUNT=2", "finer than hourly"),
        ("FREQ=HOURLY;BYMINUTE=0,30;COUNT=2", "finer than hourly"),
        ("FREQ=DAILY", "1000 occurrences"),
        ("FREQ=HOURLY;UNTIL=20400101T000000", "more than 10000"),
        ("FREQ=DAILY;COUNT=0", "positive"),
        ("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31", "never falls"),
        ("FREQ=WEEKLY;FOO=1", "unknown rule part"),
        ("FREQ=WEEKLY;FREQ=DAILY", "twice"),
        ("COUNT=3", "FREQ is required"),
        ("FREQ=WEEKLY;BYDAY=XX", "not a valid RRULE"),
    ],
)
def test_refused(rule: str, reason: str) -> None:
    with pytest.raises(RecurrenceError, match=reason):
        check_rrule(rule, START)


def test_expansion_stops_at_the_year_after_the_accepted_range() -> None:
    # dateutil would walk to 9999; a rule with no further occurrence then kept a thread
    # busy for seconds.
    starts = list(rule_for("FREQ=YEARLY", datetime(2190, 1, 1), "UTC"))
    assert starts[-1].year == EXPANSION_LAST_YEAR == 2200
    sparse = rule_for("FREQ=HOURLY;BYYEARDAY=366;BYDAY=SU;BYHOUR=1", datetime(2026, 1, 1), "UTC")
    assert all(start.year <= EXPANSION_LAST_YEAR for start in sparse)
