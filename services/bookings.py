"""Bookings for the API: create, read, list, cancel, talk, offers and progress, and the
operators' overrides. Role and object checks live here, next to the data they guard:
"not yours" raises the same NotFoundError as "does not exist"."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from accounts import AccountStore, Role
from dispatch_core import Actor, Booking, BookingStatus, Priority
from dispatch_core.messages import (
    AcceptOffer,
    AssignDoctor,
    CancelBooking,
    ChangePriority,
    Command,
    CommandRejected,
    DeclineOffer,
    DoAll,
    Event,
    PostMessage,
    ReportProgress,
    RequestBooking,
    ReturnToSearch,
)
from dispatch_core.model import TERMINAL, Offer, OfferOutcome
from dispatch_core.ports import BookingListing, BookingStore
from matching import CallRequest, Matcher
from payments.model import Method, PriceItemKind, Quote, QuoteLine
from routing import InvalidCoordinateError, SnapError
from services.audit import AuditTrail
from services.auth import ConflictError, ForbiddenError, NotFoundError, Principal
from services.dispatch import MatcherCandidates
from services.engine import Engine

BOOKING_NAMESPACE = uuid.UUID("6f1d3c1e-6a57-4c55-9b0c-0d7f0f3c7a10")


class InvalidRequestError(Exception):
    """The request is well-formed but cannot be done as asked (422)."""


class PriceRefusedError(InvalidRequestError):
    """What the price list refuses (an unknown extra, extras over the cap): 422 even
    where a refused command would be a conflict."""


@dataclass(frozen=True, slots=True)
class VisitRequest:
    lat: float
    lon: float
    call_type: str = "home_visit"
    address: str = ""
    symptoms: str = ""
    notes: str = ""
    priority: Priority = Priority.NORMAL
    is_emergency: bool = False
    emergency_type: str | None = None
    scheduled_s: float | None = None
    clinic_id: str | None = None
    requested_doctor_id: str | None = None  # the doctor the patient chose
    others_if_declined: bool = True  # others may come if that doctor does not take it
    patient_is_child: bool = False
    language: str | None = None  # a language the doctor must speak
    payment_method: Method = Method.CARD  # card, sbp or at_visit (where the clinic allows)
    specialty: str | None = None  # the price list's line for a specialty, if any
    distance_m: float | None = None  # road distance for the distance surcharge, if known


@dataclass(frozen=True, slots=True)
class PriceOffer:
    """What a visit would cost, and how it may be paid."""

    quote: Quote
    methods: tuple[Method, ...]


class Pricing(Protocol):
    """Prices and orders (the payments service; a fixed tariff where there is none)."""

    currency: str

    async def quote(self, visit: VisitRequest, priority: Priority, now_s: float) -> PriceOffer:
        """The quote for this visit now: nothing is stored."""
        ...

    async def open_order(
        self,
        patient_id: str,
        booking_id: str,
        visit: VisitRequest,
        priority: Priority,
        now_s: float,
    ) -> PriceOffer:
        """Quote the visit and store its order (once per booking: a retry gets the stored
        one). InvalidRequestError when the method is not accepted."""
        ...

    async def complete(self, booking: Booking, extras: Sequence[tuple[str, str]]) -> int:
        """The final price of a visit being completed, kopecks: the quote plus the
        doctor's extras (code, reason), within the cap the patient accepted; recorded in
        the order. InvalidRequestError for an unknown extra or one over the cap."""
        ...


class TariffPricing:
    """A fixed tariff and no orders: for set-ups without the payments service."""

    def __init__(self, tariff: Tariff | None = None) -> None:
        self.tariff = tariff or Tariff()
        self.currency = self.tariff.currency

    async def quote(self, visit: VisitRequest, priority: Priority, now_s: float) -> PriceOffer:
        total = self.tariff.price_kopecks(visit.call_type, priority)
        line = QuoteLine(
            PriceItemKind.BASE, visit.call_type, visit.call_type, visit.call_type, total
        )
        return PriceOffer(Quote((line,), total, 0), (Method.AT_VISIT,))

    async def open_order(
        self,
        patient_id: str,
        booking_id: str,
        visit: VisitRequest,
        priority: Priority,
        now_s: float,
    ) -> PriceOffer:
        return await self.quote(visit, priority, now_s)

    async def complete(self, booking: Booking, extras: Sequence[tuple[str, str]]) -> int:
        if extras:
            raise InvalidRequestError("this set-up has no price list: no extras")
        return booking.estimated_price_kopecks or 0


@dataclass(frozen=True, slots=True)
class DoctorChoice:
    """A doctor a patient may choose: who, what they do, how soon they could come."""

    doctor_id: str
    first_name: str
    last_name: str
    specialization: str
    languages: tuple[str, ...]
    rating: float | None
    eta_s: float
    distance_m: float  # to the nearest 100 m: where a doctor is exactly is not the patient's


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at_s: float
    kind: str  # status | note (an offer's end, a priority change) | audit
    status: str | None
    by: str
    detail: str


@dataclass(frozen=True, slots=True)
class LiveQuery:
    """The operator console's filters on open bookings."""

    q: str = ""  # booking id, patient or doctor (id, name, e-mail) or address
    statuses: frozenset[BookingStatus] = frozenset()
    priorities: frozenset[Priority] = frozenset()
    clinic_id: str | None = None
    box: tuple[float, float, float, float] | None = None  # south, west, north, east

    def matches(self, b: Booking, names: dict[str, str]) -> bool:
        if self.statuses and b.status not in self.statuses:
            return False
        if self.priorities and b.priority not in self.priorities:
            return False
        if self.clinic_id is not None and b.clinic_id != self.clinic_id:
            return False
        if self.box is not None:
            south, west, north, east = self.box
            if not (south <= b.latitude <= north and west <= b.longitude <= east):
                return False
        text = self.q.strip().lower()
        if not text:
            return True
        return (
            b.booking_id.startswith(text)
            or text in b.address.lower()
            or text == b.patient_id
            or text == (b.doctor_id or "")
            or text in names.get(b.patient_id, "")
            or (b.doctor_id is not None and text in names.get(b.doctor_id, ""))
        )


def _live_order(b: Booking) -> tuple[int, float, str]:
    return (-b.urgency, b.created_s, b.booking_id)


def _looks_like_id(text: str) -> bool:
    t = text.strip()
    return 1 <= len(t) <= 128 and all(c.isalnum() or c in "-_" for c in t)


@dataclass(frozen=True, slots=True)
class Tariff:
    """Prices in kopecks. A visit costs its call type's base, times the priority's factor
    (in per cent, so the product stays an exact integer)."""

    currency: str = "RUB"
    base: tuple[tuple[str, int], ...] = (
        ("home_visit", 3_500_00), ("consultation", 2_500_00), ("urgent", 5_000_00),
    )  # fmt: skip
    default_base: int = 3_500_00
    priority_percent: tuple[tuple[Priority, int], ...] = (
        (Priority.NORMAL, 100), (Priority.URGENT, 130), (Priority.EMERGENCY, 150),
    )  # fmt: skip

    def price_kopecks(self, call_type: str, priority: Priority) -> int:
        base = dict(self.base).get(call_type, self.default_base)
        return base * dict(self.priority_percent).get(priority, 100) // 100


@dataclass(frozen=True, slots=True)
class Estimate:
    price_kopecks: int
    currency: str
    eta_s: float | None  # road ETA of the best doctor free now; None when nobody is
    doctors_available: int
    extras_cap_kopecks: int = 0  # the most a doctor may add at completion
    methods: tuple[Method, ...] = ()  # how this visit may be paid


@dataclass(frozen=True, slots=True)
class Page:
    bookings: list[Booking]
    next_cursor: tuple[float, str] | None


def booking_id_for(user_id: str, idempotency_key: str | None) -> str:
    """A retried create (same user, same key) names the same booking, so two racing
    retries cannot make two bookings: the core refuses the second id."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    return uuid.uuid5(BOOKING_NAMESPACE, f"{user_id}\n{idempotency_key}").hex


class BookingService:
    def __init__(
        self,
        engine: Engine,
        store: BookingStore,
        listing: BookingListing,
        accounts: AccountStore,
        candidates: MatcherCandidates,
        audit: AuditTrail,
        clock: Callable[[], float],
        pricing: Pricing | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.listing = listing
        self.accounts = accounts
        self.candidates = candidates
        self.audit = audit
        self.clock = clock
        self.pricing: Pricing = pricing or TariffPricing()
        self._name_cache: dict[str, tuple[str, float]] = {}

    @property
    def matcher(self) -> Matcher:
        return self.candidates.matcher

    # -- commands through the engine -----------------------------------------------------

    async def _do(self, command: Command) -> list[Event]:
        events = await self.engine.handle(command, self.clock())
        rejected = next((e for e in events if isinstance(e, CommandRejected)), None)
        if rejected is not None:
            reason = rejected.reason
            if len(events) > 1:  # lost a race (an expiry, say) that the core recorded
                raise ConflictError(reason)
            if "already exists" in reason:
                raise ConflictError(reason)
            if reason.startswith(("no booking", "no offer")):
                raise NotFoundError(reason)
            raise InvalidRequestError(reason)
        return events

    # -- patients ------------------------------------------------------------------------

    async def estimate(self, who: Principal, visit: VisitRequest) -> Estimate:
        priority = Priority.EMERGENCY if visit.is_emergency else visit.priority
        call = CallRequest(
            call_id="estimate",
            lat=visit.lat,
            lon=visit.lon,
            call_type=visit.call_type,
            clinic_id=visit.clinic_id,
            is_emergency=visit.is_emergency,
            patient_is_child=visit.patient_is_child,
            languages=frozenset({visit.language}) if visit.language else frozenset(),
            busy=frozenset(self.engine.core.doctor_booking)
            | frozenset(self.engine.core.doctor_offer),
        )
        try:
            decision = self.matcher.decide(call, self.clock())
        except (InvalidCoordinateError, SnapError) as exc:
            raise InvalidRequestError(f"this address cannot be reached by road: {exc}") from None
        eta = None
        if decision.best is not None:
            eta_s = decision.record(decision.best).eta_s
            eta = None if eta_s is None or not math.isfinite(eta_s) else round(eta_s, 1)
        offer = await self.pricing.quote(visit, priority, self.clock())
        return Estimate(
            offer.quote.total_kopecks,
            self.pricing.currency,
            eta,
            self._free_doctors_who_fit(call),
            offer.quote.extras_cap_kopecks,
            offer.methods,
        )

    def _free_doctors_who_fit(self, call: CallRequest) -> int:
        """Every free doctor who fits the call within the search radius: what the map
        shows, not only the k the matcher ranks."""
        registry = self.matcher.registry
        policy = self.matcher.policy
        now = self.clock()

        def exclude(slots: Any) -> Any:
            return registry.exclusions(
                slots, call, now, allow_on_visit=policy.offer_doctors_on_visit
            )

        slots, *_ = registry.nearest(
            call.lat, call.lon, max(1, len(registry)), policy.search_radius_m, exclude
        )
        return int(slots.size)

    async def create(
        self,
        who: Principal,
        visit: VisitRequest,
        *,
        idempotency_key: str | None,
        ip: str,
        request_id: str,
    ) -> Booking:
        if who.role is not Role.PATIENT:
            raise ForbiddenError("only patients book visits for themselves")
        try:
            self.matcher.oracle.snap(visit.lat, visit.lon)
        except (InvalidCoordinateError, SnapError) as exc:
            raise InvalidRequestError(f"this address cannot be reached by road: {exc}") from None
        priority = Priority.EMERGENCY if visit.is_emergency else visit.priority
        if visit.requested_doctor_id is not None:
            chosen = await self.accounts.user(visit.requested_doctor_id)
            if chosen is None or chosen.role is not Role.DOCTOR or not chosen.is_verified:
                raise InvalidRequestError(f"no doctor {visit.requested_doctor_id!r} to choose")
        booking_id = booking_id_for(who.user_id, idempotency_key)
        if idempotency_key is not None:
            # A retry of a create that took effect (its answer lost, or a 503 while
            # storage was away) gets the booking, as the first attempt would have.
            earlier = self.engine.core.bookings.get(booking_id) or await self.store.load(booking_id)
            if earlier is not None and earlier.patient_id == who.user_id:
                return earlier
        # The order first (an order whose booking never came is harmless; a booking
        # without its order is not): the quote is fixed here.
        offer = await self.pricing.open_order(
            who.user_id, booking_id, visit, priority, self.clock()
        )
        await self._do(
            RequestBooking(
                booking_id,
                who.user_id,
                visit.lat,
                visit.lon,
                call_type=visit.call_type,
                address=visit.address,
                symptoms=visit.symptoms,
                clinic_id=visit.clinic_id,
                priority=priority,
                is_emergency=visit.is_emergency,
                emergency_type=visit.emergency_type,
                scheduled_s=visit.scheduled_s,
                notes=visit.notes,
                estimated_duration_s=self.matcher.policy.visit_duration_for(visit.call_type),
                estimated_price_kopecks=offer.quote.total_kopecks,
                requested_doctor_id=visit.requested_doctor_id,
                others_if_declined=visit.others_if_declined,
                patient_is_child=visit.patient_is_child,
                language=visit.language,
            )
        )
        self.audit.record(
            who.user_id,
            who.role,
            "booking.create",
            "booking",
            booking_id,
            request_id=request_id,
            ip=ip,
        )
        booking = self.engine.core.bookings.get(booking_id) or await self.store.load(booking_id)
        if booking is None:  # pragma: no cover - stored before handle returned
            raise NotFoundError(f"no booking {booking_id!r}")
        return booking

    async def doctors_to_choose(
        self,
        who: Principal,
        visit: VisitRequest,
        *,
        specialization: str | None = None,
        limit: int = 20,
    ) -> list[DoctorChoice]:
        """Doctors free now who fit the visit (specialty, age group, language, clinic),
        nearest by road first, for a patient to choose from."""
        if who.role is not Role.PATIENT:
            raise ForbiddenError("patients choose doctors for their visits")
        core = self.engine.core
        call = CallRequest(
            call_id="choose",
            lat=visit.lat,
            lon=visit.lon,
            call_type=visit.call_type,
            specialization=specialization,
            patient_is_child=visit.patient_is_child,
            languages=frozenset({visit.language}) if visit.language else frozenset(),
            clinic_id=visit.clinic_id,
            busy=frozenset(core.doctor_booking) | frozenset(core.doctor_offer),
        )
        try:
            decision = self.matcher.decide(call, self.clock())
        except (InvalidCoordinateError, SnapError) as exc:
            raise InvalidRequestError(f"this address cannot be reached by road: {exc}") from None
        out: list[DoctorChoice] = []
        for doctor_id in decision.ranking[:limit]:
            record = decision.record(doctor_id)
            user = await self.accounts.user(doctor_id)
            if user is None or record.eta_s is None:
                continue
            out.append(
                DoctorChoice(
                    doctor_id=doctor_id,
                    first_name=user.first_name,
                    last_name=user.last_name,
                    specialization=user.specialization or "general",
                    languages=tuple(sorted(user.languages)) or ("ru",),
                    rating=user.rating,
                    eta_s=round(record.eta_s, 1),
                    distance_m=round(record.distance_m, -2),
                )
            )
        return out

    # -- reading, with object-level checks ------------------------------------------------

    async def get(
        self, who: Principal, booking_id: str, *, ip: str = "", request_id: str = ""
    ) -> Booking:
        booking = self.engine.core.bookings.get(booking_id)
        if booking is None:
            booking = await self.store.load(booking_id)
        if booking is None or not await self.may_see(who, booking):
            raise NotFoundError(f"no booking {booking_id!r}")
        self.audit.record(
            who.user_id,
            who.role,
            "booking.read",
            "booking",
            booking_id,
            request_id=request_id,
            ip=ip,
        )
        return booking

    async def may_see(self, who: Principal, booking: Booking) -> bool:
        if who.role in (Role.OPERATOR, Role.ADMIN):
            return True
        if who.role is Role.PATIENT:
            return booking.patient_id == who.user_id
        if who.role is Role.DOCTOR:
            if booking.doctor_id == who.user_id:
                return True
            offer_id = self.engine.core.doctor_offer.get(who.user_id)
            offer = self.engine.core.offers.get(offer_id) if offer_id else None
            return offer is not None and offer.booking_id == booking.booking_id
        if who.role is Role.CLINIC_ADMIN and who.clinic_id is not None:
            if booking.clinic_id == who.clinic_id:
                return True
            if booking.doctor_id is not None:
                doctor = await self.accounts.user(booking.doctor_id)
                return doctor is not None and doctor.clinic_id == who.clinic_id
        return False

    async def list_for(
        self,
        who: Principal,
        *,
        statuses: frozenset[BookingStatus] | None,
        before: tuple[float, str] | None,
        limit: int,
        patient_id: str | None = None,
        doctor_id: str | None = None,
    ) -> Page:
        scope: dict[str, str | None] = {}
        if who.role is Role.PATIENT:
            scope["patient_id"] = who.user_id
        elif who.role is Role.DOCTOR:
            scope["doctor_id"] = who.user_id
        elif who.role is Role.CLINIC_ADMIN:
            if who.clinic_id is None:
                return Page([], None)
            scope["clinic_id"] = who.clinic_id
        else:
            scope = {"patient_id": patient_id, "doctor_id": doctor_id}
        rows = await self.listing.list_bookings(
            patient_id=scope.get("patient_id"),
            doctor_id=scope.get("doctor_id"),
            clinic_id=scope.get("clinic_id"),
            statuses=statuses,
            before=before,
            limit=limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = (rows[-1].created_s, rows[-1].booking_id) if more and rows else None
        return Page(rows, cursor)

    def live_bookings(self, who: Principal) -> list[Booking]:
        self._require(who, Role.OPERATOR, Role.ADMIN)
        return sorted(
            (b for b in self.engine.core.bookings.values() if b.status not in TERMINAL),
            key=_live_order,
        )

    async def search_live(
        self, who: Principal, query: LiveQuery, *, after: tuple[int, float, str] | None, limit: int
    ) -> tuple[list[Booking], tuple[int, float, str] | None]:
        """Open bookings for the operator console, most urgent and oldest first, filtered
        on the server; a page of `limit` after the cursor `after` (the last one's order
        key). A query that names a closed booking by its id finds it too (first)."""
        self._require(who, Role.OPERATOR, Role.ADMIN)
        names = await self._names_of(self.engine.core.bookings.values()) if query.q else {}
        rows = sorted(
            (
                b
                for b in self.engine.core.bookings.values()
                if b.status not in TERMINAL and query.matches(b, names)
            ),
            key=_live_order,
        )
        if after is not None:
            rows = [b for b in rows if _live_order(b) > after]
        page = rows[:limit]
        more = len(rows) > limit
        if after is None and query.q and not any(b.booking_id == query.q.strip() for b in page):
            closed = await self.store.load(query.q.strip()) if _looks_like_id(query.q) else None
            if closed is not None and closed.terminal:
                page = [closed, *page][:limit]
        return page, (_live_order(page[-1]) if more and page else None)

    async def _names_of(self, bookings: Iterable[Booking]) -> dict[str, str]:
        """Patients' and doctors' names, for searching the live list (cached a minute)."""
        now = self.clock()
        wanted = {i for b in bookings for i in (b.patient_id, b.doctor_id) if i is not None}
        out: dict[str, str] = {}
        for user_id in wanted:
            cached = self._name_cache.get(user_id)
            if cached is None or cached[1] < now:
                user = await self.accounts.user(user_id)
                name = "" if user is None else f"{user.first_name} {user.last_name} {user.email}"
                cached = (name.lower(), now + 60.0)
                self._name_cache[user_id] = cached
            out[user_id] = cached[0]
        if len(self._name_cache) > 50_000:
            self._name_cache.clear()
        return out

    async def bulk(
        self, who: Principal, action: str, booking_ids: Sequence[str], reason: str
    ) -> list[Booking]:
        """Return to search, or cancel, several bookings with one reason: all, or none."""
        self._require(who, Role.OPERATOR, Role.ADMIN)
        commands: tuple[CancelBooking | ReturnToSearch, ...]
        if action == "cancel":
            commands = tuple(
                CancelBooking(b, Actor.OPERATOR, who.user_id, reason) for b in booking_ids
            )
        elif action == "return_to_search":
            commands = tuple(ReturnToSearch(b, who.user_id, reason) for b in booking_ids)
        else:
            raise InvalidRequestError("action must be cancel or return_to_search")
        try:
            await self._do(DoAll(commands))
        except (InvalidRequestError, NotFoundError) as exc:
            raise ConflictError(str(exc)) from None
        for booking_id in booking_ids:
            self.audit.record(
                who.user_id,
                who.role,
                f"booking.{action}",
                "booking",
                booking_id,
                detail=f"bulk of {len(booking_ids)}: {reason}",
            )
        return [await self.get(who, b) for b in booking_ids]

    async def timeline(self, who: Principal, booking_id: str) -> list[TimelineEntry]:
        """Everything that happened to a booking, oldest first: each status change and
        offer (who, why), and every read and change in the audit trail (who, from where)."""
        self._require(who, Role.OPERATOR, Role.ADMIN, Role.CLINIC_ADMIN)
        booking = await self.get(who, booking_id)
        entries = [
            TimelineEntry(
                at_s=u.at_s,
                kind="status" if u.old_status != u.new_status else "note",
                status=u.new_status.value,
                by=u.updated_by,
                detail=u.reason,
            )
            for u in booking.history
        ]
        await self.audit.flush()
        entries += [
            TimelineEntry(
                at_s=r.at_s,
                kind="audit",
                status=None,
                by=f"{r.actor_role}:{r.actor_id}",
                detail=r.action + (f": {r.detail}" if r.detail else ""),
            )
            for r in await self.accounts.audit_of("booking", booking_id, 1_000)
        ]
        return sorted(entries, key=lambda e: e.at_s)

    def open_offers_for(self, who: Principal) -> list[tuple[Offer, Booking]]:
        self._require(who, Role.DOCTOR)
        core = self.engine.core
        offer_id = core.doctor_offer.get(who.user_id)
        offer = core.offers.get(offer_id) if offer_id else None
        if offer is None or not offer.open:
            return []
        return [(offer, core.bookings[offer.booking_id])]

    def explain(self, who: Principal, booking_id: str) -> dict[str, object] | None:
        self._require(who, Role.OPERATOR, Role.ADMIN)
        if booking_id not in self.engine.core.bookings:
            raise NotFoundError(f"no booking {booking_id!r}")
        decision = self.candidates.decisions.get(booking_id)
        return None if decision is None else decision.explain()

    # -- changes -------------------------------------------------------------------------

    async def cancel(
        self, who: Principal, booking_id: str, reason: str, *, ip: str = "", request_id: str = ""
    ) -> Booking:
        booking = await self.get(who, booking_id, ip=ip, request_id=request_id)
        if who.role is Role.PATIENT:
            actor = Actor.PATIENT
        elif who.role in (Role.OPERATOR, Role.ADMIN):
            actor = Actor.OPERATOR
        else:
            raise ForbiddenError("only the patient or an operator may cancel a booking")
        if booking.terminal:
            if (
                booking.status is BookingStatus.CANCELLED
                and _last_by(booking, actor, who)
                and booking.history[-1].reason == reason.strip()
            ):
                return booking  # a retry of this very cancellation: the same answer
            raise ConflictError(f"booking {booking_id!r} is already {booking.status.value}")
        await self._do(CancelBooking(booking_id, actor, who.user_id, reason))
        self.audit.record(
            who.user_id,
            who.role,
            "booking.cancel",
            "booking",
            booking_id,
            request_id=request_id,
            ip=ip,
            detail=reason,
        )
        return await self.get(who, booking_id)

    async def post_message(
        self, who: Principal, booking_id: str, content: str, *, request_id: str = ""
    ) -> Booking:
        booking = await self.get(who, booking_id, request_id=request_id)
        roles = {
            Role.PATIENT: Actor.PATIENT,
            Role.DOCTOR: Actor.DOCTOR,
            Role.OPERATOR: Actor.OPERATOR,
            Role.ADMIN: Actor.OPERATOR,
        }
        actor = roles.get(who.role)
        if actor is None or (who.role is Role.DOCTOR and booking.doctor_id != who.user_id):
            raise ForbiddenError(
                "only the booking's patient, its doctor or an operator may write here"
            )
        if booking.terminal:
            raise ConflictError(
                f"booking {booking_id!r} is {booking.status.value}: its chat is closed"
            )
        await self._do(PostMessage(booking_id, who.user_id, actor, content))
        self.audit.record(
            who.user_id, who.role, "booking.message", "booking", booking_id, request_id=request_id
        )
        return await self.get(who, booking_id)

    async def accept(self, who: Principal, offer_id: str) -> Booking:
        self._require(who, Role.DOCTOR)
        earlier = self.engine.core.offers.get(offer_id)
        if (
            earlier is not None
            and earlier.doctor_id == who.user_id
            and earlier.outcome is OfferOutcome.ACCEPTED
        ):
            return await self.get(who, earlier.booking_id)  # a retry: the same answer
        await self._do(AcceptOffer(offer_id, who.user_id))
        offer = self.engine.core.offers.get(offer_id)
        if offer is None:
            raise NotFoundError(f"no offer {offer_id!r}")
        return await self.get(who, offer.booking_id)

    async def decline(self, who: Principal, offer_id: str, reason: str) -> None:
        self._require(who, Role.DOCTOR)
        earlier = self.engine.core.offers.get(offer_id)
        if (
            earlier is not None
            and earlier.doctor_id == who.user_id
            and earlier.outcome is OfferOutcome.DECLINED
        ):
            return  # a retry of this decline
        await self._do(DeclineOffer(offer_id, who.user_id, reason))

    async def progress(
        self,
        who: Principal,
        booking_id: str,
        status: BookingStatus,
        extras: Sequence[tuple[str, str]] = (),
    ) -> Booking:
        self._require(who, Role.DOCTOR)
        booking = await self.get(who, booking_id)
        if (
            booking.status is status
            and booking.doctor_id == who.user_id
            and _last_by(booking, Actor.DOCTOR, who)
        ):
            return booking  # a retry of this report: the same answer
        final_price_kopecks = None
        if status is BookingStatus.COMPLETED:
            final_price_kopecks = await self.pricing.complete(booking, extras)
        elif extras:
            raise InvalidRequestError("extras are added only with completed")
        await self._do(ReportProgress(booking_id, who.user_id, status, final_price_kopecks))
        self.audit.record(who.user_id, who.role, f"booking.{status.value}", "booking", booking_id)
        return await self.get(who, booking_id)

    # -- operators -----------------------------------------------------------------------

    async def assign(
        self, who: Principal, booking_id: str, doctor_id: str, reason: str, *, release_current: bool
    ) -> Booking:
        self._require(who, Role.OPERATOR, Role.ADMIN)
        doctor = await self.accounts.user(doctor_id)
        if doctor is None or doctor.role is not Role.DOCTOR:
            raise NotFoundError(f"no doctor {doctor_id!r}")
        if not doctor.is_active:
            raise ConflictError(f"doctor {doctor_id!r} is blocked")
        if not doctor.is_verified:
            raise ConflictError(f"doctor {doctor_id!r} is not verified yet")
        current = self.engine.core.bookings.get(booking_id)
        if (
            current is not None
            and current.doctor_id == doctor_id
            and _last_by(current, Actor.OPERATOR, who)
        ):
            return await self.get(who, booking_id)  # a retry of this assignment
        try:
            await self._do(
                AssignDoctor(booking_id, doctor_id, who.user_id, reason, release_current)
            )
        except InvalidRequestError as exc:  # the booking's or the doctor's state forbids it
            raise ConflictError(str(exc)) from None
        self.audit.record(
            who.user_id,
            who.role,
            "booking.assign",
            "booking",
            booking_id,
            detail=f"{doctor_id}: {reason}",
        )
        return await self.get(who, booking_id)

    async def return_to_search(self, who: Principal, booking_id: str, reason: str) -> Booking:
        self._require(who, Role.OPERATOR, Role.ADMIN)
        await self._do(ReturnToSearch(booking_id, who.user_id, reason))
        self.audit.record(
            who.user_id, who.role, "booking.return_to_search", "booking", booking_id, detail=reason
        )
        return await self.get(who, booking_id)

    async def change_priority(
        self, who: Principal, booking_id: str, priority: Priority, reason: str
    ) -> Booking:
        self._require(who, Role.OPERATOR, Role.ADMIN)
        current = self.engine.core.bookings.get(booking_id)
        if (
            current is not None
            and current.priority is priority
            and _last_by(current, Actor.OPERATOR, who)
        ):
            return await self.get(who, booking_id)  # a retry of this change
        await self._do(ChangePriority(booking_id, who.user_id, priority, reason))
        self.audit.record(
            who.user_id,
            who.role,
            "booking.priority",
            "booking",
            booking_id,
            detail=f"{priority.value}: {reason}",
        )
        return await self.get(who, booking_id)

    @staticmethod
    def _require(who: Principal, *roles: Role) -> None:
        if who.role not in roles:
            raise ForbiddenError(
                f"this needs one of the roles: {', '.join(r.value for r in roles)}"
            )


def _last_by(booking: Booking, actor: Actor, who: Principal) -> bool:
    """Whether the booking's last recorded change was made by this person: a request
    repeated after it took effect (a lost answer, a 503) is answered as the first was."""
    return (
        bool(booking.history) and booking.history[-1].updated_by == f"{actor.value}:{who.user_id}"
    )
