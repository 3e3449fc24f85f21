"""`tot serve`: the API on uvicorn (uvloop, httptools), configured from the environment."""

from __future__ import annotations

import gc
import logging

from api.app import create_app
from services.runtime import Runtime, RuntimeConfig
from tot.settings import Settings

log = logging.getLogger(__name__)


def runtime_config(settings: Settings) -> RuntimeConfig:
    return RuntimeConfig(
        osm_path=settings.osm_path,
        graph_cache_dir=settings.graph_cache_dir,
        database_url=settings.database_url,
        sqlite_path=settings.sqlite_path,
        jwt_secret=settings.jwt_secret,
        access_token_ttl_s=settings.access_token_ttl_s,
        refresh_token_ttl_s=settings.refresh_token_ttl_s,
        redis_url=settings.redis_url,
        max_snap_distance_m=settings.max_snap_distance_m,
        admin_email=settings.admin_email,
        admin_password=settings.admin_password,
        argon2_time_cost=settings.argon2_time_cost,
        argon2_memory_kib=settings.argon2_memory_kib,
        login_rate_per_min=settings.login_rate_per_min,
        booking_rate_per_min=settings.booking_rate_per_min,
        booking_rate_per_ip_per_min=settings.booking_rate_per_ip_per_min,
    )


def app_from_environment():  # type: ignore[no-untyped-def]
    """An ASGI app built from the environment (for `uvicorn --factory tot.server:app_from_environment`)."""
    settings = Settings()
    config = runtime_config(settings)

    async def start() -> Runtime:
        runtime = await Runtime.start(config)
        # The start-up heap (graph, indexes) never dies: keep the collector off it, so
        # its pauses do not land on requests.
        gc.collect()
        gc.freeze()
        return runtime

    return create_app(start, cors_origins=settings.cors_origins)


def serve(settings: Settings) -> None:
    import uvicorn

    if settings.env == "development" and settings.jwt_secret.startswith("tot-development"):
        log.warning("using the development JWT secret; set TOT_JWT_SECRET for anything real")
    uvicorn.run(
        "tot.server:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )
