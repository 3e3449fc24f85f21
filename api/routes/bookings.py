"""/bookings: estimate, create (idempotent), read, list, cancel, messages, progress;
/offers for doctors."""

from __future__ import annotations

import re
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request, Response, status

from accounts import Role
from api.openapi import OFF_THE_MAP, problems
from api.payment_texts import NOT_PAYABLE
from api.routes.common import (
    Identifier,
    client_ip,
    doctor_of,
    enforce,
    epoch_of,
    request_id,
    state_conflicts,
)
from api.schemas import (
    CURSOR_PATTERN,
    NO_NUL,
    BookingOut,
    BookingPage,
    CancelIn,
    DeclineIn,
    EstimateOut,
    MessageIn,
    OfferOut,
    ProgressIn,
    VisitIn,
    instant,
)
from api.security import AnyUserDep, DoctorDep, PatientDep, RuntimeDep
from api.views import booking_out
from dispatch_core import Booking, BookingStatus, Priority
from payments.model import Method
from services.auth import Principal
from services.bookings import InvalidRequestError, VisitRequest
from services.idempotency import MAX_KEY_LENGTH, request_digest
from services.runtime import Runtime
from storage.rate_limit import RateLimit

router = APIRouter(tags=["bookings"])


def visit_of(body: VisitIn) -> VisitRequest:
    return VisitRequest(
        lat=body.latitude,
        lon=body.longitude,
        call_type=body.call_type,
        address=body.address,
        symptoms=body.symptoms,
        notes=body.notes,
        priority=Priority(body.priority),
        is_emergency=body.is_emergency,
        emergency_type=body.emergency_type,
        scheduled_s=epoch_of(body.scheduled_at, "scheduled_at"),
        clinic_id=body.clinic_id,
        requested_doctor_id=body.requested_doctor_id,
        others_if_declined=body.others_if_declined,
        patient_is_child=body.patient_is_child,
        language=body.language,
        payment_method=Method(body.payment_method),
        specialty=body.specialty,
    )


async def render(
    runtime: Runtime, booking: Booking, who: Principal, *, full: bool = True
) -> BookingOut:
    doctor = await doctor_of(runtime, booking.doctor_id)
    return booking_out(booking, who, doctor, runtime.bookings.pricing.currency, full=full)


@router.post(
    "/bookings/estimate",
    summary="Price and ETA before booking",
    responses=problems(described={422: OFF_THE_MAP}),
)
async def estimate(body: VisitIn, who: PatientDep, runtime: RuntimeDep) -> EstimateOut:
    e = await runtime.bookings.estimate(who, visit_of(body))
    return EstimateOut(
        price_kopecks=e.price_kopecks,
        currency=e.currency,
        eta_s=e.eta_s,
        doctors_available=e.doctors_available,
        extras_cap_kopecks=e.extras_cap_kopecks,
        payment_methods=[m.value for m in e.methods],
    )


@router.post(
    "/bookings",
    status_code=status.HTTP_201_CREATED,
    summary="Book a visit",
    description="With an `Idempotency-Key` header a retry returns the first answer "
    "(with `Idempotent-Replayed: true`); the same key with a different body is a 422.",
    responses={
        201: {
            "model": BookingOut,
            "description": "Booked (or, with a replayed Idempotency-Key, booked before)",
            "headers": {
                "Idempotent-Replayed": {
                    "description": "sent with an Idempotency-Key: whether this is a replay",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                }
            },
        },
        **problems(409, 429, described={422: OFF_THE_MAP}),
    },
)
async def create_booking(
    body: VisitIn,
    who: PatientDep,
    runtime: RuntimeDep,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=MAX_KEY_LENGTH, pattern=r"^[A-Za-z0-9._:-]{1,128}$"),
    ] = None,
) -> Response:
    config = runtime.config
    await enforce(
        runtime, "booking", [f"user:{who.user_id}"], RateLimit(config.booking_rate_per_min, 60)
    )
    await enforce(
        runtime,
        "booking",
        [f"ip:{client_ip(request)}"],
        RateLimit(config.booking_rate_per_ip_per_min, 60),
    )

    async def produce() -> tuple[int, bytes]:
        booking = await runtime.bookings.create(
            who,
            visit_of(body),
            idempotency_key=idempotency_key,
            ip=client_ip(request),
            request_id=request_id(request),
        )
        out = await render(runtime, booking, who)
        return 201, orjson.dumps(out.model_dump(mode="json"))

    headers = {}
    if idempotency_key is None:
        code, payload = await produce()
    else:
        digest = request_digest("POST", "/api/v1/bookings", await request.body())
        code, payload, replayed = await runtime.idempotency.run(
            who.user_id, idempotency_key, digest, produce
        )
        headers["Idempotent-Replayed"] = "true" if replayed else "false"
    return Response(payload, status_code=code, media_type="application/json", headers=headers)


_CURSOR = re.compile(CURSOR_PATTERN)
_LAST_INSTANT_S = 253_402_300_799.0  # 9999-12-31T23:59:59Z: later positions are all "now"


def _cursor(value: tuple[float, str] | None) -> str | None:
    if value is None:
        return None
    created_s, booking_id = value
    text = f"{created_s!r}~{booking_id}" if created_s >= 0 else f"0~{booking_id}"
    return text if _CURSOR.fullmatch(text) else None  # ids are hex: always a match


def _uncursor(text: str | None) -> tuple[float, str] | None:
    if not text:
        return None
    if not _CURSOR.fullmatch(text):  # the query's pattern has refused it already
        raise InvalidRequestError("cursor is not one this API gives out")
    created, booking_id = text.split("~", 1)
    return min(float(created), _LAST_INSTANT_S), booking_id


@router.get("/bookings", summary="One's own bookings, newest first")
async def list_bookings(
    who: AnyUserDep,
    runtime: RuntimeDep,
    status_: Annotated[list[BookingStatus] | None, Query(alias="status", max_length=11)] = None,
    cursor: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            description="`next_cursor` of the page before; leave out for the newest",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    patient_id: Annotated[
        str | None, Query(max_length=128, pattern=NO_NUL, description="operators and admins")
    ] = None,
    doctor_id: Annotated[
        str | None, Query(max_length=128, pattern=NO_NUL, description="operators and admins")
    ] = None,
) -> BookingPage:
    page = await runtime.bookings.list_for(
        who,
        statuses=frozenset(status_) if status_ else None,
        before=_uncursor(cursor),
        limit=limit,
        patient_id=patient_id,
        doctor_id=doctor_id,
    )
    return BookingPage(
        bookings=[await render(runtime, b, who, full=False) for b in page.bookings],
        next_cursor=_cursor(page.next_cursor),
    )


@router.get("/bookings/{booking_id}", summary="One booking, with its history and messages")
async def get_booking(
    booking_id: Identifier, who: AnyUserDep, runtime: RuntimeDep, request: Request
) -> BookingOut:
    booking = await runtime.bookings.get(
        who, booking_id, ip=client_ip(request), request_id=request_id(request)
    )
    return await render(runtime, booking, who)


@router.post(
    "/bookings/{booking_id}/cancel", summary="Cancel, with a reason", responses=problems(403, 409)
)
async def cancel_booking(
    booking_id: Identifier, body: CancelIn, who: AnyUserDep, runtime: RuntimeDep, request: Request
) -> BookingOut:
    with state_conflicts():
        booking = await runtime.bookings.cancel(
            who, booking_id, body.reason, ip=client_ip(request), request_id=request_id(request)
        )
    return await render(runtime, booking, who)


@router.post(
    "/bookings/{booking_id}/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Write in the booking's chat",
    responses=problems(403, 409),
)
async def post_message(
    booking_id: Identifier, body: MessageIn, who: AnyUserDep, runtime: RuntimeDep, request: Request
) -> BookingOut:
    with state_conflicts():
        booking = await runtime.bookings.post_message(
            who, booking_id, body.content, request_id=request_id(request)
        )
    return await render(runtime, booking, who)


@router.post(
    "/bookings/{booking_id}/progress",
    summary="The assigned doctor moves the visit on",
    responses=problems(409, described={422: NOT_PAYABLE}),
)
async def progress(
    booking_id: Identifier, body: ProgressIn, who: DoctorDep, runtime: RuntimeDep
) -> BookingOut:
    with state_conflicts():
        booking = await runtime.bookings.progress(
            who,
            booking_id,
            BookingStatus(body.status),
            extras=[(e.code, e.reason) for e in body.extras],
        )
    return await render(runtime, booking, who)


@router.get("/offers", summary="The offer waiting for this doctor, if any")
async def my_offers(who: DoctorDep, runtime: RuntimeDep) -> list[OfferOut]:
    now = runtime.clock()
    out = []
    for offer, booking in runtime.bookings.open_offers_for(who):
        decision = runtime.candidates.decisions.get(booking.booking_id)
        eta = None
        if decision is not None:
            try:
                eta = decision.record(who.user_id).eta_s
            except KeyError:
                eta = None
        out.append(
            OfferOut(
                offer_id=offer.offer_id, booking_id=booking.booking_id,
                expires_at=instant(offer.expires_s),
                ttl_s=max(0.0, offer.expires_s - now), call_type=booking.call_type,
                priority=booking.priority, is_emergency=booking.is_emergency,
                address=booking.address, latitude=booking.latitude, longitude=booking.longitude,
                eta_s=eta if eta is None or eta == eta else None,
            )
        )  # fmt: skip
    return out


@router.post(
    "/offers/{offer_id:path}/accept", summary="Take the offered visit", responses=problems(409)
)
async def accept_offer(offer_id: Identifier, who: DoctorDep, runtime: RuntimeDep) -> BookingOut:
    with state_conflicts():
        booking = await runtime.bookings.accept(who, offer_id)
    return await render(runtime, booking, who)


@router.post(
    "/offers/{offer_id:path}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Turn the offer down",
    responses=problems(409),
)
async def decline_offer(
    offer_id: Identifier, body: DeclineIn, who: DoctorDep, runtime: RuntimeDep
) -> None:
    with state_conflicts():
        await runtime.bookings.decline(who, offer_id, body.reason)


__all__ = ["Role", "router"]
