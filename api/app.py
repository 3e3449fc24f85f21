"""The FastAPI application: routers under /api/v1, problem documents for errors, a
request id on every response, CORS from settings."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response

from accounts import MAX_DOCUMENT_BYTES
from api import errors, openapi
from api.docs import install_docs
from api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from api.pages import install_pages
from api.routes import (
    admin,
    asyncapi,
    auth,
    bookings,
    clinics,
    doctors,
    emergency,
    geocode,
    operators,
    payments,
    tiles,
)
from api.routes import map as map_routes  # "map" alone would shadow the builtin
from api.schemas import Health
from api.security import RuntimeDep, public
from services.runtime import Runtime

API_PREFIX = "/api/v1"
UPLOAD_PATH = re.compile(rf"{API_PREFIX}/doctors/me/documents/[^/]+/file")
MULTIPART_OVERHEAD = 16 * 1024


def create_app(
    start_runtime: Callable[[], Awaitable[Runtime]],
    *,
    cors_origins: list[str] | None = None,
    max_body_bytes: int = 64 * 1024,
    max_upload_bytes: int = MAX_DOCUMENT_BYTES,
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
        # Our own /docs and /redoc (api.docs): FastAPI's load their assets from a CDN.
        docs_url=None,
        redoc_url=None,
        # Operation ids are the handlers' names (unique; a test holds them so): short,
        # stable, and what the OpenAPI links name.
        generate_unique_id_function=lambda route: route.name,
    )
    errors.install(app)
    openapi.install(app)
    api = APIRouter(prefix=API_PREFIX)
    for module in (auth, bookings, doctors, operators, admin, map_routes):
        api.include_router(module.router)
    api.include_router(tiles.api_router)  # /api/v1/map/info
    api.include_router(geocode.router)
    api.include_router(emergency.router)  # /emergency/contacts
    api.include_router(clinics.router)  # /clinics
    api.include_router(payments.router)  # payments, prices, finance, refunds
    api.include_router(clinics.admin_router)  # /admin/stats (beside routes/admin.py's)
    api.include_router(clinics.auth_router)  # /auth/invitations/accept
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
        responses={503: {"model": Health, "description": "storage does not answer"}},
    )
    app.include_router(api)
    app.include_router(asyncapi.router)  # /asyncapi.json and its reader, /docs/asyncapi
    app.include_router(tiles.router)  # /tiles/{z}/{x}/{y}.mvt, /map/style.json, /map/fonts/...
    install_docs(app)
    install_pages(app)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Idempotent-Replayed"],
        )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=max_body_bytes,
        # A scan upload: the file and its multipart wrapping.
        larger=((UPLOAD_PATH, max_upload_bytes + MULTIPART_OVERHEAD),),
    )
    app.add_middleware(RequestIdMiddleware)
    return app


async def health() -> Health:
    return Health(status="ok")


async def ready(runtime: RuntimeDep, request: Request) -> Response:
    """Ready when storage answers within a second and the engine's writer is not waiting
    for it (after a restart of the database, until the pool reconnects)."""
    checks = {}
    try:
        async with asyncio.timeout(1.0):
            await runtime.accounts.user("-readiness-probe-")
        checks["storage"] = "ok"
    except TimeoutError:
        checks["storage"] = "error: no answer within 1 s"
    except Exception as exc:  # report, do not crash: this is the probe's whole job
        checks["storage"] = f"error: {type(exc).__name__}"
    if checks["storage"] == "ok" and not runtime.engine.storage_available:
        checks["storage"] = "error: the engine's writes are waiting for storage"
    checks["road_graph"] = f"{runtime.router.graph.node_count} nodes"
    ok = checks["storage"] == "ok"
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return Response(
        body.model_dump_json(),
        status_code=200 if ok else 503,
        media_type="application/json",
        headers=None if ok else {"Retry-After": "2"},
    )
