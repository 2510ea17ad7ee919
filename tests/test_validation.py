"""Durations and zone names."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calserver.validation import format_duration, is_timezone, parse_duration


@pytest.mark.parametrize(
    ("text", "delta"),
    [("PT15M", timedelta(minutes=15)), ("P1D", timedelta(days=1)), ("P1W", timedelta(weeks=1)),
     ("P1DT2H3M4S", timedelta(days=1, hours=2, minutes=3, seconds=4)), ("-PT5M", -timedelta(minutes=5)),
     ("PT0S", timedelta(0))],
)  # fmt: skip
def test_parse_and_format_round_trip(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta
    assert parse_duration(format_duration(int(delta.total_seconds()))) == delta


@pytest.mark.parametrize("text", ["P", "PT", "15M", "P1M", "P1Y", "PT1.5H", "soon", "P1DT"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(90000) == "P1DT1H"
    assert format_duration(0) == "PT0S"
    assert format_duration(-300) == "-PT5M"


def test_timezones() -> None:
    assert (
        is_timezone("Asia/Kathmandu") and is_timezone("Australia/Lord_Howe") and is_timezone("UTC")
    )
    for bad in ("Mars/Olympus", "../etc/passwd", "", "localtime", "europe/moscow"):
        assert not is_timezone(bad)
