"""Request and response bodies. Inputs forbid unknown fields, so nobody sets `status`,
`doctor_id` or `price` through a body; responses are shaped per role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from accounts import Role
from dispatch_core import BookingStatus, Priority


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)


Latitude = Annotated[float, Field(ge=-90, le=90, description="degrees, WGS 84")]
Longitude = Annotated[float, Field(ge=-180, le=180, description="degrees, WGS 84")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=128)]
Name = Annotated[str, StringConstraints(max_length=100)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{7,15}$")]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=1_000)]
CallType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,63}$")]
ClinicId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
Specialization = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,63}$")]


def at(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC)


# -- auth ---------------------------------------------------------------------------------


class RegisterPatient(Input):
    email: EmailStr
    password: Password
    first_name: Name = ""
    last_name: Name = ""
    phone: Phone | None = None


class RegisterDoctor(RegisterPatient):
    specialization: Specialization = "general"
    license_number: Annotated[str, StringConstraints(min_length=3, max_length=64)]
    license_expires_at: datetime | None = None
    experience_years: Annotated[int, Field(ge=0, le=80)] = 0
    languages: Annotated[list[LanguageCode], Field(max_length=10)] = ["ru"]
    treats_adults: bool = True
    treats_children: bool = False


class Login(Input):
    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshIn(Input):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class TokensOut(Output):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the access token lives")
    refresh_expires_in: int


# -- users --------------------------------------------------------------------------------


class UserOut(Output):
    """One's own account, or any account for an admin."""

    id: str
    email: str
    role: Role
    first_name: str
    last_name: str
    phone: str | None
    is_active: bool
    is_verified: bool
    clinic_id: str | None
    specialization: str | None
    license_number: str | None
    license_expires_at: datetime | None
    experience_years: int | None
    languages: list[str]
    treats_adults: bool
    treats_children: bool
    rating: float | None
    created_at: datetime


class DoctorPublic(Output):
    """What anyone may see of a doctor: no licence number, no contacts."""

    id: str
    first_name: str
    last_name: str
    specialization: str | None
    experience_years: int | None
    rating: float | None
    languages: list[str]


class ProfileUpdate(Input):
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    languages: Annotated[list[LanguageCode], Field(max_length=10)] | None = None


class UserPage(Output):
    users: list[UserOut]
    offset: int
    limit: int


class AdminCreateUser(RegisterPatient):
    role: Role
    clinic_id: ClinicId | None = None


class RoleChange(Input):
    role: Role
    clinic_id: ClinicId | None = None
    reason: Reason


class BlockIn(Input):
    reason: Reason


# -- doctors ------------------------------------------------------------------------------


class ShiftStart(Input):
    latitude: Latitude
    longitude: Longitude
    accuracy_m: Annotated[float, Field(ge=0, le=10_000)] = 10.0


class PositionIn(ShiftStart):
    recorded_at: datetime | None = Field(default=None, description="when the fix was taken")


class AvailabilityIn(Input):
    available: bool


class DoctorStateOut(Output):
    doctor_id: str
    status: Literal["offline", "available", "offered", "en_route", "on_visit", "on_break"]
    latitude: float | None
    longitude: float | None
    fix_age_s: float | None
    stale: bool


class DocumentIn(Input):
    kind: Literal["license", "diploma", "id", "certificate"]
    number: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    issued_by: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    valid_until: datetime | None = None
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class DocumentOut(Output):
    id: str
    kind: str
    number: str
    issued_by: str
    valid_until: datetime | None
    uploaded_at: datetime
    sha256: str


# -- bookings -----------------------------------------------------------------------------


class VisitIn(Input):
    latitude: Latitude
    longitude: Longitude
    address: Annotated[str, StringConstraints(max_length=500)] = ""
    symptoms: Annotated[str, StringConstraints(max_length=4_000)] = ""
    notes: Annotated[str, StringConstraints(max_length=4_000)] = ""
    call_type: CallType = "home_visit"
    priority: Literal["normal", "urgent"] = "normal"
    is_emergency: bool = False
    emergency_type: Annotated[str, StringConstraints(max_length=64)] | None = None
    scheduled_at: datetime | None = None
    clinic_id: ClinicId | None = None


class EstimateOut(Output):
    price: float
    currency: str
    eta_s: float | None = Field(description="road ETA of the best free doctor now; null if none")
    doctors_available: int


class StatusEntry(Output):
    status: BookingStatus
    at: datetime
    reason: str
    by: str | None = Field(default=None, description="who moved it (operators and admins only)")


class MessageOut(Output):
    sender_id: str
    sender_role: str
    type: str
    content: str
    at: datetime


class BookingOut(Output):
    id: str
    status: BookingStatus
    priority: Priority
    is_emergency: bool
    call_type: str
    address: str
    latitude: float
    longitude: float
    symptoms: str
    notes: str
    clinic_id: str | None
    patient_id: str
    doctor: DoctorPublic | None
    created_at: datetime
    scheduled_at: datetime | None
    assigned_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    estimated_price: float | None
    final_price: float | None
    currency: str
    history: list[StatusEntry]
    messages: list[MessageOut]


class BookingPage(Output):
    bookings: list[BookingOut]
    next_cursor: str | None


class CancelIn(Input):
    reason: Reason


class MessageIn(Input):
    content: Annotated[str, StringConstraints(min_length=1, max_length=4_000)]


class DeclineIn(Input):
    reason: Annotated[str, StringConstraints(max_length=1_000)] = ""


class ProgressIn(Input):
    status: Literal["en_route", "arrived", "in_progress", "completed"]
    final_price: Annotated[float, Field(ge=0, le=1_000_000)] | None = None


class OfferOut(Output):
    offer_id: str
    booking_id: str
    expires_at: datetime
    ttl_s: float
    call_type: str
    priority: Priority
    is_emergency: bool
    address: str
    latitude: float
    longitude: float
    eta_s: float | None


# -- operators ----------------------------------------------------------------------------


class AssignIn(Input):
    doctor_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    reason: Reason
    release_current: bool = Field(
        default=False, description="free the doctor from the booking they hold first"
    )


class ReasonIn(Input):
    reason: Reason


class PriorityIn(Input):
    priority: Priority
    reason: Reason


class LiveBookings(Output):
    bookings: list[BookingOut]


class LiveDoctors(Output):
    doctors: list[DoctorStateOut]


class Problem(Output):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, object]] | None = None


class Health(Output):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = {}
