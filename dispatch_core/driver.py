"""A deterministic driver for the core: a simulated clock and a seeded candidate source.

Tests and the simulator run the core through scripted days with it. Pure, like the core.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from typing import TypeVar

from dispatch_core.core import DispatchCore, DispatchPolicy
from dispatch_core.messages import Command, Event, OfferSent, Tick
from dispatch_core.model import Booking, Offer

E = TypeVar("E")

_M_PER_DEG = 111_195.0


class ScriptedCandidates:
    """Doctors at fixed points, ranked by straight-line distance (a stand-in for road ETA)."""

    def __init__(
        self, doctors: dict[str, tuple[float, float]], preempt_radius_m: float = 5_000.0
    ) -> None:
        self.doctors = dict(doctors)
        self.preempt_radius_m = preempt_radius_m

    def distance_m(self, doctor: str, booking: Booking) -> float:
        lat, lon = self.doctors[doctor]
        dy = (lat - booking.latitude) * _M_PER_DEG
        dx = (lon - booking.longitude) * _M_PER_DEG * math.cos(math.radians(booking.latitude))
        return math.hypot(dx, dy)

    def rank(self, booking: Booking, exclude: frozenset[str], now_s: float) -> Sequence[str]:
        free = [d for d in self.doctors if d not in exclude]
        return sorted(free, key=lambda d: (self.distance_m(d, booking), d))

    def rank_preemptable(
        self, booking: Booking, doctors: Sequence[str], now_s: float
    ) -> Sequence[str]:
        near = [
            d
            for d in doctors
            if d in self.doctors and self.distance_m(d, booking) <= self.preempt_radius_m
        ]
        return sorted(near, key=lambda d: (self.distance_m(d, booking), d))

    def unassignable(self, doctor_id: str, booking: Booking, now_s: float) -> str | None:
        return None if doctor_id in self.doctors else f"no doctor {doctor_id!r} is on shift"

    def rank_requested(
        self, booking: Booking, doctor_id: str, exclude: frozenset[str], now_s: float
    ) -> Sequence[str]:
        return [doctor_id] if doctor_id in self.doctors and doctor_id not in exclude else []


class Driver:
    """Runs a DispatchCore on a simulated clock, ticking it as time passes."""

    def __init__(
        self, core: DispatchCore, start_s: float = 1_800_000_000.0, tick_s: float = 1.0
    ) -> None:
        if tick_s <= 0:
            raise ValueError("tick_s must be positive")
        self.core = core
        self.now_s = start_s
        self.tick_s = tick_s
        self.events: list[Event] = []

    @classmethod
    def seeded(
        cls,
        seed: int,
        doctors: int,
        *,
        center: tuple[float, float] = (55.75, 37.62),
        spread_deg: float = 0.05,
        policy: DispatchPolicy | None = None,
    ) -> Driver:
        """A city of `doctors` doctors scattered around `center`, the same for the same seed."""
        rng = random.Random(seed)
        places = {
            f"doc-{i:03d}": (
                center[0] + rng.uniform(-spread_deg, spread_deg),
                center[1] + rng.uniform(-spread_deg, spread_deg),
            )
            for i in range(doctors)
        }
        return cls(DispatchCore(ScriptedCandidates(places), policy))

    def do(self, command: Command) -> list[Event]:
        events = self.core.handle(command, self.now_s)
        self.events.extend(events)
        return events

    def advance(self, seconds: float) -> list[Event]:
        """Let time pass, ticking the core every tick_s (and once at the end)."""
        end = self.now_s + seconds
        out: list[Event] = []
        while self.now_s + self.tick_s <= end:
            self.now_s += self.tick_s
            out.extend(self.do(Tick()))
        if self.now_s < end:
            self.now_s = end
            out.extend(self.do(Tick()))
        return out

    def run(self, script: Iterable[tuple[float, Command]]) -> list[Event]:
        """Each (seconds from now, command): advance to that time, then do the command."""
        start = self.now_s
        out: list[Event] = []
        for at, command in script:
            if start + at > self.now_s:
                out.extend(self.advance(start + at - self.now_s))
            out.extend(self.do(command))
        return out

    def open_offer(self, doctor_id: str) -> Offer | None:
        offer_id = self.core.doctor_offer.get(doctor_id)
        return None if offer_id is None else self.core.offers[offer_id]

    def offered_doctors(self, booking_id: str) -> list[str]:
        """Every doctor offered this booking so far, in order."""
        return [
            e.doctor_id
            for e in self.events
            if isinstance(e, OfferSent) and e.booking_id == booking_id
        ]

    def of_type(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]
