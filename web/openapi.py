"""The OpenAPI 3.1 document of the admin API, generated.

Components come from the pydantic models (calserver/shapes/), paths from the table of
operations (web/operations.py); nothing here describes a shape by hand. Tests validate
every request they send and every answer they get against this document, and check that
each route of the application appears in it.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from calserver import __version__
from calserver.shapes.fields import ZONE_MARK
from calserver.shapes.queries import PATH_PARAMETERS, Problem
from calserver.validation import zone_names_all
from web.operations import OPERATIONS, Op

JSON = "application/json"
PROBLEM = "application/problem+json"
HTML = "text/html"
REF = "#/components/schemas/{model}"
ZONE_SCHEMA = "TimeZone"
Mode = Literal["validation", "serialization"]


def _tidy(node: Any) -> Any:
    """Drop pydantic's generated titles and null defaults (a field left out is not null);
    point every zone at the one list of zone names."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get(ZONE_MARK):
        return {"$ref": REF.format(model=ZONE_SCHEMA)}
    return {
        k: _tidy(v)
        for k, v in node.items()
        if not (k == "title" and isinstance(v, str)) and not (k == "default" and v is None)
    }


def _models() -> list[tuple[type[BaseModel], Mode]]:
    found: dict[tuple[type[BaseModel], Mode], None] = {(Problem, "serialization"): None}
    for op in OPERATIONS:
        if op.body is not None:
            found[(op.body, "validation")] = None
        for _, model in op.answers.values():
            if model is not None:
                found[(model, "serialization")] = None
    return list(found)


def _problem(description: str, page: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {PROBLEM: {"schema": {"$ref": REF.format(model="Problem")}}}
    if page:
        content[HTML] = {"schema": {"type": "string"}}
    return {"description": description, "content": content}


def _parameters(op: Op) -> list[dict[str, Any]]:
    parameters = []
    for name in (part[1:-1] for part in op.path.split("/") if part.startswith("{")):
        schema = _tidy(TypeAdapter(PATH_PARAMETERS[name]).json_schema())
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    if op.query is not None:
        query = _tidy(op.query.model_json_schema(ref_template=REF))
        for name, schema in query["properties"].items():
            parameter = {"name": name, "in": "query", "required": name in query.get("required", [])}
            if description := schema.pop("description", None):
                parameter["description"] = description
            parameters.append({**parameter, "schema": schema})
    return parameters


def _operation(op: Op, refs: dict[Any, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (description, model) in op.answers.items():
        responses[str(status)] = {"description": description}
        if model is None and op.page:
            responses[str(status)]["content"] = {HTML: {"schema": {"type": "string"}}}
        elif model is not None:
            content: dict[str, Any] = {JSON: {"schema": refs[(model, "serialization")]}}
            if op.csv:
                content["text/csv"] = {"schema": {"type": "string"}}
            responses[str(status)]["content"] = content
    problems = op.problems if op.public else {401: "Missing or invalid API key.", **op.problems}
    responses.update({str(status): _problem(text, op.page) for status, text in problems.items()})
    operation: dict[str, Any] = {"summary": op.summary, "responses": responses}
    if parameters := _parameters(op):
        operation["parameters"] = parameters
    if op.raw_body:
        binary = {"schema": {"type": "string", "format": "binary"}}
        operation["requestBody"] = {"required": True, "content": dict.fromkeys(op.raw_body, binary)}
    if op.body is not None:
        schema = refs[(op.body, "validation")]
        operation["requestBody"] = {
            "required": not op.public,
            "content": {JSON: {"schema": schema}},
        }
    if op.public:
        operation["security"] = []
    return operation


@cache
def _document() -> dict[str, Any]:
    refs, top = models_json_schema(_models(), ref_template=REF)
    schemas = _tidy(top.get("$defs", {}))
    schemas[ZONE_SCHEMA] = {
        "type": "string",
        "enum": zone_names_all(),
        "description": "An IANA time zone name, such as Europe/Moscow.",
    }
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "calserver admin API",
            "version": __version__,
            "license": {"name": "GPL-3.0-or-later", "identifier": "GPL-3.0-or-later"},
            "description": (
                "Segments, events and settings of one workspace. Authenticate with "
                "`Authorization: Bearer KEY`; errors are RFC 9457 problem+json."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }


def openapi_document() -> dict[str, Any]:
    return _document()
