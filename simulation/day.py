"""One simulated day: a discrete-event loop around the real dispatch core, matcher and router.

Calls arrive (a Poisson stream, see scenario.py); each becomes a `RequestBooking` for a
`DispatchCore` whose CandidateSource is the policy (policies.py), on a simulated clock.
Offers are answered (at once by default), assigned doctors drive the fastest road route
at road speeds (`Router`), stay for the visit, and are free again where the visit was.
The registry (`DoctorRegistry`) holds every doctor's position and status, as in the
engine. Pure: no clock is read here; a `timer` may be passed in to measure how long
each dispatch decision takes (the simulated clock is not a wall clock).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dispatch_core import (
    TERMINAL,
    AcceptOffer,
    BookingStatus,
    Command,
    DeclineOffer,
    DispatchCore,
    DispatchPolicy,
    Event,
    ReportProgress,
    RequestBooking,
    Tick,
)
from dispatch_core.messages import (
    DoctorAssigned,
    DoctorReleased,
    OfferEnded,
    OfferSent,
    StatusChanged,
)
from matching import DoctorProfile, DoctorRegistry, DoctorStatus, Matcher, MatchingPolicy
from routing import Router, haversine_m
from simulation.policies import Pending, Policy, SimCandidates
from simulation.scenario import Scenario, SimConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Timer = Callable[[], int]
"""Nanoseconds from some fixed point (time.perf_counter_ns), for decision latencies."""

OPEN, ARRIVED, NO_DOCTOR = 0, 1, 2  # a call's outcome
S = BookingStatus

_ARRIVAL, _REACH, _DONE, _REPLY, _BATCH, _TICK = range(6)
_FIX_ACCURACY_M = 5.0


@dataclass(frozen=True, slots=True, eq=False)
class DayResult:
    """What happened to every call of one seed's day under one policy (arrays per call)."""

    policy: str
    seed: int
    measured: npt.NDArray[np.bool_]
    emergency: npt.NDArray[np.bool_]
    outcome: npt.NDArray[np.uint8]  # OPEN (still waiting at the end), ARRIVED, NO_DOCTOR
    call_s: FloatArray
    first_offer_s: FloatArray  # NaN: never offered
    assigned_s: FloatArray  # the last assignment (after a preemption, the new one)
    arrived_s: FloatArray
    eta_at_dispatch_s: FloatArray  # road ETA of the doctor at that assignment
    offer_open_s: FloatArray  # time spent waiting on offers' answers
    offers: npt.NDArray[np.int32]
    preempted: npt.NDArray[np.int32]  # times the call lost its doctor to an emergency
    latency_us: FloatArray  # per offer sent for a measured call: its decision's wall time
    latency_cpu_us: FloatArray  # the same decisions' CPU time (no other process's share)
    utilisation: float  # share of doctor-time in the window bound to a booking
    end_s: float  # simulated time when the day stopped

    # -- per measured call ---------------------------------------------------------------

    @property
    def calls(self) -> int:
        return int(self.measured.sum())

    @property
    def served(self) -> npt.NDArray[np.bool_]:
        served: npt.NDArray[np.bool_] = self.measured & (self.outcome == ARRIVED)
        return served

    @property
    def time_to_doctor_s(self) -> FloatArray:
        s = self.served
        return self.arrived_s[s] - self.call_s[s]

    @property
    def drive_s(self) -> FloatArray:
        s = self.served
        return self.arrived_s[s] - self.assigned_s[s]

    @property
    def queue_wait_s(self) -> FloatArray:
        """Call to assignment, less the time offers were waiting for an answer."""
        s = self.served
        return np.maximum(0.0, self.assigned_s[s] - self.call_s[s] - self.offer_open_s[s])

    @property
    def no_doctor_rate(self) -> float:
        m = self.measured
        unserved = int((m & (self.outcome != ARRIVED)).sum())
        return unserved / max(1, int(m.sum()))

    @property
    def offers_per_booking(self) -> float:
        s = self.served
        return float(self.offers[s].mean()) if s.any() else math.nan


def simulate_day(
    router: Router,
    scenario: Scenario,
    policy: Policy,
    config: SimConfig,
    *,
    timer: Timer | None = None,
    cpu_timer: Timer | None = None,
) -> DayResult:
    """Run one day of `scenario` under `policy` and say what happened to every call.

    `timer` (wall, e.g. time.perf_counter_ns) and `cpu_timer` (e.g. time.thread_time_ns)
    time each dispatch decision; without them no latencies are recorded.
    """
    return _Day(router, scenario, policy, config, timer, cpu_timer).run()


class _Day:
    def __init__(
        self,
        router: Router,
        scenario: Scenario,
        policy: Policy,
        config: SimConfig,
        timer: Timer | None,
        cpu_timer: Timer | None,
    ) -> None:
        self.router = router
        self.sc = scenario
        self.policy = policy
        self.config = config
        self.timer = timer
        self.cpu_timer = cpu_timer
        self.node_lat = router.graph.node_lat
        self.node_lon = router.graph.node_lon
        # Positions are always current in the simulation: no fix goes stale.
        self.registry = DoctorRegistry(router.projection, MatchingPolicy(stale_after_s=math.inf))
        self.matcher = Matcher(self.registry, router)
        n = int(scenario.doctor_nodes.shape[0])
        self.doctor_ids = [f"d{i:04d}" for i in range(n)]
        self.available: set[str] = set(self.doctor_ids)
        self.source = SimCandidates(
            policy,
            self.matcher,
            router,
            available=self.available,
            locate=self._locate,
            aging_s_per_s=config.aging_s_per_s,
        )
        self.core = DispatchCore(
            self.source,
            DispatchPolicy(offer_ttl_s=config.offer_ttl_s, max_search_s=config.max_wait_s),
        )
        self.now = 0.0
        # doctors
        self.doc_node = scenario.doctor_nodes.astype(np.int64).copy()
        self.drive_call = np.full(n, -1, dtype=np.int64)
        self.drive_start = np.zeros(n)
        self.drive_eta = np.zeros(n)
        self.drive_version = np.zeros(n, dtype=np.int64)
        self.last_fix = np.full(n, -math.inf)
        self.fixed_at: list[tuple[float, float] | None] = [None] * n  # as the registry has it
        self.busy_since = np.full(n, np.nan)
        self.busy_s = 0.0
        self._routes: dict[int, tuple[int, list[int], FloatArray]] = {}  # drive geometry
        for i, doctor in enumerate(self.doctor_ids):
            self.registry.upsert_doctor(DoctorProfile(doctor), DoctorStatus.AVAILABLE)
            self._fix(i, int(self.doc_node[i]))
        # calls
        m = scenario.calls
        self.outcome = np.zeros(m, dtype=np.uint8)
        self.first_offer = np.full(m, np.nan)
        self.assigned = np.full(m, np.nan)
        self.arrived = np.full(m, np.nan)
        self.eta = np.full(m, np.nan)
        self.offer_open = np.zeros(m)
        self.offers = np.zeros(m, dtype=np.int32)
        self.preempted = np.zeros(m, dtype=np.int32)
        self.latency_us: list[float] = []
        self.latency_cpu_us: list[float] = []
        self.offer_sent_at: dict[str, float] = {}
        self.waiting: dict[str, None] = {}  # bookings searching for a doctor, in order
        self.open_measured = 0
        # events: (time, sequence, kind, a, b)
        self.heap: list[tuple[float, int, int, int, int]] = []
        self.seq = 0
        self.tick_at = math.inf
        self.replies: dict[int, tuple[str, str, bool]] = {}

    # -- the loop ---------------------------------------------------------------------------

    def push(self, at_s: float, kind: int, a: int = 0, b: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at_s, self.seq, kind, a, b))

    def run(self) -> DayResult:
        config = self.config
        if self.sc.calls:
            self.push(float(self.sc.call_s[0]), _ARRIVAL, 0)
        if self.policy is Policy.BATCH:
            self.push(config.batch_window_s, _BATCH)
        handlers: dict[int, Callable[[int, int], None]] = {
            _ARRIVAL: self._arrival,
            _REACH: self._reach,
            _DONE: self._done,
            _REPLY: self._reply,
            _BATCH: self._batch,
            _TICK: self._tick,
        }
        window_end = config.window_end_s
        while self.heap:
            at, _, kind, a, b = heapq.heappop(self.heap)
            if at > config.horizon_s:
                break
            if at >= window_end and self.open_measured == 0:
                break
            self.now = at
            handlers[kind](a, b)
            self._schedule_deadline()
        return self._result()

    def _schedule_deadline(self) -> None:
        if not self.waiting and not self.core.doctor_offer:
            return
        deadline = self.core.next_deadline_s()
        if deadline is None:
            return
        # A hair later, so that a deadline computed in floating point is surely past.
        at = max(deadline, self.now) + 1e-6
        if at < self.tick_at:
            self.tick_at = at
            self.push(at, _TICK)

    # -- core commands -----------------------------------------------------------------------

    def _do(self, command: Command) -> None:
        self._absorb(self.core.handle(command, self.now), None)

    def _decide(
        self, command: Command, new: Pending | None = None, *, batch_tick: bool = False
    ) -> None:
        """A dispatch decision: plan (when the policy plans), then the core; timed."""
        timer, cpu_timer = self.timer, self.cpu_timer
        started = timer() if timer is not None else 0
        cpu_started = cpu_timer() if cpu_timer is not None else 0
        pending = self._pending()
        if new is not None:
            pending.append(new)
        busy = frozenset(self.core.doctor_booking) | frozenset(self.core.doctor_offer)
        self.source.prepare(self.now, pending, busy, batch_tick=batch_tick)
        events = self.core.handle(command, self.now)
        if not isinstance(command, Tick) and self.source.plan_pending:
            events += self.core.handle(Tick(), self.now)  # the plan's other calls
        self.source.finish()
        elapsed = (
            (
                (timer() - started) / 1_000.0,
                (cpu_timer() - cpu_started) / 1_000.0 if cpu_timer is not None else math.nan,
            )
            if timer is not None
            else None
        )
        self._absorb(events, elapsed)

    def _pending(self) -> list[Pending]:
        out = []
        for booking_id in self.waiting:
            b = self.core.bookings[booking_id]
            out.append(
                Pending(
                    booking_id,
                    b.latitude,
                    b.longitude,
                    b.is_emergency,
                    b.created_s,
                    frozenset(b.excluded_doctors),
                )
            )
        return out

    def _absorb(self, events: Sequence[Event], latency_us: tuple[float, float] | None) -> None:
        then: list[Command] = []
        for e in events:
            if isinstance(e, StatusChanged):
                self._status_changed(e)
            elif isinstance(e, OfferSent):
                c = _call(e.booking_id)
                self.offers[c] += 1
                if math.isnan(self.first_offer[c]):
                    self.first_offer[c] = self.now
                self.offer_sent_at[e.offer_id] = self.now
                if latency_us is not None and self.sc.call_measured[c]:
                    self.latency_us.append(latency_us[0])
                    self.latency_cpu_us.append(latency_us[1])
                reply = self._answer(c, int(self.offers[c]) - 1)
                if reply is None:
                    continue  # ignored: the core lets the offer expire
                if self.config.accept_delay_s <= 0 and reply:
                    then.append(AcceptOffer(e.offer_id, e.doctor_id))
                else:
                    self.seq += 1
                    self.replies[self.seq] = (e.offer_id, e.doctor_id, reply)
                    self.push(self.now + self.config.accept_delay_s, _REPLY, self.seq)
            elif isinstance(e, OfferEnded):
                sent = self.offer_sent_at.pop(e.offer_id, e.at_s)
                self.offer_open[_call(e.booking_id)] += e.at_s - sent
            elif isinstance(e, DoctorReleased):
                self._released(_doctor(e.doctor_id), _call(e.booking_id))
            elif isinstance(e, DoctorAssigned):
                then.extend(self._assigned(_doctor(e.doctor_id), _call(e.booking_id)))
        for command in then:
            self._do(command)

    def _answer(self, call: int, offer_number: int) -> bool | None:
        """True: accept, False: decline, None: ignore (the same for every policy)."""
        decline, ignore = self.config.decline_share, self.config.ignore_share
        if decline <= 0 and ignore <= 0:
            return True
        u = self.sc.offer_draw(call, offer_number)
        if u < decline:
            return False
        if u < decline + ignore:
            return None
        return True

    def _status_changed(self, e: StatusChanged) -> None:
        booking_id = e.booking_id
        if e.new_status is S.SEARCHING:
            self.waiting[booking_id] = None
        else:
            self.waiting.pop(booking_id, None)
        if e.new_status in TERMINAL:
            c = _call(booking_id)
            if e.new_status is S.NO_DOCTOR_FOUND:
                self.outcome[c] = NO_DOCTOR
                if self.sc.call_measured[c]:
                    self.open_measured -= 1
            self.core.forget(booking_id)

    # -- what happens to calls and doctors ------------------------------------------------------

    def _arrival(self, c: int, _: int) -> None:
        sc = self.sc
        if c + 1 < sc.calls:
            self.push(float(sc.call_s[c + 1]), _ARRIVAL, c + 1)
        node = int(sc.call_nodes[c])
        lat, lon = float(self.node_lat[node]), float(self.node_lon[node])
        emergency = bool(sc.call_emergency[c])
        if sc.call_measured[c]:
            self.open_measured += 1
        booking_id = f"c{c}"
        command = RequestBooking(
            booking_id=booking_id,
            patient_id=f"p{c}",
            latitude=lat,
            longitude=lon,
            call_type="urgent" if emergency else "home_visit",
            is_emergency=emergency,
            estimated_duration_s=float(sc.call_visit_s[c]),
        )
        self._decide(command, Pending(booking_id, lat, lon, emergency, self.now))

    def _assigned(self, d: int, c: int) -> list[Command]:
        """Doctor d now has call c: they set off along the fastest road route."""
        doctor = self.doctor_ids[d]
        start = int(self.doc_node[d])
        target = int(self.sc.call_nodes[c])
        eta = self.router.travel_time_s(start, target)
        if eta is None:  # pragma: no cover - the graph is strongly connected
            raise RuntimeError(f"no route from node {start} to node {target}")
        self.drive_version[d] += 1
        self.drive_call[d] = c
        self.drive_start[d] = self.now
        self.drive_eta[d] = eta
        self.assigned[c] = self.now
        self.eta[c] = eta
        if math.isnan(self.busy_since[d]):
            self.busy_since[d] = self.now
        self.registry.set_status(doctor, DoctorStatus.EN_ROUTE)
        self.available.discard(doctor)
        self.push(self.now + eta, _REACH, d, int(self.drive_version[d]))
        return [ReportProgress(f"c{c}", doctor, S.EN_ROUTE)]

    def _released(self, d: int, c: int) -> None:
        """Doctor d was taken off call c (an emergency took them): stop where they are."""
        doctor = self.doctor_ids[d]
        self.preempted[c] += 1
        if self.drive_call[d] == c:
            node, lat, lon = self._position(d)
            self.drive_version[d] += 1  # the pending arrival is void
            self.drive_call[d] = -1
            self.doc_node[d] = node
            self._fix_at(d, lat, lon)
        if doctor not in self.core.doctor_booking:
            self._free(d)

    def _reach(self, d: int, version: int) -> None:
        if version != self.drive_version[d]:
            return  # a drive that was called off
        c = int(self.drive_call[d])
        doctor = self.doctor_ids[d]
        node = int(self.sc.call_nodes[c])
        self.drive_call[d] = -1
        self.doc_node[d] = node
        self._fix(d, node)
        self._routes.pop(d, None)
        self.arrived[c] = self.now
        self.outcome[c] = ARRIVED
        if self.sc.call_measured[c]:
            self.open_measured -= 1
        self.registry.set_status(
            doctor, DoctorStatus.ON_VISIT, now_s=self.now, call_type="home_visit"
        )
        self._do(ReportProgress(f"c{c}", doctor, S.ARRIVED))
        self._do(ReportProgress(f"c{c}", doctor, S.IN_PROGRESS))
        self.push(self.now + float(self.sc.call_visit_s[c]), _DONE, d, c)

    def _done(self, d: int, c: int) -> None:
        self._do(ReportProgress(f"c{c}", self.doctor_ids[d], S.COMPLETED))
        self._free(d)
        if self.waiting:
            self._decide(Tick())

    def _free(self, d: int) -> None:
        doctor = self.doctor_ids[d]
        self.registry.set_status(doctor, DoctorStatus.AVAILABLE)
        self.available.add(doctor)
        since = float(self.busy_since[d])
        if not math.isnan(since):
            self.busy_s += self._in_window(since, self.now)
            self.busy_since[d] = np.nan

    def _reply(self, key: int, _: int) -> None:
        offer_id, doctor, accept = self.replies.pop(key)
        offer = self.core.offers.get(offer_id)
        if offer is None or not offer.open:
            return
        if accept:
            self._do(AcceptOffer(offer_id, doctor))
        else:
            self._decide(DeclineOffer(offer_id, doctor, "busy"))

    def _batch(self, _a: int, _b: int) -> None:
        if self.waiting:
            self._decide(Tick(), batch_tick=True)
        nxt = self.now + self.config.batch_window_s
        if nxt <= self.config.horizon_s:
            self.push(nxt, _BATCH)

    def _tick(self, _a: int, _b: int) -> None:
        self.tick_at = math.inf
        self._decide(Tick())

    # -- positions -------------------------------------------------------------------------------

    def _fix(self, d: int, node: int) -> None:
        """Doctor d stands on a road node: tell the registry."""
        self._fix_at(d, float(self.node_lat[node]), float(self.node_lon[node]))

    def _fix_at(self, d: int, lat: float, lon: float) -> None:
        """Tell the registry where doctor d is (as their phone would)."""
        if self.fixed_at[d] == (lat, lon):
            return  # still there
        fix_s = max(self.now, float(self.last_fix[d]) + 1e-3)
        self.last_fix[d] = fix_s
        self.fixed_at[d] = (lat, lon)
        rejection = self.registry.update_position(
            self.doctor_ids[d], lat, lon, _FIX_ACCURACY_M, fix_s, fix_s
        )
        if rejection is not None:  # pragma: no cover - the simulation moves at road speeds
            raise RuntimeError(f"the registry refused a simulated fix: {rejection.value}")

    def _position(self, d: int) -> tuple[int, float, float]:
        """Where driving doctor d is now: the last road node passed, and the exact point.

        Time along the route is taken as distance along it (speeds vary little within
        one trip); the point moves continuously, at the route's mean speed.
        """
        start = int(self.doc_node[d])
        c = int(self.drive_call[d])
        eta = float(self.drive_eta[d])
        if c < 0 or eta <= 0:
            return start, float(self.node_lat[start]), float(self.node_lon[start])
        version = int(self.drive_version[d])
        cached = self._routes.get(d)
        if cached is None or cached[0] != version:
            target = int(self.sc.call_nodes[c])
            route = self.router.route(
                (float(self.node_lat[start]), float(self.node_lon[start])),
                (float(self.node_lat[target]), float(self.node_lon[target])),
            )
            lat = np.array([p.lat for p in route.path])
            lon = np.array([p.lon for p in route.path])
            nodes = self.router.nearest_nodes(lat, lon)[0].tolist()
            seg = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
            cum = np.concatenate([[0.0], np.cumsum(seg)])
            cached = (version, nodes, np.column_stack([lat, lon, cum]))
            self._routes[d] = cached
        _, nodes, table = cached
        share = min(1.0, max(0.0, (self.now - float(self.drive_start[d])) / eta))
        cum = table[:, 2]
        along = share * float(cum[-1])
        i = max(0, min(int(np.searchsorted(cum, along, side="right")) - 1, len(nodes) - 1))
        if i + 1 >= len(nodes):
            return int(nodes[i]), float(table[i, 0]), float(table[i, 1])
        seg_m = float(cum[i + 1] - cum[i])
        f = (along - float(cum[i])) / seg_m if seg_m > 0 else 0.0
        lat_now = float(table[i, 0] + f * (table[i + 1, 0] - table[i, 0]))
        lon_now = float(table[i, 1] + f * (table[i + 1, 1] - table[i, 1]))
        return int(nodes[i]), lat_now, lon_now

    def _locate(self, doctors: Sequence[str], now_s: float) -> None:
        """Bring driving doctors' registry positions up to now (for emergency preemption)."""
        for doctor in doctors:
            d = _doctor(doctor)
            if self.drive_call[d] >= 0:
                _, lat, lon = self._position(d)
                self._fix_at(d, lat, lon)

    # -- the result ------------------------------------------------------------------------------

    def _in_window(self, start: float, end: float) -> float:
        lo = max(start, self.config.window_start_s)
        hi = min(end, self.config.window_end_s)
        return max(0.0, hi - lo)

    def _result(self) -> DayResult:
        config = self.config
        end = max(self.now, config.window_end_s)
        for since in self.busy_since.tolist():
            if not math.isnan(since):
                self.busy_s += self._in_window(since, end)
        window = config.window_end_s - config.window_start_s
        n = len(self.doctor_ids)
        return DayResult(
            policy=self.policy.value,
            seed=self.sc.seed,
            measured=self.sc.call_measured.copy(),
            emergency=self.sc.call_emergency.copy(),
            outcome=self.outcome,
            call_s=self.sc.call_s.copy(),
            first_offer_s=self.first_offer,
            assigned_s=self.assigned,
            arrived_s=self.arrived,
            eta_at_dispatch_s=self.eta,
            offer_open_s=self.offer_open,
            offers=self.offers,
            preempted=self.preempted,
            latency_us=np.asarray(self.latency_us, dtype=np.float64),
            latency_cpu_us=np.asarray(self.latency_cpu_us, dtype=np.float64),
            utilisation=min(1.0, self.busy_s / (n * window)) if window > 0 else math.nan,
            end_s=self.now,
        )


def _call(booking_id: str) -> int:
    return int(booking_id[1:])


def _doctor(doctor_id: str) -> int:
    return int(doctor_id[1:])
