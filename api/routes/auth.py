"""/auth: registration, login, refresh, logout, me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from accounts import Role, SavedAddress, User
from api.openapi import problems
from api.routes.common import client_ip, enforce, epoch_of, request_id
from api.schemas import (
    Login,
    ProfileUpdate,
    RefreshIn,
    RegisterDoctor,
    RegisterPatient,
    TokensOut,
    UserOut,
)
from api.security import AnyUserDep, RuntimeDep, allow, optional_principal, public
from api.views import user_out
from services.auth import ConflictError, ForbiddenError, NotFoundError, Principal, TokenPair, new_id
from storage.rate_limit import RateLimit

router = APIRouter(prefix="/auth", tags=["auth"])


def tokens_out(pair: TokenPair) -> TokensOut:
    return TokensOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.access_expires_in_s,
        refresh_expires_in=pair.refresh_expires_in_s,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(public())],
    summary="Register a patient",
    responses=problems(409, 429),
)
async def register_patient(body: RegisterPatient, runtime: RuntimeDep, request: Request) -> UserOut:
    settings = runtime.config
    await enforce(
        runtime,
        "registration",
        [f"ip:{client_ip(request)}"],
        RateLimit(settings.login_rate_per_min, 60),
    )
    now = runtime.clock()
    user = await runtime.auth.register(
        User(
            new_id(), body.email, "", Role.PATIENT, now, now,
            first_name=body.first_name, last_name=body.last_name, phone=body.phone,
        ),
        body.password,
    )  # fmt: skip
    return user_out(user)


@router.post(
    "/register/doctor",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(public())],
    summary="Register a doctor (by themselves, or by a clinic admin for their clinic)",
    description="A doctor cannot go online until an admin verifies them. With a clinic "
    "admin's token the doctor joins that admin's clinic.",
    responses=problems(401, 403, 409, 429),
    # The token is optional here: FastAPI lists the bearer scheme as required.
    openapi_extra={"security": [{}]},
)
async def register_doctor(
    body: RegisterDoctor,
    runtime: RuntimeDep,
    request: Request,
    caller: Annotated[Principal | None, Depends(optional_principal)],
) -> UserOut:
    if caller is not None and caller.role not in (Role.CLINIC_ADMIN, Role.ADMIN):
        raise ForbiddenError("only a clinic admin or an admin registers other doctors")
    await enforce(
        runtime,
        "registration",
        [f"ip:{client_ip(request)}"],
        RateLimit(runtime.config.login_rate_per_min, 60),
    )
    now = runtime.clock()
    user = await runtime.auth.register(
        User(
            new_id(), body.email, "", Role.DOCTOR, now, now,
            first_name=body.first_name, last_name=body.last_name, phone=body.phone,
            clinic_id=caller.clinic_id if caller is not None and caller.role is Role.CLINIC_ADMIN else None,
            specialization=body.specialization, license_number=body.license_number,
            license_expires_s=epoch_of(body.license_expires_at, "license_expires_at"),
            experience_years=body.experience_years, languages=tuple(body.languages),
            treats_adults=body.treats_adults, treats_children=body.treats_children,
        ),
        body.password,
    )  # fmt: skip
    return user_out(user)


@router.post(
    "/login",
    dependencies=[Depends(public())],
    summary="Log in: a token pair",
    responses=problems(401, 429),
)
async def login(body: Login, runtime: RuntimeDep, request: Request) -> TokensOut:
    limit = RateLimit(runtime.config.login_rate_per_min, 60)
    await enforce(
        runtime, "login", [f"ip:{client_ip(request)}", f"email:{body.email.lower()}"], limit
    )
    user, pair = await runtime.auth.login(body.email, body.password)
    runtime.audit.record(
        user.user_id,
        user.role,
        "auth.login",
        "user",
        user.user_id,
        request_id=request_id(request),
        ip=client_ip(request),
    )
    return tokens_out(pair)


@router.post(
    "/refresh",
    dependencies=[Depends(public())],
    summary="Trade a refresh token for a new pair (the old one is spent)",
    description="Each refresh token works once. Presenting a spent one again revokes "
    "every token of that login.",
    responses=problems(401),
)
async def refresh(body: RefreshIn, runtime: RuntimeDep) -> TokensOut:
    return tokens_out(await runtime.auth.refresh(body.refresh_token))


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(public())],
    summary="End this login (its refresh tokens are revoked)",
    responses=problems(401),
)
async def logout(body: RefreshIn, runtime: RuntimeDep) -> None:
    await runtime.auth.logout(body.refresh_token)


@router.get("/me", summary="One's own account", responses=problems(404))
async def me(who: AnyUserDep, runtime: RuntimeDep) -> UserOut:
    user = await runtime.accounts.user(who.user_id)
    if user is None:
        raise NotFoundError("no such account")
    return user_out(user)


@router.patch("/me", summary="Update one's own profile", responses=problems(404, 409))
async def update_me(body: ProfileUpdate, who: AnyUserDep, runtime: RuntimeDep) -> UserOut:
    user = await runtime.accounts.user(who.user_id)
    if user is None:
        raise NotFoundError("no such account")
    changes = body.model_dump(exclude_unset=True)
    saved = changes.pop("saved_addresses", None)
    for name, value in changes.items():
        setattr(user, name, tuple(value) if name == "languages" else value)
    if saved is not None:
        user.saved_addresses = tuple(
            SavedAddress(a["label"], a["address"], a["latitude"], a["longitude"]) for a in saved
        )
    user.updated_s = runtime.clock()
    from accounts import AccountExistsError

    try:
        await runtime.accounts.update_user(user)
    except AccountExistsError as exc:
        raise ConflictError("this phone is used by another account") from exc
    return user_out(user)


__all__ = ["allow", "router"]
