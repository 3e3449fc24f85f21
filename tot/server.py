"""`tot serve`: the API on uvicorn (uvloop, httptools), configured from the environment."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Awaitable, Callable

from api.app import create_app
from realtime_gateway.server import Gateway, GatewayPolicy
from services.runtime import Runtime, RuntimeConfig
from tot.settings import Settings

log = logging.getLogger(__name__)


def runtime_config(settings: Settings) -> RuntimeConfig:
    if settings.env == "production" and settings.payments_provider == "sandbox":
        logging.getLogger("tot").warning(
            "payments run on the sandbox provider: no money moves (set "
            "TOT_PAYMENTS_PROVIDER=yookassa with the shop id and secret key)"
        )
    return RuntimeConfig(
        osm_path=settings.osm_path,
        graph_cache_dir=settings.graph_cache_dir,
        database_url=settings.database_url,
        sqlite_path=settings.sqlite_path,
        jwt_secret=settings.jwt_secret,
        access_token_ttl_s=settings.access_token_ttl_s,
        refresh_token_ttl_s=settings.refresh_token_ttl_s,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        max_snap_distance_m=settings.max_snap_distance_m,
        admin_email=settings.admin_email,
        admin_password=settings.admin_password,
        argon2_time_cost=settings.argon2_time_cost,
        argon2_memory_kib=settings.argon2_memory_kib,
        login_rate_per_min=settings.login_rate_per_min,
        booking_rate_per_min=settings.booking_rate_per_min,
        booking_rate_per_ip_per_min=settings.booking_rate_per_ip_per_min,
        geocoder=settings.geocoder,
        nominatim_url=settings.nominatim_url,
        yandex_geocoder_key=(
            settings.yandex_geocoder_key.get_secret_value()
            if settings.yandex_geocoder_key
            else None
        ),
        geocoder_contact=settings.geocoder_contact,
        geocode_rate_per_min=settings.geocode_rate_per_min,
        preload_geocoder=True,
        documents_dir=settings.documents_dir,
        max_document_bytes=settings.max_document_bytes,
        payments_provider=settings.payments_provider,
        yookassa_shop_id=settings.yookassa_shop_id,
        yookassa_secret_key=(
            settings.yookassa_secret_key.get_secret_value()
            if settings.yookassa_secret_key
            else None
        ),
        yookassa_url=settings.yookassa_url,
        yookassa_networks=tuple(settings.yookassa_networks or ()),
        public_url=settings.public_url,
        sandbox_confirm_after_s=settings.sandbox_confirm_after_s or None,
    )


GC_YOUNG_THRESHOLD = 2_000  # allocations between young collections (CPython: 700)
GC_FREEZE_EVERY_S = 1.0  # short: each sweep walks only the last second's survivors
GC_FULL_EVERY_S = 900.0


def keep_the_collector_off_the_heap() -> Callable[[], Awaitable[None]]:
    """Tune CPython's cyclic collector for a server holding thousands of sockets.

    What a connection keeps (tasks, futures, frames, buffers) lives as long as the
    socket; left to the collector, every full collection walks all of it: with 12,500
    sockets that was a pause of about a second every 5-7 s (benchmarks/gateway.py). So
    every GC_FREEZE_EVERY_S whatever is tracked is frozen (O(1)), out of every later
    walk: full collections then walk only the last second's survivors. Young collections
    (small, frequent) still reclaim short-lived cycles before they are frozen; the few
    that slip through are reclaimed every GC_FULL_EVERY_S, when everything is thawed and
    swept once (that one pause grows with the sockets held: about a second at 12,500).
    Most garbage here is freed by reference counting anyway. (Sweeping the young
    generations before each freeze cost ~90 ms a second at 5,000 positions/s.)
    """
    import asyncio

    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)

    trim = _malloc_trim()
    trim_every_s = float(os.environ.get("TOT_MALLOC_TRIM_EVERY_S", "60"))

    async def sweep_and_freeze() -> None:
        loop = asyncio.get_running_loop()
        full_at = loop.time() + GC_FULL_EVERY_S
        trim_at = loop.time() + trim_every_s
        while True:
            await asyncio.sleep(GC_FREEZE_EVERY_S)
            if loop.time() >= full_at:
                full_at = loop.time() + GC_FULL_EVERY_S
                gc.unfreeze()
                gc.collect()
            gc.freeze()  # O(1): young cycles were already swept by the young collections
            if trim is not None and loop.time() >= trim_at:
                trim_at = loop.time() + trim_every_s
                trim(0)  # hand the C heap's free pages back to the system

    task = asyncio.get_running_loop().create_task(sweep_and_freeze(), name="gc-freeze")

    async def stop() -> None:
        task.cancel()

    return stop


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, which returns free memory at the top and in the middle of the
    heap to the system (elsewhere, or not glibc: None)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    trim: Callable[[int], int] = function
    return trim


def demo_app_from_environment():  # type: ignore[no-untyped-def]
    """The engine with a simulated city (`tot demo`), configured by TOT_DEMO_* variables."""
    return app_from_environment(demo=True)


def app_from_environment(*, demo: bool = False):  # type: ignore[no-untyped-def]
    """An ASGI app built from the environment (for `uvicorn --factory tot.server:app_from_environment`)."""
    settings = Settings()
    config = runtime_config(settings)

    async def start() -> Runtime:
        runtime = await Runtime.start(config)
        gateway = Gateway(
            runtime.auth,
            runtime.bus,
            realtime=runtime.realtime,
            policy=GatewayPolicy(
                origins=tuple(settings.ws_origins or settings.cors_origins),
                page_port=settings.port,
                doctor_silence_s=settings.doctor_silence_s,
            ),
        )
        await gateway.start(settings.host, settings.ws_port)
        runtime.on_stop.append(gateway.stop)
        runtime.ops.websocket_connections = lambda: len(gateway.clients)
        if demo:
            from tot.demo import CityDemo, demo_config_from_environment

            city = CityDemo(runtime, demo_config_from_environment())
            await city.start()
            runtime.on_stop.append(city.stop)
        log.warning(
            "TOT engine: API on http://%s:%d/api/v1 (docs at /docs), WebSockets on ws://%s:%d/ws/",
            settings.host, settings.port, settings.host, settings.ws_port,
        )  # fmt: skip
        # The start-up heap (graph, indexes) never dies: keep the collector off it, so
        # its pauses do not land on requests; and keep doing so for what lives long later.
        gc.collect()
        gc.freeze()
        runtime.on_stop.append(keep_the_collector_off_the_heap())
        return runtime

    app = create_app(
        start, cors_origins=settings.cors_origins, max_upload_bytes=settings.max_document_bytes
    )
    app.state.ws_port = settings.ws_port  # the pages open their WebSockets there
    return app


def serve(settings: Settings, *, demo: bool = False) -> None:
    import uvicorn

    if settings.env == "development" and settings.jwt_secret.startswith("tot-development"):
        log.warning("using the development JWT secret; set TOT_JWT_SECRET for anything real")
    uvicorn.run(
        "tot.server:demo_app_from_environment" if demo else "tot.server:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


async def run_gateway(settings: Settings) -> None:
    """An extra gateway process: WebSockets only, the engine reached through Redis."""
    import asyncio
    import signal

    from services.auth import AuthService, NotFoundError, Principal, TokenPolicy
    from services.bus import Bus
    from services.database import require_current_schema
    from storage.postgis import PostgisBookingStore
    from storage.postgis_accounts import PostgisAccountStore
    from storage.redis_bus import RedisBus

    if not settings.redis_url or not settings.database_url:
        raise RuntimeError("an extra gateway needs REDIS_URL and DATABASE_URL (the engine's)")
    await require_current_schema(settings.database_url)
    accounts = await PostgisAccountStore.connect(settings.database_url)
    bookings = await PostgisBookingStore.connect(settings.database_url, min_size=1, max_size=4)
    import time

    bus: Bus = RedisBus(settings.redis_url, settings.redis_prefix, engine=False)
    auth = AuthService(accounts, TokenPolicy(settings.jwt_secret), time.time)

    async def watch(who: Principal, booking_id: str) -> dict[str, object]:
        from accounts import Role
        from dispatch_core.model import WITH_DOCTOR

        booking = await bookings.load(booking_id)
        if booking is None or not (
            booking.patient_id == who.user_id or who.role in (Role.OPERATOR, Role.ADMIN)
        ):
            raise NotFoundError(f"no booking {booking_id!r}")
        bound = booking.status in WITH_DOCTOR
        return {
            "type": "snapshot", "booking_id": booking_id, "status": booking.status.value,
            "doctor_id": booking.doctor_id if bound else None,
        }  # fmt: skip

    await bus.start()
    import os

    gateway = Gateway(
        auth,
        bus,
        watch=watch,
        policy=GatewayPolicy(
            origins=tuple(settings.ws_origins or settings.cors_origins),
            page_port=settings.port,
            doctor_silence_s=settings.doctor_silence_s,
            heartbeat_every_s=float(os.environ.get("TOT_GATEWAY_HEARTBEAT_S", "10")),
        ),
    )
    await gateway.start(settings.host, settings.ws_port)
    log.warning("TOT gateway on ws://%s:%d/ws/ (engine via Redis)", settings.host, gateway.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await gateway.stop()
    await bus.close()
    await bookings.close()
    await accounts.close()
