"""A test client that checks every API request and answer against the OpenAPI document.

Any status, content type or body that the document does not describe fails the test that
received it, so the document cannot drift from the implementation. Every request is checked
too: a body the document allows must not be refused as malformed (400), and one it refuses
must get a 4xx — the server refuses what the document refuses, so a client generated from
the document sends nothing the server turns away for its form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator

from web.openapi import openapi_document


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any
    text: str
    request_errors: list[str] = field(default_factory=list)  # where the request left the document


# What every JSON body must be, beyond its schema (the document's 400 answers say so).
JSON_RULES = ("nests deeper than", "lone UTF-16 surrogate", "not valid JSON")


@cache
def _document() -> dict[str, Any]:
    return openapi_document()


def _operation(path_template: str, method: str) -> dict[str, Any]:
    item = _document()["paths"].get(path_template)
    if item is None or method.lower() not in item:
        raise AssertionError(f"{method} {path_template} is not in the OpenAPI document")
    return dict(item[method.lower()])


def check_against_spec(
    path_template: str, method: str, status: int, content_type: str, body: Any
) -> None:
    responses = _operation(path_template, method)["responses"]
    response = responses.get(str(status))
    assert response is not None, f"{method} {path_template} answered {status}, not documented"
    content = response.get("content")
    if not content:
        assert body is None, f"{status} should have no body"
        return
    assert content_type in content, f"{status} answered {content_type}, documented {list(content)}"
    if "json" not in content_type:
        return
    schema = {**content[content_type]["schema"], "components": _document()["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{method} {path_template} {status} body does not match: {errors[0].message}"


def _errors(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    full = {**schema, "components": _document()["components"]}
    return [f"{where}: {e.message}" for e in Draft202012Validator(full).iter_errors(value)]


def _coerce(text: str, schema: dict[str, Any]) -> Any:
    """A query or path value as the document's type ("10" is the integer 10)."""
    types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
    return int(text) if "integer" in types and re.fullmatch(r"-?[0-9]+", text) else text


def request_errors(
    template: str, method: str, path: str, body: Any, raw: bytes | None
) -> list[str]:
    """What in a request (path, query, body) the document does not allow."""
    operation = _operation(template, method)
    url = urlsplit(path)
    names = dict(zip(template.strip("/").split("/"), url.path.strip("/").split("/"), strict=False))
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    errors: list[str] = []
    for parameter in operation.get("parameters", []):
        name, schema = parameter["name"], parameter["schema"]
        if parameter["in"] == "path":
            errors += _errors(schema, _coerce(names["{" + name + "}"], schema), name)
        elif name in query:
            errors += _errors(schema, _coerce(query[name], schema), name)
        elif parameter.get("required"):
            errors.append(f"{name}: missing")
    declared = operation.get("requestBody")
    if declared and "application/json" not in declared["content"]:
        return errors  # a body that is not JSON (an image): the server checks its bytes
    if raw is not None:
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return [*errors, "the body is not JSON this side can read"]
    if body is None:
        if declared and declared.get("required"):
            errors.append("the body is missing")
    elif declared is None:
        errors.append("this operation takes no body")
    else:
        errors += _errors(declared["content"]["application/json"]["schema"], body, "body")
    return errors


class ApiClient:
    """Calls the API with a key and validates each answer against the OpenAPI document."""

    def __init__(self, client: TestClient, key: str | None):  # type: ignore[type-arg]
        self.client = client
        self.key = key

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        all_headers = dict(headers or {})
        if self.key is not None:
            all_headers.setdefault("Authorization", f"Bearer {self.key}")
        if json_body is not None:
            data = json.dumps(json_body)
            all_headers.setdefault("Content-Type", "application/json")
        template = _template_for(self.client, method, path)
        refused: list[str] = []
        if template is not None and method.lower() in _document()["paths"][template]:
            raw = data if isinstance(data, bytes) else None
            refused = request_errors(template, method, path, json_body, raw)
        async with self.client.request(method, path, data=data, headers=all_headers) as response:
            text = await response.text()
            content_type = response.content_type
            body = json.loads(text) if text and "json" in content_type else None
            if template is not None:
                check_against_spec(template, method, response.status, content_type, body)
            if refused:
                assert 400 <= response.status < 500, (
                    f"{method} {path}: the document refuses this request ({refused[0]}), "
                    f"the server answered {response.status}"
                )
            elif (
                response.status == 400
                and data is not None
                and self.key is not None
                and not any(rule in text for rule in JSON_RULES)
            ):
                # (A query may break a rule between its parameters, such as from after to.)
                raise AssertionError(
                    f"{method} {path}: the document allows this request, the server "
                    f"answered 400: {text[:300]}"
                )
            return Answer(response.status, response.headers, body, text, refused)

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Answer:
        return await self.request("POST", path, json_body=body, **kwargs)

    async def patch(self, path: str, body: Any = None, **kwargs: Any) -> Answer:
        return await self.request("PATCH", path, json_body=body, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("DELETE", path, **kwargs)


def _template_for(client: TestClient, method: str, path: str) -> str | None:  # type: ignore[type-arg]
    """The route template (as in the OpenAPI paths) that serves ``path``, if any."""
    bare = path.split("?", 1)[0]
    for resource in client.app.router.resources():
        info = resource.get_info()
        template = info.get("formatter") or info.get("path")
        if template is None or template not in _document()["paths"]:
            continue
        if _matches(template, bare):
            return str(template)
    return None


def _matches(template: str, path: str) -> bool:
    t_parts, p_parts = template.strip("/").split("/"), path.strip("/").split("/")
    if len(t_parts) != len(p_parts):
        return False
    return all(t.startswith("{") or t == p for t, p in zip(t_parts, p_parts, strict=True))
