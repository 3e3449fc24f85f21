"""The dispatch core: commands in, events out, time passed in. No I/O.

One `DispatchCore` owns every open booking, every offer and which doctor is bound to
which booking. It asks a `CandidateSource` (matching, wired by the services) for ranked
doctors; everything else it decides itself, so a race (an acceptance against an expiry
or a cancellation) has exactly one outcome, and the loser is told why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dispatch_core.messages import (
    AcceptOffer,
    AssignDoctor,
    BookingRequested,
    CancelBooking,
    ChangePriority,
    Command,
    CommandRejected,
    DeclineOffer,
    DoAll,
    DoctorAssigned,
    DoctorReleased,
    EscalationRaised,
    Event,
    MarkDoctorOffline,
    MarkDoctorOnline,
    MessagePosted,
    OfferEnded,
    OfferSent,
    OperatorsAlerted,
    PatientNotified,
    PostMessage,
    ReportProgress,
    RequestBooking,
    ReturnToSearch,
    StatusChanged,
    Tick,
)
from dispatch_core.model import (
    TERMINAL,
    WITH_DOCTOR,
    Actor,
    Booking,
    BookingMessage,
    BookingStatus,
    Offer,
    OfferOutcome,
    Priority,
    StatusUpdate,
)
from dispatch_core.transitions import transition_error

S = BookingStatus
MAX_KOPECKS = 10_000_000_000  # 100 million roubles: a price above is a mistake


class CandidateSource(Protocol):
    """Ranked doctors for a booking (matching provides this)."""

    def rank(self, booking: Booking, exclude: frozenset[str], now_s: float) -> Sequence[str]:
        """Free doctors who fit the booking, best first, none of `exclude`."""
        ...

    def rank_preemptable(
        self, booking: Booking, doctors: Sequence[str], now_s: float
    ) -> Sequence[str]:
        """Of these busy doctors, those near enough to take an emergency, best first."""
        ...

    def rank_requested(
        self, booking: Booking, doctor_id: str, exclude: frozenset[str], now_s: float
    ) -> Sequence[str]:
        """[doctor_id] when the doctor the patient asked for may take the booking now
        (free, fit, reachable), else []."""
        ...

    def unassignable(self, doctor_id: str, booking: Booking, now_s: float) -> str | None:
        """Why an operator may not give this booking to this doctor (an unknown id, a
        doctor not on shift, an expired licence), or None when they may."""
        ...


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    offer_ttl_s: float = 15.0
    offer_fanout: int = 1  # offer to the top n at once; the first yes wins
    max_offers: int = 10
    max_search_s: float = 300.0
    scheduled_lead_s: float = 1_800.0
    offline_grace_s: float = 120.0
    preemption_enabled: bool = True
    escalations: dict[str, str] = field(
        default_factory=lambda: {
            "chest_pain": "103",
            "stroke_signs": "103",
            "unconscious": "103",
            "severe_bleeding": "103",
            "breathing_difficulty": "103",
            "fire_or_accident": "112",
        }
    )

    def __post_init__(self) -> None:
        bad = [
            name
            for name, ok in {
                "offer_ttl_s": self.offer_ttl_s > 0,
                "offer_fanout": self.offer_fanout >= 1,
                "max_offers": self.max_offers >= 1,
                "max_search_s": self.max_search_s > 0,
                "scheduled_lead_s": self.scheduled_lead_s >= 0,
                "offline_grace_s": self.offline_grace_s >= 0,
            }.items()
            if not ok
        ]
        if bad:
            raise ValueError(f"invalid dispatch policy values: {', '.join(bad)}")


class RejectedError(Exception):
    """Raised inside a handler to refuse a command (handlers validate before changing)."""


# Text limits, in characters; text with NUL or a lone surrogate (which no database
# stores, and a JSON "\ud800" escape can produce) is refused.
TEXT_LIMITS = {
    "id": 128, "call_type": 64, "address": 500, "symptoms": 4_000, "notes": 4_000,
    "reason": 1_000, "message": 4_000, "language": 16,
}  # fmt: skip


def _text(value: str, field: str, *, required: bool = False) -> str:
    """The text, stripped; RejectedError when too long, not storable, or missing."""
    if not isinstance(value, str):
        raise RejectedError(f"{field} must be text")
    text = value.strip()
    if required and not text:
        raise RejectedError(f"{field} is required")
    if "\x00" in text:
        raise RejectedError(f"{field} contains a NUL character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise RejectedError(f"{field} is not valid Unicode text (lone surrogate)") from None
    limit = TEXT_LIMITS["id" if field.endswith("id") else field]
    if len(text) > limit:
        raise RejectedError(f"{field} is limited to {limit} characters")
    return text


# Booking ids go into URL paths, and offer ids are "<booking_id>.<round>.<k>".
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _who(actor: Actor, actor_id: str) -> str:
    return "system" if actor is Actor.SYSTEM else f"{actor.value}:{actor_id}"


class DispatchCore:
    def __init__(self, candidates: CandidateSource, policy: DispatchPolicy | None = None) -> None:
        self.candidates = candidates
        self.policy = policy or DispatchPolicy()
        self.bookings: dict[str, Booking] = {}
        self.offers: dict[str, Offer] = {}
        self.doctor_booking: dict[str, str] = {}  # doctor -> the active booking they hold
        self.doctor_offer: dict[str, str] = {}  # doctor -> their open offer
        self.offline_doctors: set[str] = set()
        self._events: list[Event] = []
        self._now = -math.inf
        self._handlers: dict[type, Callable[[Command], None]] = {
            RequestBooking: self._request,  # type: ignore[dict-item]
            AcceptOffer: self._accept,  # type: ignore[dict-item]
            DeclineOffer: self._decline,  # type: ignore[dict-item]
            ReportProgress: self._progress,  # type: ignore[dict-item]
            CancelBooking: self._cancel,  # type: ignore[dict-item]
            MarkDoctorOffline: self._offline,  # type: ignore[dict-item]
            MarkDoctorOnline: self._online,  # type: ignore[dict-item]
            AssignDoctor: self._assign_override,  # type: ignore[dict-item]
            ReturnToSearch: self._return_to_search,  # type: ignore[dict-item]
            ChangePriority: self._change_priority,  # type: ignore[dict-item]
            DoAll: self._do_all,  # type: ignore[dict-item]
            PostMessage: self._post_message,  # type: ignore[dict-item]
            Tick: self._tick,  # type: ignore[dict-item]
        }

    # -- the one entry point -------------------------------------------------------------

    def handle(self, command: Command, now_s: float) -> list[Event]:
        """Apply one command at time now_s; return what happened, in order.

        A refused command changes nothing and yields one CommandRejected. Time never
        runs backwards: an older now_s is treated as the latest seen.
        """
        if not math.isfinite(now_s):
            return [CommandRejected(type(command).__name__, "now_s must be a finite time")]
        self._now = max(self._now, now_s)
        self._events = []
        try:
            self._handlers[type(command)](command)
        except _LostRaceError as exc:
            # What won the race (an expiry, say) happened and stands; the command did not.
            booking_id = getattr(command, "booking_id", None)
            self._events.append(CommandRejected(type(command).__name__, str(exc), booking_id))
        except RejectedError as exc:
            # Handlers validate before they change anything, so there is nothing to undo.
            self._events = []
            booking_id = getattr(command, "booking_id", None)
            return [CommandRejected(type(command).__name__, str(exc), booking_id)]
        events, self._events = self._events, []
        return events

    # -- recovery ----------------------------------------------------------------------------

    def restore(self, bookings: list[Booking], now_s: float) -> list[Event]:
        """Take back open bookings from storage after a restart, and carry on.

        Doctors bound to a booking are bound again. Offers are not stored (they live
        seconds), so a booking that was offered goes back to searching and its offers
        are made afresh; searches are re-timed from now.
        """
        if not math.isfinite(now_s):
            raise ValueError("now_s must be a finite time")
        self._now = max(self._now, now_s)
        self._events = []
        for booking in sorted(bookings, key=lambda b: (b.created_s, b.booking_id)):
            if booking.terminal or booking.booking_id in self.bookings:
                continue
            self.bookings[booking.booking_id] = booking
            if booking.status in WITH_DOCTOR and booking.doctor_id is not None:
                holder = self.doctor_booking.get(booking.doctor_id)
                if holder is not None:  # storage guards this; refuse rather than guess
                    raise ValueError(
                        f"doctor {booking.doctor_id} holds {holder} and {booking.booking_id}"
                    )
                self.doctor_booking[booking.doctor_id] = booking.booking_id
            booking.search_started_s = now_s
            booking.offers_made = 0
        for booking in list(self.bookings.values()):
            if booking.status is S.OFFERED and not self.open_offers(booking.booking_id):
                self._move(
                    booking, S.SEARCHING, Actor.SYSTEM, "", "engine restarted: offers made afresh"
                )
        self._tick(Tick())
        events, self._events = self._events, []
        return events

    def reload(self, stored: dict[str, Booking | None], now_s: float) -> list[Event]:
        """Undo changes that storage refused: put these bookings back as they are stored.

        Each id in `stored` is taken out of memory (its offers withdrawn without a word:
        nobody was told of what was refused) and replaced by its stored version (None:
        never stored, so it is gone). A stored booking whose doctor is now bound to
        another booking goes back to searching; an offered one has its offers made
        afresh, as after a restart. Returns the events of those moves.
        """
        if not math.isfinite(now_s):
            raise ValueError("now_s must be a finite time")
        self._now = max(self._now, now_s)
        self._events = []
        for booking_id in stored:
            self.bookings.pop(booking_id, None)
            for offer in [o for o in self.offers.values() if o.booking_id == booking_id]:
                del self.offers[offer.offer_id]
                if self.doctor_offer.get(offer.doctor_id) == offer.offer_id:
                    del self.doctor_offer[offer.doctor_id]
            for held_by in [d for d, b in self.doctor_booking.items() if b == booking_id]:
                del self.doctor_booking[held_by]
        back = sorted(
            (b for b in stored.values() if b is not None and not b.terminal),
            key=lambda b: (b.created_s, b.booking_id),
        )
        taken: list[Booking] = []
        for booking in back:
            self.bookings[booking.booking_id] = booking
            booking.search_started_s = now_s
            booking.offers_made = 0
            bound = booking.doctor_id
            if booking.status in WITH_DOCTOR and bound is not None:
                if bound in self.doctor_booking:
                    taken.append(booking)
                else:
                    self.doctor_booking[bound] = booking.booking_id
        for booking in taken:
            doctor = booking.doctor_id
            assert doctor is not None
            other = self.bookings[self.doctor_booking[doctor]]
            why = "storage refused a change; the doctor is bound elsewhere"
            if booking.status in (S.ASSIGNED, S.EN_ROUTE):
                self._release(booking, why)
            elif other.status in (S.ASSIGNED, S.EN_ROUTE):  # the stored visit has begun
                self._release(other, why)
                self.doctor_booking[doctor] = booking.booking_id
            else:  # two visits begun by one doctor: storage's guard makes this impossible
                raise ValueError(
                    f"doctor {doctor} is at {other.booking_id} and {booking.booking_id}"
                )
        for booking in back:
            if booking.status is S.OFFERED and not self.open_offers(booking.booking_id):
                self._move(booking, S.SEARCHING, Actor.SYSTEM, "", "offers made afresh")
        for booking in back:
            self._search(booking)
        events, self._events = self._events, []
        return events

    # -- queries ----------------------------------------------------------------------------

    def booking(self, booking_id: str) -> Booking:
        booking = self.bookings.get(booking_id)
        if booking is None:
            raise RejectedError(f"no booking {booking_id!r}")
        return booking

    def forget(self, booking_id: str) -> bool:
        """Drop a finished booking and its offers from memory (once it is stored), so a
        long-running core holds only open work. Open bookings are kept: False."""
        booking = self.bookings.get(booking_id)
        if booking is None or not booking.terminal:
            return False
        del self.bookings[booking_id]
        for offer_id in [o.offer_id for o in self.offers.values() if o.booking_id == booking_id]:
            del self.offers[offer_id]
        return True

    def open_offers(self, booking_id: str) -> list[Offer]:
        return [o for o in self.offers.values() if o.booking_id == booking_id and o.open]

    def next_deadline_s(self) -> float | None:
        """When the next Tick has something to do (offer expiry, grace, schedule, give-up)."""
        times = [o.expires_s for o in self.offers.values() if o.open]
        for b in self.bookings.values():
            if b.status is S.SCHEDULED and b.scheduled_s is not None:
                times.append(b.scheduled_s - self.policy.scheduled_lead_s)
            if b.status is S.SEARCHING and b.search_started_s is not None:
                times.append(b.search_started_s + self.policy.max_search_s)
            if b.doctor_offline_since_s is not None:
                times.append(b.doctor_offline_since_s + self.policy.offline_grace_s)
        return min(times) if times else None

    # -- status changes: the only place a booking's status moves --------------------------

    def _move(
        self,
        booking: Booking,
        new: BookingStatus,
        actor: Actor,
        actor_id: str,
        reason: str,
        doctor_id: str | None = None,
    ) -> None:
        error = transition_error(booking.status, new, actor)
        if error is not None:
            raise RejectedError(error)
        old = booking.status
        now = self._now
        if new in TERMINAL:
            # The doctor is free again; the booking keeps their name for the record.
            doctor = booking.doctor_id
            if doctor is not None and self.doctor_booking.get(doctor) == booking.booking_id:
                del self.doctor_booking[doctor]
        elif new in WITH_DOCTOR:
            target = doctor_id or booking.doctor_id
            if target != booking.doctor_id:
                self._unbind(booking)
                booking.doctor_id = target
                booking.assigned_s = now
                if target is not None:
                    self.doctor_booking[target] = booking.booking_id
        else:
            self._unbind(booking)
        booking.status = new
        if new is S.SEARCHING and old is not S.OFFERED:
            booking.search_started_s = now
            booking.offers_made = 0
        if new is S.IN_PROGRESS:
            booking.started_s = now
        if new is S.COMPLETED:
            booking.completed_s = now
            if booking.started_s is not None:
                booking.actual_duration_s = now - booking.started_s
        if new is S.CANCELLED:
            booking.cancelled_s = now
        if new not in WITH_DOCTOR:  # terminal statuses included
            booking.doctor_offline_since_s = None
        by = _who(actor, actor_id)
        update = StatusUpdate(old, new, by, reason, now, booking.doctor_id)
        booking.history.append(update)
        self._emit(StatusChanged(booking.booking_id, old, new, by, reason, now, booking.doctor_id))

    def _unbind(self, booking: Booking) -> None:
        """Free the booking's doctor (if any) from it."""
        doctor = booking.doctor_id
        if doctor is None:
            return
        if self.doctor_booking.get(doctor) == booking.booking_id:
            del self.doctor_booking[doctor]
        booking.doctor_id = None
        booking.doctor_offline_since_s = None

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    def _end_offer(self, offer: Offer, outcome: OfferOutcome, reason: str) -> None:
        offer.outcome = outcome
        offer.ended_s = self._now
        offer.reason = reason
        if self.doctor_offer.get(offer.doctor_id) == offer.offer_id:
            del self.doctor_offer[offer.doctor_id]
        booking = self.bookings[offer.booking_id]
        if outcome in (OfferOutcome.DECLINED, OfferOutcome.EXPIRED):
            booking.excluded_doctors.add(offer.doctor_id)
        if outcome is not OfferOutcome.ACCEPTED:  # an acceptance is the status change itself
            # Kept in the history (not a status change, like a priority change) so the
            # booking's timeline says who was asked and what came of it.
            by = f"doctor:{offer.doctor_id}" if outcome is OfferOutcome.DECLINED else "system"
            booking.history.append(
                StatusUpdate(
                    booking.status,
                    booking.status,
                    by,
                    f"offer to {offer.doctor_id} {outcome.value}: {reason}",
                    self._now,
                    booking.doctor_id,
                )
            )
        self._emit(
            OfferEnded(
                offer.offer_id, offer.booking_id, offer.doctor_id, outcome, reason, self._now
            )
        )

    def _withdraw_offers(self, booking: Booking, reason: str, keep: str | None = None) -> None:
        for offer in self.open_offers(booking.booking_id):
            if offer.offer_id != keep:
                self._end_offer(offer, OfferOutcome.WITHDRAWN, reason)

    def _after_offer_ended(self, booking: Booking) -> None:
        """No open offer left on an offered booking: back to searching, and on to the next."""
        if booking.status is S.OFFERED and not self.open_offers(booking.booking_id):
            self._move(booking, S.SEARCHING, Actor.SYSTEM, "", "no offer accepted yet")
            self._search(booking)

    # -- the search ---------------------------------------------------------------------------

    def _busy(self) -> set[str]:
        return set(self.doctor_booking) | set(self.doctor_offer) | self.offline_doctors

    def _search(self, booking: Booking) -> None:
        """One search step for a SEARCHING booking: offers out, preemption, or give up."""
        if booking.status is not S.SEARCHING:
            return
        policy = self.policy
        now = self._now
        started = booking.search_started_s if booking.search_started_s is not None else now
        if booking.offers_made >= policy.max_offers or now - started >= policy.max_search_s:
            why = (
                f"{booking.offers_made} offers made, none accepted"
                if booking.offers_made >= policy.max_offers
                else f"no doctor accepted within {policy.max_search_s:.0f} s"
            )
            self._move(booking, S.NO_DOCTOR_FOUND, Actor.SYSTEM, "", why)
            self._emit(OperatorsAlerted(booking.booking_id, "no_doctor_found", why, now))
            self._emit(
                PatientNotified(
                    booking.booking_id, booking.patient_id, "no doctor could be found", now
                )
            )
            return
        exclude = frozenset(self._busy() | booking.excluded_doctors)
        # An emergency goes to whoever is nearest, whomever the patient chose.
        requested = None if booking.is_emergency else booking.requested_doctor_id
        ranked: list[str] = []
        if requested is not None and requested not in booking.excluded_doctors:
            # The doctor the patient chose goes first, alone.
            if requested not in exclude:
                ranked = [
                    d
                    for d in self.candidates.rank_requested(booking, requested, exclude, now)
                    if d == requested
                ]
            if not ranked and not booking.others_if_declined:
                return  # they are busy or away: wait for them (or for the give-up)
        elif requested is not None and not booking.others_if_declined:
            # They declined or let it lapse, and the patient wanted no one else.
            why = f"the doctor the patient chose ({requested}) did not take the visit"
            self._move(booking, S.NO_DOCTOR_FOUND, Actor.SYSTEM, "", why)
            self._emit(OperatorsAlerted(booking.booking_id, "no_doctor_found", why, now))
            self._emit(
                PatientNotified(
                    booking.booking_id,
                    booking.patient_id,
                    "the doctor you chose cannot come; book again to ask another",
                    now,
                )
            )
            return
        if not ranked:
            ranked = [d for d in self.candidates.rank(booking, exclude, now) if d not in exclude]
        room = min(policy.offer_fanout, policy.max_offers - booking.offers_made)
        chosen = list(dict.fromkeys(ranked))[:room]
        if chosen:
            self._move(booking, S.OFFERED, Actor.SYSTEM, "", f"offered to {', '.join(chosen)}")
            # Ids safe in a URL path, and unique across restarts: the history (which is
            # stored) only grows, and each round of offers appends one update to it.
            round_no = len(booking.history)
            for k, doctor in enumerate(chosen):
                offer = Offer(
                    offer_id=f"{booking.booking_id}.{round_no}.{k}",
                    booking_id=booking.booking_id,
                    doctor_id=doctor,
                    sent_s=now,
                    expires_s=now + policy.offer_ttl_s,
                )
                self.offers[offer.offer_id] = offer
                self.doctor_offer[doctor] = offer.offer_id
                booking.offers_made += 1
                self._emit(OfferSent(offer.offer_id, booking.booking_id, doctor, offer.expires_s))
            return
        if booking.is_emergency and policy.preemption_enabled:
            self._preempt(booking)

    def _preempt(self, emergency: Booking) -> None:
        """Take a doctor on the way to a non-urgent visit for an emergency with no free doctor."""
        busy = [
            doctor
            for doctor, booking_id in self.doctor_booking.items()
            if (b := self.bookings[booking_id]).status in (S.ASSIGNED, S.EN_ROUTE)
            and not b.is_emergency
            and b.priority is Priority.NORMAL
            and doctor not in self.offline_doctors
            and doctor not in emergency.excluded_doctors
        ]
        if not busy:
            return
        ranked = [
            d
            for d in self.candidates.rank_preemptable(emergency, sorted(busy), self._now)
            if d in busy
        ]
        if not ranked:
            return
        doctor = ranked[0]
        victim = self.bookings[self.doctor_booking[doctor]]
        reason = f"doctor {doctor} taken by emergency {emergency.booking_id}"
        self._release(victim, reason)
        self._emit(
            PatientNotified(
                victim.booking_id,
                victim.patient_id,
                "your doctor was called to an emergency; we are finding another",
                self._now,
            )
        )
        self._emit(OperatorsAlerted(victim.booking_id, "preempted", reason, self._now))
        self._bind(emergency, doctor, Actor.SYSTEM, "", f"preempted from {victim.booking_id}")
        self._search(victim)

    def _bind(
        self, booking: Booking, doctor: str, actor: Actor, actor_id: str, reason: str
    ) -> None:
        self._move(booking, S.ASSIGNED, actor, actor_id, reason, doctor_id=doctor)
        self._emit(DoctorAssigned(booking.booking_id, doctor, _who(actor, actor_id), self._now))

    def _release(
        self, booking: Booking, reason: str, actor: Actor = Actor.SYSTEM, actor_id: str = ""
    ) -> None:
        """Take the doctor off the booking and send it back to searching."""
        doctor = booking.doctor_id
        self._move(booking, S.SEARCHING, actor, actor_id, reason)
        if doctor is not None:
            self._emit(DoctorReleased(booking.booking_id, doctor, reason, self._now))

    # -- handlers -------------------------------------------------------------------------------

    def _request(self, cmd: RequestBooking) -> None:
        _text(cmd.booking_id, "booking_id", required=True)
        if not _SAFE_ID.fullmatch(cmd.booking_id):
            raise RejectedError(
                "booking_id may hold only letters, digits, '-' and '_' (it goes into URLs)"
            )
        _text(cmd.patient_id, "patient_id", required=True)
        _text(cmd.call_type, "call_type", required=True)
        for name in ("address", "symptoms", "notes"):
            _text(getattr(cmd, name), name)
        if cmd.clinic_id is not None:
            _text(cmd.clinic_id, "clinic_id", required=True)
        if cmd.requested_doctor_id is not None:
            _text(cmd.requested_doctor_id, "requested_doctor_id", required=True)
        if cmd.language is not None:
            _text(cmd.language, "language", required=True)
        if cmd.booking_id in self.bookings:
            raise RejectedError(f"booking {cmd.booking_id!r} already exists")
        if not (abs(cmd.latitude) <= 90.0 and abs(cmd.longitude) <= 180.0):
            raise RejectedError(
                "latitude must be within [-90, 90] and longitude within [-180, 180]"
            )
        if cmd.scheduled_s is not None and not math.isfinite(cmd.scheduled_s):
            raise RejectedError("scheduled time must be a finite time")
        if cmd.estimated_price_kopecks is not None and not (
            type(cmd.estimated_price_kopecks) is int
            and 0 <= cmd.estimated_price_kopecks <= MAX_KOPECKS
        ):
            raise RejectedError("the price must be a whole, non-negative number of kopecks")
        now = self._now
        booking = Booking(
            booking_id=cmd.booking_id,
            patient_id=cmd.patient_id,
            latitude=cmd.latitude,
            longitude=cmd.longitude,
            call_type=cmd.call_type,
            created_s=now,
            address=cmd.address,
            symptoms=cmd.symptoms,
            clinic_id=cmd.clinic_id,
            priority=Priority.EMERGENCY if cmd.is_emergency else cmd.priority,
            is_emergency=cmd.is_emergency,
            emergency_type=cmd.emergency_type,
            scheduled_s=cmd.scheduled_s,
            notes=cmd.notes,
            estimated_duration_s=cmd.estimated_duration_s,
            estimated_price_kopecks=cmd.estimated_price_kopecks,
            requested_doctor_id=cmd.requested_doctor_id,
            others_if_declined=cmd.others_if_declined,
            patient_is_child=cmd.patient_is_child,
            language=cmd.language,
        )
        self.bookings[booking.booking_id] = booking
        booking.history.append(
            StatusUpdate(None, S.REQUESTED, f"patient:{cmd.patient_id}", "requested", now)
        )
        self._emit(BookingRequested(booking.booking_id, booking.patient_id, now))
        self._emit(
            StatusChanged(
                booking.booking_id,
                None,
                S.REQUESTED,
                f"patient:{cmd.patient_id}",
                "requested",
                now,
                None,
            )
        )
        number = self.policy.escalations.get(booking.call_type)
        if number is not None:
            self._emit(EscalationRaised(booking.booking_id, booking.call_type, number, now))
            self._emit(
                OperatorsAlerted(
                    booking.booking_id, "escalation", f"hand the call to {number}", now
                )
            )
        if (
            booking.scheduled_s is not None
            and booking.scheduled_s - self.policy.scheduled_lead_s > now
        ):
            self._move(booking, S.SCHEDULED, Actor.SYSTEM, "", "waits for its time")
            return
        self._move(booking, S.SEARCHING, Actor.SYSTEM, "", "search started")
        self._search(booking)

    def _live_offer(self, offer_id: str, doctor_id: str) -> Offer:
        offer = self.offers.get(offer_id)
        if offer is None or offer.doctor_id != doctor_id:
            raise RejectedError(f"no offer {offer_id!r} for doctor {doctor_id!r}")
        if offer.open and self._now >= offer.expires_s:
            # The expiry came first: record it (it stands even though the command fails).
            self._expire(offer, "no answer in time")
            raise _LostRaceError(f"the offer expired at {offer.expires_s:.0f}")
        if not offer.open:
            raise RejectedError(
                f"the offer was already {offer.outcome.value if offer.outcome else 'ended'}: {offer.reason}"
            )
        return offer

    def _accept(self, cmd: AcceptOffer) -> None:
        offer = self._live_offer(cmd.offer_id, cmd.doctor_id)
        booking = self.bookings[offer.booking_id]
        if cmd.doctor_id in self.offline_doctors:
            raise RejectedError("an offline doctor cannot accept; come back online first")
        if cmd.doctor_id in self.doctor_booking:
            raise RejectedError(
                f"doctor {cmd.doctor_id!r} already has booking {self.doctor_booking[cmd.doctor_id]!r}"
            )
        self._end_offer(offer, OfferOutcome.ACCEPTED, "accepted")
        self._withdraw_offers(booking, f"taken by {cmd.doctor_id}")
        self._bind(booking, cmd.doctor_id, Actor.DOCTOR, cmd.doctor_id, "offer accepted")
        self._emit(
            PatientNotified(
                booking.booking_id, booking.patient_id, "a doctor is assigned", self._now
            )
        )

    def _decline(self, cmd: DeclineOffer) -> None:
        if not cmd.reason.strip():
            raise RejectedError("a decline needs a reason")
        _text(cmd.reason, "reason")
        offer = self._live_offer(cmd.offer_id, cmd.doctor_id)
        self._end_offer(offer, OfferOutcome.DECLINED, cmd.reason.strip())
        self._after_offer_ended(self.bookings[offer.booking_id])

    def _expire(self, offer: Offer, reason: str) -> None:
        self._end_offer(offer, OfferOutcome.EXPIRED, reason)
        self._after_offer_ended(self.bookings[offer.booking_id])

    def _progress(self, cmd: ReportProgress) -> None:
        booking = self.booking(cmd.booking_id)
        if booking.doctor_id != cmd.doctor_id:
            raise RejectedError(f"doctor {cmd.doctor_id!r} is not assigned to this booking")
        if cmd.status not in (S.EN_ROUTE, S.ARRIVED, S.IN_PROGRESS, S.COMPLETED):
            raise RejectedError(f"a doctor cannot report {cmd.status.value}")
        if cmd.final_price_kopecks is not None and not (
            type(cmd.final_price_kopecks) is int and 0 <= cmd.final_price_kopecks <= MAX_KOPECKS
        ):
            raise RejectedError("final price must be a whole, non-negative number of kopecks")
        self._move(
            booking, cmd.status, Actor.DOCTOR, cmd.doctor_id, f"doctor reports {cmd.status.value}"
        )
        if cmd.status is S.COMPLETED:
            booking.final_price_kopecks = cmd.final_price_kopecks
        if cmd.status is S.EN_ROUTE:
            self._emit(
                PatientNotified(
                    booking.booking_id, booking.patient_id, "your doctor is on the way", self._now
                )
            )

    def _check_cancel(self, cmd: CancelBooking) -> Booking:
        """The booking, when the cancellation may go ahead; RejectedError else."""
        booking = self.booking(cmd.booking_id)
        if not cmd.reason.strip():
            raise RejectedError("a cancellation needs a reason")
        _text(cmd.reason, "reason")
        if cmd.actor is Actor.PATIENT and booking.patient_id != cmd.actor_id:
            raise RejectedError(
                f"no booking {cmd.booking_id!r}"
            )  # not yours: as if it did not exist
        if cmd.actor is Actor.DOCTOR:
            raise RejectedError(
                "a doctor cannot cancel a booking; decline the offer or call an operator"
            )
        error = transition_error(booking.status, S.CANCELLED, cmd.actor)
        if error is not None:
            raise RejectedError(error)
        return booking

    def _cancel(self, cmd: CancelBooking) -> None:
        booking = self._check_cancel(cmd)
        doctor = booking.doctor_id
        self._withdraw_offers(booking, "booking cancelled")
        self._move(booking, S.CANCELLED, cmd.actor, cmd.actor_id, cmd.reason.strip())
        if doctor is not None:
            self._emit(DoctorReleased(booking.booking_id, doctor, "booking cancelled", self._now))

    def _offline(self, cmd: MarkDoctorOffline) -> None:
        doctor = cmd.doctor_id
        if doctor in self.offline_doctors:
            return
        self.offline_doctors.add(doctor)
        offer_id = self.doctor_offer.get(doctor)
        if offer_id is not None:
            self._expire(self.offers[offer_id], "the doctor went offline")
        booking_id = self.doctor_booking.get(doctor)
        if booking_id is not None:
            booking = self.bookings[booking_id]
            booking.doctor_offline_since_s = self._now
            self._emit(
                OperatorsAlerted(
                    booking_id,
                    "doctor_offline",
                    f"doctor {doctor} went offline during a {booking.status.value} booking",
                    self._now,
                )
            )

    def _online(self, cmd: MarkDoctorOnline) -> None:
        self.offline_doctors.discard(cmd.doctor_id)
        booking_id = self.doctor_booking.get(cmd.doctor_id)
        if booking_id is not None:
            self.bookings[booking_id].doctor_offline_since_s = None

    def _require_reason(self, reason: str, operator_id: str) -> str:
        if not operator_id.strip():
            raise RejectedError("an override needs the operator's id")
        if not reason.strip():
            raise RejectedError("an override needs a reason")
        _text(operator_id, "operator_id")
        return _text(reason, "reason")

    def _assign_override(self, cmd: AssignDoctor) -> None:
        reason = self._require_reason(cmd.reason, cmd.operator_id)
        booking = self.booking(cmd.booking_id)
        doctor = cmd.doctor_id
        if booking.status not in (S.SCHEDULED, S.SEARCHING, S.OFFERED, S.ASSIGNED, S.EN_ROUTE):
            raise RejectedError(f"a {booking.status.value} booking cannot be given another doctor")
        if booking.doctor_id == doctor:
            raise RejectedError(f"doctor {doctor!r} already has this booking")
        why_not = self.candidates.unassignable(doctor, booking, self._now)
        if why_not is not None:
            raise RejectedError(why_not)
        if doctor in self.offline_doctors:
            raise RejectedError(f"doctor {doctor!r} is offline")
        current = self.doctor_booking.get(doctor)
        if current is not None and not cmd.release_current:
            raise RejectedError(
                f"doctor {doctor!r} is busy with booking {current!r}; release it to reassign"
            )
        if current is not None:
            other = self.bookings[current]
            if other.status not in (S.ASSIGNED, S.EN_ROUTE):
                raise RejectedError(f"doctor {doctor!r} is already at booking {current!r}")
        # Validation done; now change things.
        if current is not None:
            other = self.bookings[current]
            self._release(
                other,
                f"doctor {doctor} reassigned by operator: {reason}",
                Actor.OPERATOR,
                cmd.operator_id,
            )
            self._emit(
                PatientNotified(
                    other.booking_id,
                    other.patient_id,
                    "your doctor was reassigned; we are finding another",
                    self._now,
                )
            )
        offer_id = self.doctor_offer.get(doctor)
        if offer_id is not None:
            self._end_offer(
                self.offers[offer_id],
                OfferOutcome.WITHDRAWN,
                "doctor assigned elsewhere by an operator",
            )
            other_booking = self.bookings[self.offers[offer_id].booking_id]
            if other_booking.booking_id != booking.booking_id:
                self._after_offer_ended(other_booking)
        self._withdraw_offers(booking, "an operator assigned a doctor")
        previous = booking.doctor_id
        self._bind(booking, doctor, Actor.OPERATOR, cmd.operator_id, reason)
        if previous is not None:
            self._emit(
                DoctorReleased(
                    booking.booking_id, previous, f"reassigned by operator: {reason}", self._now
                )
            )
        if current is not None:
            self._search(self.bookings[current])

    def _check_return_to_search(self, cmd: ReturnToSearch) -> tuple[Booking, str]:
        reason = self._require_reason(cmd.reason, cmd.operator_id)
        booking = self.booking(cmd.booking_id)
        if booking.status not in (S.ASSIGNED, S.EN_ROUTE):
            raise RejectedError(f"a {booking.status.value} booking has no doctor to take off")
        return booking, reason

    def _return_to_search(self, cmd: ReturnToSearch, *, search: bool = True) -> Booking:
        booking, reason = self._check_return_to_search(cmd)
        self._release(booking, reason, Actor.OPERATOR, cmd.operator_id)
        self._emit(
            PatientNotified(
                booking.booking_id,
                booking.patient_id,
                "we are finding you another doctor",
                self._now,
            )
        )
        if search:
            self._search(booking)
        return booking

    def _do_all(self, cmd: DoAll) -> None:
        if not cmd.commands:
            raise RejectedError("nothing to do: name at least one booking")
        ids = [c.booking_id for c in cmd.commands]
        if len(set(ids)) != len(ids):
            raise RejectedError("each booking may be named once")
        refusals: list[str] = []
        for command in cmd.commands:  # every check first, nothing changed yet
            try:
                if isinstance(command, CancelBooking):
                    self._check_cancel(command)
                else:
                    self._check_return_to_search(command)
            except RejectedError as exc:
                refusals.append(f"{command.booking_id}: {exc}")
        if refusals:
            raise RejectedError("none was done; " + "; ".join(refusals))
        # Every change first, the searches after: a search may take a doctor from another
        # booking (an emergency preempts), which must not touch one still to be changed.
        released: list[Booking] = []
        for command in cmd.commands:
            if isinstance(command, CancelBooking):
                self._cancel(command)
            else:
                released.append(self._return_to_search(command, search=False))
        for booking in released:
            self._search(booking)

    def _change_priority(self, cmd: ChangePriority) -> None:
        reason = self._require_reason(cmd.reason, cmd.operator_id)
        booking = self.booking(cmd.booking_id)
        if booking.terminal:
            raise RejectedError(f"the booking is {booking.status.value}: a final status")
        old = booking.priority
        booking.priority = cmd.priority
        booking.is_emergency = cmd.priority is Priority.EMERGENCY
        # Not a status change, but it is recorded in the history with who and why.
        booking.history.append(
            StatusUpdate(
                booking.status,
                booking.status,
                f"operator:{cmd.operator_id}",
                f"priority {old.value} -> {cmd.priority.value}: {reason}",
                self._now,
                booking.doctor_id,
            )
        )
        self._emit(
            StatusChanged(
                booking.booking_id,
                booking.status,
                booking.status,
                f"operator:{cmd.operator_id}",
                f"priority {old.value} -> {cmd.priority.value}: {reason}",
                self._now,
                booking.doctor_id,
            )
        )

    def _post_message(self, cmd: PostMessage) -> None:
        booking = self.booking(cmd.booking_id)
        if not cmd.content.strip():
            raise RejectedError("a message cannot be empty")
        content = _text(cmd.content, "message")
        if cmd.sender_role is Actor.PATIENT and cmd.sender_id != booking.patient_id:
            raise RejectedError(f"no booking {cmd.booking_id!r}")
        if cmd.sender_role is Actor.DOCTOR and cmd.sender_id != booking.doctor_id:
            raise RejectedError("only the assigned doctor may write on this booking")
        booking.messages.append(
            BookingMessage(cmd.sender_id, cmd.sender_role, cmd.message_type, content, self._now)
        )
        self._emit(
            MessagePosted(booking.booking_id, cmd.sender_id, cmd.sender_role, content, self._now)
        )

    def _tick(self, _cmd: Tick) -> None:
        now = self._now
        for offer in sorted(
            (o for o in self.offers.values() if o.open and o.expires_s <= now),
            key=lambda o: (o.expires_s, o.offer_id),
        ):
            if offer.open:  # an earlier expiry in this tick may have withdrawn it
                self._expire(offer, "no answer in time")
        for booking in list(self.bookings.values()):
            since = booking.doctor_offline_since_s
            if (
                since is not None
                and now - since >= self.policy.offline_grace_s
                and booking.status in (S.ASSIGNED, S.EN_ROUTE)
            ):
                doctor = booking.doctor_id
                self._release(booking, f"doctor {doctor} offline for {now - since:.0f} s")
                if doctor is not None:
                    booking.excluded_doctors.add(doctor)
                self._emit(
                    PatientNotified(
                        booking.booking_id,
                        booking.patient_id,
                        "we lost contact with your doctor; finding another",
                        now,
                    )
                )
            elif (
                booking.status is S.SCHEDULED
                and booking.scheduled_s is not None
                and booking.scheduled_s - self.policy.scheduled_lead_s <= now
            ):
                self._move(booking, S.SEARCHING, Actor.SYSTEM, "", "scheduled time reached")
        searching = sorted(
            (b for b in self.bookings.values() if b.status is S.SEARCHING),
            key=lambda b: (-b.urgency, b.created_s, b.booking_id),
        )
        for booking in searching:  # emergencies first: they get the free doctors first
            self._search(booking)

    # -- the invariants (the stateful property test calls this after every step) ---------------

    def check_invariants(self) -> None:
        holders: dict[str, str] = {}
        for b in self.bookings.values():
            if b.status in WITH_DOCTOR:
                assert b.doctor_id is not None, f"{b.booking_id} is {b.status} with no doctor"
                assert b.doctor_id not in holders, (
                    f"doctor {b.doctor_id} holds {holders.get(b.doctor_id)} and {b.booking_id}"
                )
                holders[b.doctor_id] = b.booking_id
            elif b.status not in TERMINAL:
                assert b.doctor_id is None, (
                    f"{b.booking_id} is {b.status} but names doctor {b.doctor_id}"
                )
            # the history replays to the current state
            state: BookingStatus | None = None
            doctor: str | None = None
            for u in b.history:
                assert u.old_status == state, (
                    f"{b.booking_id}: history jumps from {state} to {u.old_status}"
                )
                if state is not None:
                    assert state not in TERMINAL, f"{b.booking_id} left the final status {state}"
                state, doctor = u.new_status, u.doctor_id
            assert state == b.status, (
                f"{b.booking_id}: history ends at {state}, status is {b.status}"
            )
            assert doctor == b.doctor_id, (
                f"{b.booking_id}: history names {doctor}, booking {b.doctor_id}"
            )
        assert holders == self.doctor_booking, f"doctor index {self.doctor_booking} != {holders}"
        open_by_doctor: dict[str, str] = {}
        for o in self.offers.values():
            booking = self.bookings[o.booking_id]
            if o.open:
                assert booking.status is S.OFFERED, (
                    f"open offer {o.offer_id} on a {booking.status} booking"
                )
                assert o.doctor_id not in open_by_doctor, (
                    f"doctor {o.doctor_id} holds two open offers"
                )
                open_by_doctor[o.doctor_id] = o.offer_id
            else:
                assert o.ended_s is not None and o.outcome is not None
        assert open_by_doctor == self.doctor_offer, "open-offer index out of step"
        for b in self.bookings.values():
            if b.status is S.OFFERED:
                assert self.open_offers(b.booking_id), (
                    f"{b.booking_id} is offered with no open offer"
                )


class _LostRaceError(RejectedError):
    """The command lost a race that the core has already recorded (e.g. an expiry)."""
