"""/admin: users, roles, blocking, doctors' verification, the audit trail."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from accounts import AUDIT_KEY_PATTERN, DOCUMENT_TYPES, PAGE_KEY_PATTERN, AuditFilter, Role, User
from api.openapi import problems
from api.routes.common import Identifier, client_ip, moment, request_id, where
from api.schemas import (
    NO_NUL,
    RFC3339_PATTERN,
    AdminCreateUser,
    AuditEntryOut,
    AuditItemOut,
    AuditPage,
    BlockIn,
    DispatchTimes,
    DocumentOut,
    ModerationItem,
    ModerationPage,
    RoleChange,
    SettingsOut,
    SettingsPatch,
    StatusOut,
    UserOut,
    UserPage,
    VerificationIn,
    instant,
)
from api.security import AdminDep, RuntimeDep
from api.uploads import file_response
from api.views import document_out, user_out
from services.auth import ConflictError, NotFoundError, Principal, new_id
from services.operations import RuntimeSettings
from services.pages import cursor_checked
from services.runtime import Runtime

Cursor = Annotated[
    str | None, Query(pattern=PAGE_KEY_PATTERN, description="`next_cursor` of the page before")
]
Moment = Annotated[
    str | None,
    Query(
        pattern=RFC3339_PATTERN,
        description="an RFC 3339 date-time with an offset",
        json_schema_extra={"format": "date-time"},
    ),
]
Limit = Annotated[int, Query(ge=1, le=200)]
Filter = Annotated[str | None, Query(min_length=1, max_length=128, pattern=NO_NUL)]

router = APIRouter(prefix="/admin", tags=["admin"])


async def _user(runtime: Runtime, user_id: str) -> User:
    user = await runtime.accounts.user(user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id!r}")
    return user


def _audit(
    runtime: Runtime, who: Principal, action: str, user_id: str, request: Request, detail: str = ""
) -> None:
    runtime.audit.record(
        who.user_id, who.role, action, "user", user_id,
        request_id=request_id(request), ip=client_ip(request), detail=detail,
    )  # fmt: skip


@router.get(
    "/users",
    summary="Users, filtered, oldest account first",
    description="`q` is found, in any case, in the e-mail or either name; `blocked=true` "
    "lists blocked accounts only. Pages go on with `cursor=` the answer's `next_cursor`.",
    responses=problems(422),
)
async def users(
    who: AdminDep,
    runtime: RuntimeDep,
    q: Annotated[str | None, Query(min_length=1, max_length=200, pattern=NO_NUL)] = None,
    role: Role | None = None,
    blocked: bool | None = None,
    clinic_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    is_verified: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> UserPage:
    with cursor_checked():
        page = await runtime.accounts.users_page(
            role=role, clinic_id=clinic_id, is_verified=is_verified, blocked=blocked,
            q=q, after=cursor or None, limit=limit,
        )  # fmt: skip
    return UserPage(items=[user_out(u) for u in page.items], next_cursor=page.after)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account of any role",
    responses=problems(409),
)
async def create_user(
    body: AdminCreateUser, who: AdminDep, runtime: RuntimeDep, request: Request
) -> UserOut:
    if body.role in (Role.CLINIC_ADMIN,) and body.clinic_id is None:
        raise ConflictError("a clinic admin needs a clinic_id")
    now = runtime.clock()
    user = await runtime.auth.register(
        User(
            new_id(), body.email, "", body.role, now, now,
            first_name=body.first_name, last_name=body.last_name, phone=body.phone,
            clinic_id=body.clinic_id, is_verified=body.role is not Role.DOCTOR,
        ),
        body.password,
    )  # fmt: skip
    _audit(runtime, who, "user.create", user.user_id, request, body.role.value)
    return user_out(user)


@router.get("/users/{user_id}", summary="One account")
async def get_user(user_id: Identifier, who: AdminDep, runtime: RuntimeDep) -> UserOut:
    return user_out(await _user(runtime, user_id))


@router.put(
    "/users/{user_id}/role",
    summary="Change a user's role",
    description="Their logins end, so the new role applies at once. Nobody changes their "
    "own role, and the last active admin keeps theirs (409); a clinic admin needs a "
    "`clinic_id` (409).",
    responses=problems(409),
)
async def change_role(
    user_id: Identifier, body: RoleChange, who: AdminDep, runtime: RuntimeDep, request: Request
) -> UserOut:
    user = await runtime.admin.change_role(who, user_id, body.role, body.clinic_id)
    _audit(runtime, who, "user.role", user_id, request, f"{body.role.value}: {body.reason}")
    return user_out(user)


@router.post(
    "/users/{user_id}/block",
    summary="Block an account (its tokens stop working)",
    description="Nobody blocks themselves, and the last active admin cannot be blocked (409).",
    responses=problems(409),
)
async def block(
    user_id: Identifier, body: BlockIn, who: AdminDep, runtime: RuntimeDep, request: Request
) -> UserOut:
    user = await runtime.admin.block(who, user_id, body.reason)
    _audit(runtime, who, "user.block", user_id, request, body.reason)
    return user_out(user)


@router.post("/users/{user_id}/unblock", summary="Unblock an account")
async def unblock(
    user_id: Identifier, who: AdminDep, runtime: RuntimeDep, request: Request
) -> UserOut:
    user = await runtime.admin.unblock(who, user_id)
    _audit(runtime, who, "user.unblock", user_id, request)
    return user_out(user)


@router.post(
    "/doctors/{doctor_id}/verify",
    summary="Verify a doctor: they may go online (the same as approving)",
    responses=problems(404),
)
async def verify(
    doctor_id: Identifier, who: AdminDep, runtime: RuntimeDep, request: Request
) -> UserOut:
    user = await runtime.moderation.decide(where(who, request), doctor_id, True, "")
    return user_out(user)


@router.post(
    "/doctors/{doctor_id}/verification",
    summary="Approve or reject a doctor's verification",
    description="Approve: the doctor is verified (may go online) and their documents "
    "awaiting review are approved. Reject (a `reason` is required, at most 500 "
    "characters): the doctor reads `verification: rejected` and the reason in /auth/me, "
    "and their documents awaiting review are rejected with it. Audited.",
    responses=problems(404, 422),
)
async def decide_verification(
    doctor_id: Identifier,
    body: VerificationIn,
    who: AdminDep,
    runtime: RuntimeDep,
    request: Request,
) -> UserOut:
    user = await runtime.moderation.decide(
        where(who, request), doctor_id, body.decision == "approve", body.reason
    )
    return user_out(user)


@router.get(
    "/moderation/doctors",
    summary="Doctors awaiting verification, oldest submission first",
    description="Active doctors neither verified nor rejected, or with a document whose "
    "review is pending (a new or replaced one).",
    responses=problems(422),
)
async def moderation_queue(
    who: AdminDep, runtime: RuntimeDep, cursor: Cursor = None, limit: Limit = 50
) -> ModerationPage:
    items, next_cursor = await runtime.moderation.queue(cursor, limit)
    return ModerationPage(
        items=[
            ModerationItem(
                doctor_id=s.doctor.user_id, first_name=s.doctor.first_name,
                last_name=s.doctor.last_name, email=s.doctor.email,
                clinic_id=s.doctor.clinic_id, submitted_at=instant(s.submitted_s),
                verification=s.doctor.verification,  # type: ignore[arg-type]
                documents=[document_out(d) for d in s.documents],
            )
            for s in items
        ],
        next_cursor=next_cursor,
    )  # fmt: skip


@router.get(
    "/documents/{document_id}/file",
    summary="A doctor's uploaded scan (audited)",
    response_class=Response,
    responses={**problems(404, 409), 200: {"content": {t: {} for t in DOCUMENT_TYPES}}},
)
async def document_file(
    document_id: Identifier, who: AdminDep, runtime: RuntimeDep, request: Request
) -> Response:
    document, data = await runtime.moderation.file(where(who, request), document_id)
    return file_response(document, data)


@router.get("/doctors/{doctor_id}/documents", summary="A doctor's documents")
async def documents(doctor_id: Identifier, who: AdminDep, runtime: RuntimeDep) -> list[DocumentOut]:
    await _user(runtime, doctor_id)
    return [document_out(d) for d in await runtime.accounts.documents_of(doctor_id)]


@router.get(
    "/audit",
    summary="The audit trail, newest first, filtered",
    description="Every filter is optional; `since` is inclusive, `until` exclusive. Pages "
    "go on with `cursor=` the answer's `next_cursor`.",
    responses=problems(422),
)
async def audit_trail(
    who: AdminDep,
    runtime: RuntimeDep,
    actor_id: Filter = None,
    target_type: Filter = None,
    target_id: Filter = None,
    action: Filter = None,
    since: Moment = None,
    until: Moment = None,
    cursor: Annotated[
        str | None, Query(pattern=AUDIT_KEY_PATTERN, description="`next_cursor` of the page before")
    ] = None,
    limit: Limit = 50,
) -> AuditPage:
    await runtime.audit.flush()
    rows = AuditFilter(
        actor_id, target_type, target_id, action, moment(since, "since"), moment(until, "until")
    )
    with cursor_checked():
        page = await runtime.accounts.audit_page(rows, after=cursor or None, limit=limit)
    return AuditPage(
        items=[
            AuditItemOut(
                at=instant(r.at_s), actor_id=r.actor_id, actor_role=r.actor_role,
                action=r.action, target_type=r.target_type, target_id=r.target_id,
                request_id=r.request_id, ip=r.ip, detail=r.detail,
            )
            for r in page.items
        ],
        next_cursor=page.after,
    )  # fmt: skip


@router.get("/audit/{target_type}/{target_id}", summary="Who read or changed this")
async def audit(
    target_type: Literal["booking", "user"],
    target_id: Identifier,
    who: AdminDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[AuditEntryOut]:
    await runtime.audit.flush()
    rows = await runtime.accounts.audit_of(target_type, target_id, limit)
    return [
        AuditEntryOut(
            at=instant(r.at_s), actor_id=r.actor_id, actor_role=r.actor_role,
            action=r.action, request_id=r.request_id, ip=r.ip, detail=r.detail,
        )
        for r in rows
    ]  # fmt: skip


@router.get("/status", summary="The engine's live figures and readiness")
async def engine_status(who: AdminDep, runtime: RuntimeDep) -> StatusOut:
    s = await runtime.ops.status()
    return StatusOut(
        health="ok", ready=s.ready, checks=s.checks,
        storage=s.storage,  # type: ignore[arg-type]
        bus=s.bus,  # type: ignore[arg-type]
        open_bookings=s.open_bookings, doctors=s.doctors,
        dispatch_ms=DispatchTimes.model_validate(s.dispatch_ms),
        websocket_connections=s.websocket_connections, uptime_s=s.uptime_s,
    )  # fmt: skip


def _settings_out(s: RuntimeSettings) -> SettingsOut:
    return SettingsOut.model_validate(s.as_json())


@router.get("/settings", summary="Runtime settings: offers, give-up limits, emergency numbers")
async def get_settings(who: AdminDep, runtime: RuntimeDep) -> SettingsOut:
    return _settings_out(runtime.ops.settings)


@router.patch(
    "/settings",
    summary="Change runtime settings (applied at once, kept, audited)",
    description="Only the fields sent change. Offers made from now on use the new TTL; "
    "searches under way use the new give-up limits from their next step. Every change is "
    "audited (`settings.change`, with the old and new values).",
    responses=problems(422),
)
async def change_settings(
    body: SettingsPatch, who: AdminDep, runtime: RuntimeDep, request: Request
) -> SettingsOut:
    changes = body.model_dump(exclude_unset=True)
    return _settings_out(await runtime.ops.change_settings(where(who, request), changes))
