"""Request and response bodies of the clinic routes (api/routes/clinics.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from api.schemas import NO_NUL, NOT_BLANK, Email, Input, Instant, Name, Output, _json_number, _strip
from dispatch_core import BookingStatus

Coordinate = Annotated[float, BeforeValidator(_json_number)]
Position = Annotated[list[Coordinate], Field(min_length=2, max_length=2, description="[lon, lat]")]
Weekday = Annotated[int, Field(ge=0, le=6, description="Monday = 0"), BeforeValidator(_json_number)]
LinearRing = Annotated[list[Position], Field(min_length=4, max_length=500)]
PolygonRings = Annotated[list[LinearRing], Field(min_length=1, max_length=21)]
Hhmm = Annotated[str, StringConstraints(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
ClinicName = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK), AfterValidator(_strip)
]
Text200 = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL), AfterValidator(_strip)]
Phone = Annotated[str, StringConstraints(pattern=r"^(\+?[0-9]{7,15})?$")]
TimeZone = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$"
    ),
]


class MultiPolygon(Output):
    """GeoJSON MultiPolygon: positions are [lon, lat]; rings closed (last = first)."""

    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[PolygonRings], Field(min_length=1, max_length=50)]


class MultiPolygonIn(Input):
    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[PolygonRings], Field(min_length=1, max_length=50)]


class HoursItem(Output):
    weekday: Weekday
    opens: Hhmm
    closes: Hhmm


class HoursIn(Input):
    weekday: Weekday
    opens: Hhmm
    closes: Hhmm


class ClinicOut(Output):
    clinic_id: str
    name: str
    phone: str
    email: str
    address: str
    timezone: str
    opening_hours: list[HoursItem]
    area: MultiPolygon | None
    created_at: Instant
    updated_at: Instant


class ClinicPage(Output):
    items: list[ClinicOut]
    next_cursor: str | None = Field(description="pass it as `cursor`; null on the last page")


class ClinicIn(Input):
    name: ClinicName
    phone: Phone = ""
    email: Email | Literal[""] = ""
    address: Text200 = ""
    timezone: TimeZone = "Europe/Moscow"
    opening_hours: Annotated[list[HoursIn], Field(max_length=28)] = Field(default_factory=list)
    area: MultiPolygonIn | None = None


class ClinicPatch(Input):
    name: ClinicName | None = None
    phone: Phone | None = None
    email: Email | Literal[""] | None = None
    address: Text200 | None = None
    timezone: TimeZone | None = None
    opening_hours: Annotated[list[HoursIn], Field(max_length=28)] | None = None
    area: MultiPolygonIn | None = Field(default=None, description="null removes the area")


class ClinicDoctorOut(Output):
    doctor_id: str
    first_name: str
    last_name: str
    email: str
    specialization: str | None
    verification: Literal["pending", "verified", "rejected"]
    documents: int
    on_shift: bool
    status: Literal["offline", "available", "offered", "en_route", "on_visit", "on_break"] | None
    lat: float | None
    lon: float | None
    visits_completed: int


class ClinicDoctorPage(Output):
    items: list[ClinicDoctorOut]
    next_cursor: str | None = Field(description="pass it as `cursor`; null on the last page")


class AddDoctorIn(Input):
    email: Email
    first_name: Name = ""
    last_name: Name = ""
    specialization: (
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=64, pattern=NOT_BLANK),
            AfterValidator(_strip),
        ]
        | None
    ) = None


class AddedDoctorOut(Output):
    doctor: ClinicDoctorOut
    invited: bool
    invitation_url: str | None = Field(
        default=None, description="shown once: /doctor/invite#<token>; only when invited"
    )


class AcceptInvitationIn(Input):
    token: Annotated[
        str, StringConstraints(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    ]
    password: Annotated[str, StringConstraints(min_length=10, max_length=128)]


class VisitOut(Output):
    booking_id: str
    status: BookingStatus
    call_type: str
    requested_at: Instant
    completed_at: Instant | None
    address: str


class VisitPage(Output):
    items: list[VisitOut]
    next_cursor: str | None = Field(description="pass it as `cursor`; null on the last page")


class DayCount(Output):
    date: date
    visits: int


class HourCount(Output):
    hour: Annotated[int, Field(ge=0, le=23)]
    visits: int


class TimeToDoctor(Output):
    p50: float | None
    p90: float | None
    count: int


class DoctorStat(Output):
    doctor_id: str
    name: str
    visits: int
    time_to_doctor_p50_s: float | None


class CallTypeStat(Output):
    call_type: str
    visits: int
    cancellation_rate: Annotated[float, Field(ge=0, le=1)]


class AreaStat(Output):
    area: str = Field(description="H3 cell, resolution 7")
    lat: float
    lon: float
    visits: int


class StatsOut(Output):
    since: date
    until: date
    timezone: str
    visits: int
    by_day: list[DayCount]
    by_hour: list[HourCount]
    time_to_doctor_s: TimeToDoctor
    no_doctor_rate: Annotated[float, Field(ge=0, le=1)]
    cancellation_rate: Annotated[float, Field(ge=0, le=1)]
    by_doctor: list[DoctorStat]
    by_call_type: list[CallTypeStat]
    by_area: list[AreaStat]
