"""Helpers the routers share: client address, rate limits, the doctor behind a booking."""

from __future__ import annotations

from fastapi import Request

from accounts import Role, User
from api.errors import TooManyRequestsError
from services.runtime import Runtime
from storage.rate_limit import RateLimit


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def request_id(request: Request) -> str:
    return str(request.scope.get("tot.request_id", ""))


async def enforce(runtime: Runtime, what: str, keys: list[str], limit: RateLimit) -> None:
    """Count one attempt against each key; refuse (429) when any is over its limit."""
    for key in keys:
        decision = await runtime.rate_limiter.hit(f"{what}:{key}", limit)
        if not decision.allowed:
            raise TooManyRequestsError(
                decision.retry_after_s, f"too many {what} attempts; retry in a moment"
            )


async def doctor_of(runtime: Runtime, doctor_id: str | None) -> User | None:
    if doctor_id is None:
        return None
    user = await runtime.accounts.user(doctor_id)
    return user if user is not None and user.role is Role.DOCTOR else None
