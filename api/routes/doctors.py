"""/doctors: shifts, availability, positions, documents, public profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from accounts import DOCUMENT_TYPES, DoctorDocument, Role
from api.openapi import FIX_CONFLICT, NOT_A_SCAN, OFF_THE_MAP, problems
from api.routes.common import Identifier, epoch_of, where
from api.schemas import (
    AvailabilityIn,
    DoctorChoiceOut,
    DoctorChoices,
    DoctorPublic,
    DoctorStateOut,
    DocumentIn,
    DocumentOut,
    PositionIn,
    ShiftStart,
)
from api.security import AnyUserDep, DoctorDep, PatientDep, RuntimeDep
from api.uploads import UPLOAD_BODY, file_response, multipart_file
from api.views import doctor_public, doctor_state_out, document_out
from services.auth import NotFoundError, new_id
from services.bookings import VisitRequest

router = APIRouter(prefix="/doctors", tags=["doctors"])


@router.post(
    "/me/shift",
    summary="Go online at a position (verified doctors only)",
    responses=problems(404, described={409: FIX_CONFLICT}),
)
async def start_shift(body: ShiftStart, who: DoctorDep, runtime: RuntimeDep) -> DoctorStateOut:
    state = await runtime.doctors.start_shift(who, body.latitude, body.longitude, body.accuracy_m)
    return doctor_state_out(state)


@router.delete("/me/shift", summary="Go offline", responses=problems(404, 409))
async def end_shift(who: DoctorDep, runtime: RuntimeDep) -> DoctorStateOut:
    return doctor_state_out(await runtime.doctors.end_shift(who))


@router.put(
    "/me/availability",
    summary="Take a break or come back from one",
    responses=problems(404, 409),
)
async def availability(body: AvailabilityIn, who: DoctorDep, runtime: RuntimeDep) -> DoctorStateOut:
    return doctor_state_out(await runtime.doctors.set_availability(who, body.available))


@router.post(
    "/me/location",
    summary="Report a position (the WebSocket is the usual way)",
    responses=problems(described={409: FIX_CONFLICT}),
)
async def location(body: PositionIn, who: DoctorDep, runtime: RuntimeDep) -> DoctorStateOut:
    fix_s = epoch_of(body.recorded_at, "recorded_at")
    state = await runtime.doctors.report_position(
        who, body.latitude, body.longitude, body.accuracy_m, fix_s
    )
    return doctor_state_out(state)


@router.post(
    "/me/documents",
    status_code=status.HTTP_201_CREATED,
    summary="Add a verification document's metadata",
)
async def add_document(body: DocumentIn, who: DoctorDep, runtime: RuntimeDep) -> DocumentOut:
    document = DoctorDocument(
        new_id(), who.user_id, body.kind, body.number, body.issued_by, runtime.clock(),
        epoch_of(body.valid_until, "valid_until"), body.sha256 or "",
    )  # fmt: skip
    await runtime.accounts.add_document(document)
    return document_out(document)


@router.get("/me/documents", summary="One's own documents")
async def my_documents(who: DoctorDep, runtime: RuntimeDep) -> list[DocumentOut]:
    return [document_out(d) for d in await runtime.accounts.documents_of(who.user_id)]


@router.post(
    "/me/documents/{document_id}/file",
    summary="Upload the scan of one's document (PDF, JPEG or PNG; its review starts again)",
    description="A multipart/form-data body with the file as the part `file`. The type is "
    "read from the file's first bytes (415 for anything but PDF, JPEG or PNG); larger than "
    "the limit (10 MB by default): 413.",
    responses=problems(404, 413, 422, described={415: NOT_A_SCAN}),
    openapi_extra=UPLOAD_BODY,
)
async def upload_document_file(
    document_id: Identifier, who: DoctorDep, runtime: RuntimeDep, request: Request
) -> DocumentOut:
    data = await multipart_file(request, "file")
    document = await runtime.moderation.upload(where(who, request), document_id, data)
    return document_out(document)


@router.get(
    "/me/documents/{document_id}/file",
    summary="One's own uploaded scan",
    response_class=Response,
    responses={**problems(404, 409), 200: {"content": {t: {} for t in DOCUMENT_TYPES}}},
)
async def my_document_file(
    document_id: Identifier, who: DoctorDep, runtime: RuntimeDep, request: Request
) -> Response:
    document, data = await runtime.moderation.file(where(who, request), document_id)
    return file_response(document, data)


@router.get(
    "/available",
    summary="Doctors free now who fit a visit, nearest by road first (to choose one)",
    responses=problems(described={422: OFF_THE_MAP}),
)
async def available_doctors(
    who: PatientDep,
    runtime: RuntimeDep,
    lat: Annotated[float, Query(ge=-90, le=90, description="the visit's latitude")],
    lon: Annotated[float, Query(ge=-180, le=180, description="the visit's longitude")],
    call_type: Annotated[str, Query(pattern=r"^[a-z][a-z_]{0,63}$")] = "home_visit",
    specialization: Annotated[str | None, Query(pattern=r"^[a-z][a-z_]{0,63}$")] = None,
    language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}$")] = None,
    child: bool = False,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> DoctorChoices:
    visit = VisitRequest(
        lat=lat, lon=lon, call_type=call_type, patient_is_child=child, language=language
    )
    choices = await runtime.bookings.doctors_to_choose(
        who, visit, specialization=specialization, limit=limit
    )
    return DoctorChoices(
        doctors=[
            DoctorChoiceOut(
                doctor_id=c.doctor_id, first_name=c.first_name, last_name=c.last_name,
                specialization=c.specialization, languages=list(c.languages), rating=c.rating,
                eta_s=c.eta_s, distance_m=c.distance_m,
            )
            for c in choices
        ]
    )  # fmt: skip


@router.get("/{doctor_id}", summary="A doctor's public profile")
async def doctor_profile(
    doctor_id: Identifier, who: AnyUserDep, runtime: RuntimeDep
) -> DoctorPublic:
    user = await runtime.accounts.user(doctor_id)
    if user is None or user.role is not Role.DOCTOR or not user.is_active:
        raise NotFoundError(f"no doctor {doctor_id!r}")
    return doctor_public(user)
