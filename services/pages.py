"""Cursors of keyset-paginated lists: the store's key of the last item given, as opaque
URL-safe text. A cursor that is not one a list gave is a 422, never a 500."""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator

from services.bookings import InvalidRequestError

MAX_CURSOR = 1_000


def encode_cursor(after: str | None) -> str | None:
    if after is None:
        return None
    return base64.urlsafe_b64encode(after.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None or cursor == "":
        return None
    if len(cursor) > MAX_CURSOR:
        raise InvalidRequestError("the cursor is not one this list gave")
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError("the cursor is not one this list gave") from exc


@contextlib.contextmanager
def cursor_checked() -> Iterator[None]:
    """Around a store's page read: its ValueError on a malformed key is a 422."""
    try:
        yield
    except ValueError as exc:
        raise InvalidRequestError("the cursor is not one this list gave") from exc
