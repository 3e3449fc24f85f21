"""The composition root: builds the engine, its stores and services from settings, and
runs the background work (the dispatch clock, the audit and location writers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from accounts import MAX_DOCUMENT_BYTES, AccountStore, Role, User
from clinics import ClinicStore
from dispatch_core import DispatchPolicy
from dispatch_core.messages import Event, MarkDoctorOffline, StatusChanged, Tick
from dispatch_core.ports import OUTBOX_TOPICS, BookingListing
from matching import DoctorRegistry, Matcher, MatchingPolicy
from payments.ports import PaymentProvider, PaymentStore
from routing import Router
from services.admin import AdminService
from services.audit import AuditTrail
from services.auth import AuthService, TokenPolicy, new_id
from services.bookings import BookingService
from services.bus import Bus, InProcessBus
from services.clinics import ClinicService
from services.dispatch import MatcherCandidates
from services.doctors import DoctorService
from services.engine import Engine, Stores, open_stores
from services.geocoding import GeocodingConfig, GeocodingService
from services.idempotency import Idempotency
from services.moderation import ModerationService
from services.operations import Operations
from services.payments import PaymentsConfig, PaymentService
from services.realtime import Realtime, RealtimePolicy
from services.road_network import open_router
from storage.file_store import LocalFileStore
from storage.locations import LocationFix, LocationIngest
from storage.payment_sandbox import SandboxProvider
from storage.rate_limit import (
    LocalRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    rate_limit_redis_client,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """What the runtime needs, whatever reads it (tot.settings in the CLI, tests directly)."""

    osm_path: Path
    graph_cache_dir: Path
    database_url: str | None
    sqlite_path: Path
    jwt_secret: str
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    redis_url: str | None = None
    redis_prefix: str = "tot:"
    max_snap_distance_m: float = 1_000.0
    admin_email: str | None = None
    admin_password: str | None = None
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    dispatch_policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    matching_policy: MatchingPolicy = field(default_factory=MatchingPolicy)
    tick_max_interval_s: float = 1.0
    realtime_policy: RealtimePolicy = field(default_factory=RealtimePolicy)
    login_rate_per_min: int = 10  # per IP and per e-mail
    booking_rate_per_min: int = 30  # per account
    booking_rate_per_ip_per_min: int = 120
    geocoder: str = "offline"  # offline | nominatim | yandex
    nominatim_url: str | None = None
    yandex_geocoder_key: str | None = field(default=None, repr=False)
    geocoder_contact: str | None = None
    geocode_rate_per_min: int = 300  # per account: address search as one types
    preload_geocoder: bool = False  # build the offline index at start (tot serve)
    documents_dir: Path | None = None  # doctors' scans; None: "documents" beside the SQLite file
    max_document_bytes: int = MAX_DOCUMENT_BYTES
    payments_provider: str = "sandbox"  # sandbox | yookassa
    yookassa_shop_id: str | None = None
    yookassa_secret_key: str | None = field(default=None, repr=False)
    yookassa_url: str = "https://api.yookassa.ru/v3"
    yookassa_networks: tuple[str, ...] = ()  # empty: YooKassa's published ranges
    public_url: str = "http://127.0.0.1:8000"
    sandbox_confirm_after_s: float | None = 3.0  # the sandbox's payer confirms this soon


@dataclass
class Runtime:
    config: RuntimeConfig
    clock: Callable[[], float]
    stores: Stores
    accounts: AccountStore
    router: Router
    registry: DoctorRegistry
    candidates: MatcherCandidates
    engine: Engine
    auth: AuthService
    audit: AuditTrail
    idempotency: Idempotency
    bookings: BookingService
    doctors: DoctorService
    locations: LocationIngest
    rate_limiter: RateLimiter
    bus: Bus
    realtime: Realtime
    geocoding: GeocodingService
    admin: AdminService
    clinics: ClinicService
    moderation: ModerationService
    ops: Operations
    payments: PaymentService
    redis: Any = None
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _wake_clock: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def start(
        cls,
        config: RuntimeConfig,
        *,
        clock: Callable[[], float] = time.time,
        router: Router | None = None,
        geocoding: GeocodingService | None = None,
    ) -> Runtime:
        if router is None:
            router, _ = open_router(
                config.osm_path,
                config.graph_cache_dir,
                max_snap_distance_m=config.max_snap_distance_m,
            )
        stores = await open_stores(config.database_url, config.sqlite_path)
        accounts = await _open_accounts(config)
        registry = DoctorRegistry(router.projection, config.matching_policy)
        candidates = MatcherCandidates(Matcher(registry, router))
        engine, _ = await Engine.recover(
            candidates, stores.bookings, clock(), config.dispatch_policy
        )
        engine.forgotten.append(candidates.forget)  # finished: its decision goes too
        hasher = PasswordHasher(
            time_cost=config.argon2_time_cost, memory_cost=config.argon2_memory_kib
        )
        auth = AuthService(
            accounts,
            TokenPolicy(
                config.jwt_secret,
                access_ttl_s=config.access_token_ttl_s,
                refresh_ttl_s=config.refresh_token_ttl_s,
            ),
            clock,
            hasher,
        )
        await auth.load_blocked()
        audit = AuditTrail(accounts, clock)
        locations = LocationIngest(stores.locations)
        listing: BookingListing = stores.bookings  # type: ignore[assignment]
        redis_client = None
        limiter: RateLimiter
        bus: Bus
        if config.redis_url:
            from storage.redis_bus import RedisBus

            redis_client = rate_limit_redis_client(config.redis_url)
            limiter = RedisRateLimiter(
                redis_client, f"{config.redis_prefix}rl:", fallback=LocalRateLimiter()
            )
            bus = RedisBus(config.redis_url, config.redis_prefix, engine=True)
        else:
            limiter = LocalRateLimiter()
            bus = InProcessBus()
        clinic_store = await _open_clinics(config)
        payments = PaymentService(
            await open_payment_store(config), open_payment_provider(config), stores.bookings,  # type: ignore[arg-type]
            stores.bookings, accounts, clinic_store, audit, clock,
            PaymentsConfig(
                return_url_base=config.public_url.rstrip("/"),
                webhook_networks=config.yookassa_networks,
            ),
        )  # fmt: skip
        if isinstance(payments.provider, SandboxProvider):
            payments.provider.notify = payments.handle_notification
        bookings = BookingService(
            engine, stores.bookings, listing, accounts, candidates, audit, clock, payments
        )
        doctors = DoctorService(
            accounts, registry, engine, clock, runtime_fix_sink(locations), stores.locations
        )
        clinics = ClinicService(
            clinic_store, accounts, auth, registry, engine, doctors, listing,
            audit, clock,
        )  # fmt: skip
        runtime = cls(
            config=config,
            clock=clock,
            stores=stores,
            accounts=accounts,
            router=router,
            registry=registry,
            candidates=candidates,
            engine=engine,
            auth=auth,
            audit=audit,
            idempotency=Idempotency(accounts, clock),
            bookings=bookings,
            doctors=doctors,
            locations=locations,
            rate_limiter=limiter,
            bus=bus,
            realtime=Realtime(
                engine, bookings, doctors, registry, router, bus, clock, config.realtime_policy
            ),
            geocoding=geocoding or GeocodingService(geocoding_config(config)),
            admin=AdminService(accounts, auth, clock),
            clinics=clinics,
            moderation=ModerationService(
                accounts,
                LocalFileStore(config.documents_dir or config.sqlite_path.parent / "documents"),
                audit,
                clock,
                max_bytes=config.max_document_bytes,
            ),
            ops=Operations(
                accounts, engine, registry, lambda: doctors.on_shift.keys(), audit, clock,
                storage="postgis" if config.database_url else "sqlite",
                bus="redis" if config.redis_url else "memory", redis=redis_client,
            ),
            redis=redis_client,
            payments=payments,
        )  # fmt: skip
        await runtime.ops.load_settings()
        await runtime._ensure_admin()
        await clinics.load_areas()  # before any decision: areas bound the candidates
        await runtime._restore_doctors()
        audit.start()
        await bus.start()
        runtime.realtime.start()
        engine.listeners.append(_wake_payments(payments))
        payments.start()
        runtime._tasks.append(asyncio.create_task(locations.run(), name="location-ingest"))
        runtime._tasks.append(asyncio.create_task(runtime._run_clock(), name="dispatch-clock"))
        if config.preload_geocoder:
            runtime._tasks.append(
                asyncio.create_task(runtime.geocoding.preload(), name="geocoder-preload")
            )
        return runtime

    async def _ensure_admin(self) -> None:
        email, password = self.config.admin_email, self.config.admin_password
        if not email or not password:
            return
        if await self.accounts.user_by_email(email.lower()) is not None:
            return
        now = self.clock()
        await self.auth.register(
            User(new_id(), email, "", Role.ADMIN, now, now, first_name="Admin", is_verified=True),
            password,
        )
        log.info("created the first admin account %s", email)

    async def _restore_doctors(self) -> None:
        """After a restart: shifts as stored, last known positions, and every doctor on
        shift or bound to a booking offline until their app reconnects (the core then
        counts the grace for their visits, and offers them nothing meanwhile)."""
        restored = await self.doctors.restore_shifts(await self.stores.locations.last_known())
        bound = set(self.engine.core.doctor_booking)
        for doctor_id in sorted(set(restored) | bound):
            await self.engine.handle(MarkDoctorOffline(doctor_id), self.clock())
        if restored or bound:
            log.info(
                "restored %d shifts; %d doctors bound to open bookings", len(restored), len(bound)
            )

    async def _run_clock(self) -> None:
        """Send the core a Tick when something is due (offer expiries, retries, give-ups),
        and at least every tick_max_interval_s while bookings are open."""
        core = self.engine.core
        while True:
            deadline = core.next_deadline_s()
            now = self.clock()
            wait = self.config.tick_max_interval_s
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.05)):
                    await self._wake_clock.wait()
            self._wake_clock.clear()
            if not core.bookings:
                continue
            try:
                await self.engine.handle(Tick(), self.clock())
            except Exception:
                log.exception("dispatch tick failed")

    async def stop(self) -> None:
        for hook in reversed(self.on_stop):
            await hook()
        await self.realtime.stop()
        await self.payments.stop()
        await self.bus.close()
        self.locations.stop()
        for task in self._tasks:
            if task.get_name() != "location-ingest":
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.audit.stop()
        await self.geocoding.close()
        await self.engine.close()
        await self.clinics.store.close()
        await self.payments.store.close()
        await self.accounts.close()
        await self.stores.close()
        if self.redis is not None:
            await self.redis.aclose()


async def _open_accounts(config: RuntimeConfig) -> AccountStore:
    if config.database_url:
        from storage.postgis_accounts import PostgisAccountStore

        return await PostgisAccountStore.connect(config.database_url)
    from storage.sqlite_accounts import SqliteAccountStore

    config.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteAccountStore(config.sqlite_path)


async def open_payment_store(config: RuntimeConfig) -> PaymentStore:
    if config.database_url:
        from storage.postgis_payments import PostgisPaymentStore

        return await PostgisPaymentStore.connect(config.database_url)
    from storage.sqlite_payments import SqlitePaymentStore

    config.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return SqlitePaymentStore(config.sqlite_path)


def open_payment_provider(config: RuntimeConfig) -> PaymentProvider:
    if config.payments_provider == "yookassa":
        from storage.yookassa import YooKassaProvider

        assert config.yookassa_shop_id and config.yookassa_secret_key
        return YooKassaProvider(
            config.yookassa_shop_id, config.yookassa_secret_key, base_url=config.yookassa_url
        )
    return SandboxProvider(
        confirm_url_base="/pay/sandbox/", confirm_after_s=config.sandbox_confirm_after_s
    )


def _wake_payments(payments: PaymentService) -> Callable[[list[Event]], None]:
    """A booking reached a status the payments act on: relay its outbox message now."""

    def listener(events: list[Event]) -> None:
        if any(
            isinstance(e, StatusChanged) and e.new_status in OUTBOX_TOPICS["payments"]
            for e in events
        ):
            payments.wake()

    return listener


async def _open_clinics(config: RuntimeConfig) -> ClinicStore:
    if config.database_url:
        from storage.postgis_clinics import PostgisClinicStore

        return await PostgisClinicStore.connect(config.database_url)
    from storage.sqlite_clinics import SqliteClinicStore

    return SqliteClinicStore(config.sqlite_path)


def geocoding_config(config: RuntimeConfig) -> GeocodingConfig:
    provider = config.geocoder
    if provider not in ("offline", "nominatim", "yandex"):
        raise ValueError("TOT_GEOCODER must be offline, nominatim or yandex")
    return GeocodingConfig(
        provider=provider,  # type: ignore[arg-type]  # checked just above
        osm_path=config.osm_path,
        cache_dir=config.graph_cache_dir,
        nominatim_url=config.nominatim_url,
        yandex_key=config.yandex_geocoder_key,
        contact=config.geocoder_contact,
    )


def runtime_fix_sink(locations: LocationIngest) -> Callable[[LocationFix], None]:
    def sink(fix: LocationFix) -> None:
        locations.submit((fix,))

    return sink
