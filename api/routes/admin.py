"""/admin: users, roles, blocking, doctors' verification, the audit trail."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from accounts import Role, User
from api.openapi import problems
from api.routes.common import Identifier, client_ip, request_id
from api.routes.doctors import document_out
from api.schemas import (
    NO_NUL,
    AdminCreateUser,
    AuditEntryOut,
    BlockIn,
    DocumentOut,
    RoleChange,
    UserOut,
    UserPage,
    instant,
)
from api.security import AdminDep, RuntimeDep
from api.views import user_out
from services.auth import ConflictError, NotFoundError, Principal, new_id
from services.runtime import Runtime

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


@router.get("/users", summary="Users, filtered")
async def users(
    who: AdminDep,
    runtime: RuntimeDep,
    role: Role | None = None,
    clinic_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    is_verified: bool | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> UserPage:
    rows = await runtime.accounts.list_users(
        role=role, clinic_id=clinic_id, is_verified=is_verified, offset=offset, limit=limit
    )
    return UserPage(users=[user_out(u) for u in rows], offset=offset, limit=limit)


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


@router.post("/doctors/{doctor_id}/verify", summary="Verify a doctor: they may go online")
async def verify(
    doctor_id: Identifier, who: AdminDep, runtime: RuntimeDep, request: Request
) -> UserOut:
    user = await _user(runtime, doctor_id)
    if user.role is not Role.DOCTOR:
        raise NotFoundError(f"no doctor {doctor_id!r}")
    user.is_verified = True
    user.updated_s = runtime.clock()
    await runtime.accounts.update_user(user)
    _audit(runtime, who, "doctor.verify", doctor_id, request)
    return user_out(user)


@router.get("/doctors/{doctor_id}/documents", summary="A doctor's documents")
async def documents(doctor_id: Identifier, who: AdminDep, runtime: RuntimeDep) -> list[DocumentOut]:
    await _user(runtime, doctor_id)
    return [document_out(d) for d in await runtime.accounts.documents_of(doctor_id)]


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
