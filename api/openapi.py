"""The OpenAPI document, complete: every answer an operation can give is declared, errors
as RFC 9457 problem documents (application/problem+json), with the headers they carry.

Routes declare the errors their handlers and services raise (`responses=problems(...)`);
what follows from a route's shape is added here for all of them alike: 401 and 403 from
its declared roles, 404 from path parameters, 422 from any input, 400 and 413 from a
body, 500 everywhere; the X-Request-ID header on every response, WWW-Authenticate on
401s and Retry-After on 429s. FastAPI's own 422 schema (HTTPValidationError) is not what
this API sends, so it goes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from accounts import Role
from api.schemas import Problem
from api.security import route_roles

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"

DESCRIPTIONS = {
    400: "the body is not JSON (or not UTF-8)",
    401: "no valid access token (or, on /auth, wrong credentials or refresh token)",
    403: "not allowed for this role, or not in this account's state",
    404: "no such thing, or not yours",
    409: "conflicts with the current state",
    413: "the request body is too large",
    422: "invalid request: it does not match the schema, or cannot be done as asked",
    429: "rate limited; see Retry-After",
    500: "an unexpected error; it has been logged",
}

_HEADERS: dict[int, dict[str, dict[str, Any]]] = {
    401: {
        "WWW-Authenticate": {
            "description": "the scheme to authenticate with",
            "required": True,
            "schema": {"type": "string", "enum": ["Bearer"]},
        }
    },
    429: {
        "Retry-After": {
            "description": "seconds to wait before trying again",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
_REQUEST_ID_HEADER = {
    "description": "the caller's X-Request-ID when sane, otherwise one made up; "
    "also in problem documents as request_id",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
}
_REQUEST_ID = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
_ALL_ROLES = frozenset(Role)


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries: problem documents with these statuses."""
    return {code: {"model": Problem, "description": DESCRIPTIONS[code]} for code in codes}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` (and so /openapi.json) serve the completed document."""
    generate = app.openapi
    completed: list[int] = []

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI until the routes change
        if id(document) not in completed:
            complete(app, document)
            completed[:] = [id(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def complete(app: FastAPI, document: dict[str, Any]) -> None:
    parts = document.setdefault("components", {})
    parts.setdefault("headers", {})["X-Request-ID"] = _REQUEST_ID_HEADER
    components = parts.setdefault("schemas", {})
    if "Problem" not in components:
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        roles = route_roles(route)
        for method in context.methods or ():
            operation = document["paths"].get(context.path_format, {}).get(method.lower())
            if operation is None:
                continue
            implied = []
            if roles:
                implied.append(401)
                if roles != _ALL_ROLES:
                    implied.append(403)
            parameters = operation.get("parameters", [])
            if any(p.get("in") == "path" for p in parameters):
                implied.append(404)
            if "requestBody" in operation:
                implied += [400, 413]
            if parameters or "requestBody" in operation:
                implied.append(422)
            implied.append(500)
            responses = operation["responses"]
            for code in implied:
                responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
            for code, response in responses.items():
                _complete_response(int(code), response)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def _complete_response(code: int, response: dict[str, Any]) -> None:
    response["headers"] = {**_REQUEST_ID, **_HEADERS.get(code, {}), **response.get("headers", {})}
    if code < 400:
        return
    content = response.get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if not content or schema.get("$ref", "").endswith(("/Problem", "/HTTPValidationError")):
        response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
        if response.get("description") == "Validation Error":  # FastAPI's own words
            response["description"] = DESCRIPTIONS[code]
