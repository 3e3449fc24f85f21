"""Every error as an RFC 9457 problem document (application/problem+json)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from matching import FixRejection
from payments.ports import ProviderRejectedError, ProviderUnavailableError, StaleVersionError
from services.auth import AuthError, ConflictError, ForbiddenError, NotFoundError
from services.bookings import InvalidRequestError
from services.doctors import FixRefusedError
from services.errors import StorageUnavailableError, TooLargeError, UnsupportedMediaError
from services.idempotency import IdempotencyMismatchError
from storage.errors import is_unavailable

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Content", 429: "Too Many Requests",
    500: "Internal Server Error", 503: "Service Unavailable",
}  # fmt: skip


# A fix the schema allows may still clash with what the registry holds for the doctor: a
# newer fix, a position too far to reach since, a time ahead of the server's clock.
FIX_CONFLICTS = frozenset(
    {
        FixRejection.OUT_OF_ORDER,
        FixRejection.IMPLAUSIBLE_JUMP,
        FixRejection.FROM_THE_FUTURE,
        FixRejection.UNKNOWN_DOCTOR,
    }
)


class TooManyRequestsError(Exception):
    def __init__(self, retry_after_s: float, detail: str) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


def problem(
    request: Request,
    status: int,
    detail: str | None,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request.scope.get("tot.request_id"),
    }
    if errors is not None:
        body["errors"] = errors
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def _safe_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", ""))[:300],
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()[:20]
    ]


def allowed_methods(request: Request) -> list[str]:
    """The methods of the resource Starlette matched (the first route whose path fits),
    from every route declared at that same path: Starlette names only the one route's."""
    methods: set[str] = set()
    matched_path = None
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match is Match.NONE or matched_path not in (None, route.path):
            continue
        matched_path = route.path
        methods |= route.methods or set()
    return sorted(methods)


def install(app: FastAPI) -> None:
    simple: dict[type[Exception], int] = {
        AuthError: 401,
        ForbiddenError: 403,
        NotFoundError: 404,
        ConflictError: 409,
        InvalidRequestError: 422,
        IdempotencyMismatchError: 422,
        TooLargeError: 413,
        UnsupportedMediaError: 415,
    }
    for exc_type, status in simple.items():

        async def handler(request: Request, exc: Exception, status: int = status) -> Response:
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return problem(request, status, str(exc), headers=headers)

        app.add_exception_handler(exc_type, handler)

    async def too_many(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TooManyRequestsError)
        retry = max(1, int(exc.retry_after_s + 0.999))
        return problem(request, 429, str(exc), headers={"Retry-After": str(retry)})

    async def validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem(
            request, 422, "the request does not match the schema", errors=_safe_errors(exc)
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem(request, exc.status_code, str(exc.detail), headers=headers)

    async def unavailable(request: Request, exc: Exception) -> Response:
        retry = exc.retry_after_s if isinstance(exc, StorageUnavailableError) else 2.0
        return problem(
            request,
            503,
            str(exc)
            if isinstance(exc, StorageUnavailableError)
            else "storage cannot be reached just now; retry shortly",
            headers={"Retry-After": str(max(1, int(retry + 0.999)))},
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        if is_unavailable(exc):  # the database went away under a read: not our bug
            log.warning("storage unreachable on %s %s: %s", request.method, request.url.path, exc)
            response = await unavailable(request, exc)
            request_id = request.scope.get("tot.request_id")
            if request_id:
                response.headers["X-Request-ID"] = request_id
            return response
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Starlette answers this one outside every middleware: add the request id here.
        request_id = request.scope.get("tot.request_id")
        headers = {"X-Request-ID": request_id} if request_id else None
        return problem(request, 500, "an unexpected error; it has been logged", headers=headers)

    async def fix_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FixRefusedError)
        status = 409 if exc.reason in FIX_CONFLICTS else 422
        return problem(request, status, str(exc))

    async def provider_down(request: Request, exc: Exception) -> Response:
        return problem(
            request,
            503,
            "the payment provider is not answering just now; nothing was charged twice: "
            "retry shortly",
            headers={"Retry-After": "5"},
        )

    async def provider_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProviderRejectedError)
        return problem(request, 409, f"the payment provider refused: {exc.code}")

    async def stale(request: Request, exc: Exception) -> Response:
        return problem(request, 409, "changed meanwhile by someone else: look again and retry")

    app.add_exception_handler(ProviderUnavailableError, provider_down)
    app.add_exception_handler(ProviderRejectedError, provider_refused)
    app.add_exception_handler(StaleVersionError, stale)
    app.add_exception_handler(FixRefusedError, fix_refused)
    app.add_exception_handler(TooManyRequestsError, too_many)
    app.add_exception_handler(StorageUnavailableError, unavailable)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
