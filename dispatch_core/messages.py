"""Commands (verbs) that go into the core and events (past tense) that come out."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch_core.model import Actor, BookingStatus, OfferOutcome, Priority

# -- commands ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestBooking:
    booking_id: str
    patient_id: str
    latitude: float
    longitude: float
    call_type: str = "home_visit"
    address: str = ""
    symptoms: str = ""
    clinic_id: str | None = None
    priority: Priority = Priority.NORMAL
    is_emergency: bool = False
    emergency_type: str | None = None
    scheduled_s: float | None = None
    notes: str = ""
    estimated_duration_s: float | None = None
    estimated_price_kopecks: int | None = None
    requested_doctor_id: str | None = None  # offered first (the patient chose them)
    others_if_declined: bool = True  # then the others, if that doctor does not take it
    patient_is_child: bool = False
    language: str | None = None


@dataclass(frozen=True, slots=True)
class AcceptOffer:
    offer_id: str
    doctor_id: str


@dataclass(frozen=True, slots=True)
class DeclineOffer:
    offer_id: str
    doctor_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReportProgress:
    """The assigned doctor moves the visit on: en route, arrived, in progress, completed."""

    booking_id: str
    doctor_id: str
    status: BookingStatus
    final_price_kopecks: int | None = None


@dataclass(frozen=True, slots=True)
class CancelBooking:
    booking_id: str
    actor: Actor
    actor_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class MarkDoctorOffline:
    doctor_id: str


@dataclass(frozen=True, slots=True)
class MarkDoctorOnline:
    doctor_id: str


@dataclass(frozen=True, slots=True)
class AssignDoctor:
    """Operator override: this doctor takes this booking (also used to reassign)."""

    booking_id: str
    doctor_id: str
    operator_id: str
    reason: str
    release_current: bool = False  # free the doctor from their current booking first


@dataclass(frozen=True, slots=True)
class ReturnToSearch:
    """Operator override: take the doctor off this booking and search again."""

    booking_id: str
    operator_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class DoAll:
    """Operator bulk action: every command, or none. Each is checked against the state
    before any is applied; one refused, the whole is refused with every refusal named.
    (Cancellations and returns to search on distinct bookings.)"""

    commands: tuple[CancelBooking | ReturnToSearch, ...]


@dataclass(frozen=True, slots=True)
class ChangePriority:
    booking_id: str
    operator_id: str
    priority: Priority
    reason: str


@dataclass(frozen=True, slots=True)
class PostMessage:
    booking_id: str
    sender_id: str
    sender_role: Actor
    content: str
    message_type: str = "text"


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: expire offers, fire scheduled bookings, retry searches, give up."""


Command = (
    RequestBooking
    | AcceptOffer
    | DeclineOffer
    | ReportProgress
    | CancelBooking
    | MarkDoctorOffline
    | MarkDoctorOnline
    | AssignDoctor
    | ReturnToSearch
    | ChangePriority
    | DoAll
    | PostMessage
    | Tick
)

# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookingRequested:
    booking_id: str
    patient_id: str
    at_s: float


@dataclass(frozen=True, slots=True)
class StatusChanged:
    booking_id: str
    old_status: BookingStatus | None
    new_status: BookingStatus
    updated_by: str
    reason: str
    at_s: float
    doctor_id: str | None


@dataclass(frozen=True, slots=True)
class OfferSent:
    offer_id: str
    booking_id: str
    doctor_id: str
    expires_s: float


@dataclass(frozen=True, slots=True)
class OfferEnded:
    offer_id: str
    booking_id: str
    doctor_id: str
    outcome: OfferOutcome
    reason: str
    at_s: float


@dataclass(frozen=True, slots=True)
class DoctorAssigned:
    booking_id: str
    doctor_id: str
    by: str
    at_s: float


@dataclass(frozen=True, slots=True)
class DoctorReleased:
    booking_id: str
    doctor_id: str
    reason: str
    at_s: float


@dataclass(frozen=True, slots=True)
class OperatorsAlerted:
    booking_id: str
    kind: str  # "no_doctor_found", "doctor_offline", "escalation", "preempted"
    detail: str
    at_s: float


@dataclass(frozen=True, slots=True)
class EscalationRaised:
    """The call should go to emergency services; operators see it at once."""

    booking_id: str
    call_type: str
    emergency_number: str
    at_s: float


@dataclass(frozen=True, slots=True)
class PatientNotified:
    booking_id: str
    patient_id: str
    message: str
    at_s: float


@dataclass(frozen=True, slots=True)
class MessagePosted:
    booking_id: str
    sender_id: str
    sender_role: Actor
    content: str
    at_s: float


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """The command was refused and changed nothing; `reason` says why, for the caller."""

    command: str
    reason: str
    booking_id: str | None = None


Event = (
    BookingRequested
    | StatusChanged
    | OfferSent
    | OfferEnded
    | DoctorAssigned
    | DoctorReleased
    | OperatorsAlerted
    | EscalationRaised
    | PatientNotified
    | MessagePosted
    | CommandRejected
)
