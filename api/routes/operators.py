"""/operator: the live city, and overrides (always with a reason, which is kept)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.openapi import problems
from api.routes.bookings import render
from api.routes.common import Identifier, state_conflicts
from api.routes.map import East, North, South, West, view_of
from api.schemas import (
    AssignIn,
    BookingOut,
    DecisionOut,
    LiveBookings,
    LiveDoctors,
    PriorityIn,
    ReasonIn,
    at,
)
from api.security import OperatorDep, RuntimeDep
from api.views import doctor_state_out

router = APIRouter(prefix="/operator", tags=["operators"])


@router.get("/bookings", summary="Open bookings, most urgent first")
async def live_bookings(
    who: OperatorDep,
    runtime: RuntimeDep,
    emergency_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> LiveBookings:
    rows = runtime.bookings.live_bookings(who)
    if emergency_only:
        rows = [b for b in rows if b.is_emergency]
    return LiveBookings(bookings=[await render(runtime, b, who, full=False) for b in rows[:limit]])


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
