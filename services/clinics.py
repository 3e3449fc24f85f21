"""Clinics' use cases: the clinic and its settings, its doctors (added, invited, detached),
their visits, and call statistics; the platform's statistics for admins.

Who sees what: admins every clinic; a clinic admin only their own (any other clinic is
"not found", so ids reveal nothing); every other role is refused at the edge (403) and
again here. Every change is audited; areas go to the matcher at once.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from accounts import AccountStore, Role, User
from clinics import Area, Clinic, ClinicStore, Invitation, Stats, StatsAccumulator, StatScope
from clinics.stats import default_period, period_bounds
from dispatch_core import Booking
from dispatch_core.ports import BookingListing
from matching import DoctorRegistry
from services.audit import AuditTrail
from services.auth import (
    AuthService,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Principal,
    TokenPair,
    new_id,
)
from services.bookings import InvalidRequestError
from services.doctors import DoctorService, profile_of
from services.engine import Engine

INVITATION_TTL_S = 7 * 24 * 3600.0
MAX_STATS_DAYS = 366
PLATFORM_TIMEZONE = "UTC"
UNUSABLE_PASSWORD = "!invited"  # not an argon2 hash: no password verifies against it
_DOCTOR_SCAN = 200  # users read per round while filtering a clinic's doctors

Verification = Literal["pending", "verified", "rejected"]


def verification_of(user: User) -> Verification:
    state = user.verification
    return "verified" if state == "verified" else "rejected" if state == "rejected" else "pending"


@dataclass(frozen=True, slots=True)
class ClinicDoctor:
    user: User
    verification: Verification
    documents: int
    on_shift: bool
    status: str | None
    lat: float | None
    lon: float | None
    visits_completed: int


@dataclass(frozen=True, slots=True)
class DoctorPage:
    items: list[ClinicDoctor]
    next_offset: int | None


@dataclass(frozen=True, slots=True)
class Added:
    doctor: ClinicDoctor
    invited: bool
    token: str | None = None


@dataclass(frozen=True, slots=True)
class ClinicChanges:
    """A PATCH: each field None when not given; area_given tells a null area from none."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    timezone: str | None = None
    opening_hours: tuple[object, ...] | None = None
    area: Area | None = None
    area_given: bool = False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ClinicService:
    def __init__(
        self,
        store: ClinicStore,
        accounts: AccountStore,
        auth: AuthService,
        registry: DoctorRegistry,
        engine: Engine,
        doctors: DoctorService,
        listing: BookingListing,
        audit: AuditTrail,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.auth = auth
        self.registry = registry
        self.engine = engine
        self.doctors = doctors
        self.listing = listing
        self.audit = audit
        self.clock = clock

    async def load_areas(self) -> int:
        """Give the matcher every clinic's area (at start)."""
        clinics = await self.store.clinics_with_area()
        for c in clinics:
            self._apply_area(c)
        return len(clinics)

    def _apply_area(self, clinic: Clinic) -> None:
        self.registry.set_clinic_area(
            clinic.clinic_id, None if clinic.area is None else clinic.area.contains
        )

    def _record(self, who: Principal, action: str, target_type: str, target_id: str,
                request_id: str, ip: str, detail: str = "") -> None:  # fmt: skip
        self.audit.record(
            who.user_id, who.role.value, action, target_type, target_id,
            request_id=request_id, ip=ip, detail=detail,
        )  # fmt: skip

    # -- access ------------------------------------------------------------------------

    async def clinic_for(self, who: Principal, clinic_id: str) -> Clinic:
        """The clinic, if `who` may see it: admins any, a clinic admin their own (404
        for any other, existing or not), nobody else (403)."""
        if who.role is Role.CLINIC_ADMIN:
            if who.clinic_id != clinic_id:
                raise NotFoundError(f"no clinic {clinic_id!r}")
        elif who.role is not Role.ADMIN:
            raise ForbiddenError("only admins and the clinic's admins see a clinic")
        clinic = await self.store.clinic(clinic_id)
        if clinic is None:
            raise NotFoundError(f"no clinic {clinic_id!r}")
        return clinic

    async def list_clinics(
        self, who: Principal, q: str | None, after: str | None, limit: int
    ) -> tuple[list[Clinic], str | None]:
        if who.role is Role.CLINIC_ADMIN:
            if after is not None or who.clinic_id is None:
                return [], None
            own = await self.store.clinic(who.clinic_id)
            if own is None or (q and q.lower() not in own.name.lower()):
                return [], None
            return [own], None
        if who.role is not Role.ADMIN:
            raise ForbiddenError("only admins list clinics")
        rows = await self.store.list_clinics(q=q, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, rows[-1].clinic_id if more and rows else None

    # -- the clinic --------------------------------------------------------------------

    async def create(
        self, who: Principal, clinic: Clinic, request_id: str = "", ip: str = ""
    ) -> Clinic:
        if who.role is not Role.ADMIN:
            raise ForbiddenError("only admins create clinics")
        now = self.clock()
        stored = replace(clinic, clinic_id=new_id(), created_s=now, updated_s=now)
        await self.store.create_clinic(stored)
        self._apply_area(stored)
        self._record(who, "clinic.create", "clinic", stored.clinic_id, request_id, ip,
                     stored.name)  # fmt: skip
        return stored

    async def update(
        self,
        who: Principal,
        clinic_id: str,
        changes: ClinicChanges,
        request_id: str = "",
        ip: str = "",
    ) -> Clinic:
        clinic = await self.clinic_for(who, clinic_id)
        changed = []
        for field in ("name", "phone", "email", "address", "timezone", "opening_hours"):
            value = getattr(changes, field)
            if value is not None and value != getattr(clinic, field):
                setattr(clinic, field, value)
                changed.append(field)
        if changes.area_given and changes.area != clinic.area:
            clinic.area = changes.area
            changed.append("area")
        if changed:
            clinic.updated_s = self.clock()
            await self.store.update_clinic(clinic)
            if "area" in changed:
                self._apply_area(clinic)
            self._record(who, "clinic.update", "clinic", clinic_id, request_id, ip,
                         ",".join(changed))  # fmt: skip
        return clinic

    # -- doctors -----------------------------------------------------------------------

    async def _describe(self, users: Sequence[User]) -> list[ClinicDoctor]:
        visits = await self.store.completed_visits([u.user_id for u in users])
        out = []
        for u in users:
            on_shift = u.user_id in self.doctors.on_shift and u.user_id in self.registry
            status = lat = lon = None
            if on_shift:
                state = self.doctors.state(u.user_id)
                status = state.status.name.lower()
                lat, lon = state.lat, state.lon
            documents = len(await self.accounts.documents_of(u.user_id))
            out.append(
                ClinicDoctor(u, verification_of(u), documents, on_shift, status, lat, lon,
                             visits.get(u.user_id, 0))
            )  # fmt: skip
        return out

    async def list_doctors(
        self,
        who: Principal,
        clinic_id: str,
        *,
        q: str | None = None,
        verification: Verification | None = None,
        on_shift: bool | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> DoctorPage:
        """The clinic's doctors in the order they joined, filtered; the next page starts at
        `next_offset` (a position in the clinic's doctors, not in the filtered answer)."""
        await self.clinic_for(who, clinic_id)
        needle = q.lower() if q else None
        found: list[User] = []
        position = offset
        while len(found) < limit:
            page = await self.accounts.list_users(
                role=Role.DOCTOR, clinic_id=clinic_id, offset=position, limit=_DOCTOR_SCAN
            )
            for i, u in enumerate(page):
                text = f"{u.first_name} {u.last_name} {u.email} {u.specialization or ''}"
                if needle is not None and needle not in text.lower():
                    continue
                if verification is not None and verification_of(u) != verification:
                    continue
                shift = u.user_id in self.doctors.on_shift
                if on_shift is not None and shift != on_shift:
                    continue
                found.append(u)
                if len(found) == limit:
                    rest = position + i + 1
                    more = i + 1 < len(page) or len(page) == _DOCTOR_SCAN
                    return DoctorPage(await self._describe(found), rest if more else None)
            if len(page) < _DOCTOR_SCAN:
                break
            position += _DOCTOR_SCAN
        return DoctorPage(await self._describe(found), None)

    async def _member(self, clinic_id: str, doctor_id: str) -> User:
        user = await self.accounts.user(doctor_id)
        if user is None or user.role is not Role.DOCTOR or user.clinic_id != clinic_id:
            raise NotFoundError(f"no doctor {doctor_id!r} in this clinic")
        return user

    def _refresh_profile(self, user: User) -> None:
        if user.user_id in self.registry:
            self.registry.upsert_doctor(profile_of(user))

    async def add_doctor(
        self,
        who: Principal,
        clinic_id: str,
        email: str,
        first_name: str = "",
        last_name: str = "",
        specialization: str | None = None,
        request_id: str = "",
        ip: str = "",
    ) -> Added:
        """Adds an existing doctor with no clinic, or invites a new one (an account with no
        usable password, and a token shown once)."""
        await self.clinic_for(who, clinic_id)
        email = email.lower()
        user = await self.accounts.user_by_email(email)
        now = self.clock()
        if user is not None:
            if user.role is not Role.DOCTOR:
                raise ConflictError("this e-mail belongs to an account that is not a doctor")
            if user.clinic_id not in (None, clinic_id):
                raise ConflictError("this doctor works for another clinic")
            if user.clinic_id is None:
                user.clinic_id = clinic_id
                user.updated_s = now
                await self.accounts.update_user(user)
                self._refresh_profile(user)
                self._record(who, "clinic.doctor.add", "user", user.user_id, request_id, ip,
                             clinic_id)  # fmt: skip
            [described] = await self._describe([user])
            return Added(described, invited=False)
        user = User(
            new_id(), email, UNUSABLE_PASSWORD, Role.DOCTOR, now, now,
            first_name=first_name, last_name=last_name, specialization=specialization,
            clinic_id=clinic_id,
        )  # fmt: skip
        from accounts import AccountExistsError

        try:
            await self.accounts.create_user(user)
        except AccountExistsError as exc:
            raise ConflictError("an account with this e-mail exists already") from exc
        token = secrets.token_urlsafe(32)
        await self.store.add_invitation(
            Invitation(token_hash(token), user.user_id, clinic_id, now, now + INVITATION_TTL_S)
        )
        self._record(who, "clinic.doctor.invite", "user", user.user_id, request_id, ip,
                     clinic_id)  # fmt: skip
        [described] = await self._describe([user])
        return Added(described, invited=True, token=token)

    async def accept_invitation(self, token: str, password: str) -> tuple[User, TokenPair]:
        """The invited doctor sets their password and is signed in. A token works once."""
        invitation = await self.store.use_invitation(token_hash(token), self.clock())
        if invitation is None or invitation.used_s is not None:
            raise NotFoundError("this invitation is unknown or was used already")
        if invitation.expires_s <= self.clock():
            raise NotFoundError("this invitation has expired")
        user = await self.accounts.user(invitation.doctor_id)
        if user is None or user.role is not Role.DOCTOR or not user.is_active:
            raise NotFoundError("this invitation is no longer valid")
        user.password_hash = await self.auth.hash_password(password)
        user.updated_s = self.clock()
        await self.accounts.update_user(user)
        self.audit.record(user.user_id, user.role.value, "invitation.accept", "user",
                          user.user_id, detail=invitation.clinic_id)  # fmt: skip
        return user, await self.auth.sign_in(user)

    async def remove_doctor(
        self, who: Principal, clinic_id: str, doctor_id: str, request_id: str = "", ip: str = ""
    ) -> None:
        await self.clinic_for(who, clinic_id)
        user = await self._member(clinic_id, doctor_id)
        if doctor_id in self.engine.core.doctor_booking:
            raise ConflictError("the doctor is on an active visit; detach them after it")
        user.clinic_id = None
        user.updated_s = self.clock()
        await self.accounts.update_user(user)
        self._refresh_profile(user)
        self._record(who, "clinic.doctor.remove", "user", doctor_id, request_id, ip, clinic_id)

    async def doctor_visits(
        self,
        who: Principal,
        clinic_id: str,
        doctor_id: str,
        before: tuple[float, str] | None,
        limit: int,
    ) -> tuple[list[Booking], tuple[float, str] | None]:
        await self.clinic_for(who, clinic_id)
        await self._member(clinic_id, doctor_id)
        rows = await self.listing.list_bookings(doctor_id=doctor_id, before=before,
                                                limit=limit + 1)  # fmt: skip
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1].created_s, rows[-1].booking_id) if more and rows else None

    # -- statistics --------------------------------------------------------------------

    def _period(
        self, tz: str, since: date | None, until: date | None
    ) -> tuple[date, date, float, float]:
        """The period asked for (default: the last 30 days), checked, and its bounds in
        epoch seconds (local midnights)."""
        default_since, today = default_period(self.clock(), tz)
        try:
            if since is None:
                since = default_since if until is None else until - timedelta(days=29)
            if until is None:
                until = max(today, since)
            if since > until:
                raise InvalidRequestError("since is on or before until")
            if (until - since).days + 1 > MAX_STATS_DAYS:
                raise InvalidRequestError(f"a period is at most {MAX_STATS_DAYS} days")
            since_s, until_s = period_bounds(since, until, tz)
        except (OverflowError, ValueError) as exc:
            raise InvalidRequestError("the period is out of range") from exc
        if not (math.isfinite(since_s) and math.isfinite(until_s)):
            raise InvalidRequestError("the period is out of range")
        return since, until, since_s, until_s

    async def stats(
        self,
        who: Principal,
        clinic_id: str | None,
        since: date | None,
        until: date | None,
    ) -> tuple[Stats, dict[str, str]]:
        """The statistics of a clinic (or the platform's, for admins, when clinic_id is
        None), with the doctors' names."""
        if clinic_id is None:
            if who.role is not Role.ADMIN:
                raise ForbiddenError("only admins see the platform's statistics")
            tz = PLATFORM_TIMEZONE
        else:
            tz = (await self.clinic_for(who, clinic_id)).timezone
        since, until, since_s, until_s = self._period(tz, since, until)
        acc = StatsAccumulator(since, until, tz)
        async for rows in self.store.stat_rows(StatScope(clinic_id), since_s, until_s):
            acc.add(rows)
        stats = acc.result()
        names = {}
        for doctor_id, _, _ in stats.by_doctor:
            user = await self.accounts.user(doctor_id)
            names[doctor_id] = (
                f"{user.first_name} {user.last_name}".strip() if user is not None else ""
            )
        return stats, names
