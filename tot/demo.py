"""`tot demo`: the whole engine on the embedded defaults with a simulated city.

Simulated doctors go on shift at road points, send a fix every few seconds, answer offers
(most accept after a few seconds, some decline, a few ignore them), drive their route at
road speed, arrive, treat, finish and sometimes take a break. Simulated patients call at a
Poisson rate, a share of them emergencies. Everything goes through the same services the
API and the WebSockets use, so the pages and sockets show it live. A line of figures is
printed every few seconds.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass, field

from accounts import Role, User
from dispatch_core import BookingStatus
from dispatch_core.messages import Event, StatusChanged
from routing.geo import haversine_scalar_m
from services.auth import ConflictError, ForbiddenError, NotFoundError, Principal, new_id
from services.bookings import InvalidRequestError, VisitRequest
from services.doctors import FixRefusedError
from services.runtime import Runtime

log = logging.getLogger(__name__)
DEMO_PASSWORD = "demo-password-123"
HANDLED = (ConflictError, ForbiddenError, NotFoundError, InvalidRequestError, FixRefusedError)


@dataclass(frozen=True, slots=True)
class DemoConfig:
    doctors: int = 30
    calls_per_hour: float = 90.0
    emergency_share: float = 0.05
    accept_p: float = 0.85
    decline_p: float = 0.10  # the rest ignore the offer (it expires)
    answer_delay_s: tuple[float, float] = (2.0, 8.0)
    visit_s: tuple[float, float] = (120.0, 300.0)
    break_p_per_min: float = 0.01
    break_s: tuple[float, float] = (60.0, 180.0)
    fix_every_s: float = 3.0
    speed: float = 1.0  # 2 = doctors drive and treat twice as fast (calls keep their rate)
    patients: int = 25
    seed: int = 1
    report_every_s: float = 5.0


@dataclass(slots=True)
class _Doctor:
    principal: Principal
    lat: float
    lon: float
    next_fix_s: float = 0.0
    offer_id: str | None = None
    answer_at_s: float = 0.0
    answer: str = ""
    booking_id: str | None = None
    path: list[tuple[float, float]] = field(default_factory=list)
    path_t: list[float] = field(default_factory=list)  # seconds from departure, per point
    departed_s: float = 0.0
    visit_ends_s: float = 0.0
    break_ends_s: float = 0.0
    answered: set[str] = field(default_factory=set)


@dataclass(slots=True)
class DemoFigures:
    calls: int = 0
    emergencies: int = 0
    assigned: int = 0
    completed: int = 0
    no_doctor: int = 0
    cancelled: int = 0
    time_to_doctor_s: list[float] = field(default_factory=list)
    dispatch_ms: list[float] = field(default_factory=list)
    call_at: dict[str, float] = field(default_factory=dict)


class CityDemo:
    def __init__(self, runtime: Runtime, config: DemoConfig | None = None) -> None:
        self.runtime = runtime
        self.config = config or DemoConfig()
        self.rng = random.Random(self.config.seed)
        self.figures = DemoFigures()
        self.doctors: dict[str, _Doctor] = {}
        self.patients: list[Principal] = []
        self._tasks: list[asyncio.Task[None]] = []
        graph = runtime.router.graph
        self._nodes = [
            (float(graph.node_lat[i]), float(graph.node_lon[i])) for i in range(graph.node_count)
        ]

    # -- set-up ---------------------------------------------------------------------------

    async def start(self) -> None:
        rt = self.runtime
        now = rt.clock()
        await self._account("operator@demo.tot.example.org", Role.OPERATOR)
        await self._account("doctor@demo.tot.example.org", Role.DOCTOR)  # for a person to drive
        patient = await self._account("patient@demo.tot.example.org", Role.PATIENT)
        self.patients.append(Principal(patient.user_id, Role.PATIENT))
        for i in range(self.config.patients - 1):
            user = await self._account(f"patient{i}@demo.tot.example.org", Role.PATIENT, quick=True)
            self.patients.append(Principal(user.user_id, Role.PATIENT))
        for i in range(self.config.doctors):
            user = await self._account(
                f"sim-doctor{i}@demo.tot.example.org", Role.DOCTOR, quick=True
            )
            who = Principal(user.user_id, Role.DOCTOR)
            lat, lon = self.rng.choice(self._nodes)
            with contextlib.suppress(*HANDLED):
                await rt.doctors.start_shift(who, lat, lon, 8.0)
                await rt.realtime.doctor_connected(user.user_id)
            self.doctors[user.user_id] = _Doctor(
                who, lat, lon, next_fix_s=now + self.rng.uniform(0, 3)
            )
        rt.engine.listeners.append(self._on_events)
        self._tasks = [
            asyncio.create_task(self._calls(), name="demo-calls"),
            asyncio.create_task(self._drive(), name="demo-doctors"),
            asyncio.create_task(self._report(), name="demo-report"),
        ]
        print(
            f"demo accounts (password {DEMO_PASSWORD!r}): operator@demo.tot.example.org, "
            "patient@demo.tot.example.org, doctor@demo.tot.example.org; "
            f"{self.config.doctors} simulated doctors, {self.config.calls_per_hour:.0f} calls per hour",
            flush=True,
        )

    async def _account(self, email: str, role: Role, *, quick: bool = False) -> User:
        rt = self.runtime
        existing = await rt.accounts.user_by_email(email)
        if existing is not None:
            return existing
        now = rt.clock()
        user = User(
            new_id(), email, "", role, now, now, first_name=email.split("@")[0].title(),
            is_verified=True, specialization="general" if role is Role.DOCTOR else None,
            languages=("ru", "en") if role is Role.DOCTOR else (),
        )  # fmt: skip
        if quick:
            # Simulated people never log in: skip the slow hash, keep an unusable one.
            user.password_hash = "!simulated"
            await rt.accounts.create_user(user)
            return user
        return await rt.auth.register(user, DEMO_PASSWORD)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- patients ---------------------------------------------------------------------------

    async def _calls(self) -> None:
        rate_per_s = self.config.calls_per_hour / 3600.0
        while True:
            await asyncio.sleep(self.rng.expovariate(rate_per_s))
            who = self.rng.choice(self.patients)
            lat, lon = self.rng.choice(self._nodes)
            emergency = self.rng.random() < self.config.emergency_share
            visit = VisitRequest(
                lat=lat, lon=lon, address=f"Demo street {self.rng.randint(1, 120)}",
                symptoms="chest pain" if emergency else self.rng.choice(["fever", "cough", "back pain", "headache"]),
                call_type="chest_pain" if emergency else "home_visit", is_emergency=emergency,
            )  # fmt: skip
            started = time.perf_counter()
            try:
                booking = await self.runtime.bookings.create(
                    who, visit, idempotency_key=None, ip="demo", request_id=""
                )
            except HANDLED as exc:
                log.info("demo call refused: %s", exc)
                continue
            except Exception:  # the city goes on calling whatever one call did
                log.exception("demo call failed")
                continue
            self.figures.dispatch_ms.append((time.perf_counter() - started) * 1000)
            self.figures.calls += 1
            self.figures.emergencies += int(emergency)
            self.figures.call_at[booking.booking_id] = self.runtime.clock()

    def _on_events(self, events: list[Event]) -> None:
        f = self.figures
        for e in events:
            if not isinstance(e, StatusChanged):
                continue
            if e.new_status is BookingStatus.ASSIGNED:
                f.assigned += 1
            elif e.new_status is BookingStatus.ARRIVED and e.booking_id in f.call_at:
                f.time_to_doctor_s.append(e.at_s - f.call_at.pop(e.booking_id))
            elif e.new_status is BookingStatus.COMPLETED:
                f.completed += 1
            elif e.new_status is BookingStatus.NO_DOCTOR_FOUND:
                f.no_doctor += 1
                f.call_at.pop(e.booking_id, None)
            elif e.new_status is BookingStatus.CANCELLED:
                f.cancelled += 1
                f.call_at.pop(e.booking_id, None)

    # -- doctors ----------------------------------------------------------------------------

    async def _drive(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = self.runtime.clock()
            for doctor in list(self.doctors.values()):
                try:
                    await self._step(doctor, now)
                except HANDLED as exc:
                    log.info("demo doctor %s: %s", doctor.principal.user_id, exc)
                except Exception:
                    log.exception("demo doctor step failed")

    async def _step(self, d: _Doctor, now: float) -> None:
        rt = self.runtime
        cfg = self.config
        core = rt.engine.core
        doctor_id = d.principal.user_id
        offer_id = core.doctor_offer.get(doctor_id)
        if offer_id is not None and offer_id != d.offer_id and offer_id not in d.answered:
            d.offer_id = offer_id
            d.answered.add(offer_id)  # decided once: an ignored offer stays ignored
            d.answer_at_s = now + self.rng.uniform(*cfg.answer_delay_s)
            roll = self.rng.random()
            d.answer = (
                "accept"
                if roll < cfg.accept_p
                else "decline"
                if roll < cfg.accept_p + cfg.decline_p
                else "ignore"
            )
        if d.offer_id is not None and offer_id == d.offer_id and now >= d.answer_at_s:
            offer_id, d.offer_id = d.offer_id, None
            if d.answer == "accept":
                await rt.bookings.accept(d.principal, offer_id)
            elif d.answer == "decline":
                await rt.bookings.decline(
                    d.principal,
                    offer_id,
                    self.rng.choice(["too far", "finishing a visit", "car trouble"]),
                )
        booking_id = core.doctor_booking.get(doctor_id)
        booking = core.bookings.get(booking_id) if booking_id else None
        if booking is None:
            d.booking_id, d.path = None, []
            if d.break_ends_s and now >= d.break_ends_s:
                d.break_ends_s = 0.0
                await rt.doctors.set_availability(d.principal, True)
            elif (
                not d.break_ends_s
                and self.rng.random() < cfg.break_p_per_min / 60
                and doctor_id not in core.doctor_offer
            ):
                d.break_ends_s = now + self.rng.uniform(*cfg.break_s)
                await rt.doctors.set_availability(d.principal, False)
        elif booking.status is BookingStatus.ASSIGNED:
            d.booking_id = booking.booking_id
            await rt.bookings.progress(
                d.principal, booking.booking_id, BookingStatus.EN_ROUTE, None
            )
            self._plan(d, (booking.latitude, booking.longitude), now)
        elif booking.status is BookingStatus.EN_ROUTE:
            if not d.path or d.booking_id != booking.booking_id:
                d.booking_id = booking.booking_id
                self._plan(d, (booking.latitude, booking.longitude), now)
            d.lat, d.lon = self._where(d, now)
            if (now - d.departed_s) * cfg.speed >= d.path_t[-1]:
                d.lat, d.lon = d.path[-1]
                await self._fix(d, now)
                await rt.bookings.progress(
                    d.principal, booking.booking_id, BookingStatus.ARRIVED, None
                )
                d.path = []
        elif booking.status is BookingStatus.ARRIVED:
            await rt.bookings.progress(
                d.principal, booking.booking_id, BookingStatus.IN_PROGRESS, None
            )
            d.visit_ends_s = now + self.rng.uniform(*cfg.visit_s) / cfg.speed
        elif booking.status is BookingStatus.IN_PROGRESS and now >= d.visit_ends_s:
            price = rt.bookings.tariff.price(booking.call_type, booking.priority)
            await rt.bookings.progress(
                d.principal, booking.booking_id, BookingStatus.COMPLETED, price
            )
        if now >= d.next_fix_s:
            d.next_fix_s = now + cfg.fix_every_s
            await self._fix(d, now)

    def _plan(self, d: _Doctor, to: tuple[float, float], now: float) -> None:
        route = self.runtime.router.route((d.lat, d.lon), to)
        points = [(p.lat, p.lon) for p in route.path] or [to]
        cumulative = [0.0]
        for (a, b), (c, e) in itertools.pairwise(points):
            cumulative.append(cumulative[-1] + haversine_scalar_m(a, b, c, e))
        total = cumulative[-1] or 1.0
        d.path = points
        d.path_t = [route.eta_s * m / total for m in cumulative]
        d.departed_s = now

    def _where(self, d: _Doctor, now: float) -> tuple[float, float]:
        t = (now - d.departed_s) * self.config.speed
        i = bisect.bisect_right(d.path_t, t)
        if i >= len(d.path):
            return d.path[-1]
        if i == 0:
            return d.path[0]
        t0, t1 = d.path_t[i - 1], d.path_t[i]
        f = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
        (a, b), (c, e) = d.path[i - 1], d.path[i]
        return a + (c - a) * f, b + (e - b) * f

    async def _fix(self, d: _Doctor, now: float) -> None:
        await self.runtime.realtime.report_fix(d.principal, d.lat, d.lon, 8.0, now)

    # -- the terminal ----------------------------------------------------------------------------

    async def _report(self) -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(self.config.report_every_s)
            print(self.summary(time.monotonic() - started), file=sys.stdout, flush=True)

    def summary(self, elapsed_s: float) -> str:
        f = self.figures
        ttd = f"{statistics.fmean(f.time_to_doctor_s) / 60:.1f} min" if f.time_to_doctor_s else "-"
        lat = sorted(f.dispatch_ms)
        p50 = f"{lat[len(lat) // 2]:.1f}" if lat else "-"
        p99 = f"{lat[min(len(lat) - 1, math.ceil(0.99 * len(lat)) - 1)]:.1f}" if lat else "-"
        open_now = sum(1 for b in self.runtime.engine.core.bookings.values() if not b.terminal)
        return (
            f"[{elapsed_s:6.0f} s] calls {f.calls} ({f.emergencies} emergencies)  assigned {f.assigned}  "
            f"completed {f.completed}  no doctor {f.no_doctor}  open {open_now}  "
            f"mean time to doctor {ttd}  dispatch p50 {p50} ms p99 {p99} ms"
        )


def demo_config_from_environment() -> DemoConfig:
    """TOT_DEMO_DOCTORS, TOT_DEMO_CALLS_PER_HOUR, TOT_DEMO_SPEED, TOT_DEMO_SEED,
    TOT_DEMO_EMERGENCY_SHARE (set by `tot demo` from its flags)."""
    import os

    def number(name: str, default: float) -> float:
        value = os.environ.get(f"TOT_DEMO_{name}")
        return default if value is None else float(value)

    base = DemoConfig()
    return DemoConfig(
        doctors=int(number("DOCTORS", base.doctors)),
        calls_per_hour=number("CALLS_PER_HOUR", base.calls_per_hour),
        speed=number("SPEED", base.speed),
        seed=int(number("SEED", base.seed)),
        emergency_share=number("EMERGENCY_SHARE", base.emergency_share),
    )
