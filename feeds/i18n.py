"""Language catalogs: every text a person reads, in each language calserver speaks.

The catalogs are gettext ``.po`` sources under ``feeds/locales/<lang>/LC_MESSAGES/``,
compiled in memory the first time a language is used, so a fresh clone, ``pip install``
and the Docker image need no build step. A language is one more catalog: the list of
languages is the list of catalog folders (docs/languages.md).

They live in ``feeds/`` because the calendar texts are the lowest layer that needs them;
``calserver/`` and ``web/`` read them from here (storage <- feeds <- calserver <- web).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import get_timezone_location
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, get_currency_symbol
from babel.support import Translations

from feeds.datefmt import compiled, in_zone

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"


def N_(message: str) -> str:  # the gettext convention: "mark now, translate later"
    """Marks a text for the catalogs where it is defined; it is translated where it is shown."""
    return message


class Sentence(str):
    """A sentence for a person, marked for the catalogs, that is also its own English text.

    Checks deep in the code (a field's rule, a recurrence rule, an uploaded logo) do not know
    who reads their sentence: the API answers it in English as it stands, and a page says it
    in its reader's language with ``Texts.say``, from the msgid and values it keeps.
    """

    msgid: str
    plural: str | None
    n: int
    values: dict[str, object]
    parts: tuple[str, ...]

    def __new__(cls, english: str, msgid: str | None = None, /, **values: object) -> Sentence:
        # msgid may be left out so that pickle (a check run in another process) can rebuild it.
        self = super().__new__(cls, english)
        self.msgid, self.plural, self.n = english if msgid is None else msgid, None, 0
        self.values, self.parts = values, ()
        return self


def say(message: str, /, **values: object) -> Sentence:
    """``message`` (a literal, extracted into the catalogs) filled with ``values``."""
    return Sentence(message % values if values else message, message, **values)


def say_n(singular: str, plural: str, n: int, /, **values: object) -> Sentence:
    """The form of a sentence that goes with the number ``n`` (``%(num)s`` in the text)."""
    english = (singular if n == 1 else plural) % {"num": n, **values}
    sentence = Sentence(english, singular, **values)
    sentence.plural, sentence.n = plural, n
    return sentence


def together(parts: list[str], english: str) -> Sentence:
    """Several sentences shown as one (``english`` in the API; each said in turn on a page)."""
    sentence = Sentence(english, english)
    sentence.parts = tuple(parts)
    return sentence


def reason(error: BaseException) -> str:
    """The sentence an error was raised with (a Sentence stays one), else its text."""
    first = error.args[0] if error.args else None
    return first if isinstance(first, str) else str(error)


@cache
def languages() -> tuple[str, ...]:
    """Every language with a catalog, the default first."""
    found = sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return tuple(sorted(found, key=lambda code: code != DEFAULT_LANGUAGE))


def supported(code: object) -> str | None:
    """The language a tag such as "ru", "ru-RU" or "EN_us" asks for, if it has a catalog."""
    if not isinstance(code, str) or not 0 < len(code) <= 35:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in languages() else None


@cache
def translations(language: str) -> Translations:
    """The compiled catalog of a language (the default language's texts are the msgids)."""
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@dataclass(frozen=True)
class Texts:
    """One language's gettext functions and date formats, bound once per page or message."""

    language: str

    @property
    def catalog(self) -> Translations:
        return translations(self.language)

    def gettext(self, message: str, /, **values: object) -> str:
        text = self.catalog.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        return self.catalog.ngettext(singular, plural, n) % {"num": n, **values}

    def say(self, message: object) -> str:
        """A sentence (or an error carrying one) in this language; other text as it stands
        if the catalogs do not have it."""
        if isinstance(message, BaseException):
            message = reason(message)
        if not isinstance(message, Sentence):
            return self.catalog.gettext(str(message)) if message else ""
        if message.parts:
            return "; ".join(self.say(part) for part in message.parts)
        values = {
            name: self.say(value) if isinstance(value, Sentence) else value
            for name, value in message.values.items()
        }
        if message.plural is not None:
            return self.ngettext(message.msgid, message.plural, message.n, **values)
        return self.gettext(message.msgid, **values)

    def pgettext(self, context: str, message: str) -> str:
        return str(self.catalog.pgettext(context, message))

    @property
    def name(self) -> str:
        """The language's own name, as its speakers write it in a menu: "Русский"."""
        return language_name(self.language)

    def datetime(self, moment: datetime, zone: str) -> str:
        """A date and time in ``zone``, in the one pattern every page and message uses."""
        return _formats(self.language)[0](in_zone(moment, ZoneInfo(zone)))

    def money(self, value: float | None, currency: str) -> str:
        """2.40 RUB, 2,40 ₽: the amount as the language writes it, the currency after it."""
        if value is None:
            return "—"
        amount = self.amount(value)
        symbol = get_currency_symbol(currency, locale=self.language)
        return self.gettext("%(amount)s %(currency)s", amount=amount, currency=symbol)

    def amount(self, value: float) -> str:
        """A sum of money without its currency: 2.40, 2,40."""
        return format_decimal(value, "#,##0.00", locale=self.language)

    def percent(self, value: float | None) -> str:
        """A share (0.667) as a percentage: 66.7 %, 66,7 %."""
        if value is None:
            return "—"
        number = format_decimal(value * 100, "0.0", locale=self.language)
        return self.gettext("%(number)s %%", number=number)

    def zone(self, zone: str) -> str:
        """A time zone as its readers name it: its city ("Москва"), from CLDR."""
        return zone_name(zone, self.language)

    def date(self, day: date) -> str:
        return _formats(self.language)[1](day)

    @property
    def datetime_pattern(self) -> str:
        # Translators: a CLDR date pattern (Babel, and the landing page's script, read it).
        return self.pgettext("date pattern", "EEE, d MMMM, HH:mm")

    @property
    def date_pattern(self) -> str:
        # Translators: a CLDR date pattern for all-day events.
        return self.pgettext("date pattern", "EEE, d MMMM")


@cache
def _formats(language: str) -> tuple[Callable[[date], str], Callable[[date], str]]:
    """The language's date-and-time and date formats, compiled once (feeds/datefmt.py)."""
    t, locale = texts(language), Locale.parse(language)
    return compiled(t.datetime_pattern, locale), compiled(t.date_pattern, locale)


@cache
def texts(language: str) -> Texts:
    return Texts(supported(language) or DEFAULT_LANGUAGE)


@lru_cache(maxsize=4096)
def zone_name(zone: str, language: str) -> str:
    try:
        return str(get_timezone_location(ZoneInfo(zone), language, return_city=True))
    except (LookupError, ValueError):
        return zone


@cache
def language_name(language: str) -> str:
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]
