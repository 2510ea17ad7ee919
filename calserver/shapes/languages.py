"""A language with a catalog (feeds/i18n.py): the workspace's, a segment's, a contact's."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from calserver.shapes.fields import fail
from feeds.i18n import languages, supported


def _language(value: str) -> str:
    if supported(value) != value.lower() or len(value) > 8:
        raise fail(f"use one of {', '.join(languages())}")
    return value.lower()


Language = Annotated[
    str, Field(json_schema_extra={"enum": list(languages())}), AfterValidator(_language)
]
