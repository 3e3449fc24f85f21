"""Cursors of keyset-paginated lists: the store's position of the last item given
(accounts' PAGE_KEY_PATTERN: "<epoch seconds>~<id>"), handed out and taken back as is.
Any text of the pattern is a position, so a cursor the schema allows is never refused."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from services.bookings import InvalidRequestError


@contextlib.contextmanager
def cursor_checked() -> Iterator[None]:
    """Around a store's page read: its ValueError on a malformed position is a 422."""
    try:
        yield
    except ValueError as exc:
        raise InvalidRequestError("the cursor is not one this list gave") from exc
