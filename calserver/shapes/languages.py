"""A language with a catalog (feeds/i18n.py): the workspace's, a segment's, a contact's."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from calserver.shapes.fields import fail
from feeds.i18n import languages, say, supported


def _language(value: str) -> str:
    # Exactly the document's enumeration (a client generated from it sends "ru", not "RU").
    if value not in languages() or supported(value) != value:
        raise fail(say("use one of %(choices)s", choices=", ".join(languages())))
    return value


Language = Annotated[
    str, Field(json_schema_extra={"enum": list(languages())}), AfterValidator(_language)
]
