"""`tot demo`: the whole engine on the embedded defaults with a simulated city.

Simulated doctors go on shift at road points, send a fix every few seconds, answer offers
(most accept after a few seconds, some decline, a few ignore them), drive their route at
road speed, arrive, treat, finish and sometimes take a break. Simulated patients call at a
Poisson rate, a share of them emergencies. Everything goes through the same services the
API and the WebSockets use, so the pages and sockets show it live. A line of figures is
printed every few seconds.

Unless told a rate, the city calls as often as keeps about half the doctors busy on this
map (`scaled_calls_per_hour`): a small map has short drives and needs many calls, a city
fewer. It starts warm: the first call two seconds after the start, then, one every 1.5 s,
as many more as make half the calls open at any moment at that rate (all of them would
overshoot: they would all be at the start of their visit while the Poisson calls add up);
then calls come at the Poisson rate.
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
from dispatch_core.messages import BookingRequested, Event, StatusChanged
from payments.model import Method
from routing import Router
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
    calls_per_hour: float | None = None  # None: scaled to the map (scaled_calls_per_hour)
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
    first_call_after_s: float = 2.0  # a demo that waits for its first call looks idle
    warm_start: bool = True  # after the first call, half the steady state's open calls, quickly
    warm_start_every_s: float = 1.5
    busy_share: float = 0.5  # what the scaled call rate aims at: the share of doctors busy
    offer_ttl_s: float = 15.0  # the core's (dispatch_core.DispatchPolicy.offer_ttl_s)


@dataclass(frozen=True, slots=True)
class DemoScale:
    """How the call rate was scaled to the map: a doctor's time per call, estimated."""

    calls_per_hour: float
    answer_s: float  # from the call to a doctor's yes (delays, declines, lapsed offers)
    drive_s: float  # from the nearest free doctor, by road, on this map (sampled)
    visit_s: float

    @property
    def busy_s(self) -> float:
        return self.answer_s + self.drive_s + self.visit_s


def scaled_calls_per_hour(router: Router, config: DemoConfig, samples: int = 64) -> DemoScale:
    """The call rate that keeps about `busy_share` of the doctors busy on this road network.

    A call takes a doctor for the answer, the drive and the visit. The drive depends on the
    map: it is sampled here, from calls on random road nodes to the nearest (by road) of
    the doctors expected free (1 - busy_share of the fleet, on random nodes), one
    many-to-one sweep each. Driving and visits are sped up by `speed`; the rate is not.
    """
    rng = random.Random(config.seed ^ 0x5CA1E)
    graph = router.graph
    free = max(1, round(config.doctors * (1.0 - config.busy_share)))
    nearest: list[float] = []
    for _ in range(samples):
        call = rng.randrange(graph.node_count)
        doctors = [rng.randrange(graph.node_count) for _ in range(free)]
        etas = [t for t in router.etas_from_nodes(doctors, call).tolist() if math.isfinite(t)]
        if etas:
            nearest.append(min(etas))
    drive_s = (statistics.fmean(nearest) if nearest else 0.0) / config.speed
    accept = max(config.accept_p, 0.01)
    ignore = max(0.0, 1.0 - config.accept_p - config.decline_p)
    # every offer takes the answer delay, a lapsed one the whole TTL; 1/accept offers per call
    answer_s = (statistics.fmean(config.answer_delay_s) + ignore * config.offer_ttl_s) / accept
    visit_s = statistics.fmean(config.visit_s) / config.speed
    scale = DemoScale(0.0, answer_s, drive_s, visit_s)
    rate = config.busy_share * config.doctors * 3_600.0 / max(scale.busy_s, 1.0)
    return DemoScale(min(max(rate, 6.0), 36_000.0), answer_s, drive_s, visit_s)


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
    """What the terminal shows; each figure counts what its label says, once per booking.

    The calls are the bookings made while this demo runs (the simulated patients' and
    anyone's through the pages); assigned, completed, no doctor and cancelled count those
    calls by what became of them. Bookings a previous run left open in the store, taken
    back at start, are counted apart: recovered, and which of them ended how.
    """

    calls: int = 0
    emergencies: int = 0
    assigned: int = 0  # calls that got a doctor (each once, even when reassigned)
    completed: int = 0
    no_doctor: int = 0
    cancelled: int = 0
    recovered: int = 0  # open bookings of an earlier run, found in the store at start
    recovered_completed: int = 0
    recovered_ended_otherwise: int = 0  # cancelled or no doctor found
    time_to_doctor_s: list[float] = field(default_factory=list)  # this run's calls only
    dispatch_ms: list[float] = field(default_factory=list)
    call_at: dict[str, float] = field(default_factory=dict)  # this run's calls awaiting a doctor
    ours: set[str] = field(default_factory=set)  # this run's calls
    got_doctor: set[str] = field(default_factory=set)
    recovered_ids: set[str] = field(default_factory=set)
    ended: set[str] = field(default_factory=set)

    @property
    def open(self) -> int:
        """This run's calls not ended yet."""
        return self.calls - self.completed - self.no_doctor - self.cancelled

    @property
    def recovered_open(self) -> int:
        return self.recovered - self.recovered_completed - self.recovered_ended_otherwise


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
        # A doctor's time per call on this map, estimated; it sets the rate unless given.
        self.scale = scaled_calls_per_hour(runtime.router, self.config)
        self.scaled = self.config.calls_per_hour is None
        self.calls_per_hour = self.scale.calls_per_hour
        if self.config.calls_per_hour is not None:
            self.calls_per_hour = self.config.calls_per_hour
        # Half the calls open at any moment in the steady state (Little's law): the warm start.
        self.steady_open_calls = self.calls_per_hour * self.scale.busy_s / 3_600
        self.warm_calls = round(self.steady_open_calls / 2) if self.config.warm_start else 0

    # -- set-up ---------------------------------------------------------------------------

    async def start(self) -> None:
        rt = self.runtime
        now = rt.clock()
        f = self.figures
        # What an earlier run left open: counted apart from this run's calls.
        f.recovered_ids = {b.booking_id for b in rt.engine.core.bookings.values() if not b.terminal}
        f.recovered = len(f.recovered_ids)
        self.warm_calls = max(0, self.warm_calls - f.recovered)  # they are open calls already
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
            "patient@demo.tot.example.org, doctor@demo.tot.example.org",
            flush=True,
        )
        print(self.describe(), flush=True)

    def describe(self) -> str:
        """The city in one line: fleet, call rate (and how it was scaled), what was recovered."""
        cfg = self.config
        line = f"{cfg.doctors} simulated doctors, {self.calls_per_hour:.0f} calls per hour"
        if self.scaled:
            s = self.scale
            line += (
                f" (scaled to this map to keep about {100 * cfg.busy_share:.0f} % of the doctors "
                f"busy: a call takes a doctor about {s.busy_s / 60:.1f} min, of which "
                f"{s.drive_s / 60:.1f} min driving; --calls-per-hour sets it)"
            )
        line += f"; the first call in {cfg.first_call_after_s:g} s"
        if self.warm_calls > 1:
            line += (
                f", then {self.warm_calls - 1} more, one every {cfg.warm_start_every_s:g} s "
                "(a warm start: about half the calls open at any moment at this rate)"
            )
        if self.figures.recovered:
            line += f"; {self.figures.recovered} open bookings recovered from the store"
        return line

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
        # Cancelled again until done: a cancellation that lands as a call's awaited store
        # finishes can be absorbed on the way, and the loop must not run on.
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- patients ---------------------------------------------------------------------------

    async def _calls(self) -> None:
        rate_per_s = self.calls_per_hour / 3600.0
        wait_s = self.config.first_call_after_s
        for made in itertools.count(1):
            await asyncio.sleep(wait_s)
            if made < self.warm_calls:
                wait_s = self.config.warm_start_every_s
            else:
                wait_s = self.rng.expovariate(rate_per_s)
            who = self.rng.choice(self.patients)
            lat, lon = self.rng.choice(self._nodes)
            emergency = self.rng.random() < self.config.emergency_share
            visit = VisitRequest(
                lat=lat, lon=lon, address=f"Demo street {self.rng.randint(1, 120)}",
                symptoms="chest pain" if emergency else self.rng.choice(["fever", "cough", "back pain", "headache"]),
                call_type="chest_pain" if emergency else "home_visit", is_emergency=emergency,
                payment_method=self.rng.choices(PAYMENT_METHODS, PAYMENT_WEIGHTS)[0],
            )  # fmt: skip
            started = time.perf_counter()
            try:
                await self.runtime.bookings.create(
                    who, visit, idempotency_key=None, ip="demo", request_id=""
                )
            except HANDLED as exc:
                log.info("demo call refused: %s", exc)
                continue
            except Exception:  # the city goes on calling whatever one call did
                log.exception("demo call failed")
                continue
            self.figures.dispatch_ms.append((time.perf_counter() - started) * 1000)

    def _on_events(self, events: list[Event]) -> None:
        """Count each booking once per figure, from the engine's own events."""
        f = self.figures
        core = self.runtime.engine.core
        for e in events:
            if isinstance(e, BookingRequested):
                if e.booking_id in f.ours or e.booking_id in f.recovered_ids:
                    continue
                f.ours.add(e.booking_id)
                f.calls += 1
                booking = core.bookings.get(e.booking_id)
                f.emergencies += int(booking is not None and booking.is_emergency)
                f.call_at[e.booking_id] = e.at_s
                continue
            if not isinstance(e, StatusChanged):
                continue
            ours = e.booking_id in f.ours
            if not ours and e.booking_id not in f.recovered_ids:
                continue
            status = e.new_status
            if status is BookingStatus.ASSIGNED and ours and e.booking_id not in f.got_doctor:
                f.got_doctor.add(e.booking_id)
                f.assigned += 1
            elif status is BookingStatus.ARRIVED and e.booking_id in f.call_at:
                f.time_to_doctor_s.append(e.at_s - f.call_at.pop(e.booking_id))
            elif status in _ENDS and e.booking_id not in f.ended:
                f.ended.add(e.booking_id)
                f.call_at.pop(e.booking_id, None)
                if not ours:
                    if status is BookingStatus.COMPLETED:
                        f.recovered_completed += 1
                    else:
                        f.recovered_ended_otherwise += 1
                elif status is BookingStatus.COMPLETED:
                    f.completed += 1
                elif status is BookingStatus.NO_DOCTOR_FOUND:
                    f.no_doctor += 1
                else:
                    f.cancelled += 1

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
            await rt.bookings.progress(d.principal, booking.booking_id, BookingStatus.EN_ROUTE)
            self._plan(d, (booking.latitude, booking.longitude), now)
        elif booking.status is BookingStatus.EN_ROUTE:
            if not d.path or d.booking_id != booking.booking_id:
                d.booking_id = booking.booking_id
                self._plan(d, (booking.latitude, booking.longitude), now)
            d.lat, d.lon = self._where(d, now)
            if (now - d.departed_s) * cfg.speed >= d.path_t[-1]:
                d.lat, d.lon = d.path[-1]
                await self._fix(d, now)
                await rt.bookings.progress(d.principal, booking.booking_id, BookingStatus.ARRIVED)
                d.path = []
        elif booking.status is BookingStatus.ARRIVED:
            await rt.bookings.progress(d.principal, booking.booking_id, BookingStatus.IN_PROGRESS)
            d.visit_ends_s = now + self.rng.uniform(*cfg.visit_s) / cfg.speed
        elif booking.status is BookingStatus.IN_PROGRESS and not d.visit_ends_s:
            # a visit this demo did not start (recovered after a restart): a fresh length
            d.visit_ends_s = now + self.rng.uniform(*cfg.visit_s) / cfg.speed
        elif booking.status is BookingStatus.IN_PROGRESS and now >= d.visit_ends_s:
            await rt.bookings.progress(d.principal, booking.booking_id, BookingStatus.COMPLETED)
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

    def doctors_busy(self) -> tuple[int, int]:
        """The simulated doctors now (driving to a patient, on a visit)."""
        core = self.runtime.engine.core
        driving = visiting = 0
        for doctor_id in self.doctors:
            booking_id = core.doctor_booking.get(doctor_id)
            booking = core.bookings.get(booking_id) if booking_id else None
            if booking is None:
                continue
            if booking.status in (BookingStatus.ASSIGNED, BookingStatus.EN_ROUTE):
                driving += 1
            elif booking.status in (BookingStatus.ARRIVED, BookingStatus.IN_PROGRESS):
                visiting += 1
        return driving, visiting

    def summary(self, elapsed_s: float) -> str:
        f = self.figures
        ttd = f"{statistics.fmean(f.time_to_doctor_s) / 60:.1f} min" if f.time_to_doctor_s else "-"
        lat = sorted(f.dispatch_ms)
        p50 = f"{lat[len(lat) // 2]:.1f}" if lat else "-"
        p99 = f"{lat[min(len(lat) - 1, math.ceil(0.99 * len(lat)) - 1)]:.1f}" if lat else "-"
        line = (
            f"[{elapsed_s:6.0f} s] calls {f.calls} (emergencies {f.emergencies}): "
            f"assigned {f.assigned}  completed {f.completed}  no doctor {f.no_doctor}  "
            f"cancelled {f.cancelled}  open {f.open}"
        )
        driving, visiting = self.doctors_busy()
        line += (
            f" | doctors {len(self.doctors)}: driving {driving}  on a visit {visiting}  "
            f"free or on a break {len(self.doctors) - driving - visiting}"
        )
        if f.recovered:
            line += (
                f" | recovered {f.recovered}: completed {f.recovered_completed}  "
                f"ended otherwise {f.recovered_ended_otherwise}  open {f.recovered_open}"
            )
        money = self.runtime.payments
        line += (
            f" | paid {money.captured} ({money.captured_kopecks // 100:,} RUB)"
            f"  refunded {money.refunded}"
        ).replace(",", " ")
        return line + f" | mean time to doctor {ttd}  dispatch p50 {p50} ms p99 {p99} ms"


_ENDS = (BookingStatus.COMPLETED, BookingStatus.NO_DOCTOR_FOUND, BookingStatus.CANCELLED)
# How the demo's patients pay (the sandbox provider confirms their payments itself).
PAYMENT_METHODS = (Method.CARD, Method.SBP, Method.AT_VISIT)
PAYMENT_WEIGHTS = (0.7, 0.2, 0.1)


def demo_config_from_environment() -> DemoConfig:
    """TOT_DEMO_DOCTORS, TOT_DEMO_CALLS_PER_HOUR, TOT_DEMO_SPEED, TOT_DEMO_SEED,
    TOT_DEMO_EMERGENCY_SHARE (set by `tot demo` from its flags)."""
    import os

    def number(name: str, default: float) -> float:
        value = os.environ.get(f"TOT_DEMO_{name}")
        return default if value is None else float(value)

    base = DemoConfig()
    rate = os.environ.get("TOT_DEMO_CALLS_PER_HOUR")
    return DemoConfig(
        doctors=int(number("DOCTORS", base.doctors)),
        calls_per_hour=float(rate) if rate else None,  # unset or empty: scaled to the map
        speed=number("SPEED", base.speed),
        seed=int(number("SEED", base.seed)),
        emergency_share=number("EMERGENCY_SHARE", base.emergency_share),
    )
