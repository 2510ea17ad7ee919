"""Compiled date patterns format exactly as Babel does, for the catalogs' patterns and any
other a translator could write (the fields it does not compile are Babel's own)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.dates import format_date, format_datetime
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.datefmt import compiled, in_zone
from feeds.i18n import languages, texts

PATTERNS = [
    "EEE, d MMMM, HH:mm",
    "EEE, d MMMM",
    "EEEE d MMMM y 'в' H:mm:ss",
    "E EE EEEEE EEEEEE ccc cccc e ee c",
    "d.MM.yyyy yy y Y",
    "LLL LLLL LLLLL MMM MMMMM M",
    "h:mm a, K k",
    "HH:mm zzz, G, D, w",
    "'o''clock' '' 100% %s %(x)s",
]
ZONES = ["Europe/Moscow", "Asia/Vladivostok", "America/New_York", "UTC", "Australia/Lord_Howe"]
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 12, 30), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(moment=moments, zone=st.sampled_from(ZONES), pattern=st.sampled_from(PATTERNS),
       language=st.sampled_from(["en", "ru", "de"]))  # fmt: skip
def test_compiled_pattern_formats_as_babel(
    moment: datetime, zone: str, pattern: str, language: str
) -> None:
    locale = Locale.parse(language)
    expected = format_datetime(moment, pattern, tzinfo=ZoneInfo(zone), locale=locale)
    assert compiled(pattern, locale)(in_zone(moment, ZoneInfo(zone))) == expected


@pytest.mark.parametrize("language", languages())
def test_every_day_and_month_in_the_catalogs_patterns(language: str) -> None:
    t = texts(language)
    locale = Locale.parse(language)
    start = datetime(2030, 1, 1, 0, 30, tzinfo=UTC)
    for hours in range(0, 24 * 366, 7):  # every weekday, month, hour of a year
        moment = start + timedelta(hours=hours)
        want = format_datetime(moment, t.datetime_pattern, tzinfo=ZoneInfo("Europe/Moscow"),
                               locale=locale)  # fmt: skip
        assert t.datetime(moment, "Europe/Moscow") == want
        day = moment.date()
        assert t.date(day) == format_date(day, t.date_pattern, locale=locale)


def test_russian_reads_in_the_genitive() -> None:
    moment = datetime(2030, 3, 8, 6, 5, tzinfo=UTC)
    assert texts("ru").datetime(moment, "Europe/Moscow") == "пт, 8 марта, 09:05"
    assert texts("en").datetime(moment, "America/New_York") == "Fri, 8 March, 01:05"
    assert texts("ru").date(date(2030, 1, 1)) == "вт, 1 января"


def test_a_naive_moment_is_utc_and_a_date_has_no_time() -> None:
    locale = Locale.parse("en")
    naive = datetime(2030, 1, 1, 23, 30)
    assert compiled("d HH:mm", locale)(in_zone(naive, ZoneInfo("Europe/Moscow"))) == "2 02:30"
    with pytest.raises(AttributeError):
        compiled("HH", locale)(date(2030, 1, 1))
