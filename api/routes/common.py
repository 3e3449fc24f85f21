"""Helpers the routers share: client address, rate limits, the doctor behind a booking."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Request

from accounts import Role, User
from api.errors import TooManyRequestsError
from services.auth import ConflictError, Principal
from services.bookings import InvalidRequestError, PriceRefusedError
from services.moderation import Where
from services.runtime import Runtime
from storage.rate_limit import RateLimit


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# An id in a path: at most 128 characters, no NUL (PostgreSQL refuses NUL in text
# parameters, which would otherwise surface as a 500 rather than a 422).
Identifier = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[^\x00]+$", description="an id")
]


# Request date-times are written in the years 1900 to 9998 (their schema's pattern), so in
# UTC they fall between these two, which every store and renderer handles.
EARLIEST = datetime(1899, 12, 31, tzinfo=UTC)
LATEST = datetime(9999, 1, 2, tzinfo=UTC)


def epoch_of(moment: datetime | None, field: str) -> float | None:
    """Epoch seconds of a date-time from a request (422 outside EARLIEST..LATEST, which the
    schema's pattern already rules out).

    RFC 3339 alone allows 0001-01-01T00:00:00+01:00 (year 0 in UTC, which nothing can
    render) and 0001-01-01T00:00:00Z (which PostgreSQL, through asyncpg, stores as
    -infinity)."""
    if moment is None:
        return None
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise InvalidRequestError(f"{field} must be written in the years 1900 to 9998")
    return utc.timestamp()


def moment(text: str | None, field: str) -> float | None:
    """Epoch seconds of an RFC 3339 date-time in a query (its pattern already checked; a
    day its month lacks, such as 02-30, is a 422, as the schema's format says)."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.upper())
    except ValueError:
        raise InvalidRequestError(f"{field} is not a date-time") from None
    return epoch_of(parsed, field)


def request_id(request: Request) -> str:
    return str(request.scope.get("tot.request_id", ""))


def where(who: Principal, request: Request) -> Where:
    """Who asks and from where, for the audit trail."""
    return Where(who, request_id(request), client_ip(request))


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


@contextlib.contextmanager
def state_conflicts() -> Iterator[None]:
    """Commands on a booking or an offer, whose bodies the schema has already checked: what
    the core still refuses (a move the booking's status does not allow, an offer already
    answered, a doctor offline or busy) clashes with the current state, so it is a 409."""
    try:
        yield
    except PriceRefusedError:
        raise
    except InvalidRequestError as exc:
        raise ConflictError(str(exc)) from None
