"""The short codes the WebSocket protocol gives for the services' errors (`error.code`),
the same whichever gateway process the client is on."""

from __future__ import annotations

from services.auth import AuthError, ConflictError, ForbiddenError, NotFoundError
from services.bookings import InvalidRequestError
from services.doctors import FixRefusedError
from services.errors import ChangeNotStoredError, StorageUnavailableError

CODES: dict[type[Exception], str] = {
    NotFoundError: "not_found",
    ForbiddenError: "forbidden",
    ConflictError: "conflict",
    ChangeNotStoredError: "conflict",
    InvalidRequestError: "invalid",
    FixRefusedError: "position_refused",
    AuthError: "unauthorized",
    StorageUnavailableError: "unavailable",
}


def error_code(exc: Exception) -> str:
    for kind in type(exc).__mro__:
        code = CODES.get(kind)
        if code is not None:
            return code
    return "error"
