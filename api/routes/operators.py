"""/operator: the live city, and overrides (always with a reason, which is kept)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.openapi import problems
from api.routes.bookings import render
from api.routes.common import Identifier, state_conflicts
from api.routes.map import East, North, South, West, view_of
from api.schemas import (
    NO_NUL,
    AssignIn,
    BookingOut,
    BulkIn,
    DecisionOut,
    LiveBookings,
    LiveDoctors,
    PriorityIn,
    ReasonIn,
    TimelineEntryOut,
    TimelineOut,
    at,
    instant,
)
from api.security import OperatorDep, RuntimeDep
from api.views import doctor_state_out
from dispatch_core import BookingStatus, Priority
from services.bookings import LiveQuery

router = APIRouter(prefix="/operator", tags=["operators"])


LIVE_CURSOR = r"^-?[0-3]~\d{1,12}(\.\d{1,17})?~[0-9A-Za-z_-]{1,128}$"


@router.get(
    "/bookings",
    summary="Open bookings, most urgent and oldest first, searched and filtered",
    description="`q` finds a booking by its id (a closed one too, first), a patient or "
    "doctor by id, name or e-mail, or an address. `status` and `priority` may repeat. Each "
    "of `south`, `west`, `north` and `east` bounds the area on its side. Pages follow "
    "`next_cursor`.",
)
async def live_bookings(
    who: OperatorDep,
    runtime: RuntimeDep,
    q: Annotated[str, Query(max_length=200, pattern=NO_NUL)] = "",
    status: Annotated[list[BookingStatus] | None, Query()] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    clinic_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = None,
    south: South = None,
    west: West = None,
    north: North = None,
    east: East = None,
    emergency_only: bool = False,
    cursor: Annotated[str | None, Query(pattern=LIVE_CURSOR)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> LiveBookings:
    priorities = frozenset(priority or ())
    if emergency_only:
        priorities = frozenset({Priority.EMERGENCY}) & (priorities or {Priority.EMERGENCY})
        if not priorities:
            return LiveBookings(bookings=[], next_cursor=None)
    query = LiveQuery(
        q=q,
        statuses=frozenset(status or ()),
        priorities=priorities,
        clinic_id=clinic_id,
        box=view_of(south, west, north, east),
    )
    after = None
    if cursor is not None:
        urgency, created, booking_id = cursor.split("~", 2)
        after = (int(urgency), float(created), booking_id)
    rows, more = await runtime.bookings.search_live(who, query, after=after, limit=limit)
    return LiveBookings(
        bookings=[await render(runtime, b, who, full=False) for b in rows],
        next_cursor=None if more is None else f"{more[0]}~{more[1]!r}~{more[2]}",
    )


@router.post(
    "/bookings/bulk",
    summary="Return several bookings to search, or cancel them, with one reason: all or none",
    responses=problems(409),
)
async def bulk(body: BulkIn, who: OperatorDep, runtime: RuntimeDep) -> LiveBookings:
    rows = await runtime.bookings.bulk(who, body.action, body.booking_ids, body.reason)
    return LiveBookings(bookings=[await render(runtime, b, who) for b in rows], next_cursor=None)


@router.get(
    "/bookings/{booking_id}/timeline",
    summary="Everything that happened to a booking: status changes, offers, reads",
)
async def timeline(booking_id: Identifier, who: OperatorDep, runtime: RuntimeDep) -> TimelineOut:
    entries = await runtime.bookings.timeline(who, booking_id)
    return TimelineOut(
        booking_id=booking_id,
        entries=[
            TimelineEntryOut.model_validate(
                {
                    "at": instant(e.at_s),
                    "kind": e.kind,
                    "status": e.status,
                    "by": e.by,
                    "detail": e.detail,
                }
            )
            for e in entries
        ],
    )


@router.get(
    "/doctors",
    summary="Doctors on the map, optionally within a viewport",
    description="Each of `south`, `west`, `north` and `east` given bounds the viewport on "
    "that side; left out, that side is open. A viewport whose south is above its north (or "
    "west east of its east) holds no doctors.",
)
async def live_doctors(
    who: OperatorDep,
    runtime: RuntimeDep,
    south: South = None,
    west: West = None,
    north: North = None,
    east: East = None,
) -> LiveDoctors:
    box = view_of(south, west, north, east)
    if box is not None and (box[0] > box[2] or box[1] > box[3]):
        return LiveDoctors(doctors=[])
    return LiveDoctors(doctors=[doctor_state_out(d) for d in runtime.doctors.live(who, box)])


@router.get("/bookings/{booking_id}/decision", summary="Why the offers went where they went")
async def decision(booking_id: Identifier, who: OperatorDep, runtime: RuntimeDep) -> DecisionOut:
    explained = runtime.bookings.explain(who, booking_id)
    if explained is None:
        return DecisionOut(call_id=booking_id, ranking=[], considered=[])
    decided_s = explained.pop("decided_at_s", None)
    return DecisionOut.model_validate(
        {**explained, "decided_at": at(decided_s) if isinstance(decided_s, float | int) else None}
    )


@router.post(
    "/bookings/{booking_id}/assign",
    summary="Assign or reassign a doctor",
    responses=problems(
        described={
            404: "no such booking; or no such doctor: the id is unknown, or the account "
            "is not a doctor's",
            409: "the doctor is unverified, blocked or not on shift, or busy with another "
            "booking (unless release_current), or the booking's status allows no new doctor",
        }
    ),
)
async def assign(
    booking_id: Identifier, body: AssignIn, who: OperatorDep, runtime: RuntimeDep
) -> BookingOut:
    with state_conflicts():
        booking = await runtime.bookings.assign(
            who, booking_id, body.doctor_id, body.reason, release_current=body.release_current
        )
    return await render(runtime, booking, who)


@router.post(
    "/bookings/{booking_id}/return-to-search",
    summary="Take the doctor off and search again",
    responses=problems(409),
)
async def return_to_search(
    booking_id: Identifier, body: ReasonIn, who: OperatorDep, runtime: RuntimeDep
) -> BookingOut:
    with state_conflicts():
        booking = await runtime.bookings.return_to_search(who, booking_id, body.reason)
    return await render(runtime, booking, who)


@router.post(
    "/bookings/{booking_id}/cancel",
    summary="Cancel on the patient's behalf",
    responses=problems(409),
)
async def cancel(
    booking_id: Identifier, body: ReasonIn, who: OperatorDep, runtime: RuntimeDep
) -> BookingOut:
    with state_conflicts():
        booking = await runtime.bookings.cancel(who, booking_id, body.reason)
    return await render(runtime, booking, who)


@router.post(
    "/bookings/{booking_id}/priority", summary="Change the priority", responses=problems(409)
)
async def priority(
    booking_id: Identifier, body: PriorityIn, who: OperatorDep, runtime: RuntimeDep
) -> BookingOut:
    with state_conflicts():
        booking = await runtime.bookings.change_priority(
            who, booking_id, body.priority, body.reason
        )
    return await render(runtime, booking, who)
