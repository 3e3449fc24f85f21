"""The booking and everything that happens to it, in the core's terms.

Times are epoch seconds (floats) passed in by the caller; the core has no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class BookingStatus(StrEnum):
    REQUESTED = "requested"
    SCHEDULED = "scheduled"  # waits for its time minus the lead time
    SEARCHING = "searching"
    OFFERED = "offered"
    ASSIGNED = "assigned"  # a doctor accepted (or an operator assigned one)
    EN_ROUTE = "en_route"
    ARRIVED = "arrived"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_DOCTOR_FOUND = "no_doctor_found"


TERMINAL = frozenset(
    {BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.NO_DOCTOR_FOUND}
)
# Statuses in which a doctor is bound to the booking.
WITH_DOCTOR = frozenset(
    {
        BookingStatus.ASSIGNED,
        BookingStatus.EN_ROUTE,
        BookingStatus.ARRIVED,
        BookingStatus.IN_PROGRESS,
    }
)


class Actor(StrEnum):
    PATIENT = "patient"
    DOCTOR = "doctor"
    OPERATOR = "operator"
    SYSTEM = "system"


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.NORMAL: 0, Priority.URGENT: 1, Priority.EMERGENCY: 2}


class OfferOutcome(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One row of a booking's status history (append-only)."""

    old_status: BookingStatus | None
    new_status: BookingStatus
    updated_by: str  # "patient:<id>", "doctor:<id>", "operator:<id>" or "system"
    reason: str
    at_s: float
    doctor_id: str | None = None  # the doctor bound to the booking after this update


@dataclass(frozen=True, slots=True)
class BookingMessage:
    sender_id: str
    sender_role: Actor
    message_type: str  # "text", "system", ...
    content: str
    at_s: float


@dataclass(slots=True)
class Offer:
    offer_id: str
    booking_id: str
    doctor_id: str
    sent_s: float
    expires_s: float
    outcome: OfferOutcome | None = None
    ended_s: float | None = None
    reason: str = ""

    @property
    def open(self) -> bool:
        return self.outcome is None


@dataclass(slots=True)
class Booking:
    """The seed's `bookings` row, as the core keeps it."""

    booking_id: str
    patient_id: str
    latitude: float
    longitude: float
    call_type: str
    created_s: float
    address: str = ""
    symptoms: str = ""
    clinic_id: str | None = None
    priority: Priority = Priority.NORMAL
    is_emergency: bool = False
    emergency_type: str | None = None
    scheduled_s: float | None = None
    notes: str = ""
    estimated_duration_s: float | None = None
    actual_duration_s: float | None = None
    estimated_price_kopecks: int | None = None  # quoted at creation, fixed
    final_price_kopecks: int | None = None  # charged at completion (quote + extras)
    # The doctor the patient chose by name: offered the visit first. If they decline or
    # let it lapse, others are asked only when the patient agreed to that.
    requested_doctor_id: str | None = None
    others_if_declined: bool = True
    patient_is_child: bool = False  # only doctors who treat children
    language: str | None = None  # only doctors who speak it
    status: BookingStatus = BookingStatus.REQUESTED
    doctor_id: str | None = None
    assigned_s: float | None = None
    started_s: float | None = None
    completed_s: float | None = None
    cancelled_s: float | None = None
    search_started_s: float | None = None
    offers_made: int = 0
    excluded_doctors: set[str] = field(default_factory=set)  # declined or let an offer lapse
    doctor_offline_since_s: float | None = None  # the assigned doctor dropped off
    history: list[StatusUpdate] = field(default_factory=list)
    messages: list[BookingMessage] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def urgency(self) -> int:
        """Higher goes first: emergencies, then urgent, then the rest."""
        return 3 if self.is_emergency else self.priority.rank
