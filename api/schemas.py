"""Request and response bodies. Inputs forbid unknown fields, so nobody sets `status`,
`doctor_id` or `price` through a body; responses are shaped per role."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import email_validator
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from accounts import MAX_SAVED_ADDRESSES, Role
from dispatch_core import BookingStatus, Priority
from matching import Exclusion
from services.times import rfc3339


class Input(BaseModel):
    """A request body. What the OpenAPI document says is what is checked: constraints
    apply to the text as sent (surrounding whitespace is trimmed afterwards, from free
    text only), numbers and booleans are JSON numbers and booleans (no "5" or "yes"),
    times are RFC 3339 date-times with an offset."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Output(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number")
    return value


def _rfc3339(value: Any) -> Any:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError(
            "must be an RFC 3339 date-time with an offset in the years 1900 to 9998, "
            "e.g. 2025-01-31T09:30:00Z"
        )
    return value


def _email(value: str) -> str:
    # Syntax only (no DNS), and the reserved `.test` domain is an address like any other.
    try:
        checked = email_validator.validate_email(
            value, check_deliverability=False, test_environment=True
        )
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address: {exc}") from None
    return str(checked.normalized)


def _strip(value: str) -> str:
    return value.strip()


# RFC 3339 date-times written in the years 1900 to 9998 (so that in UTC they stay within
# what every store and renderer handles), without leap seconds (which Python refuses).
# The same pattern goes into the OpenAPI document, so a date-time it allows is accepted.
RFC3339_PATTERN = (
    r"^(19\d\d|[2-8]\d{3}|9[0-8]\d\d|99[0-8]\d|999[0-8])-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
_RFC3339 = re.compile(RFC3339_PATTERN)
NO_NUL = r"^[^\x00]*$"  # PostgreSQL cannot store NUL in text
# ...and something besides whitespace: Python's whitespace (what str.strip() removes),
# spelled out, as \s differs between the regex engines (ECMA 262 leaves out \x1c-\x1f
# and \x85, which strip() removes).
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"

Bool = Annotated[bool, Strict()]
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    Field(
        description="an RFC 3339 date-time with an offset, written in the years 1900 to 9998",
        json_schema_extra={"pattern": RFC3339_PATTERN},
    ),
]
Email = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]
# Constraints before the type check, or pydantic leaves them out of the JSON Schema.
Latitude = Annotated[
    float, Field(ge=-90, le=90, description="degrees, WGS 84"), BeforeValidator(_json_number)
]
Longitude = Annotated[
    float, Field(ge=-180, le=180, description="degrees, WGS 84"), BeforeValidator(_json_number)
]
Password = Annotated[str, StringConstraints(min_length=10, max_length=128)]
Name = Annotated[str, StringConstraints(max_length=100, pattern=NO_NUL), AfterValidator(_strip)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{7,15}$")]
Reason = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1_000, pattern=NOT_BLANK),
    AfterValidator(_strip),
]
CallType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,63}$")]
ClinicId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
DoctorRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
Locale = Literal["ru", "en"]
Specialization = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,63}$")]
# Free text, trimmed; NUL is refused. `Said*` must hold more than whitespace.
Text64 = Annotated[str, StringConstraints(max_length=64, pattern=NO_NUL), AfterValidator(_strip)]
Text500 = Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL), AfterValidator(_strip)]
Text4000 = Annotated[
    str, StringConstraints(max_length=4_000, pattern=NO_NUL), AfterValidator(_strip)
]
Said64 = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=NOT_BLANK), AfterValidator(_strip)
]
Said200 = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK), AfterValidator(_strip)
]
Said4000 = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4_000, pattern=NOT_BLANK),
    AfterValidator(_strip),
]


# Instants the API answers with: RFC 3339 in UTC with milliseconds, exactly as the
# WebSocket protocol writes them (services.times.rfc3339).
Instant = Annotated[
    datetime,
    PlainSerializer(lambda moment: rfc3339(moment.timestamp()), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


def _no_defaults(schema: dict[str, Any]) -> None:
    """For partial updates: a field left out stays as it is, so it has no default."""
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


def instant(epoch_s: float) -> datetime:
    """Epoch seconds as a date-time in UTC (RFC 3339 with `Z` in JSON)."""
    return datetime.fromtimestamp(epoch_s, UTC)


def at(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else instant(epoch_s)


# -- auth ---------------------------------------------------------------------------------


class RegisterPatient(Input):
    email: Email
    password: Password
    first_name: Name = ""
    last_name: Name = ""
    phone: Phone | None = None


class RegisterDoctor(RegisterPatient):
    specialization: Specialization = "general"
    license_number: Annotated[
        str,
        StringConstraints(min_length=3, max_length=64, pattern=NOT_BLANK),
        AfterValidator(_strip),
    ]
    license_expires_at: Timestamp | None = None
    experience_years: Annotated[int, Field(ge=0, le=80), BeforeValidator(_json_number)] = 0
    languages: Annotated[list[LanguageCode], Field(max_length=10)] = ["ru"]
    treats_adults: Bool = True
    treats_children: Bool = False


class Login(Input):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshIn(Input):
    refresh_token: Annotated[
        str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_strip)
    ]


class TokensOut(Output):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the access token lives")
    refresh_expires_in: int


# -- users --------------------------------------------------------------------------------


class SavedAddressIn(Input):
    label: Said64 = Field(description="the patient's name for the place, e.g. Дом")
    address: Said200
    latitude: Latitude
    longitude: Longitude


class SavedAddressOut(Output):
    label: str
    address: str
    latitude: float
    longitude: float


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
    license_expires_at: Instant | None
    experience_years: int | None
    languages: list[str]
    treats_adults: bool
    treats_children: bool
    rating: float | None
    created_at: Instant
    locale: Locale | None = Field(description="the apps' language; null: the browser's")
    saved_addresses: list[SavedAddressOut]
    verification: Literal["pending", "verified", "rejected"] = Field(
        description="doctors: an admin's decision (others: verified)"
    )
    verification_reason: str | None = Field(description="why an admin refused to verify")


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
    """Only the fields sent change; `phone: null` removes the phone."""

    model_config = ConfigDict(json_schema_extra=_no_defaults)

    first_name: Name | SkipJsonSchema[None] = None
    last_name: Name | SkipJsonSchema[None] = None
    phone: Phone | None = None
    languages: Annotated[list[LanguageCode], Field(max_length=10)] | SkipJsonSchema[None] = None
    locale: Locale | None = Field(default=None, description="null: follow the browser")
    saved_addresses: (
        Annotated[list[SavedAddressIn], Field(max_length=MAX_SAVED_ADDRESSES)]
        | SkipJsonSchema[None]
    ) = None

    @field_validator("first_name", "last_name", "languages", "saved_addresses", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it as it is")
        return value


class UserPage(Output):
    items: list[UserOut]
    next_cursor: str | None = Field(description="the next page's cursor; null: the last page")


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
    accuracy_m: Annotated[float, Field(ge=0, le=10_000), BeforeValidator(_json_number)] = 10.0


class PositionIn(ShiftStart):
    recorded_at: Timestamp | None = Field(default=None, description="when the fix was taken")


class AvailabilityIn(Input):
    available: Bool


class DoctorStateOut(Output):
    doctor_id: str
    status: Literal["offline", "available", "offered", "en_route", "on_visit", "on_break"]
    latitude: float | None
    longitude: float | None
    fix_age_s: float | None
    stale: bool


class DocumentIn(Input):
    kind: Literal["license", "diploma", "id", "certificate"]
    number: Said64
    issued_by: Said200
    valid_until: Timestamp | None = None
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class DocumentOut(Output):
    document_id: str
    id: str = Field(description="the same as document_id (kept for older clients)")
    kind: str
    number: str
    issued_by: str
    valid_until: Instant | None
    uploaded_at: Instant
    sha256: str = Field(description="of the uploaded scan, or as declared; '' when neither")
    content_type: Literal["application/pdf", "image/jpeg", "image/png"] | None = Field(
        description="of the uploaded scan, from its bytes; null: no scan yet"
    )
    size_bytes: int | None
    has_file: bool
    review: Literal["pending", "approved", "rejected"]
    review_reason: str | None = Field(description="why it was rejected")


class ModerationItem(Output):
    doctor_id: str
    first_name: str
    last_name: str
    email: str
    clinic_id: str | None
    submitted_at: Instant = Field(
        description="their oldest document awaiting review, else when the account was made"
    )
    verification: Literal["pending", "verified", "rejected"]
    documents: list[DocumentOut]


class ModerationPage(Output):
    items: list[ModerationItem]
    next_cursor: str | None


class Approval(Input):
    decision: Literal["approve"]
    reason: Text500 = Field(default="", description="for the audit trail")


class Rejection(Input):
    decision: Literal["reject"]
    reason: Annotated[
        str,
        StringConstraints(min_length=1, max_length=500, pattern=NOT_BLANK),
        AfterValidator(_strip),
    ] = Field(description="the doctor reads it")


VerificationIn = Annotated[Approval | Rejection, Field(discriminator="decision")]


# -- bookings -----------------------------------------------------------------------------


class VisitIn(Input):
    latitude: Latitude
    longitude: Longitude
    address: Text500 = ""
    symptoms: Text4000 = ""
    notes: Text4000 = ""
    call_type: CallType = "home_visit"
    priority: Literal["normal", "urgent"] = "normal"
    is_emergency: Bool = False
    emergency_type: Text64 | None = None
    scheduled_at: Timestamp | None = None
    clinic_id: ClinicId | None = None
    requested_doctor_id: DoctorRef | None = Field(
        default=None, description="a doctor the patient chose: offered the visit first"
    )
    others_if_declined: Bool = Field(
        default=True,
        description="if the chosen doctor declines or does not answer, others may come",
    )
    patient_is_child: Bool = Field(default=False, description="only doctors who treat children")
    language: LanguageCode | None = Field(
        default=None, description="only doctors who speak it (ISO 639-1)"
    )
    payment_method: Literal["card", "sbp", "at_visit"] = Field(
        default="card",
        description="card: held when a doctor accepts, charged at completion; sbp: paid "
        "after the visit by the Faster Payments System; at_visit: at the door, where the "
        "clinic allows it",
    )
    specialty: Specialization | None = Field(
        default=None, description="a specialty of the clinic's price list, if the visit needs one"
    )


class DoctorChoiceOut(Output):
    doctor_id: str
    first_name: str
    last_name: str
    specialization: str
    languages: list[str]
    rating: float | None
    eta_s: float = Field(description="road travel time to the patient now, seconds")
    distance_m: float = Field(description="straight-line distance, to the nearest 100 m")


class DoctorChoices(Output):
    doctors: list[DoctorChoiceOut] = Field(description="free now and fit, nearest by road first")


class EstimateOut(Output):
    price_kopecks: int = Field(description="the quote, kopecks (integer)")
    extras_cap_kopecks: int = Field(
        description="the most the doctor may add at completion (extras), kopecks"
    )
    payment_methods: list[Literal["card", "sbp", "at_visit"]]
    currency: str
    eta_s: float | None = Field(description="road ETA of the best free doctor now; null if none")
    doctors_available: int


class StatusEntry(Output):
    status: BookingStatus
    at: Instant
    reason: str
    by: str | None = Field(default=None, description="who moved it (operators and admins only)")


class MessageOut(Output):
    sender_id: str
    sender_role: str
    type: str
    content: str
    at: Instant


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
    created_at: Instant
    scheduled_at: Instant | None
    assigned_at: Instant | None
    completed_at: Instant | None
    cancelled_at: Instant | None
    estimated_price_kopecks: int | None = Field(description="quoted at creation, kopecks")
    final_price_kopecks: int | None = Field(description="charged at completion, kopecks")
    currency: str
    requested_doctor_id: str | None = Field(description="the doctor the patient chose, if any")
    others_if_declined: bool
    patient_is_child: bool
    language: str | None
    history: list[StatusEntry]
    messages: list[MessageOut]


# A cursor is a position in the newest-first order: the creation time (epoch seconds, as
# Python writes the float, so it reads back exactly) and the id of the last booking of a
# page. Any text of this shape is a position, so every cursor the schema allows is
# accepted: one from another listing, or made up, simply starts where it points.
CURSOR_PATTERN = r"^\d{1,12}(\.\d{1,17})?~[0-9A-Za-z_-]{1,128}$"


class BookingPage(Output):
    bookings: list[BookingOut]
    next_cursor: Annotated[str, StringConstraints(pattern=CURSOR_PATTERN)] | None = Field(
        description="pass it as `cursor` for the next page; null on the last page"
    )


class CancelIn(Input):
    reason: Reason


class MessageIn(Input):
    content: Said4000


class DeclineIn(Input):
    reason: Reason


ExtraCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,40}$")]


class ExtraIn(Input):
    code: ExtraCode = Field(description="an extra from the clinic's price list")
    reason: Reason


class ProgressIn(Input):
    status: Literal["en_route", "arrived", "in_progress", "completed"]
    extras: list[ExtraIn] = Field(
        default_factory=list,
        max_length=20,
        description="with completed: extras from the price list, each with a reason, up to "
        "the cap the patient accepted",
    )


class OfferOut(Output):
    offer_id: str
    booking_id: str
    expires_at: Instant
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
    doctor_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
    reason: Reason
    release_current: Bool = Field(
        default=False, description="free the doctor from the booking they hold first"
    )


class ReasonIn(Input):
    reason: Reason


class PriorityIn(Input):
    priority: Priority
    reason: Reason


class LiveBookings(Output):
    bookings: list[BookingOut]
    next_cursor: str | None = Field(
        default=None, description="pass it as `cursor` for the next page; null on the last"
    )


class BulkIn(Input):
    action: Literal["return_to_search", "cancel"]
    booking_ids: Annotated[
        list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")]],
        Field(min_length=1, max_length=100),
    ]
    reason: Reason


class TimelineEntryOut(Output):
    at: Instant
    kind: Literal["status", "note", "audit"] = Field(
        description="a status change; a note (an offer's end, a priority change); an audit "
        "record (a read or a change, with who)"
    )
    status: BookingStatus | None = Field(description="the status after it (status, note)")
    by: str = Field(description="who: patient:<id>, doctor:<id>, operator:<id>, system")
    detail: str


class TimelineOut(Output):
    booking_id: str
    entries: list[TimelineEntryOut]


class LiveDoctors(Output):
    doctors: list[DoctorStateOut]


class CandidateOut(Output):
    """One doctor the matcher looked at: their numbers, or why they were left out."""

    doctor_id: str
    distance_m: float
    eta_s: float | None
    visit_remainder_s: float
    rating: float | None
    visits_today: int | None
    cost_s: float | None
    rank: int | None = Field(description="1 = offered first; null when not a candidate")
    excluded: Exclusion | None


class DecisionOut(Output):
    """Why the offers went where they went."""

    call_id: str
    decided_at: Instant | None = Field(
        default=None, description="when it was decided; null when no decision has been made yet"
    )
    ranking: list[str] = Field(description="doctor ids in offer order")
    considered: list[CandidateOut]


class AuditItemOut(Output):
    at: Instant
    actor_id: str
    actor_role: str
    action: str = Field(examples=["booking.read", "user.block"])
    target_type: str
    target_id: str
    request_id: str
    ip: str
    detail: str


class AuditPage(Output):
    items: list[AuditItemOut]
    next_cursor: str | None


class AuditEntryOut(Output):
    at: Instant
    actor_id: str
    actor_role: str
    action: str = Field(examples=["booking.read", "user.block"])
    request_id: str
    ip: str
    detail: str


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


# -- admins' operations ---------------------------------------------------------------------


class DispatchTimes(Output):
    p50: float | None = Field(description="ms; null before the first decision")
    p99: float | None
    count: int = Field(description="recent decisions measured (at most 1,024)")


class StatusOut(Output):
    health: Literal["ok"]
    ready: bool
    checks: dict[str, str] = Field(description="storage, engine_writer, redis")
    storage: Literal["sqlite", "postgis"]
    bus: Literal["memory", "redis"]
    open_bookings: dict[str, int] = Field(description="open bookings by status")
    doctors: dict[str, int] = Field(description="doctors on shift by status (offline not counted)")
    dispatch_ms: DispatchTimes = Field(
        description="the core's time to decide an offer, matching included"
    )
    websocket_connections: int
    uptime_s: float


EmergencyLabel = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=NOT_BLANK), AfterValidator(_strip)
]
EmergencyText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500, pattern=NOT_BLANK),
    AfterValidator(_strip),
]


class EmergencyNumberIO(Input):
    label_ru: EmergencyLabel
    label_en: EmergencyLabel
    number: Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{2,15}$")]


class SettingsOut(Output):
    offer_ttl_s: float = Field(description="how long a doctor has to answer an offer")
    give_up_after_s: float = Field(description="a search ends with no doctor after this long")
    max_offers: int = Field(description="a search ends with no doctor after this many offers")
    emergency_numbers: list[EmergencyNumberIO]
    emergency_text_ru: str
    emergency_text_en: str


class SettingsPatch(Input):
    """Only the fields sent change."""

    model_config = ConfigDict(json_schema_extra=_no_defaults)

    offer_ttl_s: (
        Annotated[float, Field(ge=5, le=300), BeforeValidator(_json_number)] | SkipJsonSchema[None]
    ) = None
    give_up_after_s: (
        Annotated[float, Field(ge=30, le=7_200), BeforeValidator(_json_number)]
        | SkipJsonSchema[None]
    ) = None
    max_offers: Annotated[int, Strict(), Field(ge=1, le=100)] | SkipJsonSchema[None] = None
    emergency_numbers: (
        Annotated[list[EmergencyNumberIO], Field(min_length=1, max_length=5)] | SkipJsonSchema[None]
    ) = None
    emergency_text_ru: EmergencyText | SkipJsonSchema[None] = None
    emergency_text_en: EmergencyText | SkipJsonSchema[None] = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it as it is")
        return value
