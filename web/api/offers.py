"""A segment's reward codes and A/B copy variants, and their figures:
POST /api/v1/segments/{slug}/reward-codes, PUT /api/v1/segments/{slug}/variants,
POST /api/v1/segments/{slug}/variants/{key}/keep, GET /api/v1/stats/variants and
GET /api/v1/stats/rewards."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calserver.abtest import report
from calserver.appkeys import CLOCK
from calserver.shapes import offers as shapes
from calserver.shapes.fields import check_body
from storage import segments as store
from storage.funnels import Funnel, by_reward, by_variant
from storage.models import Segment
from storage.rewards import add_codes
from web.api.common import (
    json_response,
    parse_json_object,
    query_of,
    read_json_object,
    transaction,
    workspace_of,
)


async def _segment(request: web.Request, session: Any, slug: str | None = None) -> Segment:
    segment: Segment = await store.get_segment(
        session, workspace_of(request).id, slug or request.match_info["slug"]
    )
    return segment


async def add_reward_codes(request: web.Request) -> web.Response:
    body = check_body(shapes.RewardCodesInput, await read_json_object(request))
    async with transaction(request) as session:
        segment = await _segment(request, session)
        added, duplicates = await add_codes(session, segment, body.codes)
        answer = {"added": added, "available": segment.reward_available, "duplicates": duplicates}
    return json_response(shapes.RewardCodesAdded, answer, status=201)


def _variants_json(segment: Segment) -> dict[str, Any]:
    return {"items": list(segment.variants or []), "kept": segment.variant_kept}


async def put_variants(request: web.Request) -> web.Response:
    raw = await request.read()
    # An array body: read with the same guards as an object (depth, numbers, Unicode).
    wrapped = parse_json_object(b'{"v":' + raw + b"}") if raw.strip() else {"v": None}
    body = check_body(shapes.VariantsInput, wrapped["v"])
    async with transaction(request) as session:
        segment = await _segment(request, session)
        segment.variants = [item.model_dump() for item in body.root] or None
        segment.variant_kept = None
        segment.updated_at = request.app[CLOCK].now()
        return json_response(shapes.Variants, _variants_json(segment))


async def keep_variant(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    async with transaction(request) as session:
        segment = await _segment(request, session)
        if key not in {v["key"] for v in segment.variants or []}:
            raise web.HTTPNotFound(text=f"no variant {key[:8]!r} in this segment's test")
        segment.variant_kept = key
        segment.updated_at = request.app[CLOCK].now()
        return json_response(shapes.Variants, _variants_json(segment))


def _figures(key: str, funnel: Funnel, conversion: float, interval: tuple[float, float],
             activation: float) -> dict[str, Any]:  # fmt: skip
    return {"key": key, "views": funnel.views, "clicks": funnel.subscribed,
            "activated": funnel.activated, "active": funnel.active,
            "unsubscribed": funnel.unsubscribed, "conversion": conversion,
            "interval": {"low": interval[0], "high": interval[1]},
            "activation_rate": activation}  # fmt: skip


async def variant_stats(request: web.Request) -> web.Response:
    query = query_of(request, shapes.VariantsQuery)
    async with transaction(request) as session:
        segment = await _segment(request, session, query.segment)
        rows, judged = report(await by_variant(session, segment.id))
    answer = {
        "segment": segment.slug, "kept": segment.variant_kept,
        "variants": [_figures(r.key, r.funnel, r.conversion, r.interval, r.activation)
                     for r in rows],
        "leader": judged.leader, "runner_up": judged.runner_up, "p_value": judged.p_value,
        "significant": judged.significant,
    }  # fmt: skip
    return json_response(shapes.VariantStats, answer)


def _reward_funnel(funnel: Funnel) -> dict[str, Any]:
    return {"views": funnel.views, "clicks": funnel.subscribed, "activated": funnel.activated,
            "conversion": funnel.subscribed / funnel.views if funnel.views else 0.0,
            "activation_rate": funnel.activated / funnel.subscribed if funnel.subscribed else 0.0}  # fmt: skip


async def reward_stats(request: web.Request) -> web.Response:
    query = query_of(request, shapes.VariantsQuery)
    async with transaction(request) as session:
        segment = await _segment(request, session, query.segment)
        funnels = await by_reward(session, segment.id)
    answer = {"segment": segment.slug, "with_reward": _reward_funnel(funnels[True]),
              "without_reward": _reward_funnel(funnels[False])}  # fmt: skip
    return json_response(shapes.RewardStats, answer)
