"""Brand page: the logo, colour and footer every subscriber page of the workspace carries."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calserver.appkeys import CLOCK, SESSIONS
from calserver.brand import BrandError, Logo, check_color, check_footer, check_logo
from feeds.i18n import reason
from storage.brand import delete_logo, put_logo
from storage.models import Workspace
from storage.workspaces import workspace_by_slug
from web.admin.render import page
from web.api.common import workspace_of
from web.brand import brand_of


def _page(
    request: web.Request, workspace: Workspace, status: int = 200, **extra: Any
) -> web.Response:
    extra.setdefault("errors", {})
    extra.setdefault(
        "form", {"brand_color": workspace.brand_color or "", "footer": workspace.footer or ""}
    )
    return page(request, "brand.html", section="brand", status=status,
                brand=brand_of(workspace), **extra)  # fmt: skip


async def brand_page(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        workspace = await workspace_by_slug(session, workspace_of(request).slug)
    return _page(request, workspace)


def _checked(
    form: dict[str, str], upload: Any
) -> tuple[str | None, str, Logo | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    color, footer, logo = None, "", None
    try:
        color = check_color(form["brand_color"].strip()) if form["brand_color"].strip() else None
    except BrandError as error:
        errors["brand_color"] = [reason(error)]
    try:
        footer = check_footer(form["footer"])
    except BrandError as error:
        errors["footer"] = [reason(error)]
    if isinstance(upload, web.FileField) and upload.filename:
        try:
            logo = check_logo(upload.file.read(), upload.content_type)
        except BrandError as error:
            errors["logo"] = [reason(error)]
    return color, footer, logo, errors


async def save(request: web.Request) -> web.Response:
    posted = await request.post()
    form = {name: str(posted.get(name, "")) for name in ("brand_color", "footer")}
    color, footer, logo, errors = _checked(form, posted.get("logo"))
    async with request.app[SESSIONS].begin() as session:
        workspace = await workspace_by_slug(session, workspace_of(request).slug)
        if errors:
            return _page(request, workspace, 422, errors=errors, form=form)
        workspace.brand_color, workspace.footer = color, footer or None
        if logo is not None:
            await put_logo(session, workspace, logo.content_type, logo.digest, logo.body)
        elif posted.get("remove_logo"):
            await delete_logo(session, workspace)
        workspace.updated_at = request.app[CLOCK].now()
    return _page(request, workspace, saved=True)
