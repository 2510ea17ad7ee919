"""Field types with their rules, and pydantic's errors as the API's field errors.

Each type carries its limit once: pydantic enforces it, the OpenAPI document shows it
(``json_schema_extra`` puts a pattern in the document where a check written in Python gives
the sentence a person reads), and the message is the one a person sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from calserver.validation import (
    CLOCK_RE,
    COLOR_RE,
    SLUG_RE,
    FieldErrors,
    is_timezone,
    parse_duration,
)
from feeds.i18n import Sentence, say, say_n, together

M = TypeVar("M", bound=BaseModel)
ZONE_MARK = "x-calserver-zone"
EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9._:@-]{1,200}$")
SRC_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
CHANNEL_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
NO_NUL = "^[^\\x00]*$"
NOT_BLANK = "^[^\\x00]*[^\\x00\\s][^\\x00]*$"


# The default of a field that may be left out but not sent as null (a PATCH of a segment's
# slug): typed Any so that the field keeps its own type.
ABSENT: Any = None
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Shape(BaseModel):
    """A request body: strict JSON types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", hide_input_in_errors=True)


class Answer(BaseModel):
    """A response body."""

    model_config = ConfigDict(extra="forbid")


def fail(message: Sentence) -> PydanticCustomError:
    """A rule's refusal; the sentence travels as it is, to be said in the reader's language."""
    return PydanticCustomError("calserver", "{message}", {"message": message})


def schema_pattern(pattern: re.Pattern[str]) -> str:
    """A Python pattern as the document writes it (named groups are Python's own)."""
    return re.sub(r"\(\?P<\w+>", "(", pattern.pattern)


def _matching(pattern: re.Pattern[str], message: Sentence) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise fail(message)
        return value

    return check


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise fail(say("must not contain NUL characters"))
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise fail(say("must not be empty"))
    return _no_nul(value)


def text(max_length: int, description: str | None = None) -> Any:
    """Field() of a free text of at most ``max_length`` characters (NUL refused by NoNul)."""
    return Field(
        max_length=max_length, description=description, json_schema_extra={"pattern": NO_NUL}
    )


def not_blank(max_length: int, description: str | None = None) -> Any:
    """Field() of a text that must hold more than white space (checked by NotBlank)."""
    return Field(
        max_length=max_length, description=description, json_schema_extra={"pattern": NOT_BLANK}
    )


def pattern(pattern: re.Pattern[str], max_length: int, description: str | None = None) -> Any:
    """Field() of a string matching ``pattern`` (checked, with a sentence, by Matches)."""
    return Field(
        max_length=max_length,
        description=description,
        json_schema_extra={"pattern": schema_pattern(pattern)},
    )


def matches(pattern: re.Pattern[str], message: Sentence) -> AfterValidator:
    """Refuses a string that does not match ``pattern``; ``message`` says what to type."""
    return AfterValidator(_matching(pattern, message))


NoNul = AfterValidator(_no_nul)
NotBlank = AfterValidator(_not_blank)


def _zone(value: str) -> str:
    if not is_timezone(value):
        raise fail(
            say("unknown time zone %(zone)s; use an IANA name such as Europe/Moscow",
                zone=repr(value[:64]))
        )  # fmt: skip
    return value


Slug = Annotated[
    str,
    pattern(SLUG_RE, 64),
    matches(SLUG_RE, say("use 1-64 lowercase letters, digits and inner hyphens")),
]
Zone = Annotated[
    str,
    # The document builder puts a reference to one list of zone names here (web/openapi.py).
    Field(max_length=64, json_schema_extra={ZONE_MARK: True}),
    AfterValidator(_zone),
]
Color = Annotated[
    str, pattern(COLOR_RE, 7), matches(COLOR_RE, say("use a hex colour such as #1E88E5"))
]
Clock = Annotated[
    str, pattern(CLOCK_RE, 5), matches(CLOCK_RE, say("use a 24-hour time such as 22:00"))
]
ExternalId = Annotated[
    str,
    pattern(EXTERNAL_ID_RE, 200),
    matches(EXTERNAL_ID_RE, say("use 1-200 letters, digits and . _ : @ -")),
]
Src = Annotated[
    str, pattern(SRC_RE, 32), matches(SRC_RE, say("use 1-32 lowercase letters, digits, _ or -"))
]
ChannelName = Annotated[
    str,
    pattern(CHANNEL_NAME_RE, 32),
    matches(CHANNEL_NAME_RE, say("use a channel name such as sms")),
]


def bounds(low: int, high: int) -> Any:
    """Field() showing a whole number's bounds in the document (checked by ``whole``)."""
    return Field(json_schema_extra={"minimum": low, "maximum": high})


def whole(low: int, high: int) -> BeforeValidator:
    """Refuses anything but a whole number from ``low`` to ``high``, in one sentence."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise fail(say("must be a whole number from %(low)s to %(high)s", low=low, high=high))
        return value

    return BeforeValidator(check)


def duration_in(
    low: timedelta, high: timedelta, too_low: Sentence, too_high: Sentence
) -> AfterValidator:
    """Refuses what is not an ISO 8601 duration (PT15M, P1D) between ``low`` and ``high``."""

    def check(value: str) -> str:
        try:
            delta = parse_duration(value)
        except ValueError as error:
            raise fail(error.args[0]) from None
        if delta < low:
            raise fail(too_low)
        if delta > high:
            raise fail(too_high)
        return value

    return AfterValidator(check)


# Messages for pydantic's own error types; a check of ours brings its own sentence.
_MESSAGES: dict[str, Callable[[Mapping[str, Any]], Sentence]] = {
    "missing": lambda ctx: say("is required"),
    "extra_forbidden": lambda ctx: say("is not a known field"),
    "string_type": lambda ctx: say("must be a string"),
    "bool_type": lambda ctx: say("must be true or false"),
    "int_type": lambda ctx: say("must be a whole number"),
    "int_parsing": lambda ctx: say("must be a whole number"),
    "int_from_float": lambda ctx: say("must be a whole number"),
    "int_parsing_size": lambda ctx: say("must be a whole number of at most 19 digits"),
    "float_type": lambda ctx: say("must be a number"),
    "list_type": lambda ctx: say("must be a list"),
    "model_type": lambda ctx: say("must be an object"),
    "model_attributes_type": lambda ctx: say("must be an object"),
    "dict_type": lambda ctx: say("must be an object"),
    "string_too_long": lambda ctx: say_n(
        "must be at most %(num)s character", "must be at most %(num)s characters",
        ctx["max_length"]),
    "string_too_short": lambda ctx: say("must not be empty"),
    "too_long": lambda ctx: say_n(
        "must have at most %(num)s item", "must have at most %(num)s items", ctx["max_length"]),
    "too_short": lambda ctx: say_n(
        "must have at least %(num)s item", "must have at least %(num)s items", ctx["min_length"]),
    "greater_than_equal": lambda ctx: say("must be at least %(limit)s", limit=ctx["ge"]),
    "less_than_equal": lambda ctx: say("must be at most %(limit)s", limit=ctx["le"]),
    "greater_than": lambda ctx: say("must be more than %(limit)s", limit=ctx["gt"]),
    "literal_error": lambda ctx: say("must be %(choices)s", choices=_json_words(ctx["expected"])),
    "enum": lambda ctx: say("must be %(choices)s", choices=ctx["expected"]),
}  # fmt: skip


def _json_words(expected: str) -> str:
    """pydantic's "'defer' or 'drop'" and "False" as JSON writes them."""
    return expected.replace("False", "false").replace("True", "true").replace("'", '"')


_TYPE_ERRORS = {"string_type", "bool_type", "int_type", "float_type", "list_type", "model_type",
                "model_attributes_type", "dict_type", "literal_error"}  # fmt: skip


_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_TYPE_NAMES = {"str", "int", "float", "bool", "list", "dict", "none"}


def _pointer(location: tuple[int | str, ...]) -> str:
    # A union's branches add their own names (str, constrained-int, a model's class name) to
    # the location; the person wrote none of them. Our field names are lowercase words.
    parts = [
        str(part)
        for part in location
        if isinstance(part, int) or (_FIELD_NAME.match(part) and part not in _TYPE_NAMES)
    ]
    return "/" + "/".join(parts)


def field_errors(error: ValidationError, prefix: str = "") -> FieldErrors:
    """Every error of ``error`` as (JSON pointer, sentence), under ``prefix``."""
    found: list[tuple[str, str, bool]] = []
    for item in error.errors(include_url=False):
        kind, ctx = item["type"], item.get("ctx") or {}
        message: str | None = ctx["message"] if kind == "calserver" else None
        if message is None:
            make = _MESSAGES.get(kind)
            message = make(ctx) if make else str(item["msg"])
        found.append((prefix + _pointer(item["loc"]), message, kind in _TYPE_ERRORS))
    errors: dict[str, list[str]] = {}
    for pointer, message, is_type in found:
        # Of a union, keep what the branch that fits the input's type said: the deeper
        # errors, or the rule it broke at the same place.
        if is_type and any(
            p.startswith(pointer + "/") or (p == pointer and not t) for p, _, t in found
        ):
            continue
        said = errors.setdefault(pointer, [])
        if message not in said:
            said.append(message)
    return FieldErrors([(pointer, _one_sentence(said)) for pointer, said in errors.items()])


def _one_sentence(messages: list[str]) -> str:
    """ "must be a string", "must be a whole number" -> "must be a string or a whole number"."""
    if len(messages) == 1:
        return messages[0]
    if all(m.startswith("must be ") for m in messages):
        english = "must be " + " or ".join(m.removeprefix("must be ") for m in messages)
    else:
        english = "; ".join(messages)
    return together(messages, english)


def check_body(model: type[M], body: Any, prefix: str = "") -> M:
    """``body`` as a ``model``, or FieldErrors naming each bad field."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise field_errors(error, prefix) from None
