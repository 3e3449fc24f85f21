"""The OpenAPI document, complete: every answer an operation can give is declared, errors
as RFC 9457 problem documents (application/problem+json), with the headers they carry.

Routes declare the errors their handlers and services raise (`responses=problems(...)`);
what follows from a route's shape is added here for all of them alike: 401 and 403 from
its declared roles, 404 from path parameters, 422 from any input, 400 and 413 from a
body, 500 everywhere; the X-Request-ID header on every response, WWW-Authenticate on
401s and Retry-After on 429s. FastAPI's own 422 schema (HTTPValidationError) is not what
this API sends, so it goes."""

from __future__ import annotations

import copy
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
    415: "the file is not of an accepted type (read from its bytes) or not sent as asked",
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


# The one refusal of schema-valid data that depends on the map the server routes on (the
# operations that declare it are exempt from "valid data is accepted" in schemathesis.toml).
OFF_THE_MAP = (
    "a point in the request cannot be served: it is farther than the snap limit "
    "(TOT_MAX_SNAP_DISTANCE_M, 1 km by default) from every drivable road of the map this "
    "server routes on. Which points those are depends on the map, which no schema can say"
)
# The one refusal of a schema-valid upload: what a file is, read from its first bytes,
# which no schema can say (the operation is exempt from "valid data is accepted" for this
# status alone in schemathesis.toml).
NOT_A_SCAN = (
    "the file is not a PDF, JPEG or PNG by its first bytes (whatever the request calls "
    "it; an empty file is none of them), or the body is not multipart/form-data"
)
# A position fix the schema allows may clash with what is known of the doctor already.
FIX_CONFLICT = (
    "conflicts with the doctor's current state: not on shift, or the fix is older than the "
    "last one, implies an impossible speed from it, or is dated more than 30 s ahead of "
    "the server's clock"
)


def problems(
    *codes: int, described: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries: problem documents with these statuses (and descriptions of
    their own where `described` says)."""
    words = {**DESCRIPTIONS, **(described or {})}
    return {
        code: {"model": Problem, "description": words[code]}
        for code in sorted({*codes, *(described or {})})
    }


# OpenAPI links: what one answer gives the next request (ids, tokens). They tell clients
# how the operations connect, and schemathesis's stateful phase follows them.
def _booking_links(expression: str, *names: str) -> dict[str, dict[str, Any]]:
    targets = {
        "GetBooking": "get_booking", "CancelBooking": "cancel_booking",
        "PostMessage": "post_message", "ReportProgress": "progress",
        "ExplainDecision": "decision", "AssignDoctor": "assign",
        "ReturnToSearch": "return_to_search", "CancelForPatient": "cancel",
        "ChangePriority": "priority",
    }  # fmt: skip
    links: dict[str, dict[str, Any]] = {
        name: {"operationId": target, "parameters": {"booking_id": expression}}
        for name, target in targets.items()
        if not names or name in names
    }
    if not names or "AuditOfBooking" in names:
        links["AuditOfBooking"] = {
            "operationId": "audit",
            "parameters": {"target_type": "booking", "target_id": expression},
        }
    return links


def _user_links(expression: str) -> dict[str, dict[str, Any]]:
    links: dict[str, dict[str, Any]] = {
        name: {"operationId": target, "parameters": {"user_id": expression}}
        for name, target in {
            "GetUser": "get_user", "ChangeRole": "change_role", "BlockUser": "block",
            "UnblockUser": "unblock",
        }.items()
    }  # fmt: skip
    links.update(_doctor_links(expression))
    links["AuditOfUser"] = {
        "operationId": "audit",
        "parameters": {"target_type": "user", "target_id": expression},
    }
    return links


def _doctor_links(expression: str) -> dict[str, dict[str, Any]]:
    return {
        name: {"operationId": target, "parameters": {"doctor_id": expression}}
        for name, target in {
            "DoctorProfile": "doctor_profile", "VerifyDoctor": "verify",
            "DoctorDocuments": "documents",
        }.items()
    }  # fmt: skip


def _token_links() -> dict[str, dict[str, Any]]:
    body = {"refresh_token": "$response.body#/refresh_token"}
    return {
        "Refresh": {"operationId": "refresh", "requestBody": body},
        "Logout": {"operationId": "logout", "requestBody": body},
    }


# A booking's id leads its patient and the staff anywhere; its doctor only once assigned
# (to anyone else, another's booking is "not found"), so the patient's creation does not
# link to the doctor's report of progress.
_PATIENT_AND_STAFF = ("GetBooking", "CancelBooking", "PostMessage", "ExplainDecision",
                      "AssignDoctor", "ReturnToSearch", "CancelForPatient", "ChangePriority",
                      "AuditOfBooking")  # fmt: skip

LINKS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("create_booking", "201"): _booking_links("$response.body#/id", *_PATIENT_AND_STAFF),
    ("get_booking", "200"): _booking_links("$response.body#/id"),
    ("list_bookings", "200"): _booking_links("$response.body#/bookings/0/id"),
    ("live_bookings", "200"): _booking_links("$response.body#/bookings/0/id"),
    ("accept_offer", "200"): _booking_links("$response.body#/id"),
    ("progress", "200"): _booking_links("$response.body#/id", "ReportProgress", "GetBooking"),
    ("assign", "200"): _booking_links("$response.body#/id"),
    ("my_offers", "200"): {
        "AcceptOffer": {
            "operationId": "accept_offer",
            "parameters": {"offer_id": "$response.body#/0/offer_id"},
        },
        "DeclineOffer": {
            "operationId": "decline_offer",
            "parameters": {"offer_id": "$response.body#/0/offer_id"},
        },
        **_booking_links("$response.body#/0/booking_id", "GetBooking"),
    },
    ("register_patient", "201"): _user_links("$response.body#/id"),
    ("register_doctor", "201"): _user_links("$response.body#/id"),
    ("create_user", "201"): _user_links("$response.body#/id"),
    ("get_user", "200"): _user_links("$response.body#/id"),
    ("users", "200"): _user_links("$response.body#/users/0/id"),
    ("me", "200"): _user_links("$response.body#/id"),
    ("start_shift", "200"): _doctor_links("$response.body#/doctor_id"),
    ("live_doctors", "200"): _doctor_links("$response.body#/doctors/0/doctor_id"),
    ("login", "200"): _token_links(),
    ("refresh", "200"): _token_links(),
}


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
                links = LINKS.get((operation.get("operationId", ""), code))
                if links is not None:
                    response["links"] = copy.deepcopy(links)  # readers may change theirs
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
