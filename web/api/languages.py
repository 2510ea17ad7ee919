"""The ``language``/``locale``/``lang`` fields of API bodies: a language with a catalog."""

from __future__ import annotations

from typing import Any

from calserver.validation import Checker
from feeds.i18n import languages, supported


def language_field(c: Checker, field: str, *, nullable: bool) -> str | None:
    """A language code ("ru", "en"), or None where the field may be null (then: the default)."""
    value: Any = c.body.get(field)
    if value is None and nullable:
        return None
    language = supported(value) if isinstance(value, str) and len(value) <= 8 else None
    if language is None or language != value.lower():
        c.fail(field, f"use one of {', '.join(languages())}")
    return language


def schema(description: str, *, nullable: bool) -> dict[str, Any]:
    """The field in the OpenAPI document."""
    codes: list[str | None] = [*languages(), None] if nullable else list(languages())
    kind = ["string", "null"] if nullable else "string"
    return {"type": kind, "enum": codes, "description": description}
