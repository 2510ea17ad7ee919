"""The catalogs: extraction up to date, Russian complete and well formed, plural rules,
the Accept-Language reading, and the one date format."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from feeds.i18n import LOCALES, languages, supported, texts
from web.language import from_accept_language

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("calserver", "feeds", "storage", "web")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{\w+\}")
TAG = re.compile(r"</?\w+")
Key = tuple[str | None, str]


def _extracted() -> set[Key]:
    """What scripts/i18n would put in the catalogs: every marked text in code and templates."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
                "N_": None, "say": None, "say_n": (1, 2)}  # fmt: skip
    found: set[Key] = set()
    for source in SOURCES:
        for _, _, message, _, context in extract_from_dir(
            ROOT / source, method_map, options_map, keywords=keywords
        ):
            found.add((context, message[0] if isinstance(message, tuple) else message))
    return found


def _catalog(language: str):  # type: ignore[no-untyped-def]
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=language)


def _keys(language: str) -> set[Key]:
    return {
        (m.context, m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in _catalog(language)
        if m.id
    }


def test_both_languages_have_catalogs() -> None:
    assert languages()[0] == "en" and "ru" in languages()


@pytest.mark.parametrize("language", languages())
def test_every_text_in_code_and_templates_is_in_the_catalog_and_nothing_else(language: str) -> None:
    extracted, catalog = _extracted(), _keys(language)
    assert len(extracted) > 100
    assert extracted - catalog == set(), "run scripts/i18n"
    assert catalog - extracted == set(), "texts no longer used: run scripts/i18n"


@pytest.mark.parametrize("language", languages()[1:])
def test_every_text_is_translated_with_the_same_placeholders_and_markup(language: str) -> None:
    catalog = _catalog(language)
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {ids[0]!r}"
        assert len(strings) == (catalog.num_plurals if message.pluralizable else 1), ids[0]
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, (ids[0], string)
            assert sorted(TAG.findall(string)) == sorted(TAG.findall(ids[0])), (ids[0], string)
        assert not list(message.check(catalog)), ids[0]


def test_russian_typography() -> None:
    """«ёлочки», not “English quotes” or "straight" ones; three plural forms."""
    catalog = _catalog("ru")
    assert catalog.num_plurals == 3
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            text = re.sub(r'="[^"]*"', "", string)  # HTML attributes keep their quotes
            assert "“" not in text and '"' not in text, string
            assert " - " not in string and "..." not in string, string


@pytest.mark.parametrize(
    ("n", "words"),
    [(1, "1 событие"), (2, "2 события"), (5, "5 событий"), (11, "11 событий"),
     (21, "21 событие"), (22, "22 события")],
)  # fmt: skip
def test_russian_plurals(n: int, words: str) -> None:
    ru = texts("ru")
    text = ru.ngettext(
        "%(num)d event in the next 30 days.", "%(num)d events in the next 30 days.", n
    )
    assert text == f"{words} в ближайшие 30 дней."


@pytest.mark.parametrize(
    ("n", "text"), [(1, "1 event in the next 30 days."), (2, "2 events in the next 30 days.")]
)
def test_english_plurals(n: int, text: str) -> None:
    plural = texts("en").ngettext(
        "%(num)d event in the next 30 days.", "%(num)d events in the next 30 days.", n
    )
    assert plural == text


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("ru-RU,ru;q=0.9,en;q=0.5", "ru"),
        ("en-US,en;q=0.9", "en"),
        ("en;q=0.5, ru;q=0.8", "ru"),  # q-values, not order
        ("de-DE,de;q=0.9,en;q=0.1", "en"),  # the best we speak
        ("de-DE,fr", None),  # nothing we speak: the segment's or workspace's default
        ("ru;q=0, en;q=0.1", "en"),  # q=0 means "not this"
        ("RU", "ru"),
        ("*", None),
        ("", None),
        ("ru;q=abc", None),
    ],
)
def test_accept_language_by_q_values(header: str, language: str | None) -> None:
    assert from_accept_language(header) == language


def test_unknown_languages_are_not_supported() -> None:
    assert supported("ru_RU") == "ru" and supported("xx") is None and supported(None) is None


def test_one_date_format_in_each_language() -> None:
    moment = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
    assert texts("ru").datetime(moment, "Europe/Moscow") == "вт, 8 декабря, 09:00"
    assert texts("en").datetime(moment, "Europe/Moscow") == "Tue, 8 December, 09:00"
    assert texts("ru").date(date(2026, 3, 5)) == "чт, 5 марта"
    assert texts("ru").zone("Asia/Vladivostok") == "Владивосток"
