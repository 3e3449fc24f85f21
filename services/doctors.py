"""Doctors' shifts and positions: who is online, where, and able to take calls.

A doctor goes online only when an admin has verified them and their licence is valid;
their profile (skills, clinic, rating) goes into the matcher's registry, their fixes
into the registry and the location history."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from accounts import AccountStore, Role, User
from dispatch_core import BookingStatus
from dispatch_core.messages import (
    DoctorReleased,
    Event,
    MarkDoctorOffline,
    MarkDoctorOnline,
    OfferEnded,
    OfferSent,
    StatusChanged,
)
from dispatch_core.model import TERMINAL, OfferOutcome
from matching import DoctorProfile, DoctorRegistry, DoctorStatus, FixRejection
from services.auth import ConflictError, ForbiddenError, NotFoundError, Principal
from services.engine import Engine
from storage.locations import LocationFix


class FixRefusedError(Exception):
    """The registry refused a position fix (422), with its reason."""

    def __init__(self, reason: FixRejection) -> None:
        super().__init__(f"position refused: {reason.value}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DoctorState:
    doctor_id: str
    status: DoctorStatus
    lat: float | None
    lon: float | None
    fix_age_s: float | None
    stale: bool


def profile_of(user: User) -> DoctorProfile:
    return DoctorProfile(
        doctor_id=user.user_id,
        specialization=user.specialization or "general",
        treats_adults=user.treats_adults,
        treats_children=user.treats_children,
        languages=frozenset(user.languages) or frozenset({"ru"}),
        credential_expires_s=user.license_expires_s
        if user.license_expires_s is not None
        else math.inf,
        rating=min(5.0, max(0.0, user.rating if user.rating is not None else 5.0)),
        clinic_id=user.clinic_id,
    )


class ShiftStore(Protocol):
    """Where shifts are kept (geo.doctor_availability), so a restart knows who is on one."""

    async def save_shift(self, doctor_id: str, status: str | None, at_s: float) -> None: ...

    async def shifts(self) -> dict[str, tuple[str, float]]: ...


AVAILABLE = "available"
ON_BREAK = "on_break"


class DoctorService:
    def __init__(
        self,
        accounts: AccountStore,
        registry: DoctorRegistry,
        engine: Engine,
        clock: Callable[[], float],
        record_fix: Callable[[LocationFix], None] | None = None,
        shifts: ShiftStore | None = None,
    ) -> None:
        self.accounts = accounts
        self.registry = registry
        self.engine = engine
        self.clock = clock
        self.record_fix = record_fix
        self.shifts = shifts
        # On shift, connected or not (presence is the gateway's): doctor -> "available"
        # or "on_break", as stored.
        self.on_shift: dict[str, str] = {}
        engine.listeners.append(self.follow)

    async def _keep_shift(self, doctor_id: str, status: str | None) -> None:
        if status is None:
            self.on_shift.pop(doctor_id, None)
        else:
            self.on_shift[doctor_id] = status
        if self.shifts is not None:
            await self.shifts.save_shift(doctor_id, status, self.clock())

    async def restore_shifts(self, positions: Sequence[LocationFix]) -> list[str]:
        """After a restart: doctors whose shift was stored are on shift again, offline
        until their app reconnects, at their last known position. Returns their ids."""
        if self.shifts is None:
            return []
        restored = []
        for doctor_id, (status, _) in sorted((await self.shifts.shifts()).items()):
            user = await self.accounts.user(doctor_id)
            if user is None or user.role is not Role.DOCTOR or not user.is_active:
                await self.shifts.save_shift(doctor_id, None, self.clock())
                continue
            self.registry.upsert_doctor(profile_of(user), DoctorStatus.OFFLINE)
            self.on_shift[doctor_id] = status
            restored.append(doctor_id)
        known = [f for f in positions if f.doctor_id in self.registry]
        if known:
            self.registry.update_positions(
                [f.doctor_id for f in known],
                np.array([f.lat for f in known]),
                np.array([f.lon for f in known]),
                np.array([f.accuracy_m for f in known]),
                np.array([f.recorded_s for f in known]),
                self.clock(),
            )
        return restored

    def shift_status(self, doctor_id: str) -> DoctorStatus:
        """The registry status a doctor on shift takes when they (re)connect."""
        return (
            DoctorStatus.ON_BREAK
            if self.on_shift.get(doctor_id) == ON_BREAK
            else DoctorStatus.AVAILABLE
        )

    async def _doctor(self, who: Principal) -> User:
        if who.role is not Role.DOCTOR:
            raise ForbiddenError("only doctors have shifts")
        user = await self.accounts.user(who.user_id)
        if user is None:
            raise NotFoundError("no such doctor")
        return user

    async def start_shift(
        self, who: Principal, lat: float, lon: float, accuracy_m: float
    ) -> DoctorState:
        user = await self._doctor(who)
        now = self.clock()
        if not user.is_verified:
            raise ForbiddenError("an admin must verify this doctor before they can go online")
        if user.license_expires_s is not None and user.license_expires_s <= now:
            raise ForbiddenError("this doctor's licence has expired")
        self.registry.upsert_doctor(profile_of(user), DoctorStatus.AVAILABLE)
        await self._keep_shift(user.user_id, AVAILABLE)
        await self.report_position(who, lat, lon, accuracy_m, now)
        await self.engine.handle(MarkDoctorOnline(user.user_id), now)
        return self.state(user.user_id)

    async def end_shift(self, who: Principal) -> DoctorState:
        await self._doctor(who)
        if who.user_id not in self.registry:
            raise ConflictError("not on shift")
        self.registry.set_status(who.user_id, DoctorStatus.OFFLINE)
        await self._keep_shift(who.user_id, None)
        await self.engine.handle(MarkDoctorOffline(who.user_id), self.clock())
        return self.state(who.user_id)

    async def set_availability(self, who: Principal, available: bool) -> DoctorState:
        await self._doctor(who)
        if (
            who.user_id not in self.registry
            or self.registry.status(who.user_id) is DoctorStatus.OFFLINE
        ):
            raise ConflictError("start a shift first")
        self.registry.set_status(
            who.user_id, DoctorStatus.AVAILABLE if available else DoctorStatus.ON_BREAK
        )
        await self._keep_shift(who.user_id, AVAILABLE if available else ON_BREAK)
        return self.state(who.user_id)

    async def report_position(
        self, who: Principal, lat: float, lon: float, accuracy_m: float, fix_s: float | None = None
    ) -> DoctorState:
        if who.role is not Role.DOCTOR:
            raise ForbiddenError("only doctors report positions")
        if who.user_id not in self.registry:
            raise ConflictError("start a shift first")
        now = self.clock()
        fix_time = now if fix_s is None else fix_s
        rejection = self.registry.update_position(who.user_id, lat, lon, accuracy_m, fix_time, now)
        if rejection is not None:
            raise FixRefusedError(rejection)
        if self.record_fix is not None:
            self.record_fix(LocationFix(who.user_id, lat, lon, accuracy_m, fix_time))
        return self.state(who.user_id)

    def follow(self, events: list[Event]) -> None:
        """Keep the registry's statuses in step with the core's decisions, for the
        operators' map and for the ETA of doctors on a visit. (The core itself never
        offers a doctor it holds elsewhere, whatever the registry says.)"""
        reg = self.registry
        core = self.engine.core
        for e in events:
            doctor = getattr(e, "doctor_id", None)
            if doctor is None or doctor not in reg:
                continue
            current = reg.status(doctor)
            if current in (DoctorStatus.OFFLINE, DoctorStatus.ON_BREAK) and not isinstance(
                e, StatusChanged
            ):
                continue
            if isinstance(e, OfferSent) and current is DoctorStatus.AVAILABLE:
                reg.set_status(doctor, DoctorStatus.OFFERED)
            elif isinstance(e, OfferEnded) and e.outcome is not OfferOutcome.ACCEPTED:
                if current is DoctorStatus.OFFERED and doctor not in core.doctor_offer:
                    reg.set_status(doctor, DoctorStatus.AVAILABLE)
            elif isinstance(e, StatusChanged):
                if current is DoctorStatus.OFFLINE:
                    continue
                if e.new_status in (BookingStatus.ASSIGNED, BookingStatus.EN_ROUTE):
                    reg.set_status(doctor, DoctorStatus.EN_ROUTE)
                elif e.new_status is BookingStatus.ARRIVED:
                    booking = core.bookings.get(e.booking_id)
                    call_type = booking.call_type if booking is not None else None
                    reg.set_status(doctor, DoctorStatus.ON_VISIT, now_s=e.at_s, call_type=call_type)
                elif e.new_status in TERMINAL and core.doctor_booking.get(doctor) is None:
                    if e.new_status is BookingStatus.COMPLETED:
                        reg.record_visit_completed(doctor)
                    if current in (DoctorStatus.EN_ROUTE, DoctorStatus.ON_VISIT):
                        reg.set_status(doctor, DoctorStatus.AVAILABLE)
            elif (
                isinstance(e, DoctorReleased)
                and core.doctor_booking.get(doctor) is None
                and current in (DoctorStatus.EN_ROUTE, DoctorStatus.ON_VISIT)
            ):
                reg.set_status(doctor, DoctorStatus.AVAILABLE)

    def state(self, doctor_id: str) -> DoctorState:
        position = self.registry.position(doctor_id)
        now = self.clock()
        if position is None:
            return DoctorState(doctor_id, self.registry.status(doctor_id), None, None, None, True)
        lat, lon = position[0], position[1]
        age = self.registry.fix_age_s(doctor_id, now)
        return DoctorState(
            doctor_id,
            self.registry.status(doctor_id),
            lat,
            lon,
            age,
            self.registry.is_stale(doctor_id, now),
        )

    def live(
        self, who: Principal, box: tuple[float, float, float, float] | None
    ) -> list[DoctorState]:
        if who.role not in (Role.OPERATOR, Role.ADMIN):
            raise ForbiddenError("only operators watch the city")
        if box is None:
            ids = sorted(self.registry.doctor_ids(self.registry.positioned_slots().tolist()))
        else:
            ids = self.registry.doctors_in_viewport(*box)
        states = [self.state(d) for d in ids]
        return [s for s in states if s.status is not DoctorStatus.OFFLINE]  # gone: not live
