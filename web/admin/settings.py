"""Settings page: the workspace's name, time zone, quiet hours, and the SMS price and
currency the cascade report compares against — checked by the API's own PATCH rules."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calserver.appkeys import SESSIONS
from calserver.validation import FieldErrors, zone_names
from feeds.i18n import language_name, languages
from storage.workspaces import workspace_by_slug
from web.admin.render import errors_by_field, page
from web.api.common import workspace_of
from web.api.workspace import change_workspace, parse_workspace_patch

FIELDS = ("name", "timezone", "quiet_start", "quiet_end", "sms_price", "currency", "language")


def _form_of(workspace: Any) -> dict[str, str]:
    price = workspace.sms_price
    return {
        "name": workspace.name, "timezone": workspace.timezone,
        "quiet_start": workspace.quiet_start, "quiet_end": workspace.quiet_end,
        "sms_price": f"{price.normalize():f}" if price is not None else "",
        "currency": workspace.currency, "language": workspace.language,
    }  # fmt: skip


def _body(form: dict[str, str]) -> dict[str, Any]:
    """The form as the API's PATCH body; an empty SMS price clears it."""
    body = {
        "name": form["name"], "timezone": form["timezone"],
        "quiet_hours": {"start": form["quiet_start"], "end": form["quiet_end"]},
        "sms_price": _number(form["sms_price"].strip().replace(",", ".")),
        "currency": form["currency"].strip().upper(),
    }  # fmt: skip
    if form["language"]:
        body["language"] = form["language"]
    return body


def _number(text: str) -> float | str | None:
    """A typed price as the API's JSON number; what does not read as one is left for the
    API's rules to refuse with their message."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _errors(errors: list[tuple[str, str]]) -> dict[str, list[str]]:
    """API pointers onto the form's fields (quiet hours are two inputs here)."""
    renamed = [
        (pointer.replace("/quiet_hours/start", "/quiet_start")
         .replace("/quiet_hours/end", "/quiet_end").replace("/quiet_hours", "/quiet_start"),
         message)
        for pointer, message in errors
    ]  # fmt: skip
    return errors_by_field(renamed)


def _page(
    request: web.Request, form: dict[str, str], status: int = 200, **extra: Any
) -> web.Response:
    extra.setdefault("errors", {})
    return page(request, "settings.html", section="settings", status=status, form=form,
                zones=zone_names(), languages=[(c, language_name(c)) for c in languages()],
                **extra)  # fmt: skip


async def settings_page(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        workspace = await workspace_by_slug(session, workspace_of(request).slug)
        return _page(request, _form_of(workspace))


async def save(request: web.Request) -> web.Response:
    posted = await request.post()
    form = {name: str(posted.get(name, "")) for name in FIELDS}
    try:
        changes = parse_workspace_patch(_body(form))
    except FieldErrors as error:
        return _page(request, form, 422, errors=_errors(error.errors))
    async with request.app[SESSIONS].begin() as session:
        workspace = await change_workspace(request, session, changes)
        saved = _form_of(workspace)
    return _page(request, saved, saved=True)
