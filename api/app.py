"""The FastAPI application: routers under /api/v1, problem documents for errors, a
request id on every response, CORS from settings."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response

from api import errors
from api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from api.routes import admin, auth, bookings, doctors, operators
from api.schemas import Health
from api.security import RuntimeDep, public
from services.runtime import Runtime

API_PREFIX = "/api/v1"


def create_app(
    start_runtime: Callable[[], Awaitable[Runtime]],
    *,
    cors_origins: list[str] | None = None,
    max_body_bytes: int = 64 * 1024,
) -> FastAPI:
    """The app; `start_runtime` builds the engine when the server starts (lifespan)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = await start_runtime()
        try:
            yield
        finally:
            await app.state.runtime.stop()

    app = FastAPI(
        title="TOT dispatch API",
        version="1.0.0",
        description="Doctors to patients' homes: accounts, bookings, doctors' shifts, "
        "operators' overrides. Errors are RFC 9457 problem documents.",
        lifespan=lifespan,
        responses={
            401: {"model": errors_model(), "description": "no valid access token"},
            403: {"model": errors_model(), "description": "not allowed for this role"},
            404: {"model": errors_model(), "description": "no such thing, or not yours"},
            422: {"model": errors_model(), "description": "invalid request"},
            429: {"model": errors_model(), "description": "rate limited; see Retry-After"},
        },
    )
    errors.install(app)
    api = APIRouter(prefix=API_PREFIX)
    for module in (auth, bookings, doctors, operators, admin):
        api.include_router(module.router)
    api.add_api_route(
        "/health",
        health,
        methods=["GET"],
        dependencies=[Depends(public())],
        tags=["health"],
        summary="Liveness",
    )
    api.add_api_route(
        "/ready",
        ready,
        methods=["GET"],
        dependencies=[Depends(public())],
        tags=["health"],
        summary="Readiness: storage answers",
        responses={503: {"model": Health}},
    )
    app.include_router(api)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Idempotent-Replayed"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app


def errors_model() -> type:
    from api.schemas import Problem

    return Problem


async def health() -> Health:
    return Health(status="ok")


async def ready(runtime: RuntimeDep, request: Request) -> Response:
    checks = {}
    try:
        await runtime.accounts.user("-readiness-probe-")
        checks["storage"] = "ok"
    except Exception as exc:  # report, do not crash: this is the probe's whole job
        checks["storage"] = f"error: {type(exc).__name__}"
    checks["road_graph"] = f"{runtime.router.graph.node_count} nodes"
    ok = checks["storage"] == "ok"
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return Response(
        body.model_dump_json(), status_code=200 if ok else 503, media_type="application/json"
    )
