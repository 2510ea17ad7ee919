"""A segment's reward (text, shared code or a pool of codes from a CSV) and its A/B test of
landing copy (variants, figures per variant, keeping one), checked by the API's own rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from calserver.abtest import VariantError, check_variants, report
from calserver.appkeys import CLOCK, SESSIONS
from calserver.rewards import RewardError, check_code, check_text, read_codes
from feeds.i18n import reason
from storage import segments as store
from storage.funnels import by_reward, by_variant
from storage.models import Segment
from storage.rewards import add_codes, low_pools, set_reward
from web.admin.keys import ADMIN
from web.admin.render import page, see_other
from web.api.common import workspace_of

KEYS = ("a", "b", "c", "d")


async def _load(request: web.Request, session: Any) -> Segment:
    segment: Segment = await store.get_segment(
        session, workspace_of(request).id, request.match_info["slug"]
    )
    return segment


async def _reward_page(request: web.Request, status: int = 200, **extra: Any) -> web.Response:
    async with request.app[SESSIONS]() as session:
        segment = await _load(request, session)
        funnels = await by_reward(session, segment.id)
        if ADMIN in request:  # the banner as it is after this request's change
            pools = tuple(await low_pools(session, segment.workspace_id))
            request[ADMIN] = replace(request[ADMIN], low_pools=pools)
    mode = "pool" if segment.reward_pool else "code" if segment.reward_code else "none"
    extra.setdefault("form", {"text": segment.reward_text or "", "code": segment.reward_code or "",
                              "mode": mode if segment.reward_text else "none"})  # fmt: skip
    extra.setdefault("errors", {})
    return page(request, "reward.html", section="segments", status=status, segment=segment,
                funnels=funnels, saved=request.query.get("saved") == "1", **extra)  # fmt: skip


async def reward_page(request: web.Request) -> web.Response:
    return await _reward_page(request)


async def save_reward(request: web.Request) -> web.Response:
    posted = await request.post()
    form = {name: str(posted.get(name, "")) for name in ("text", "code", "mode")}
    errors: dict[str, list[str]] = {}
    text = code = None
    if form["mode"] != "none":
        try:
            text = check_text(form["text"])
        except RewardError as error:
            errors["text"] = [reason(error)]
        if form["mode"] == "code":
            try:
                code = check_code(form["code"])
            except RewardError as error:
                errors["code"] = [reason(error)]
    if errors:
        return await _reward_page(request, 422, form=form, errors=errors)
    async with request.app[SESSIONS].begin() as session:
        segment = await _load(request, session)
        set_reward(segment, text, code, form["mode"] == "pool")
        segment.updated_at = request.app[CLOCK].now()
    raise see_other(f"/admin/segments/{segment.slug}/reward?saved=1")


async def upload_codes(request: web.Request) -> web.Response:
    posted = await request.post()
    upload, typed = posted.get("file"), str(posted.get("codes", ""))
    try:
        data = upload.file.read() if isinstance(upload, web.FileField) else typed.encode()
        codes = read_codes(data)
    except RewardError as error:
        return await _reward_page(request, 422, errors={"codes": [reason(error)]})
    async with request.app[SESSIONS].begin() as session:
        segment = await _load(request, session)
        added, duplicates = await add_codes(session, segment, codes)
    return await _reward_page(request, added=added, duplicates=duplicates)


async def _variants_page(request: web.Request, status: int = 200, **extra: Any) -> web.Response:
    async with request.app[SESSIONS]() as session:
        segment = await _load(request, session)
        funnels = await by_variant(session, segment.id)
    rows, judged = report(funnels)
    current = {v["key"]: v for v in segment.variants or []}
    extra.setdefault("form", {key: current.get(key, {}) for key in KEYS})
    extra.setdefault("errors", {})
    return page(request, "variants.html", section="segments", status=status, segment=segment,
                rows=rows, verdict=judged, keys=KEYS, **extra)  # fmt: skip


async def variants_page(request: web.Request) -> web.Response:
    return await _variants_page(request)


async def save_variants(request: web.Request) -> web.Response:
    posted = await request.post()
    form = {key: {f: str(posted.get(f"{key}-{f}", "")).strip()
                  for f in ("headline", "description", "reward_text")} for key in KEYS}  # fmt: skip
    items = [{"key": key, **fields} for key, fields in form.items() if any(fields.values())]
    try:
        variants = check_variants(items)
    except VariantError as error:
        keyed: dict[str, list[str]] = {}
        for pointer, message in error.errors:
            parts = pointer.split("/")
            field = f"{items[int(parts[1])]['key']}-{parts[2]}" if pointer else "form"
            keyed.setdefault(field, []).append(message)
        return await _variants_page(request, 422, form=form, errors=keyed)
    async with request.app[SESSIONS].begin() as session:
        segment = await _load(request, session)
        segment.variants, segment.variant_kept = variants or None, None
        segment.updated_at = request.app[CLOCK].now()
    raise see_other(f"/admin/segments/{segment.slug}/variants")


async def keep_variant(request: web.Request) -> web.Response:
    key = str((await request.post()).get("key", ""))
    async with request.app[SESSIONS].begin() as session:
        segment = await _load(request, session)
        if key not in {v["key"] for v in segment.variants or []}:
            raise web.HTTPNotFound(text="No such variant.")
        segment.variant_kept = key
        segment.updated_at = request.app[CLOCK].now()
    raise see_other(f"/admin/segments/{segment.slug}/variants")
