"""/clinics: a clinic's settings, doctors, visits and statistics (admins, and that clinic's
admins); /admin/stats: the platform's statistics (admins); /auth/invitations/accept.

Thin: decode, call services.clinics, encode. A clinic admin naming another clinic gets 404.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from accounts import Role
from api.clinic_schemas import (
    AcceptInvitationIn,
    AddDoctorIn,
    AddedDoctorOut,
    AreaStat,
    CallTypeStat,
    ClinicDoctorOut,
    ClinicDoctorPage,
    ClinicIn,
    ClinicOut,
    ClinicPage,
    ClinicPatch,
    DayCount,
    DoctorStat,
    HourCount,
    HoursItem,
    MultiPolygon,
    MultiPolygonIn,
    StatsOut,
    TimeToDoctor,
    VisitOut,
    VisitPage,
)
from api.openapi import problems
from api.routes.auth import tokens_out
from api.routes.common import Identifier, client_ip, request_id
from api.schemas import CURSOR_PATTERN, NO_NUL, TokensOut, instant
from api.security import AdminDep, RuntimeDep, allow, public
from clinics import Area, Clinic, ClinicValidationError, Stats
from clinics.model import parse_hours, validate_area, validate_timezone
from services.auth import Principal
from services.bookings import InvalidRequestError
from services.clinics import ClinicChanges, ClinicDoctor

router = APIRouter(prefix="/clinics", tags=["clinics"])
admin_router = APIRouter(prefix="/admin", tags=["admin"])
auth_router = APIRouter(prefix="/auth", tags=["auth"])

ClinicAdminDep = Annotated[Principal, Depends(allow(Role.ADMIN, Role.CLINIC_ADMIN))]
Limit = Annotated[int, Query(ge=1, le=200)]
OFFSET_CURSOR = r"^[0-9]{1,9}$"
CLINIC_CURSOR = r"^[0-9A-Za-z_-]{1,128}$"
Table = Literal["by_day", "by_hour", "by_doctor", "by_call_type", "by_area"]
# Schema-valid data the domain refuses (schemathesis.toml allows these operations the 422).
NOT_A_CLINIC = (
    "well-formed but not acceptable: a polygon ring that crosses itself or encloses "
    "nothing, a hole outside its polygon, opening hours that overlap or close before they "
    "open, a time zone that is not in the IANA database, or a statistics period whose "
    "`since` is after its `until` or that is longer than 366 days"
)
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "the table, with a header row",
    }
}


async def _area_in(area: MultiPolygonIn | None) -> Area | None:
    """The area in (lat, lon), validated off the event loop (a big one takes tens of ms)."""
    if area is None:
        return None
    rings = [[[(p[1], p[0]) for p in ring] for ring in rings] for rings in area.coordinates]
    try:
        return await asyncio.to_thread(validate_area, rings)
    except ClinicValidationError as exc:
        raise InvalidRequestError(f"area: {exc}") from None


def _hours_in(hours: list[object] | None) -> tuple[object, ...] | None:
    if hours is None:
        return None
    try:
        return parse_hours([(h.weekday, h.opens, h.closes) for h in hours])  # type: ignore[attr-defined]
    except ClinicValidationError as exc:
        raise InvalidRequestError(f"opening_hours: {exc}") from None


def _timezone_in(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return validate_timezone(name)
    except ClinicValidationError as exc:
        raise InvalidRequestError(f"timezone: {exc}") from None


def clinic_out(c: Clinic) -> ClinicOut:
    return ClinicOut(
        clinic_id=c.clinic_id,
        name=c.name,
        phone=c.phone,
        email=c.email,
        address=c.address,
        timezone=c.timezone,
        opening_hours=[
            HoursItem(weekday=h.weekday, opens=h.opens, closes=h.closes) for h in c.opening_hours
        ],
        area=None
        if c.area is None
        else MultiPolygon(type="MultiPolygon", coordinates=c.area.to_lists()),
        created_at=instant(c.created_s),
        updated_at=instant(c.updated_s),
    )


def doctor_out(d: ClinicDoctor) -> ClinicDoctorOut:
    u = d.user
    return ClinicDoctorOut(
        doctor_id=u.user_id,
        first_name=u.first_name,
        last_name=u.last_name,
        email=u.email,
        specialization=u.specialization,
        verification=d.verification,
        documents=d.documents,
        on_shift=d.on_shift,
        status=d.status,  # type: ignore[arg-type]  # a DoctorStatus name
        lat=d.lat,
        lon=d.lon,
        visits_completed=d.visits_completed,
    )


def stats_out(s: Stats, names: dict[str, str]) -> StatsOut:
    return StatsOut(
        since=s.since,
        until=s.until,
        timezone=s.timezone,
        visits=s.visits,
        by_day=[DayCount(date=d, visits=n) for d, n in s.by_day],
        by_hour=[HourCount(hour=h, visits=n) for h, n in s.by_hour],
        time_to_doctor_s=TimeToDoctor(
            p50=s.time_to_doctor_p50_s, p90=s.time_to_doctor_p90_s, count=s.time_to_doctor_count
        ),
        no_doctor_rate=s.no_doctor_rate,
        cancellation_rate=s.cancellation_rate,
        by_doctor=[
            DoctorStat(doctor_id=d, name=names.get(d, ""), visits=n, time_to_doctor_p50_s=p)
            for d, n, p in s.by_doctor
        ],
        by_call_type=[
            CallTypeStat(call_type=t, visits=n, cancellation_rate=r) for t, n, r in s.by_call_type
        ],
        by_area=[AreaStat(area=a, lat=la, lon=lo, visits=n) for a, la, lo, n in s.by_area],
    )


def stats_csv(out: StatsOut, table: Table) -> Response:
    rows: list[dict[str, object]] = [r.model_dump(mode="json") for r in getattr(out, table)]
    headers = {
        "by_day": ["date", "visits"],
        "by_hour": ["hour", "visits"],
        "by_doctor": ["doctor_id", "name", "visits", "time_to_doctor_p50_s"],
        "by_call_type": ["call_type", "visits", "cancellation_rate"],
        "by_area": ["area", "lat", "lon", "visits"],
    }[table]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=headers, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        # A leading =, +, - or @ would be a formula to a spreadsheet: quote it away.
        writer.writerow(
            {
                k: f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v
                for k, v in row.items()
            }
        )
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )


# -- clinics -------------------------------------------------------------------------------


@router.get("", summary="Clinics: all for admins, one's own for a clinic admin")
async def list_clinics(
    who: ClinicAdminDep,
    runtime: RuntimeDep,
    q: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    cursor: Annotated[str | None, Query(pattern=CLINIC_CURSOR)] = None,
    limit: Limit = 50,
) -> ClinicPage:
    rows, more = await runtime.clinics.list_clinics(who, q, cursor, limit)
    return ClinicPage(items=[clinic_out(c) for c in rows], next_cursor=more)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a clinic (admins)",
    responses=problems(described={422: NOT_A_CLINIC}),
)
async def create_clinic(
    body: ClinicIn, who: AdminDep, runtime: RuntimeDep, request: Request
) -> ClinicOut:
    now = runtime.clock()
    clinic = Clinic(
        clinic_id="",
        name=body.name,
        created_s=now,
        updated_s=now,
        phone=body.phone,
        email=body.email,
        address=body.address,
        timezone=_timezone_in(body.timezone) or "Europe/Moscow",
        opening_hours=_hours_in(list(body.opening_hours)) or (),  # type: ignore[arg-type]
        area=await _area_in(body.area),
    )
    stored = await runtime.clinics.create(who, clinic, request_id(request), client_ip(request))
    return clinic_out(stored)


@router.get("/{clinic_id}", summary="One clinic", responses=problems(404))
async def get_clinic(clinic_id: Identifier, who: ClinicAdminDep, runtime: RuntimeDep) -> ClinicOut:
    return clinic_out(await runtime.clinics.clinic_for(who, clinic_id))


@router.patch(
    "/{clinic_id}",
    summary="Change a clinic's settings (any subset; `area: null` removes the area)",
    responses=problems(404, described={422: NOT_A_CLINIC}),
)
async def patch_clinic(
    clinic_id: Identifier,
    body: ClinicPatch,
    who: ClinicAdminDep,
    runtime: RuntimeDep,
    request: Request,
) -> ClinicOut:
    changes = ClinicChanges(
        name=body.name,
        phone=body.phone,
        email=body.email,
        address=body.address,
        timezone=_timezone_in(body.timezone),
        opening_hours=_hours_in(None if body.opening_hours is None else list(body.opening_hours)),
        area=await _area_in(body.area),
        area_given="area" in body.model_fields_set,
    )
    clinic = await runtime.clinics.update(
        who, clinic_id, changes, request_id(request), client_ip(request)
    )
    return clinic_out(clinic)


# -- doctors -------------------------------------------------------------------------------


@router.get("/{clinic_id}/doctors", summary="The clinic's doctors", responses=problems(404))
async def clinic_doctors(
    clinic_id: Identifier,
    who: ClinicAdminDep,
    runtime: RuntimeDep,
    q: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    verification: Literal["pending", "verified", "rejected"] | None = None,
    on_shift: bool | None = None,
    cursor: Annotated[str | None, Query(pattern=OFFSET_CURSOR)] = None,
    limit: Limit = 50,
) -> ClinicDoctorPage:
    page = await runtime.clinics.list_doctors(
        who,
        clinic_id,
        q=q,
        verification=verification,
        on_shift=on_shift,
        offset=int(cursor) if cursor else 0,
        limit=limit,
    )
    return ClinicDoctorPage(
        items=[doctor_out(d) for d in page.items],
        next_cursor=None if page.next_offset is None else str(page.next_offset),
    )


@router.post(
    "/{clinic_id}/doctors",
    summary="Add a doctor with no clinic, or invite a new one by e-mail",
    description="200 `{doctor, invited: false}` for an existing doctor; 201 with "
    "`invitation_url` (shown once) for a new one. 409 when the e-mail belongs to a "
    "non-doctor or to another clinic's doctor.",
    responses={
        201: {"model": AddedDoctorOut, "description": "a new doctor, invited"},
        **problems(404, 409),
    },
)
async def add_doctor(
    clinic_id: Identifier,
    body: AddDoctorIn,
    who: ClinicAdminDep,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
) -> AddedDoctorOut:
    added = await runtime.clinics.add_doctor(
        who, clinic_id, body.email, body.first_name, body.last_name, body.specialization,
        request_id(request), client_ip(request),
    )  # fmt: skip
    if added.invited:
        response.status_code = status.HTTP_201_CREATED
        return AddedDoctorOut(
            doctor=doctor_out(added.doctor),
            invited=True,
            invitation_url=f"/doctor/invite#{added.token}",
        )
    return AddedDoctorOut(doctor=doctor_out(added.doctor), invited=False)


@router.delete(
    "/{clinic_id}/doctors/{doctor_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Detach a doctor from the clinic (409 while on an active visit)",
    responses=problems(404, 409),
)
async def remove_doctor(
    clinic_id: Identifier,
    doctor_id: Identifier,
    who: ClinicAdminDep,
    runtime: RuntimeDep,
    request: Request,
) -> Response:
    await runtime.clinics.remove_doctor(
        who, clinic_id, doctor_id, request_id(request), client_ip(request)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{clinic_id}/doctors/{doctor_id}/visits",
    summary="A doctor's bookings, newest first",
    responses=problems(404),
)
async def doctor_visits(
    clinic_id: Identifier,
    doctor_id: Identifier,
    who: ClinicAdminDep,
    runtime: RuntimeDep,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
    limit: Limit = 50,
) -> VisitPage:
    before = None
    if cursor is not None:
        created, booking_id = cursor.split("~", 1)
        before = (float(created), booking_id)
    rows, more = await runtime.clinics.doctor_visits(who, clinic_id, doctor_id, before, limit)
    return VisitPage(
        items=[
            VisitOut(
                booking_id=b.booking_id,
                status=b.status,
                call_type=b.call_type,
                requested_at=instant(b.created_s),
                completed_at=None if b.completed_s is None else instant(b.completed_s),
                address=b.address,
            )
            for b in rows
        ],
        next_cursor=None if more is None else f"{more[0]!r}~{more[1]}",
    )


# -- statistics ----------------------------------------------------------------------------

DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
Since = Annotated[
    str | None,
    Query(pattern=DATE_PATTERN, description="YYYY-MM-DD, in the clinic's time zone"),
]


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequestError(f"{name} is not a date of the calendar") from None


async def _stats(
    runtime: Any, who: Principal, clinic_id: str | None, since: str | None, until: str | None
) -> StatsOut:
    return stats_out(
        *await runtime.clinics.stats(who, clinic_id, _day(since, "since"), _day(until, "until"))
    )


@router.get(
    "/{clinic_id}/stats",
    summary="Call statistics of a clinic (default: the last 30 days)",
    responses=problems(404, described={422: NOT_A_CLINIC}),
)
async def clinic_stats(
    clinic_id: Identifier,
    who: ClinicAdminDep,
    runtime: RuntimeDep,
    since: Since = None,
    until: Since = None,
) -> StatsOut:
    return await _stats(runtime, who, clinic_id, since, until)


@router.get(
    "/{clinic_id}/stats.csv",
    summary="One table of a clinic's statistics, as CSV",
    response_class=Response,
    responses={**CSV_RESPONSE, **problems(404, described={422: NOT_A_CLINIC})},
)
async def clinic_stats_csv(
    clinic_id: Identifier,
    who: ClinicAdminDep,
    runtime: RuntimeDep,
    since: Since = None,
    until: Since = None,
    table: Table = "by_day",
) -> Response:
    out = await _stats(runtime, who, clinic_id, since, until)
    return stats_csv(out, table)


@admin_router.get(
    "/stats",
    summary="Call statistics of the platform (or of one clinic), default the last 30 days",
    responses=problems(404, described={422: NOT_A_CLINIC}),
)
async def platform_stats(
    who: AdminDep,
    runtime: RuntimeDep,
    since: Since = None,
    until: Since = None,
    clinic_id: Annotated[str | None, Query(min_length=1, max_length=128, pattern=NO_NUL)] = None,
) -> StatsOut:
    return await _stats(runtime, who, clinic_id, since, until)


@admin_router.get(
    "/stats.csv",
    summary="One table of the platform's statistics, as CSV",
    response_class=Response,
    responses={**CSV_RESPONSE, **problems(404, described={422: NOT_A_CLINIC})},
)
async def platform_stats_csv(
    who: AdminDep,
    runtime: RuntimeDep,
    since: Since = None,
    until: Since = None,
    clinic_id: Annotated[str | None, Query(min_length=1, max_length=128, pattern=NO_NUL)] = None,
    table: Table = "by_day",
) -> Response:
    return stats_csv(await _stats(runtime, who, clinic_id, since, until), table)


# -- invitations ---------------------------------------------------------------------------


@auth_router.post(
    "/invitations/accept",
    dependencies=[Depends(public())],
    summary="An invited doctor sets their password and is signed in",
    responses=problems(404, 429),
)
async def accept_invitation(
    body: AcceptInvitationIn, runtime: RuntimeDep, request: Request
) -> TokensOut:
    from api.routes.common import enforce
    from storage.rate_limit import RateLimit

    await enforce(
        runtime,
        "invitation",
        [f"ip:{client_ip(request)}"],
        RateLimit(runtime.config.login_rate_per_min, 60),
    )
    _, pair = await runtime.clinics.accept_invitation(body.token, body.password)
    return tokens_out(pair)
