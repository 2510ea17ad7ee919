"""Small public endpoints: health check, the OpenAPI document and its docs page."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import text

from calserver.appkeys import ENGINE
from feeds.i18n import DEFAULT_LANGUAGE, texts
from web.openapi import openapi_document
from web.problems import problem

HEALTH_TIMEOUT = 2.0


@cache
def templates(language: str = DEFAULT_LANGUAGE) -> Environment:
    """The templates speaking one language (Jinja2's i18n extension over its catalog)."""
    environment = Environment(
        loader=PackageLoader("web", "templates"),
        autoescape=select_autoescape(),
        extensions=["jinja2.ext.i18n"],
    )
    bound = texts(language)
    environment.install_gettext_translations(bound.catalog, newstyle=True)  # type: ignore[attr-defined]
    environment.globals.update(language=bound.language, texts=bound)
    return environment


async def healthz(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT), request.app[ENGINE].connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to answer means "not healthy"
        return problem(503, f"The database does not answer: {type(error).__name__}.")
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


@cache
def _openapi_bytes() -> bytes:
    return json.dumps(openapi_document(), indent=2).encode()


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_openapi_bytes(), content_type="application/json")


def _body_schema_name(operation: dict[str, Any]) -> str:
    content: dict[str, Any] = operation.get("requestBody", {}).get("content", {})
    for media in content.values():
        return str(media.get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1]
    return ""


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    operations = []
    for path, item in document["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                operation = item[method]
                operations.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "summary": operation.get("summary", ""),
                        "body": _body_schema_name(operation),
                        "responses": operation["responses"],
                    }
                )
    return operations


@cache
def _docs_html() -> str:
    document = openapi_document()
    return (
        templates()
        .get_template("api_docs.html")
        .render(
            info=document["info"],
            operations=_operations(document),
            schemas=document["components"]["schemas"],
        )
    )


async def api_docs(request: web.Request) -> web.Response:
    return web.Response(text=_docs_html(), content_type="text/html")
