"""Segments pages: the list, create and edit forms, landing preview, QR download, embed."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import escape

from calserver.appkeys import CLOCK, CONFIG, SESSIONS
from calserver.links import BUTTON_ORDER, platform
from calserver.validation import FieldErrors, zone_names
from feeds.i18n import N_, language_name, languages, say, supported, texts
from storage import segments as store
from storage.errors import Conflict
from storage.lookup import WorkspaceRow
from storage.models import Segment, Workspace
from storage.rewards import offer_open
from storage.subscriptions import upcoming_events
from web.admin.render import errors_by_field, form_of, page, see_other
from web.api.common import workspace_of
from web.api.segments import embed_html, parse_segment, subscribe_path
from web.brand import brand_of
from web.pages import templates
from web.qr import qr_bytes
from web.subscribe import PAGE_HEADERS
from web.upcoming import summarize

FORM_FIELDS = ("slug", "name", "description", "color", "timezone", "language")
PREVIEW_NOTE = N_(
    "Preview from the dashboard: this is what people see. "
    "Views here are not counted, and the buttons do not subscribe."
)


def links(workspace: WorkspaceRow, segment: Segment, base: str) -> dict[str, Any]:
    subscribe_url = base + subscribe_path(workspace.slug, segment.slug)
    default = segment.language or workspace.language
    return {
        "subscribe_url": subscribe_url,
        "qr_link": subscribe_url + "?src=qr",
        "embed_html": embed_html(subscribe_url, segment.color, default),
        # The button in the other languages, for a site that speaks several.
        "embeds": [
            (code, language_name(code), embed_html(subscribe_url, segment.color, code))
            for code in languages()
            if code != default
        ],
    }


def _body(form: dict[str, str]) -> dict[str, Any]:
    """The form as an API body: empty optional fields are left out, as a client would."""
    body: dict[str, Any] = {name: form.get(name, "") for name in ("slug", "name", "description")}
    for optional in ("color", "timezone"):
        if form.get(optional, "").strip():
            body[optional] = form[optional].strip()
    body["language"] = form.get("language", "").strip() or None  # None: the workspace's
    return body


def _languages() -> list[tuple[str, str]]:
    return [(code, language_name(code)) for code in languages()]


async def list_page(request: web.Request) -> web.Response:
    workspace = workspace_of(request)
    async with request.app[SESSIONS]() as session:
        segments = await store.list_segments(session, workspace.id)
    base = request.app[CONFIG].base_url
    rows = [(s, links(workspace, s, base)) for s in segments]
    return page(request, "segments.html", section="segments", rows=rows)


def _form_page(
    request: web.Request, form: dict[str, str], errors: dict[str, list[str]], status: int = 200
) -> web.Response:
    return page(request, "segment_form.html", section="segments", status=status, form=form,
                errors=errors, zones=zone_names(), segment=None,
                languages=_languages())  # fmt: skip


async def new_page(request: web.Request) -> web.Response:
    return _form_page(request, {"timezone": workspace_of(request).timezone}, {})


async def create(request: web.Request) -> web.Response:
    workspace, form = workspace_of(request), await form_of(request)
    try:
        fields = parse_segment(_body(form), partial=False)
        fields.setdefault("timezone", workspace.timezone)
        async with request.app[SESSIONS].begin() as session:
            segment = await store.create_segment(
                session, workspace.id, fields, request.app[CLOCK].now()
            )
    except FieldErrors as error:
        return _form_page(request, form, errors_by_field(error.errors), 422)
    except Conflict:
        return _form_page(request, form, {"slug": [_slug_taken(form)]}, 409)
    raise see_other(f"/admin/segments/{segment.slug}?saved=1")


async def _segment_page(
    request: web.Request, segment: Segment, form: dict[str, str],
    errors: dict[str, list[str]], status: int = 200,
) -> web.Response:  # fmt: skip
    workspace = workspace_of(request)
    async with request.app[SESSIONS]() as session:
        events = await store.list_events(session, segment.id, 200, 0)
    return page(request, "segment.html", section="segments", status=status, segment=segment,
                form=form, errors=errors, zones=zone_names(), events=events,
                languages=_languages(),
                saved=request.query.get("saved") == "1",
                **links(workspace, segment, request.app[CONFIG].base_url))  # fmt: skip


async def _segment(request: web.Request) -> Segment:
    async with request.app[SESSIONS]() as session:
        return await store.get_segment(
            session, workspace_of(request).id, request.match_info["slug"]
        )


async def edit_page(request: web.Request) -> web.Response:
    segment = await _segment(request)
    form = {name: str(getattr(segment, name) or "") for name in FORM_FIELDS}
    return await _segment_page(request, segment, form, {})


async def update(request: web.Request) -> web.Response:
    workspace, form = workspace_of(request), await form_of(request)
    try:
        fields = parse_segment(_body(form), partial=True)
        if not form.get("color", "").strip():
            fields["color"] = None  # an emptied field clears the colour
        async with request.app[SESSIONS].begin() as session:
            segment = await store.get_segment(session, workspace.id, request.match_info["slug"])
            await store.update_segment(session, segment, fields, request.app[CLOCK].now())
    except (FieldErrors, Conflict) as error:
        errors = (
            errors_by_field(error.errors)
            if isinstance(error, FieldErrors)
            else {"slug": [_slug_taken(form)]}
        )
        return await _segment_page(request, await _segment(request), form, errors, 422)
    raise see_other(f"/admin/segments/{segment.slug}?saved=1")


async def qr_download(request: web.Request) -> web.Response:
    """The QR of the subscribe link with ?src=qr, as a file to print."""
    segment, kind = await _segment(request), request.match_info["kind"]
    link = links(workspace_of(request), segment, request.app[CONFIG].base_url)["qr_link"]
    return web.Response(
        body=qr_bytes(link, kind, 10),
        content_type="image/svg+xml" if kind == "svg" else "image/png",
        headers={"Content-Disposition": f'attachment; filename="{segment.slug}-qr.{kind}"'},
    )


async def preview(request: web.Request) -> web.Response:
    """The landing page as people see it, without counting a view in the statistics."""
    workspace, segment = workspace_of(request), await _segment(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        events = await upcoming_events(session, segment.id, now, limit=200)
    device = platform(request.headers.get("User-Agent", ""))
    # ?lang= shows the page in another language; by default, the one most visitors get.
    language = supported(request.query.get("lang")) or segment.language or workspace.language
    async with request.app[SESSIONS]() as session:
        stored = await session.get(Workspace, workspace.id)
    html = templates(language).get_template("landing.html").render(
        brand=brand_of(stored) if stored else None,
        workspace=workspace, segment=segment, also=[], buttons=BUTTON_ORDER[device],
        summary=summarize(events, segment.timezone, now, texts(language)), src="",
        action="#preview", reward=segment.reward_text if offer_open(segment) else None, variant={},
    )  # fmt: skip
    note = f'<p class="saved" role="note">{escape(texts(language).gettext(PREVIEW_NOTE))}</p>'
    body = html.encode().replace(b"<main>", b"<main>" + note.encode(), 1)
    return web.Response(body=body, content_type="text/html", headers=PAGE_HEADERS)


def _slug_taken(form: dict[str, str]) -> str:
    return say("segment %(slug)s already exists", slug=repr(form.get("slug", "")))
