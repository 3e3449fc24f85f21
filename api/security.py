"""Who may call what. Every route declares it with `allow(...)` or `public()`; a test
walks all routes and fails on one that declares nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accounts import Role
from services.auth import AuthError, ForbiddenError, Principal
from services.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="an access token from /api/v1/auth/login")


async def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


async def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("an access token is required (Authorization: Bearer ...)")
    runtime: Runtime = request.app.state.runtime
    principal = runtime.auth.authenticate(credentials.credentials)
    request.state.principal = principal
    return principal


def allow(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the caller, refused (403) unless they hold one of `roles`."""
    if not roles:
        raise ValueError("name at least one role; use public() for open routes")
    allowed = frozenset(roles)

    async def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if principal.role not in allowed:
            raise ForbiddenError(
                f"this needs one of the roles: {', '.join(sorted(r.value for r in allowed))}"
            )
        return principal

    check.tot_roles = allowed  # type: ignore[attr-defined]
    return check


def public() -> Callable[..., Awaitable[None]]:
    """Marks a route anyone may call (health, login, registration)."""

    async def open_route() -> None:
        return None

    open_route.tot_roles = frozenset()  # type: ignore[attr-defined]
    return open_route


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller when a token is sent (it must then be valid), else None."""
    if credentials is None:
        return None
    return await _principal(request, credentials)


ANY_ROLE = tuple(Role)
PatientDep = Annotated[Principal, Depends(allow(Role.PATIENT))]
DoctorDep = Annotated[Principal, Depends(allow(Role.DOCTOR))]
OperatorDep = Annotated[Principal, Depends(allow(Role.OPERATOR, Role.ADMIN))]
AdminDep = Annotated[Principal, Depends(allow(Role.ADMIN))]
AnyUserDep = Annotated[Principal, Depends(allow(*ANY_ROLE))]


def declared_roles(dependency: Any) -> frozenset[Role] | None:
    return getattr(dependency, "tot_roles", None)


def route_roles(route: Any) -> frozenset[Role] | None:
    """The roles a route lets in: empty when it is public, None when it declares nothing."""
    declared = None
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        pending.extend(dependency.dependencies)
        roles = declared_roles(dependency.call)
        if roles is not None:
            declared = roles if declared is None else declared | roles
    return declared
