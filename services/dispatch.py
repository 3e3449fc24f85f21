"""Wiring the dispatch core to matching: the CandidateSource the core asks for doctors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dispatch_core import Booking
from matching import CallRequest, Decision, Matcher

DEFAULT_PREEMPT_MAX_ETA_S = 600.0


class MatcherCandidates:
    """Ranks doctors for the dispatch core with the matcher (road ETAs, constraints, policy).

    Each ranking's Decision is kept (the latest per booking) so the audit trail and
    the operator console can show why the offers went where they went.
    """

    def __init__(
        self, matcher: Matcher, preempt_max_eta_s: float = DEFAULT_PREEMPT_MAX_ETA_S
    ) -> None:
        self.matcher = matcher
        self.preempt_max_eta_s = preempt_max_eta_s
        self.decisions: dict[str, Decision] = {}

    def forget(self, booking_id: str) -> None:
        """Drop a finished booking's decision (the audit trail has what it needs)."""
        self.decisions.pop(booking_id, None)

    def call_for(self, booking: Booking, exclude: frozenset[str]) -> CallRequest:
        return CallRequest(
            call_id=booking.booking_id,
            lat=booking.latitude,
            lon=booking.longitude,
            call_type=booking.call_type,
            clinic_id=booking.clinic_id,
            is_emergency=booking.is_emergency,
            patient_is_child=booking.patient_is_child,
            languages=frozenset({booking.language}) if booking.language else frozenset(),
            declined_by=frozenset(booking.excluded_doctors),
            busy=exclude - booking.excluded_doctors,
        )

    def rank(self, booking: Booking, exclude: frozenset[str], now_s: float) -> Sequence[str]:
        decision = self.matcher.decide(self.call_for(booking, exclude), now_s)
        self.decisions[booking.booking_id] = decision
        return decision.ranking

    def rank_requested(
        self, booking: Booking, doctor_id: str, exclude: frozenset[str], now_s: float
    ) -> Sequence[str]:
        """The doctor the patient chose, judged alone by the matcher (constraints, road
        ETA), wherever they are; the decision is kept like any other."""
        decision = self.matcher.evaluate(self.call_for(booking, exclude), [doctor_id], now_s)
        self.decisions[booking.booking_id] = decision
        return decision.ranking

    def unassignable(self, doctor_id: str, booking: Booking, now_s: float) -> str | None:
        """Operators assign doctors on shift (in the registry) whose licence is valid."""
        registry = self.matcher.registry
        if doctor_id not in registry:
            return f"no doctor {doctor_id!r} is on shift"
        if registry.credential_expires_s(doctor_id) <= now_s:
            return f"doctor {doctor_id!r} has an expired licence"
        return None

    def rank_preemptable(
        self, booking: Booking, doctors: Sequence[str], now_s: float
    ) -> Sequence[str]:
        """Busy doctors whose road ETA to the emergency is within preempt_max_eta_s, nearest
        first; a doctor whose clinic does not serve the emergency's point is not taken."""
        registry = self.matcher.registry
        oracle = self.matcher.oracle
        lat, lon = booking.latitude, booking.longitude
        known = [
            d
            for d in doctors
            if d in registry
            and registry.position(d) is not None
            and registry.in_clinic_area(d, lat, lon)
        ]
        if not known:
            return []
        slots = np.array([registry.slot(d) for d in known], dtype=np.int64)
        nodes = registry.road_nodes(slots, oracle)
        target = oracle.snap(booking.latitude, booking.longitude).node
        routable = nodes >= 0
        etas = np.full(len(known), np.inf)
        if routable.any():
            etas[routable] = oracle.etas_from_nodes(nodes[routable].tolist(), target)
        order = sorted(range(len(known)), key=lambda i: (etas[i], known[i]))
        return [known[i] for i in order if etas[i] <= self.preempt_max_eta_s]
