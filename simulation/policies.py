"""The dispatch policies compared by the simulator, as CandidateSources for the dispatch core.

Every policy runs through the same `DispatchCore` (offers, cascade, give-up, emergency
preemption); a policy only decides whom the core may offer a waiting call to, and when:

- greedy:  the straight-line nearest free doctor (the registry's KD-tree), at once; a
           call nobody can take waits, and the core serves waiting calls oldest first
           (emergencies first). The baseline.
- road:    the same with the engine's matcher: the k straight-line nearest free doctors
           ranked by road ETA (one many-to-one sweep), at once; oldest first.
- batch:   every W seconds, every waiting call at once by a minimum-total-cost
           assignment (the matcher's `assign_batch`); emergencies are never held back.
- default: what the engine does — road-ETA ranking and the core's offer cascade at
           once — and, when two or more calls wait, one minimum-cost assignment of the
           waiting calls to the free doctors within the matcher's search radius, by road
           ETA, a waited second counting as `aging_s_per_s` seconds of ETA. A doctor
           freed while calls queue thus takes the nearest waiting call (not the oldest),
           unless an older one has waited long enough to outweigh the longer drive.

In every policy a call only gets a doctor within the matcher's search radius (15 km in a
straight line); with nobody free that near, it waits for one to come free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from dispatch_core import Booking
from matching import CallRequest, DoctorRegistry, Matcher
from routing import Router

_INFEASIBLE = 1e12
PREEMPT_MAX_ETA_S = 600.0  # as the engine's MatcherCandidates
PREEMPT_RADIUS_M = 5_000.0  # the straight-line baseline's stand-in for it


class Policy(StrEnum):
    GREEDY = "greedy"
    ROAD = "road"
    BATCH = "batch"
    DEFAULT = "default"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Policy.GREEDY: "straight-line greedy, first-come queue (baseline)",
    Policy.ROAD: "road-ETA greedy, first-come queue",
    Policy.BATCH: "batch every W s (min-cost assignment)",
    Policy.DEFAULT: "engine default (road ETA, cascade; min-cost with aging when >=2 wait)",
}


@dataclass(frozen=True, slots=True)
class Pending:
    """A call waiting for a doctor, as the planner sees it."""

    booking_id: str
    lat: float
    lon: float
    is_emergency: bool
    created_s: float
    declined_by: frozenset[str] = frozenset()


Locate = Callable[[Sequence[str], float], None]
"""Bring these (busy) doctors' registry positions up to `now` (the simulator moves them)."""


class SimCandidates:
    """The core's CandidateSource for one policy, with the planner the simulator drives.

    Before each dispatch decision the simulator calls `prepare` with the waiting calls;
    a policy that plans fills `plan` (booking -> doctor, or None: not now), and the core's
    searches during that decision follow it. Bookings outside the plan (a cascade after a
    decline, say) get the policy's immediate answer.
    """

    def __init__(
        self,
        policy: Policy,
        matcher: Matcher,
        router: Router,
        *,
        available: set[str],
        locate: Locate,
        aging_s_per_s: float = 0.5,
    ) -> None:
        self.policy = policy
        self.matcher = matcher
        self.registry: DoctorRegistry = matcher.registry
        self.router = router
        self.available = available  # doctors whose registry status is AVAILABLE (shared)
        self.locate = locate
        self.aging_s_per_s = aging_s_per_s
        self.plan: dict[str, str | None] | None = None

    # -- the CandidateSource port --------------------------------------------------------

    def rank(self, booking: Booking, exclude: frozenset[str], now_s: float) -> Sequence[str]:
        plan = self.plan
        if plan is not None and booking.booking_id in plan:
            doctor = plan.pop(booking.booking_id)
            return [] if doctor is None or doctor in exclude else [doctor]
        if self.policy is Policy.BATCH and not booking.is_emergency:
            return []  # waits for the next batch
        if not (self.available - exclude):
            return []  # nobody free: spare the search
        call = self.call_for(booking, exclude)
        if self.policy is Policy.GREEDY:
            return self._straight_line(call, now_s)
        return self.matcher.decide(call, now_s).ranking

    def unassignable(self, doctor_id: str, booking: Booking, now_s: float) -> str | None:
        return None if doctor_id in self.registry else f"no doctor {doctor_id!r} is on shift"

    def rank_requested(
        self, booking: Booking, doctor_id: str, exclude: frozenset[str], now_s: float
    ) -> Sequence[str]:
        """Simulated patients never ask for a doctor by name; asked anyway, the matcher
        judges that doctor alone."""
        if doctor_id in exclude or doctor_id not in self.registry:
            return []
        return self.matcher.evaluate(self.call_for(booking, exclude), [doctor_id], now_s).ranking

    def rank_preemptable(
        self, booking: Booking, doctors: Sequence[str], now_s: float
    ) -> Sequence[str]:
        """Busy doctors near enough to take an emergency, best first (as the engine does)."""
        known = [d for d in doctors if d in self.registry]
        if not known:
            return []
        self.locate(known, now_s)
        registry = self.registry
        slots = np.array([registry.slot(d) for d in known], dtype=np.int64)
        if self.policy is Policy.GREEDY:
            x, y = registry.projected_xy(slots)
            proj = registry.projection
            proj = registry.projection
            qx = (booking.longitude - proj.lon0) * proj.kx
            qy = (booking.latitude - proj.lat0) * proj.ky
            dist = np.hypot(x - qx, y - qy)
            order = sorted(range(len(known)), key=lambda i: (float(dist[i]), known[i]))
            return [known[i] for i in order if dist[i] <= PREEMPT_RADIUS_M]
        nodes = registry.road_nodes(slots, self.router)
        target = self.router.snap(booking.latitude, booking.longitude).node
        etas = np.full(len(known), np.inf)
        routable = nodes >= 0
        if routable.any():
            etas[routable] = self.router.etas_from_nodes(nodes[routable].tolist(), target)
        order = sorted(range(len(known)), key=lambda i: (float(etas[i]), known[i]))
        return [known[i] for i in order if etas[i] <= PREEMPT_MAX_ETA_S]

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def call_for(booking: Booking, exclude: frozenset[str]) -> CallRequest:
        """The matcher's view of a booking (as services.dispatch.MatcherCandidates builds it)."""
        return CallRequest(
            call_id=booking.booking_id,
            lat=booking.latitude,
            lon=booking.longitude,
            call_type=booking.call_type,
            clinic_id=booking.clinic_id,
            is_emergency=booking.is_emergency,
            declined_by=frozenset(booking.excluded_doctors),
            busy=exclude - booking.excluded_doctors,
        )

    def _straight_line(self, call: CallRequest, now_s: float) -> list[str]:
        registry = self.registry
        policy = self.matcher.policy

        def exclude(slots: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
            return registry.exclusions(slots, call, now_s, allow_on_visit=False)

        slots, _, _, _, _ = registry.nearest(
            call.lat, call.lon, policy.k, policy.search_radius_m, exclude
        )
        return registry.doctor_ids(slots.tolist())

    # -- planning ------------------------------------------------------------------------

    def prepare(
        self,
        now_s: float,
        waiting: Sequence[Pending],
        busy: frozenset[str],
        *,
        batch_tick: bool = False,
    ) -> None:
        """Decide, before a dispatch decision, which waiting call gets which free doctor."""
        self.plan = None
        if self.policy is Policy.BATCH:
            if batch_tick and waiting:
                calls = [self._request(p, busy) for p in waiting]
                result = self.matcher.assign_batch(calls, now_s)
                self.plan = {p.booking_id: result.assignments.get(p.booking_id) for p in waiting}
            else:
                self.plan = {p.booking_id: None for p in waiting if not p.is_emergency}
        elif self.policy is Policy.DEFAULT and len(waiting) >= 2:
            self.plan = self._min_cost_plan(now_s, waiting, busy)

    def finish(self) -> None:
        self.plan = None

    @property
    def plan_pending(self) -> bool:
        """A plan still names doctors for bookings the core has not searched yet."""
        return self.plan is not None and any(d is not None for d in self.plan.values())

    @staticmethod
    def _request(p: Pending, busy: frozenset[str]) -> CallRequest:
        return CallRequest(
            call_id=p.booking_id,
            lat=p.lat,
            lon=p.lon,
            call_type="urgent" if p.is_emergency else "home_visit",
            is_emergency=p.is_emergency,
            declined_by=p.declined_by,
            busy=busy - p.declined_by,
        )

    def _min_cost_plan(
        self, now_s: float, waiting: Sequence[Pending], busy: frozenset[str]
    ) -> dict[str, str | None]:
        """Waiting calls to free doctors at least total cost (road ETA and the matcher's
        tie-breaks, less `aging_s_per_s` per second waited); emergencies first."""
        plan: dict[str, str | None] = {p.booking_id: None for p in waiting}
        free = sorted(self.available - busy)
        if not free:
            return plan
        if len(free) <= 2 * self.matcher.policy.k:
            cost = self._costs_over_all(now_s, waiting, busy, free)
        else:
            cost = self._costs_of_nearest(now_s, waiting, busy, free)
        for i, p in enumerate(waiting):
            feasible = cost[i] < _INFEASIBLE
            cost[i, feasible] -= self.aging_s_per_s * max(0.0, now_s - p.created_s)
        taken: set[int] = set()
        for group in (
            [i for i, p in enumerate(waiting) if p.is_emergency],
            [i for i, p in enumerate(waiting) if not p.is_emergency],
        ):
            cols = [j for j in range(len(free)) if j not in taken]
            if not group or not cols:
                continue
            sub = cost[np.ix_(group, cols)]
            rows, picked = linear_sum_assignment(sub)
            for r, c in zip(rows.tolist(), picked.tolist(), strict=True):
                if sub[r, c] >= _INFEASIBLE / 2 or math.isnan(sub[r, c]):
                    continue
                taken.add(cols[c])
                plan[waiting[group[r]].booking_id] = free[cols[c]]
        return plan

    def _costs_over_all(
        self, now_s: float, waiting: Sequence[Pending], busy: frozenset[str], free: list[str]
    ) -> npt.NDArray[np.float64]:
        """Few free doctors (a queue): every one of them within the matcher's search radius,
        by road ETA, in one many-to-one sweep per call."""
        registry = self.registry
        policy = self.matcher.policy
        slots = np.array([registry.slot(d) for d in free], dtype=np.int64)
        nodes = registry.road_nodes(slots, self.router)
        x, y = registry.projected_xy(slots)
        proj = registry.projection
        tie_break = (
            policy.fairness_weight_s_per_visit * registry.visits_today(slots)
            - policy.rating_weight_s_per_star * registry.ratings(slots)
        ).astype(np.float64)
        cost = np.full((len(waiting), len(free)), _INFEASIBLE)
        for i, p in enumerate(waiting):
            call = self._request(p, busy)
            ok = (nodes >= 0) & (registry.exclusions(slots, call, now_s, allow_on_visit=False) == 0)
            # Within the search radius, as the matcher's own searches are: a call waits for a
            # doctor to come free nearby rather than take one from across the city (measured:
            # without this limit the policy lost 2.5 % to plain road-ETA greedy at 200 calls/h).
            qx = (p.lon - proj.lon0) * proj.kx
            qy = (p.lat - proj.lat0) * proj.ky
            ok &= np.hypot(x - qx, y - qy) <= policy.search_radius_m
            if not ok.any():
                continue
            target = self.router.snap(p.lat, p.lon).node
            eta = self.router.etas_from_nodes(nodes[ok].tolist(), target)
            cost[i, ok] = np.where(np.isnan(eta), _INFEASIBLE, eta + tie_break[ok])
        return cost

    def _costs_of_nearest(
        self, now_s: float, waiting: Sequence[Pending], busy: frozenset[str], free: list[str]
    ) -> npt.NDArray[np.float64]:
        """Many free doctors: the matcher's own candidates (k nearest) and costs per call."""
        column = {d: j for j, d in enumerate(free)}
        cost = np.full((len(waiting), len(free)), _INFEASIBLE)
        for i, p in enumerate(waiting):
            decision = self.matcher.decide(self._request(p, busy), now_s)
            for record in decision.considered:
                j = column.get(record.doctor_id)
                if j is not None and record.cost_s is not None:
                    cost[i, j] = record.cost_s
        return cost
